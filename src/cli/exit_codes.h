// Exit codes of the inloop binary, one per kind of failure, so scripts can tell them apart.
// `inloop run` exits with the training command's own code (128+signal when it was killed), the
// code of its last attempt when the remedy policy restarted it.
#pragma once

#include "common/status.h"

namespace inloop::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitUsage = 2;          // bad flags or arguments
inline constexpr int kExitNotFound = 3;       // no such run, series or file
inline constexpr int kExitInvalid = 4;        // bad input: config, line, value
inline constexpr int kExitCorrupt = 5;        // the store or an input file is damaged
inline constexpr int kExitIncompatible = 6;   // store written by another format version
inline constexpr int kExitIo = 7;             // the OS refused a read or write
inline constexpr int kExitStoreFailed = 8;    // run: the training succeeded but tracking failed
inline constexpr int kExitPolicyStopped = 9;  // run: the remedy policy ended a live process
inline constexpr int kExitCommandNotFound = 127;

inline int ExitCodeFor(const Status& s) {
  switch (s.code()) {
    case Status::Code::kOk: return kExitOk;
    case Status::Code::kNotFound: return kExitNotFound;
    case Status::Code::kInvalid: return kExitInvalid;
    case Status::Code::kCorrupt: return kExitCorrupt;
    case Status::Code::kIncompatible: return kExitIncompatible;
    case Status::Code::kIo: return kExitIo;
  }
  return kExitIo;
}

}  // namespace inloop::cli
