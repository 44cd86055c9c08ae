// inloop's own code and secret rules: calls found at name boundaries (model.eval() is not eval),
// torch.load passes with weights_only=True even across lines, comments and docstrings are not
// code, bandit-covered rules step aside when bandit ran, secrets are masked, placeholders pass.
#include "audit/code_scan.h"

#include <string>

#include <gtest/gtest.h>

namespace inloop::audit {
namespace {

std::vector<std::string> Rules(const std::vector<Finding>& fs) {
  std::vector<std::string> r;
  for (const Finding& f : fs) r.push_back(f.rule + ":" + std::to_string(f.line));
  return r;
}

TEST(CodeScanTest, TorchLoadNeedsWeightsOnly) {
  std::string src =
      "import torch\n"
      "a = torch.load(p)\n"
      "b = torch.load(p, map_location='cpu',\n"
      "               weights_only = True)\n"
      "# torch.load(p) in a comment\n"
      "\"\"\"\n"
      "torch.load(p) in a docstring\n"
      "\"\"\"\n"
      "c = mytorch.load(p)\n";
  EXPECT_EQ(Rules(ScanPythonSource(src, "t.py", true)),
            std::vector<std::string>{"code.torch_load_unsafe:2"});
}

TEST(CodeScanTest, EvalIsABareCallNotAMethod) {
  std::string src = "model.eval()\nx = eval(s)\nexec(code)\nretrieval(q)\n";
  EXPECT_EQ(Rules(ScanPythonSource(src, "t.py", false)),
            (std::vector<std::string>{"code.eval:2", "code.exec:3"}));
  EXPECT_TRUE(ScanPythonSource(src, "t.py", /*bandit_covers=*/true).empty());
}

TEST(CodeScanTest, MlSpecificRulesAlwaysApply) {
  std::string src =
      "m = AutoModel.from_pretrained(name, trust_remote_code=True)\n"
      "a = np.load(f, allow_pickle=True)\n"
      "p = hf_hub_download(repo_id=r, filename='w.bin')\n"
      "h = torch.hub.load('repo', 'model')\n"
      "subprocess.run(cmd, shell=True)\n";
  EXPECT_EQ(Rules(ScanPythonSource(src, "t.py", true)),
            (std::vector<std::string>{"code.trust_remote_code:1", "code.numpy_allow_pickle:2",
                                      "code.download:3", "code.download:4"}));
  EXPECT_EQ(Rules(ScanPythonSource(src, "t.py", false)).back(), "code.shell_true:5");
}

TEST(CodeScanTest, SecretsAreFoundAndMasked) {
  std::string text =
      "OPENAI_API_KEY = \"sk-Zq8vN3kLp0XwR7tY2bH5mC9dF1gJ4sA6eU\"\n"
      "api_key: \"9fK2mQ7xL0pZ4rT8vB1nC6hJ3sD5wE\"\n"
      "password = \"<your password here>\"\n"
      "token = 'xxxxxxxxxxxxxxxxxxxxxxxx'\n"
      "-----BEGIN RSA PRIVATE KEY-----\n"
      "lr: 0.001\n";
  auto fs = ScanSecrets(text, "c.yaml");
  EXPECT_EQ(Rules(fs), (std::vector<std::string>{"secret.key:1", "secret.assigned:2",
                                                 "secret.private_key:5"}));
  for (const Finding& f : fs) {
    EXPECT_EQ(f.message.find("Zq8vN3kLp0XwR7tY"), std::string::npos) << "not masked: " << f.message;
  }
}

TEST(CodeScanTest, FileKinds) {
  EXPECT_TRUE(IsPythonSource("a/train.py"));
  EXPECT_FALSE(IsPythonSource("a/train.pyc"));
  EXPECT_TRUE(IsConfigFile("conf/model.yaml"));
  EXPECT_TRUE(IsConfigFile("deploy/.env"));
  EXPECT_FALSE(IsConfigFile("model.pt"));
}

}  // namespace
}  // namespace inloop::audit
