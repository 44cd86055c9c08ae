// The crash signature table and the traceback parser. Classes are tried in a fixed priority order
// (most specific evidence first: a CUDA OOM also prints NCCL errors on its way down); within a
// class the last matching line of the tail wins. Must never throw or allocate per byte.
#include "detect/crash_classifier.h"

#include <fmt/format.h>

#include <array>
#include <csignal>
#include <vector>

namespace inloop::detect {
namespace {

struct Line {
  std::string_view text;  // rank prefix and surrounding spaces removed
  std::string_view raw;   // rank prefix removed, indentation kept
};

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\r'; }
bool IsWordChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && IsSpace(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsSpace(s.back())) s.remove_suffix(1);
  return s;
}

// Removes launcher prefixes: "[default7]:", "[rank0]:", "0: " (srun --label), repeated.
std::string_view StripPrefix(std::string_view s) {
  for (;;) {
    if (!s.empty() && s.front() == '[') {
      size_t close = s.find("]:");
      if (close != std::string_view::npos && close < 40 &&
          s.substr(1, close - 1).find(' ') == std::string_view::npos) {
        s.remove_prefix(close + 2);
        if (!s.empty() && s.front() == ' ') s.remove_prefix(1);
        continue;
      }
    }
    size_t i = 0;
    while (i < s.size() && i < 6 && s[i] >= '0' && s[i] <= '9') ++i;
    if (i > 0 && i + 1 < s.size() && s[i] == ':' && s[i + 1] == ' ') {
      s.remove_prefix(i + 2);
      continue;
    }
    return s;
  }
}

std::vector<Line> SplitLines(std::string_view tail) {
  std::vector<Line> lines;
  size_t pos = 0;
  while (pos <= tail.size()) {
    size_t nl = tail.find('\n', pos);
    if (nl == std::string_view::npos) nl = tail.size();
    std::string_view raw = StripPrefix(tail.substr(pos, nl - pos));
    if (!raw.empty() && raw.back() == '\r') raw.remove_suffix(1);
    lines.push_back({Trim(raw), raw});
    pos = nl + 1;
  }
  return lines;
}

bool Contains(std::string_view hay, std::string_view needle) {
  return hay.find(needle) != std::string_view::npos;
}

bool ContainsWord(std::string_view hay, std::string_view word) {
  for (size_t p = hay.find(word); p != std::string_view::npos; p = hay.find(word, p + 1)) {
    bool left = p == 0 || !IsWordChar(hay[p - 1]);
    size_t e = p + word.size();
    bool right = e >= hay.size() || !IsWordChar(hay[e]);
    if (left && right) return true;
  }
  return false;
}

struct Signature {
  CrashClass cls;
  std::string_view text;
  bool word = false;  // match on word boundaries only
};

// In priority order. NCCL lines are matched by NcclError below, not by the bare word "NCCL":
// NCCL_DEBUG=INFO prints "NCCL INFO" lines in healthy runs.
constexpr std::array kSignatures = {
    Signature{CrashClass::kCudaOom, "torch.cuda.OutOfMemoryError"},
    Signature{CrashClass::kCudaOom, "CUDA out of memory"},
    Signature{CrashClass::kCudaOom, "CUBLAS_STATUS_ALLOC_FAILED"},
    Signature{CrashClass::kCudaOom, "CUDA error: out of memory"},
    Signature{CrashClass::kCudaOom, "cudaErrorMemoryAllocation"},
    Signature{CrashClass::kCudaOom, "HIP out of memory"},
    Signature{CrashClass::kCudaOom, "RESOURCE_EXHAUSTED: Out of memory"},
    Signature{CrashClass::kDiskFull, "No space left on device"},
    Signature{CrashClass::kDiskFull, "ENOSPC", true},
    Signature{CrashClass::kDiskFull, "[Errno 28]"},
    Signature{CrashClass::kDiskFull, "Disk quota exceeded"},
    Signature{CrashClass::kGpuFault, "an illegal memory access was encountered"},
    Signature{CrashClass::kGpuFault, "illegal memory access"},
    Signature{CrashClass::kGpuFault, "Xid", true},
    Signature{CrashClass::kGpuFault, "uncorrectable ECC error"},
    Signature{CrashClass::kGpuFault, "ECC error"},
    Signature{CrashClass::kGpuFault, "unspecified launch failure"},
    Signature{CrashClass::kGpuFault, "GPU is lost"},
    Signature{CrashClass::kGpuFault, "fallen off the bus"},
    Signature{CrashClass::kNcclTimeout, "Watchdog caught collective operation timeout"},
    Signature{CrashClass::kNcclTimeout, "ProcessGroupNCCL"},
    Signature{CrashClass::kNcclTimeout, "ncclInternalError"},
    Signature{CrashClass::kNcclTimeout, "ncclSystemError"},
    Signature{CrashClass::kNcclTimeout, "ncclRemoteError"},
    Signature{CrashClass::kNcclTimeout, "ncclUnhandledCudaError"},
    Signature{CrashClass::kNcclTimeout, "DistBackendError"},
    Signature{CrashClass::kDataloaderKilled, "DataLoader worker (pid"},
    Signature{CrashClass::kDataloaderKilled, "is killed by signal"},
    Signature{CrashClass::kDataloaderKilled, "DataLoader worker exited unexpectedly"},
    Signature{CrashClass::kSegfault, "Segmentation fault"},
    Signature{CrashClass::kSegfault, "SIGSEGV", true},
    Signature{CrashClass::kHostOom, "Out of memory: Killed process"},
    Signature{CrashClass::kHostOom, "oom-kill"},
    Signature{CrashClass::kHostOom, "oom_kill"},
    Signature{CrashClass::kHostOom, "invoked oom-killer"},
    Signature{CrashClass::kHostOom, "OOMKilled"},
    Signature{CrashClass::kHostOom, "Memory cgroup out of memory"},
    Signature{CrashClass::kHostOom, "Signal 9 (SIGKILL)"},
};

// "NCCL" with an error word on the same line ("NCCL error", "NCCL WARN ... timeout", ...).
bool NcclError(std::string_view line) {
  if (!ContainsWord(line, "NCCL")) return false;
  for (std::string_view w :
       {"error", "Error", "ERROR", "timeout", "Timeout", "timed out", "abort", "Abort", "WARN"}) {
    if (Contains(line, w)) return true;
  }
  return false;
}

bool Matches(const Signature& s, std::string_view line) {
  return s.word ? ContainsWord(line, s.text) : Contains(line, s.text);
}

// The last line of the tail that matches a signature of class `cls`, or -1.
int FindClass(const std::vector<Line>& lines, CrashClass cls) {
  for (int i = static_cast<int>(lines.size()) - 1; i >= 0; --i) {
    std::string_view t = lines[i].text;
    if (t.empty()) continue;
    for (const Signature& s : kSignatures) {
      if (s.cls == cls && Matches(s, t)) return i;
    }
    if (cls == CrashClass::kNcclTimeout && NcclError(t)) return i;
  }
  return -1;
}

bool IsExceptionType(std::string_view t) {
  if (t.empty() || !(IsWordChar(t.front()) && !(t.front() >= '0' && t.front() <= '9'))) {
    return false;
  }
  for (char c : t) {
    if (!IsWordChar(c) && c != '.') return false;
  }
  return true;
}

struct Exception {
  std::string_view type, message;
};

// The exception line of the traceback that starts at line `start`, if any.
std::optional<Exception> ExceptionAfter(const std::vector<Line>& lines, size_t start) {
  for (size_t i = start + 1; i < lines.size(); ++i) {
    std::string_view raw = lines[i].raw;
    if (raw.empty() || IsSpace(raw.front())) continue;  // frames and source lines are indented
    std::string_view t = lines[i].text;
    if (t.rfind("Traceback (most recent call last)", 0) == 0) return std::nullopt;
    size_t colon = t.find(':');
    std::string_view type = colon == std::string_view::npos ? t : t.substr(0, colon);
    if (!IsExceptionType(type)) continue;  // e.g. "^^^^" markers or interleaved log lines
    std::string_view msg = colon == std::string_view::npos ? "" : Trim(t.substr(colon + 1));
    return Exception{type, msg};
  }
  return std::nullopt;
}

// The exception of the last traceback; a launcher's ChildFailedError defers to an earlier one.
std::optional<Exception> LastException(const std::vector<Line>& lines) {
  std::optional<Exception> last;
  for (int i = static_cast<int>(lines.size()) - 1; i >= 0; --i) {
    if (lines[i].text.rfind("Traceback (most recent call last)", 0) != 0) continue;
    std::optional<Exception> e = ExceptionAfter(lines, static_cast<size_t>(i));
    if (!e) continue;
    if (!last) last = e;
    std::string_view type = e->type;
    bool launcher = type.size() >= 16 && type.substr(type.size() - 16) == "ChildFailedError";
    if (!launcher) return e;
  }
  return last;
}

bool TransientPythonException(std::string_view type) {
  size_t dot = type.rfind('.');
  std::string_view base = dot == std::string_view::npos ? type : type.substr(dot + 1);
  for (std::string_view t :
       {"ConnectionError", "ConnectionResetError", "ConnectionRefusedError",
        "ConnectionAbortedError", "TimeoutError", "BrokenPipeError", "DistNetworkError",
        "DistStoreError", "RendezvousTimeoutError", "RendezvousConnectionError", "ReadTimeout",
        "ConnectTimeout", "ReadTimeoutError"}) {
    if (base == t) return true;
  }
  return false;
}

std::string SignalName(int sig) {
  switch (sig) {
    case SIGKILL:
      return "SIGKILL";
    case SIGSEGV:
      return "SIGSEGV";
    case SIGABRT:
      return "SIGABRT";
    case SIGTERM:
      return "SIGTERM";
    case SIGINT:
      return "SIGINT";
    case SIGBUS:
      return "SIGBUS";
    default:
      return fmt::format("signal {}", sig);
  }
}

void Judge(CrashReport* r) {
  switch (r->cls) {
    case CrashClass::kNone:
      r->transient = false;
      r->retry = Retry::kNo;
      break;
    case CrashClass::kCudaOom:
      r->transient = false;
      r->retry = Retry::kWithSmallerBatch;
      break;
    case CrashClass::kHostOom:
      r->transient = false;
      r->retry = Retry::kYes;
      break;
    case CrashClass::kNcclTimeout:
      r->transient = true;
      r->retry = Retry::kYes;
      break;
    case CrashClass::kGpuFault:
      r->transient = true;
      r->retry = Retry::kYes;
      break;
    case CrashClass::kDataloaderKilled:
      r->transient = false;
      r->retry = Retry::kYes;
      break;
    case CrashClass::kDiskFull:
      r->transient = false;
      r->retry = Retry::kNo;
      break;
    case CrashClass::kSegfault:
      r->transient = false;
      r->retry = Retry::kYes;
      break;
    case CrashClass::kPythonException: {
      bool t = TransientPythonException(r->exception_type);
      r->transient = t;
      r->retry = t ? Retry::kYes : Retry::kNo;
      break;
    }
    case CrashClass::kUnknown:
      r->transient = false;
      r->retry = Retry::kYes;
      break;
  }
}

}  // namespace

std::string_view CrashClassName(CrashClass c) {
  switch (c) {
    case CrashClass::kNone:
      return "none";
    case CrashClass::kCudaOom:
      return "cuda_oom";
    case CrashClass::kHostOom:
      return "host_oom";
    case CrashClass::kNcclTimeout:
      return "nccl_timeout";
    case CrashClass::kGpuFault:
      return "gpu_fault";
    case CrashClass::kDataloaderKilled:
      return "dataloader_killed";
    case CrashClass::kDiskFull:
      return "disk_full";
    case CrashClass::kSegfault:
      return "segfault";
    case CrashClass::kPythonException:
      return "python_exception";
    case CrashClass::kUnknown:
      return "unknown";
  }
  return "unknown";
}

std::string_view RetryName(Retry r) {
  switch (r) {
    case Retry::kNo:
      return "no";
    case Retry::kYes:
      return "yes";
    case Retry::kWithSmallerBatch:
      return "with_smaller_batch";
  }
  return "no";
}

CrashReport ClassifyCrash(std::optional<int> exit_code, int signal, std::string_view stderr_tail) {
  CrashReport r;
  r.tail = std::string(stderr_tail);
  int sig = signal;
  if (sig == 0 && exit_code && *exit_code > 128 && *exit_code < 128 + 65) sig = *exit_code - 128;
  const std::string status = sig != 0 ? fmt::format("killed by {}", SignalName(sig))
                                      : fmt::format("exit code {}", exit_code ? *exit_code : -1);

  const std::vector<Line> lines = SplitLines(stderr_tail);
  if (std::optional<Exception> e = LastException(lines)) {
    r.exception_type = std::string(e->type);
    r.exception_message = std::string(e->message);
  }

  if (sig == 0 && exit_code && *exit_code == 0) {
    r.cls = CrashClass::kNone;
    r.summary = "exited normally (exit code 0)";
    Judge(&r);
    return r;
  }

  auto found = [&](CrashClass cls, int line, std::string_view why) {
    r.cls = cls;
    r.signature = std::string(lines[line].text);
    r.summary = fmt::format("{}: {} ({}): {}", CrashClassName(cls), why, status, r.signature);
    Judge(&r);
    return r;
  };
  struct Step {
    CrashClass cls;
    std::string_view why;
  };
  for (const Step& s : {Step{CrashClass::kCudaOom, "GPU out of memory"},
                        Step{CrashClass::kDiskFull, "no space left on device"},
                        Step{CrashClass::kGpuFault, "GPU fault (illegal access / Xid / ECC)"},
                        Step{CrashClass::kNcclTimeout, "NCCL collective timeout or error"},
                        Step{CrashClass::kDataloaderKilled, "a DataLoader worker was killed"}}) {
    int i = FindClass(lines, s.cls);
    if (i >= 0) return found(s.cls, i, s.why);
  }
  if (sig == SIGSEGV) {
    r.cls = CrashClass::kSegfault;
    r.signature = fmt::format("signal {} (SIGSEGV)", SIGSEGV);
    r.summary = fmt::format("segfault: {}", status);
    Judge(&r);
    return r;
  }
  if (int i = FindClass(lines, CrashClass::kSegfault); i >= 0) {
    return found(CrashClass::kSegfault, i, "segmentation fault");
  }
  if (int i = FindClass(lines, CrashClass::kHostOom); i >= 0) {
    return found(CrashClass::kHostOom, i, "killed by the host OOM killer");
  }
  if (sig == SIGKILL) {
    r.cls = CrashClass::kHostOom;
    r.signature = fmt::format("signal {} (SIGKILL)", SIGKILL);
    r.summary = fmt::format(
        "host_oom: {} with no other signature; the kernel OOM killer is the "
        "usual sender (inferred)",
        status);
    Judge(&r);
    return r;
  }
  if (!r.exception_type.empty()) {
    r.cls = CrashClass::kPythonException;
    r.signature = r.exception_message.empty()
                      ? r.exception_type
                      : fmt::format("{}: {}", r.exception_type, r.exception_message);
    r.summary = fmt::format("python_exception ({}): {}", status, r.signature);
    Judge(&r);
    return r;
  }
  for (int i = static_cast<int>(lines.size()) - 1; i >= 0; --i) {
    if (lines[i].text == "Killed") return found(CrashClass::kHostOom, i, "killed (host OOM)");
  }
  r.cls = CrashClass::kUnknown;
  std::string_view last;
  for (int i = static_cast<int>(lines.size()) - 1; i >= 0 && last.empty(); --i)
    last = lines[i].text;
  r.signature = std::string(last);
  r.summary = last.empty() ? fmt::format("unknown: {}, empty stderr", status)
                           : fmt::format("unknown: {}; last line: {}", status, last);
  Judge(&r);
  return r;
}

}  // namespace inloop::detect
