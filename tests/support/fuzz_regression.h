// Inputs the fuzz targets (fuzz/, README "Fuzzing") once crashed on, kept under
// tests/fuzz/regressions/ and fed to the parser by ordinary GoogleTests in the g++ builds.
#pragma once

#include <fstream>
#include <iterator>
#include <string>

#include "source_paths.h"

namespace inloop::testing {

inline std::string FuzzRegressionPath(const std::string& name) {
  return std::string(INLOOP_SOURCE_DIR) + "/tests/fuzz/regressions/" + name;
}

// The bytes of tests/fuzz/regressions/NAME ("" when missing; tests check the size).
inline std::string ReadFuzzRegression(const std::string& name) {
  std::ifstream in(FuzzRegressionPath(name), std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

}  // namespace inloop::testing
