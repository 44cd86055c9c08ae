// Status: the value every fallible call returns (LevelDB style). No exceptions cross module APIs.
// A Status carries a code that the CLI maps to a distinct exit code, and a one-line message that
// names the file/line/field involved and what to do.
#pragma once

#include <string>
#include <utility>

namespace inloop {

class Status {
 public:
  enum class Code {
    kOk = 0,
    kNotFound,      // a run, series or file that does not exist
    kInvalid,       // bad input: a malformed line, config field, argument
    kCorrupt,       // bad CRC, truncated record, unknown format
    kIncompatible,  // on-disk format from another version
    kIo,            // the OS refused a read/write (disk full, permissions)
  };

  Status() = default;
  static Status OK() { return Status(); }
  static Status NotFound(std::string m) { return Status(Code::kNotFound, std::move(m)); }
  static Status Invalid(std::string m) { return Status(Code::kInvalid, std::move(m)); }
  static Status Corrupt(std::string m) { return Status(Code::kCorrupt, std::move(m)); }
  static Status Incompatible(std::string m) { return Status(Code::kIncompatible, std::move(m)); }
  static Status Io(std::string m) { return Status(Code::kIo, std::move(m)); }

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }
  std::string ToString() const { return ok() ? "OK" : message_; }

 private:
  Status(Code c, std::string m) : code_(c), message_(std::move(m)) {}
  Code code_ = Code::kOk;
  std::string message_;
};

// Evaluates `expr` (a Status) and returns it from the enclosing function when it is not OK.
#define INLOOP_RETURN_IF_ERROR(expr)          \
  do {                                        \
    ::inloop::Status _st = (expr);            \
    if (!_st.ok()) return _st;                \
  } while (0)

}  // namespace inloop
