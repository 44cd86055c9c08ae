// Crash classification at process exit: a stable class name from the exit status and a signature
// table over the stderr tail, whether the fault looks transient, whether a restart can fix it,
// and the Python exception (type and message) when there is one. Pure function of its inputs;
// must never decide an action (remedy/ does) or read files.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace inloop::detect {

enum class CrashClass {
  kNone,              // exit code 0 and no signal: not a crash
  kCudaOom,           // "cuda_oom"
  kHostOom,           // "host_oom" (kernel OOM killer; bare SIGKILL / 137 is assumed to be it)
  kNcclTimeout,       // "nccl_timeout" (collective timeout, watchdog, NCCL errors)
  kGpuFault,          // "gpu_fault" (illegal memory access, Xid, ECC)
  kDataloaderKilled,  // "dataloader_killed"
  kDiskFull,          // "disk_full"
  kSegfault,          // "segfault"
  kPythonException,   // "python_exception"
  kUnknown,           // "unknown"
};

// Stable identifiers: "none", "cuda_oom", "host_oom", "nccl_timeout", "gpu_fault",
// "dataloader_killed", "disk_full", "segfault", "python_exception", "unknown".
std::string_view CrashClassName(CrashClass c);

// Whether restarting can help (docs/detect.md "Crash classes").
enum class Retry {
  kNo,                // restarting replays the failure (full disk, a bug in the code)
  kYes,               // restart (resume from the newest good checkpoint), within max_restarts
  kWithSmallerBatch,  // only with a smaller micro-batch (out of memory)
};
std::string_view RetryName(Retry r);  // "no", "yes", "with_smaller_batch"

struct CrashReport {
  CrashClass cls = CrashClass::kUnknown;
  bool transient = false;  // likely a fault of the machine or fabric rather than of the run
  Retry retry = Retry::kYes;
  std::string signature;          // the matched line (trimmed), or e.g. "signal 9 (SIGKILL)"
  std::string exception_type;     // e.g. "torch.cuda.OutOfMemoryError", from the last traceback
  std::string exception_message;  // its message (first line, rank prefixes removed)
  std::string summary;            // one line for humans: the class and why
  std::string tail;               // the stderr tail as given (kept for every class)

  std::string_view name() const { return CrashClassName(cls); }
};

// `exit_code` is set when the process exited (128+N is read as signal N, the shell convention);
// `signal` is the terminating signal or 0. `stderr_tail` is the last lines of stderr (any size;
// rank prefixes like "[default7]:" or "[rank0]:" are fine).
CrashReport ClassifyCrash(std::optional<int> exit_code, int signal, std::string_view stderr_tail);

}  // namespace inloop::detect
