// Which files a command line names: existing paths as arguments or --flag=VALUE, relative to the
// command's directory; not placeholders, URLs, programs on PATH, binaries, / or $HOME.
#include "audit/command_files.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

namespace inloop::audit {
namespace {

namespace fs = std::filesystem;

TEST(CommandFilesTest, ExistingPathsOnly) {
  fs::path dir = fs::temp_directory_path() / ("inloop-cmdfiles-" + std::to_string(::getpid()));
  fs::create_directories(dir / "model");
  std::ofstream(dir / "w.pt") << "x";
  std::ofstream(dir / "serve.py") << "x";
  std::ofstream(dir / "server-bin") << "x";
  std::string d = dir.string();
  auto got = FilesNamedBy({"python3", "serve.py", "--weights=w.pt", "--dir", "model", "--port",
                           "{port}", "missing.pt", "http://x/w.pt", "--home=/", getenv("HOME")},
                          d);
  EXPECT_EQ(got, (std::vector<std::string>{d + "/serve.py", d + "/w.pt", d + "/model"}));
  EXPECT_EQ(FilesNamedBy({"./serve.py", "w.pt", "w.pt"}, d),
            (std::vector<std::string>{d + "/serve.py", d + "/w.pt"}));
  EXPECT_TRUE(FilesNamedBy({d + "/server-bin"}, d).empty()) << "a binary is not read";
  fs::remove_all(dir);
}

}  // namespace
}  // namespace inloop::audit
