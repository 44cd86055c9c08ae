// The embedded Python SDK: it holds python/inloop's files byte for byte, is written out once per
// content key, a damaged copy is repaired, and the child's PYTHONPATH gets it first.
#include "sdk/python_sdk.h"

#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

#include "source_paths.h"

namespace inloop::sdk {
namespace {

namespace fs = std::filesystem;

std::string Slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

class PythonSdkTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() /
            ("inloop-sdk-test-" + std::to_string(::getpid()) + "-" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(root_);
  }
  void TearDown() override { fs::remove_all(root_); }
  fs::path root_;
};

TEST_F(PythonSdkTest, EmbedsEveryFileOfThePackageByteForByte) {
  fs::path src = fs::path(INLOOP_SOURCE_DIR) / "python" / "inloop";
  size_t files = 0;
  for (const auto& e : fs::directory_iterator(src)) {
    if (!e.is_regular_file() || e.path().extension() == ".pyc") continue;
    ++files;
    std::string want = Slurp(e.path());
    bool found = false;
    for (const SdkFile& f : PythonSdkFiles()) {
      if (f.path == "/" + e.path().filename().string()) {
        found = true;
        EXPECT_EQ(f.body, want) << e.path();
      }
    }
    EXPECT_TRUE(found) << e.path() << " is not embedded";
  }
  EXPECT_EQ(PythonSdkFiles().size(), files);
  EXPECT_GE(files, 3u);  // __init__.py, mlflow.py, wandb.py at least
}

TEST_F(PythonSdkTest, WritesOncePerKeyAndRepairsADamagedCopy) {
  std::string dir;
  ASSERT_TRUE(MaterializePythonSdk(root_.string(), &dir).ok());
  EXPECT_EQ(dir, (root_ / ("python-sdk-" + PythonSdkKey())).string());
  fs::path init = fs::path(dir) / "inloop" / "__init__.py";
  ASSERT_TRUE(fs::exists(init));
  struct stat st;
  ASSERT_EQ(::stat((fs::path(dir) / "inloop").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u) << "the package directory is private";

  { std::ofstream(init, std::ios::trunc) << "raise SystemExit('tampered')\n"; }
  std::string again;
  ASSERT_TRUE(MaterializePythonSdk(root_.string(), &again).ok());
  EXPECT_EQ(again, dir);
  std::string want;
  for (const SdkFile& f : PythonSdkFiles()) {
    if (f.path == "/__init__.py") want = std::string(f.body);
  }
  EXPECT_EQ(Slurp(init), want);
}

TEST_F(PythonSdkTest, RefusesAPathThatIsNotADirectory) {
  fs::create_directories(root_);
  { std::ofstream(root_ / ("python-sdk-" + PythonSdkKey())) << "x"; }
  std::string dir;
  Status s = MaterializePythonSdk(root_.string(), &dir);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("is not a directory"), std::string::npos) << s.message();
}

TEST_F(PythonSdkTest, PythonPathPutsTheSdkFirst) {
  EXPECT_EQ(PrependToPythonPath("/c/sdk", nullptr), "/c/sdk");
  EXPECT_EQ(PrependToPythonPath("/c/sdk", ""), "/c/sdk");
  EXPECT_EQ(PrependToPythonPath("/c/sdk", "/a:/b"), "/c/sdk:/a:/b");
}

TEST_F(PythonSdkTest, EnvUsesTheCacheDirAndCanBeTurnedOff) {
  std::string old_xdg = getenv("XDG_CACHE_HOME") ? getenv("XDG_CACHE_HOME") : "";
  std::string old_pp = getenv("PYTHONPATH") ? getenv("PYTHONPATH") : "";
  setenv("XDG_CACHE_HOME", root_.c_str(), 1);
  setenv("PYTHONPATH", "/user/lib", 1);
  std::string warning;
  auto env = PythonSdkEnv("", &warning);
  EXPECT_EQ(warning, "");
  ASSERT_EQ(env.size(), 1u);
  EXPECT_EQ(env[0].first, "PYTHONPATH");
  EXPECT_EQ(env[0].second,
            (root_ / "inloop" / ("python-sdk-" + PythonSdkKey())).string() + ":/user/lib");
  setenv("INLOOP_PYTHON_SDK", "0", 1);
  EXPECT_TRUE(PythonSdkEnv("", &warning).empty());
  EXPECT_EQ(warning, "");
  unsetenv("INLOOP_PYTHON_SDK");
  if (old_xdg.empty()) unsetenv("XDG_CACHE_HOME"); else setenv("XDG_CACHE_HOME", old_xdg.c_str(), 1);
  if (old_pp.empty()) unsetenv("PYTHONPATH"); else setenv("PYTHONPATH", old_pp.c_str(), 1);
}

}  // namespace
}  // namespace inloop::sdk
