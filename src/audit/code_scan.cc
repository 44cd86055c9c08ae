#include "audit/code_scan.h"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>

#include <fmt/format.h>
#include <simdjson.h>

#include "common/subprocess.h"

namespace inloop::audit {
namespace {

bool IsWord(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }

bool EndsWith(std::string_view s, std::string_view suf) {
  return s.size() >= suf.size() && s.substr(s.size() - suf.size()) == suf;
}

// One source line without its comment (a '#' outside quotes), and whether it is inside a
// triple-quoted string (docstrings are text, not code).
struct Lines {
  std::vector<std::string_view> code;  // comment stripped; empty inside docstrings
  explicit Lines(std::string_view text) {
    bool in_triple = false;
    size_t at = 0;
    while (at <= text.size()) {
      size_t nl = text.find('\n', at);
      std::string_view line = text.substr(at, nl == std::string_view::npos ? text.npos : nl - at);
      size_t triples = 0;
      for (size_t p = line.find("\"\"\""); p != line.npos; p = line.find("\"\"\"", p + 3)) ++triples;
      for (size_t p = line.find("'''"); p != line.npos; p = line.find("'''", p + 3)) ++triples;
      bool was_in = in_triple;
      if (triples % 2 == 1) in_triple = !in_triple;
      bool docstring = was_in && (triples == 0 || in_triple);
      code.push_back(docstring ? std::string_view() : StripPythonComment(line));
      if (nl == std::string_view::npos) break;
      at = nl + 1;
    }
  }
};

// The text of a call's arguments starting at line `li`, column just past '(' (up to 40 lines).
std::string CallArgs(const Lines& lines, size_t li, size_t col) {
  std::string out;
  int depth = 1;
  for (size_t l = li; l < lines.code.size() && l < li + 40; ++l) {
    std::string_view s = lines.code[l];
    for (size_t i = (l == li ? col : 0); i < s.size(); ++i) {
      if (s[i] == '(') ++depth;
      if (s[i] == ')' && --depth == 0) return out;
      out.push_back(s[i]);
    }
    out.push_back(' ');
  }
  return out;
}

std::string NoSpaces(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (!std::isspace(static_cast<unsigned char>(c))) out.push_back(c);
  }
  return out;
}

struct CallRule {
  const char* callee;       // matched as a whole name (not part of a longer name) followed by '('
  bool qualified_ok;        // may be preceded by '.' (a method); false: only a bare name
  const char* rule;
  Severity severity;
  bool bandit_covers;
  const char* message;
  const char* fix;
};

constexpr CallRule kCallRules[] = {
    {"torch.load", true, "code.torch_load_unsafe", Severity::kHigh, false,
     "torch.load without weights_only=True unpickles whatever the file names: a checkpoint can "
     "run code",
     "pass weights_only=True (torch >= 1.13), or check the file with `inloop audit` before "
     "loading it"},
    {"joblib.load", true, "code.joblib_load", Severity::kMedium, false,
     "joblib.load unpickles the file: a model file can run code",
     "load only files you wrote, or check them with `inloop audit` first"},
    {"dill.load", true, "code.pickle_load", Severity::kHigh, false,
     "dill.load unpickles the file: it can run code", "use a data format (JSON, safetensors)"},
    {"dill.loads", true, "code.pickle_load", Severity::kHigh, false,
     "dill.loads unpickles the bytes: they can run code", "use a data format (JSON, safetensors)"},
    {"pickle.load", true, "code.pickle_load", Severity::kHigh, true,
     "pickle.load of a file runs whatever the pickle names",
     "use a data format (JSON, safetensors), or check the file with `inloop audit` first"},
    {"pickle.loads", true, "code.pickle_load", Severity::kHigh, true,
     "pickle.loads runs whatever the pickle names", "use a data format (JSON, safetensors)"},
    {"eval", false, "code.eval", Severity::kHigh, true,
     "eval() runs a string as code", "parse the value (ast.literal_eval, json.loads, float())"},
    {"exec", false, "code.exec", Severity::kHigh, true, "exec() runs a string as code",
     "call the code directly instead of building it as text"},
    {"urlopen", true, "code.download", Severity::kMedium, false,
     "downloads at run time: the training depends on a server and on what it sends today",
     "download once, pin a checksum, and read the local copy"},
    {"urlretrieve", true, "code.download", Severity::kMedium, false,
     "downloads at run time: the training depends on a server and on what it sends today",
     "download once, pin a checksum, and read the local copy"},
    {"requests.get", true, "code.download", Severity::kMedium, false,
     "network access at run time", "download once, pin a checksum, and read the local copy"},
    {"hf_hub_download", true, "code.download", Severity::kMedium, false,
     "downloads from the Hugging Face Hub at run time",
     "pin revision= to a commit, or download once and load the local path"},
    {"snapshot_download", true, "code.download", Severity::kMedium, false,
     "downloads from the Hugging Face Hub at run time",
     "pin revision= to a commit, or download once and load the local path"},
    {"torch.hub.load", true, "code.download", Severity::kHigh, false,
     "torch.hub.load downloads a repository and runs its hubconf.py",
     "vendor the model code and load weights from a local file"},
    {"load_state_dict_from_url", true, "code.download", Severity::kMedium, false,
     "downloads weights at run time", "download once, pin a checksum, and load the local file"},
};

// Finds `name(` at a name boundary in `s` from `from`; returns the column past '(' or npos.
size_t FindCall(std::string_view s, std::string_view name, bool qualified_ok, size_t from) {
  for (size_t p = s.find(name, from); p != s.npos; p = s.find(name, p + 1)) {
    if (p > 0 && (IsWord(s[p - 1]) || (!qualified_ok && s[p - 1] == '.'))) continue;
    size_t q = p + name.size();
    while (q < s.size() && s[q] == ' ') ++q;
    if (q < s.size() && s[q] == '(') return q + 1;
  }
  return s.npos;
}

double Entropy(std::string_view s) {
  int counts[256] = {};
  for (unsigned char c : s) ++counts[c];
  double h = 0;
  for (int n : counts) {
    if (n) {
      double p = static_cast<double>(n) / s.size();
      h -= p * std::log2(p);
    }
  }
  return h;
}

std::string Mask(std::string_view v) {
  return fmt::format("{}... ({} characters)", v.substr(0, std::min<size_t>(4, v.size())), v.size());
}

// Known key formats: prefix and the minimum length of the token after it.
struct KeyPattern {
  std::string_view prefix;
  size_t min_tail;
  const char* what;
};
constexpr KeyPattern kKeys[] = {
    {"AKIA", 16, "an AWS access key id"}, {"ghp_", 30, "a GitHub token"},
    {"github_pat_", 30, "a GitHub token"}, {"sk-", 32, "an OpenAI-style API key"},
    {"hf_", 30, "a Hugging Face token"}, {"xoxb-", 20, "a Slack token"},
    {"xoxp-", 20, "a Slack token"}, {"glpat-", 20, "a GitLab token"},
};

bool TokenChar(char c) { return IsWord(c) || c == '-'; }

}  // namespace

std::string_view StripPythonComment(std::string_view line) {
  char quote = 0;
  for (size_t i = 0; i < line.size(); ++i) {
    char c = line[i];
    if (quote) {
      if (c == '\\') ++i;
      else if (c == quote) quote = 0;
    } else if (c == '"' || c == '\'') {
      quote = c;
    } else if (c == '#') {
      return line.substr(0, i);
    }
  }
  return line;
}

bool IsPythonSource(std::string_view path) { return EndsWith(path, ".py"); }

bool IsConfigFile(std::string_view path) {
  for (std::string_view e : {".yaml", ".yml", ".toml", ".json", ".cfg", ".ini", ".env", ".sh"}) {
    if (EndsWith(path, e)) return true;
  }
  size_t slash = path.rfind('/');
  std::string_view base = slash == path.npos ? path : path.substr(slash + 1);
  return base == ".env" || base.rfind(".env.", 0) == 0;
}

std::vector<Finding> ScanPythonSource(std::string_view text, const std::string& file,
                                      bool bandit_covers) {
  std::vector<Finding> out;
  Lines lines(text);
  for (size_t li = 0; li < lines.code.size(); ++li) {
    std::string_view s = lines.code[li];
    int line = static_cast<int>(li + 1);
    for (const CallRule& r : kCallRules) {
      if (bandit_covers && r.bandit_covers) continue;
      size_t col = FindCall(s, r.callee, r.qualified_ok, 0);
      if (col == s.npos) continue;
      if (std::string_view(r.rule) == "code.torch_load_unsafe" &&
          NoSpaces(CallArgs(lines, li, col)).find("weights_only=True") != std::string::npos) {
        continue;
      }
      out.push_back(LineFinding(file, line, r.rule, r.severity, r.message, r.fix));
    }
    std::string flat = NoSpaces(s);
    if (flat.find("trust_remote_code=True") != std::string::npos) {
      out.push_back(LineFinding(file, line, "code.trust_remote_code", Severity::kHigh,
                         "trust_remote_code=True runs Python code downloaded with the model",
                         "pin revision= to a reviewed commit, or vendor the model code"));
    }
    if (flat.find("allow_pickle=True") != std::string::npos) {
      out.push_back(LineFinding(file, line, "code.numpy_allow_pickle", Severity::kHigh,
                         "allow_pickle=True lets numpy.load unpickle object arrays: a file can "
                         "run code",
                         "store numeric arrays only, or check the file with `inloop audit`"));
    }
    if (!bandit_covers && flat.find("shell=True") != std::string::npos) {
      out.push_back(LineFinding(file, line, "code.shell_true", Severity::kHigh,
                         "a subprocess with shell=True: text built from data becomes a command",
                         "pass an argument list with shell=False"));
    }
  }
  return out;
}

std::vector<Finding> ScanSecrets(std::string_view text, const std::string& file) {
  std::vector<Finding> out;
  int line = 0;
  size_t at = 0;
  while (at <= text.size()) {
    size_t nl = text.find('\n', at);
    std::string_view s = text.substr(at, nl == text.npos ? text.npos : nl - at);
    ++line;
    bool found = false;
    if (s.find("-----BEGIN") != s.npos && s.find("PRIVATE KEY-----") != s.npos) {
      out.push_back(LineFinding(file, line, "secret.private_key", Severity::kHigh,
                         "a private key block", "move it to a secret store; rotate the key"));
      found = true;
    }
    for (const KeyPattern& k : kKeys) {
      if (found) break;
      for (size_t p = s.find(k.prefix); p != s.npos; p = s.find(k.prefix, p + 1)) {
        if (p > 0 && TokenChar(s[p - 1])) continue;
        size_t e = p + k.prefix.size();
        while (e < s.size() && TokenChar(s[e])) ++e;
        std::string_view tok = s.substr(p, e - p);
        if (tok.size() - k.prefix.size() < k.min_tail || Entropy(tok) < 3.5) continue;
        out.push_back(LineFinding(file, line, "secret.key", Severity::kHigh,
                           fmt::format("{} in the file: {}", k.what, Mask(tok)),
                           "read it from the environment or a secret store; rotate this one"));
        found = true;
        break;
      }
    }
    if (!found) {
      // name = "value" where the name says key/token/secret/password and the value is random.
      std::string lower(s);
      std::transform(lower.begin(), lower.end(), lower.begin(), ::tolower);
      size_t name = lower.npos;
      for (std::string_view w : {"api_key", "apikey", "secret", "token", "password", "passwd"}) {
        name = std::min(name, lower.find(w));
      }
      size_t eq = name == lower.npos ? lower.npos : lower.find_first_of("=:", name);
      size_t q = eq == lower.npos ? lower.npos : lower.find_first_of("\"'", eq);
      size_t qe = q == lower.npos ? lower.npos : lower.find(lower[q], q + 1);
      if (qe != lower.npos) {
        std::string_view v = s.substr(q + 1, qe - q - 1);
        std::string lv = lower.substr(q + 1, qe - q - 1);
        bool placeholder = lv.find("xxx") != lv.npos || lv.find('<') != lv.npos ||
                           lv.find("${") != lv.npos || lv.find("your") != lv.npos ||
                           lv.find("changeme") != lv.npos || lv.find("example") != lv.npos ||
                           lv.find(' ') != lv.npos;
        if (v.size() >= 16 && !placeholder && Entropy(v) >= 3.5) {
          out.push_back(LineFinding(file, line, "secret.assigned", Severity::kHigh,
                             fmt::format("a secret-looking value assigned in the file: {}", Mask(v)),
                             "read it from the environment or a secret store; rotate this one"));
        }
      }
    }
    if (nl == text.npos) break;
    at = nl + 1;
  }
  return out;
}

Status RunBandit(const std::vector<std::string>& files, std::vector<Finding>* out, bool* ran) {
  *ran = false;
  if (files.empty()) return Status::OK();
  SubprocessSpec spec;
  spec.argv = {"bandit", "-f", "json", "-q", "-s", "B101,B311,B403,B404,B322"};
  spec.argv.insert(spec.argv.end(), files.begin(), files.end());
  CapturedOutput r;
  Status s = RunCaptured(spec, &r);
  if (!s.ok() || r.exit_code == 127) return Status::OK();  // not installed: our rules only
  *ran = true;
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  simdjson::padded_string json(r.out);
  simdjson::dom::array results;
  if (parser.parse(json).get(doc) || doc["results"].get_array().get(results)) {
    return Status::Invalid(fmt::format("bandit exited {} without its JSON report: {}", r.exit_code,
                                       r.err.substr(0, 200)));
  }
  for (auto res : results) {
    std::string_view file, id, sev, text, conf;
    int64_t line = 0;
    if (res["filename"].get_string().get(file) || res["test_id"].get_string().get(id)) continue;
    if (res["line_number"].get_int64().get(line)) line = 0;
    if (res["issue_severity"].get_string().get(sev)) sev = "LOW";
    if (res["issue_confidence"].get_string().get(conf)) conf = "LOW";
    if (res["issue_text"].get_string().get(text)) text = id;
    Finding f;
    f.file = std::string(file);
    f.line = static_cast<int>(line);
    f.rule = fmt::format("bandit.{}", id);
    f.severity = sev == "HIGH" ? Severity::kHigh : sev == "MEDIUM" ? Severity::kMedium : Severity::kLow;
    if (conf == "LOW" && f.severity > Severity::kLow) f.severity = Severity::kLow;
    f.message = std::string(text);
    f.fix = fmt::format("see bandit's {} documentation", id);
    out->push_back(std::move(f));
  }
  return Status::OK();
}

}  // namespace inloop::audit
