// `inloop import`, `inloop compare`, `inloop evaldiff`: the verbs that bring other tools' files in
// and compare what is stored. Each returns the process exit code.
#pragma once

#include <string>
#include <vector>

namespace inloop::cli {

struct ImportArgs {
  std::string store_dir;
  std::string name;
  std::vector<std::string> tags;
  std::vector<std::string> paths;
  bool json = false;
  bool strict = false;  // any problem in an input file makes the exit code 5
};
int CmdImport(const ImportArgs& a);

}  // namespace inloop::cli

namespace inloop::cli {

struct CompareArgs {
  std::string store_dir;
  std::vector<std::string> a, b;  // run refs or name patterns (fnmatch: seed-*)
  std::string key;
  std::string align = "step";
  std::string goal;  // "", "min", "max"
  double tokens_per_step = 0;
  std::string html;
  bool json = false;
};
int CmdCompare(const CompareArgs& a);

}  // namespace inloop::cli
