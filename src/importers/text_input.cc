// LineReader, whole-file reads, wall-time parsing and the step counter shared by the importers.
#include "importers/text_input.h"

#include <fmt/format.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>

#include "ingest/number_scan.h"

namespace inloop::importers {
namespace {

constexpr size_t kChunk = 1u << 20;
constexpr std::string_view kBom = "\xEF\xBB\xBF";

Status OpenError(const std::string& path) {
  int e = errno;
  if (e == ENOENT) return Status::NotFound(fmt::format("{}: no such file", path));
  return Status::Io(fmt::format("{}: cannot open: {}", path, std::strerror(e)));
}

bool ReadDigits(std::string_view s, size_t* i, int n, int* out) {
  if (*i + n > s.size()) return false;
  int v = 0;
  for (int k = 0; k < n; ++k) {
    char c = s[*i + k];
    if (!ingest::IsDigit(c)) return false;
    v = v * 10 + (c - '0');
  }
  *i += n;
  *out = v;
  return true;
}

// Days since 1970-01-01 of a proleptic Gregorian date.
int64_t DaysFromCivil(int64_t y, int m, int d) {
  y -= m <= 2;
  int64_t era = (y >= 0 ? y : y - 399) / 400;
  int64_t yoe = y - era * 400;
  int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

bool ParseIsoTime(std::string_view s, double* seconds) {
  size_t i = 0;
  int y, mo, d, h = 0, mi = 0, sec = 0;
  if (!ReadDigits(s, &i, 4, &y) || i >= s.size() || s[i++] != '-' || !ReadDigits(s, &i, 2, &mo) ||
      i >= s.size() || s[i++] != '-' || !ReadDigits(s, &i, 2, &d)) {
    return false;
  }
  if (mo < 1 || mo > 12 || d < 1 || d > 31) return false;
  double frac = 0;
  if (i < s.size() && (s[i] == 'T' || s[i] == 't' || s[i] == ' ')) {
    ++i;
    if (!ReadDigits(s, &i, 2, &h) || i >= s.size() || s[i++] != ':' || !ReadDigits(s, &i, 2, &mi))
      return false;
    if (i < s.size() && s[i] == ':') {
      ++i;
      if (!ReadDigits(s, &i, 2, &sec)) return false;
      if (i < s.size() && (s[i] == '.' || s[i] == ',')) {
        ++i;
        double scale = 0.1;
        size_t b = i;
        while (i < s.size() && ingest::IsDigit(s[i])) {
          frac += (s[i] - '0') * scale;
          scale /= 10;
          ++i;
        }
        if (i == b) return false;
      }
    }
    if (h > 24 || mi > 59 || sec > 60) return false;
  }
  int64_t offset = 0;
  if (i < s.size()) {
    std::string_view rest = s.substr(i);
    if (rest == "Z" || rest == "z" || rest == " UTC" || rest == " GMT" || rest == "UTC") {
      i = s.size();
    } else if (rest[0] == '+' || rest[0] == '-') {
      int sign = rest[0] == '-' ? -1 : 1;
      ++i;
      int oh, om = 0;
      if (!ReadDigits(s, &i, 2, &oh)) return false;
      if (i < s.size() && s[i] == ':') ++i;
      if (i < s.size() && !ReadDigits(s, &i, 2, &om)) return false;
      offset = sign * (oh * 3600 + om * 60);
    }
    if (i != s.size()) return false;
  }
  int64_t t = DaysFromCivil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec - offset;
  *seconds = static_cast<double>(t) + frac;
  return true;
}

}  // namespace

LineReader::~LineReader() {
  if (file_) std::fclose(file_);
}

Status LineReader::Open(const std::string& path) {
  path_ = path;
  file_ = std::fopen(path.c_str(), "rb");
  if (!file_) status_ = OpenError(path);
  return status_;
}

bool LineReader::Fill() {
  if (eof_ || !file_) return false;
  if (pos_ > 0) {
    buf_.erase(0, pos_);
    pos_ = 0;
  }
  size_t old = buf_.size();
  buf_.resize(old + kChunk);
  size_t n = std::fread(buf_.data() + old, 1, kChunk, file_);
  buf_.resize(old + n);
  bytes_ += static_cast<int64_t>(n);
  if (n == 0) {
    eof_ = true;
    if (std::ferror(file_))
      status_ = Status::Io(fmt::format("{}: read failed: {}", path_, std::strerror(errno)));
    return false;
  }
  return true;
}

bool LineReader::Next(std::string_view* line, int64_t* line_no, bool* too_long) {
  *too_long = false;
  if (!status_.ok() || !file_) return false;
  if (at_start_) {
    while (buf_.size() < kBom.size() && Fill()) {
    }
    if (std::string_view(buf_).substr(0, kBom.size()) == kBom) pos_ = kBom.size();
    at_start_ = false;
  }
  if (skip_lf_) {
    if (pos_ >= buf_.size()) Fill();
    if (pos_ < buf_.size() && buf_[pos_] == '\n') ++pos_;
    skip_lf_ = false;
  }
  size_t scan = pos_;
  for (;;) {
    // The first '\n' or '\r' at or after `scan`: memchr for each (the import's hot loop; lines
    // end in '\n' far more often, so the '\r' search is bounded by the newline).
    const char* p = buf_.data();
    const char* nl = static_cast<const char*>(std::memchr(p + scan, '\n', buf_.size() - scan));
    const size_t end = nl != nullptr ? static_cast<size_t>(nl - p) : buf_.size();
    const char* cr = static_cast<const char*>(std::memchr(p + scan, '\r', end - scan));
    size_t i = cr != nullptr ? static_cast<size_t>(cr - p) : end;
    if (i < buf_.size()) {
      *line_no = ++line_no_;
      if (*too_long) {
        *line = {};
      } else {
        *line = std::string_view(buf_).substr(pos_, i - pos_);
      }
      skip_lf_ = buf_[i] == '\r';
      pos_ = i + 1;
      return true;
    }
    if (buf_.size() - pos_ > kMaxLineBytes) {  // drop what we have of the long line
      *too_long = true;
      buf_.clear();
      pos_ = 0;
    }
    scan = buf_.size() - pos_;
    if (!Fill()) {
      if (!status_.ok()) return false;
      if (pos_ >= buf_.size() && !*too_long) return false;
      *line_no = ++line_no_;
      *line = *too_long ? std::string_view() : std::string_view(buf_).substr(pos_);
      pos_ = buf_.size();
      return true;
    }
    scan += pos_;  // Fill() moved the unread bytes to the front: pos_ is 0
  }
}

Status ReadWholeFile(const std::string& path, std::string* out, size_t max_bytes) {
  out->clear();
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) return OpenError(path);
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> closer(f, &std::fclose);
  char buf[1 << 16];
  for (;;) {
    size_t n = std::fread(buf, 1, sizeof(buf), f);
    if (n == 0) break;
    if (out->size() + n > max_bytes)
      return Status::Invalid(fmt::format("{}: larger than {} bytes; not read", path, max_bytes));
    out->append(buf, n);
  }
  if (std::ferror(f))
    return Status::Io(fmt::format("{}: read failed: {}", path, std::strerror(errno)));
  return Status::OK();
}

std::string_view StripBom(std::string_view s) {
  if (s.substr(0, kBom.size()) == kBom) s.remove_prefix(kBom.size());
  return s;
}

int64_t LineCounter::LineAt(size_t offset) {
  if (offset > text_.size()) offset = text_.size();
  while (pos_ < offset) {
    char c = text_[pos_++];
    if (c == '\n' || (c == '\r' && (pos_ >= text_.size() || text_[pos_] != '\n'))) ++line_;
  }
  return line_;
}

bool ParseWallTime(std::string_view text, double* seconds) {
  text = ingest::TrimSpace(text);
  if (text.size() >= 2 && (text.front() == '"' || text.front() == '\'') &&
      text.back() == text.front()) {
    text = ingest::TrimSpace(text.substr(1, text.size() - 2));
  }
  double v;
  if (ingest::ParseNumericString(text, &v)) return WallTimeFromNumber(v, seconds);
  return ParseIsoTime(text, seconds);
}

bool WallTimeFromNumber(double v, double* seconds) {
  if (!std::isfinite(v) || v < 0) return false;
  if (v > 1e17) {
    v /= 1e9;
  } else if (v > 1e14) {
    v /= 1e6;
  } else if (v > 1e11) {
    v /= 1e3;
  }
  *seconds = v;
  return true;
}

bool IsWallTimeKey(std::string_view key) {
  using ingest::EqualsIgnoreCase;
  return EqualsIgnoreCase(key, "time") || EqualsIgnoreCase(key, "timestamp") ||
         EqualsIgnoreCase(key, "wall_time") || EqualsIgnoreCase(key, "_timestamp");
}

int64_t StepCounter::Assign(std::string_view key, bool has_step, int64_t step) {
  auto it = last_.find(key);
  if (it == last_.end()) {
    if (!has_step) step = 0;
    last_.emplace(std::string(key), step);
    return step;
  }
  if (!has_step) step = it->second + 1;
  it->second = step;
  return step;
}

std::string Excerpt(std::string_view s, size_t max) {
  std::string out;
  size_t i = 0;
  while (i < s.size() && out.size() < max) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      out.push_back(c < 0x20 || c == 0x7F ? '?' : static_cast<char>(c));
      ++i;
      continue;
    }
    size_t len = (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 0;
    bool ok = len > 0 && i + len <= s.size() && c != 0xC0 && c != 0xC1 && c < 0xF5;
    for (size_t k = 1; ok && k < len; ++k)
      ok = (static_cast<unsigned char>(s[i + k]) & 0xC0) == 0x80;
    if (ok) {
      out.append(s.data() + i, len);
      i += len;
    } else {
      out.push_back('?');
      ++i;
    }
  }
  if (i < s.size()) out += "...";
  return out;
}

std::string ParentDirName(const std::string& path) {
  std::error_code ec;
  std::filesystem::path p = std::filesystem::absolute(path, ec);
  if (ec) p = path;
  p = p.lexically_normal();
  return p.parent_path().filename().string();
}

}  // namespace inloop::importers
