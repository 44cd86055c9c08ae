// WAL encoding: header "INLWAL01", then records [u32 payload length][u32 masked crc32c][payload].
// Payload type 1 (points): entries of varint series id, zigzag varint step delta (from the previous
// entry of the same record), f64 wall time, f64 value. Payload type 2 (bases): varint count, then
// pairs of varint series id and varint base ordinal. Little-endian throughout.
#include "store/wal.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "common/crc32c.h"
#include "common/file_io.h"
#include "store/varint.h"

namespace inloop::store {
namespace {

constexpr char kMagic[8] = {'I', 'N', 'L', 'W', 'A', 'L', '0', '1'};
constexpr uint8_t kPointsRecord = 1;
constexpr uint8_t kBasesRecord = 2;
constexpr size_t kMaxRecord = 64u << 20;

std::string FrameRecord(std::string_view payload) {
  std::string rec;
  rec.resize(8);
  uint32_t len = static_cast<uint32_t>(payload.size());
  uint32_t crc = crc32c::Mask(crc32c::Value(payload));
  std::memcpy(rec.data(), &len, 4);
  std::memcpy(rec.data() + 4, &crc, 4);
  rec.append(payload);
  return rec;
}

}  // namespace

WalWriter::~WalWriter() {
  if (fd_ >= 0) ::close(fd_);
}

Status WalWriter::Create(const std::string& path,
                         const std::vector<std::pair<int64_t, int64_t>>& bases,
                         std::unique_ptr<WalWriter>* out) {
  std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Status::Io(fmt::format("{}: cannot create: {}", tmp, std::strerror(errno)));
  std::unique_ptr<WalWriter> w(new WalWriter());
  w->fd_ = fd;
  w->path_ = path;
  std::string head(kMagic, sizeof(kMagic));
  std::string payload(1, static_cast<char>(kBasesRecord));
  PutVarint(&payload, bases.size());
  for (auto& [id, base] : bases) {
    PutVarint(&payload, static_cast<uint64_t>(id));
    PutVarint(&payload, static_cast<uint64_t>(base));
  }
  head += FrameRecord(payload);
  INLOOP_RETURN_IF_ERROR(WriteAll(fd, head, tmp));
  // Rename last: a reader sees either the old complete WAL or the new one, never a half header.
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    return Status::Io(fmt::format("{}: cannot rename: {}", path, std::strerror(errno)));
  }
  w->file_size_ = head.size();
  *out = std::move(w);
  return Status::OK();
}

void WalWriter::Add(int64_t series_id, const Point& p) {
  if (buf_.empty()) {
    buf_.push_back(static_cast<char>(kPointsRecord));
    last_series_ = -1;
  }
  PutVarint(&buf_, static_cast<uint64_t>(series_id));
  PutVarint(&buf_, ZigZag(p.step - (series_id == last_series_ ? last_step_ : 0)));
  last_series_ = series_id;
  last_step_ = p.step;
  char raw[16];
  std::memcpy(raw, &p.wall_time, 8);
  std::memcpy(raw + 8, &p.value, 8);
  buf_.append(raw, 16);
}

Status WalWriter::Flush() {
  if (buf_.empty()) return Status::OK();
  std::string rec = FrameRecord(buf_);
  buf_.clear();
  INLOOP_RETURN_IF_ERROR(WriteAll(fd_, rec, path_));
  file_size_ += rec.size();
  return Status::OK();
}

Status ReadWalFile(const std::string& path, WalContents* out) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    *out = WalContents{};
    if (errno == ENOENT) return Status::OK();
    return Status::Io(fmt::format("{}: cannot open: {}", path, std::strerror(errno)));
  }
  Status s = ReadWal(fd, out);
  ::close(fd);
  return s;
}

Status ReadWal(int fd, WalContents* out) {
  *out = WalContents{};
  std::string data;
  char buf[1 << 16];
  off_t off = 0;
  for (;;) {
    ssize_t n = ::pread(fd, buf, sizeof(buf), off);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status::Io(fmt::format("WAL read failed: {}", std::strerror(errno)));
    }
    if (n == 0) break;
    data.append(buf, static_cast<size_t>(n));
    off += n;
  }
  out->file_bytes = data.size();
  if (data.size() < sizeof(kMagic) || std::memcmp(data.data(), kMagic, sizeof(kMagic)) != 0) {
    if (!data.empty()) out->tail_error = "bad WAL header";
    return Status::OK();
  }
  size_t pos = sizeof(kMagic);
  out->valid_bytes = pos;
  while (pos < data.size()) {
    if (data.size() - pos < 8) {
      out->tail_error = fmt::format("torn record header at byte {}", pos);
      break;
    }
    uint32_t len, crc;
    std::memcpy(&len, data.data() + pos, 4);
    std::memcpy(&crc, data.data() + pos + 4, 4);
    if (len == 0 || len > kMaxRecord || data.size() - pos - 8 < len) {
      out->tail_error = fmt::format("torn record at byte {}", pos);
      break;
    }
    std::string_view payload(data.data() + pos + 8, len);
    if (crc32c::Unmask(crc) != crc32c::Value(payload)) {
      out->tail_error = fmt::format("bad CRC at byte {}", pos);
      break;
    }
    const char* p = payload.data() + 1;
    const char* end = payload.data() + payload.size();
    bool ok = true;
    // A malformed record is dropped whole: nothing decoded from it before the fault is kept.
    const size_t bases_before = out->bases.size(), points_before = out->points.size();
    if (payload[0] == kBasesRecord) {
      uint64_t n = 0;
      ok = GetVarint(&p, end, &n);
      for (uint64_t i = 0; ok && i < n; ++i) {
        uint64_t id = 0, base = 0;
        ok = GetVarint(&p, end, &id) && GetVarint(&p, end, &base);
        if (ok) out->bases.emplace_back(static_cast<int64_t>(id), static_cast<int64_t>(base));
      }
    } else if (payload[0] == kPointsRecord) {
      int64_t last_series = -1, last_step = 0;
      while (ok && p < end) {
        uint64_t id = 0, zz = 0;
        ok = GetVarint(&p, end, &id) && GetVarint(&p, end, &zz) && end - p >= 16;
        if (!ok) break;
        Point pt;
        int64_t sid = static_cast<int64_t>(id);
        // A delta that overflows the step's range was never written by a writer: malformed.
        if (__builtin_add_overflow(UnZigZag(zz), sid == last_series ? last_step : 0, &pt.step)) {
          ok = false;
          break;
        }
        std::memcpy(&pt.wall_time, p, 8);
        std::memcpy(&pt.value, p + 8, 8);
        p += 16;
        last_series = sid;
        last_step = pt.step;
        out->points.emplace_back(sid, pt);
      }
    } else {
      ok = false;
    }
    if (!ok) {
      out->bases.resize(bases_before);
      out->points.resize(points_before);
      out->tail_error = fmt::format("malformed record at byte {}", pos);
      break;
    }
    pos += 8 + len;
    out->valid_bytes = pos;
  }
  return Status::OK();
}

}  // namespace inloop::store
