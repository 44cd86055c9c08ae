// Attempt log format (attempt_log.h): the frame writer and the seeking reader.
#include "store/attempt_log.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>

#include "common/crc32c.h"
#include "store/store_internal.h"
#include "store/zstd_context.h"

namespace inloop::store {

using internal::PReadAll;
using internal::PWriteAll;

namespace {

constexpr uint32_t kSkippableMagic = 0x184D2A5E;
constexpr char kLogMagic[8] = {'I', 'N', 'L', 'L', 'O', 'G', '0', '1'};
constexpr size_t kFileHeader = 16;   // magic, size 8, "INLLOG01"
constexpr size_t kFrameHeader = 28;  // magic, size 20, five u32

void PutU32(std::string* s, uint32_t v) {
  char b[4];
  std::memcpy(b, &v, 4);
  s->append(b, 4);
}

uint32_t GetU32(const char* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

std::string FileHeader() {
  std::string h;
  PutU32(&h, kSkippableMagic);
  PutU32(&h, sizeof(kLogMagic));
  h.append(kLogMagic, sizeof(kLogMagic));
  return h;
}

bool IsFileHeader(std::string_view h) { return h.size() >= kFileHeader && h == FileHeader(); }

struct FrameHeader {
  uint32_t payload_len = 0, raw_len = 0, newlines = 0, payload_crc = 0;
};

// Parses 28 header bytes; false when they are not a valid frame header.
bool ParseFrameHeader(const char* p, FrameHeader* h) {
  if (GetU32(p) != kSkippableMagic || GetU32(p + 4) != 20) return false;
  if (crc32c::Mask(crc32c::Value(p + 8, 16)) != GetU32(p + 24)) return false;
  h->payload_len = GetU32(p + 8);
  h->raw_len = GetU32(p + 12);
  h->newlines = GetU32(p + 16);
  h->payload_crc = GetU32(p + 20);
  return h->raw_len > 0 && h->raw_len <= kLogMaxFrameRaw && h->newlines <= h->raw_len &&
         h->payload_len > 0 && h->payload_len <= ZSTD_compressBound(kLogMaxFrameRaw);
}

// A log in a file of its own (the embedded store).
class FdLogFile : public LogFile {
 public:
  FdLogFile(std::string path, int fd) : path_(std::move(path)), fd_(fd) {}
  ~FdLogFile() override { ::close(fd_); }
  Status Read(int64_t offset, size_t n, std::string* out) override {
    return PReadAll(fd_, offset, n, out, path_);
  }
  Status Write(int64_t offset, std::string_view data) override {
    return PWriteAll(fd_, offset, data, path_);
  }
  Status Truncate(int64_t size) override {
    if (::ftruncate(fd_, size) != 0) {
      return Status::Io(fmt::format("{}: cannot truncate: {}", path_, std::strerror(errno)));
    }
    return Status::OK();
  }
  Status Size(int64_t* size) override {
    struct stat sb;
    if (::fstat(fd_, &sb) != 0) {
      return Status::Io(fmt::format("{}: cannot stat: {}", path_, std::strerror(errno)));
    }
    *size = static_cast<int64_t>(sb.st_size);
    return Status::OK();
  }
  const std::string& name() const override { return path_; }

 private:
  std::string path_;
  int fd_;
};

// Walks the frames of the log open on fd (header already checked): calls f(header, payload
// offset) for each complete frame whose header is valid; returns the offset after the last one.
// *torn: bytes follow that are not a complete frame. Payload CRCs are not checked here.
template <class F>
Status WalkFrames(LogFile* file, int64_t size, int64_t* end, bool* torn, F f) {
  int64_t off = kFileHeader;
  *torn = false;
  std::string buf;
  while (off < size) {
    if (size - off < static_cast<int64_t>(kFrameHeader)) {
      *torn = true;
      break;
    }
    INLOOP_RETURN_IF_ERROR(file->Read(off, kFrameHeader, &buf));
    FrameHeader h;
    if (!ParseFrameHeader(buf.data(), &h) ||
        off + static_cast<int64_t>(kFrameHeader) + h.payload_len > size) {
      *torn = true;
      break;
    }
    f(h, off + static_cast<int64_t>(kFrameHeader));
    off += static_cast<int64_t>(kFrameHeader) + h.payload_len;
  }
  *end = off;
  return Status::OK();
}

double SteadySeconds() {
  using namespace std::chrono;
  return duration<double>(steady_clock::now().time_since_epoch()).count();
}

}  // namespace

const char* LogStreamName(LogStream s) { return s == LogStream::kStdout ? "stdout" : "stderr"; }

// ---- LogWriter ----

LogWriter::~LogWriter() {
  if (!closed_) {
    bool failed;
    {
      std::lock_guard<std::mutex> l(mu_);
      failed = !failed_.ok();
    }
    if (failed) {
      Abandon();
    } else {
      (void)Close();
    }
  }
  Stop(true);
}

Status LogWriter::Open(const std::string& path, LogWriterOptions options,
                       std::unique_ptr<LogWriter>* out) {
  if (options.frame_bytes == 0 || options.frame_bytes > kLogMaxFrameRaw) {
    return Status::Invalid(fmt::format("{}: frame size {} is outside 1..{}", path,
                                       options.frame_bytes, kLogMaxFrameRaw));
  }
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return Status::Io(fmt::format("{}: cannot create: {}", path, std::strerror(errno)));
  return Open(std::make_unique<FdLogFile>(path, fd), options, out);
}

Status LogWriter::Open(std::unique_ptr<LogFile> file, LogWriterOptions options,
                       std::unique_ptr<LogWriter>* out) {
  const std::string path = file->name();
  if (options.frame_bytes == 0 || options.frame_bytes > kLogMaxFrameRaw) {
    return Status::Invalid(fmt::format("{}: frame size {} is outside 1..{}", path,
                                       options.frame_bytes, kLogMaxFrameRaw));
  }
  std::unique_ptr<LogWriter> w(new LogWriter());
  w->path_ = path;
  w->options_ = options;
  w->file_ = std::move(file);
  int64_t size = 0;
  INLOOP_RETURN_IF_ERROR(w->file_->Size(&size));
  if (size < static_cast<int64_t>(kFileHeader)) {
    if (size > 0) {
      // Shorter than a header: only ever a header torn while being written (or not a log).
      std::string head;
      INLOOP_RETURN_IF_ERROR(w->file_->Read(0, static_cast<size_t>(size), &head));
      if (FileHeader().compare(0, head.size(), head) != 0) {
        return Status::Invalid(fmt::format("{}: not a compressed attempt log", path));
      }
    }
    INLOOP_RETURN_IF_ERROR(w->file_->Write(0, FileHeader()));
    INLOOP_RETURN_IF_ERROR(w->file_->Truncate(kFileHeader));
    w->committed_end_ = kFileHeader;
  } else {
    std::string head;
    INLOOP_RETURN_IF_ERROR(w->file_->Read(0, kFileHeader, &head));
    if (!IsFileHeader(head)) {
      return Status::Invalid(
          fmt::format("{}: not a compressed attempt log (a raw log of an older "
                      "store cannot be appended to)",
                      path));
    }
    // Keep complete frames whose payload checks out; cut a torn last frame.
    std::vector<std::pair<FrameHeader, int64_t>> frames;
    int64_t end = 0;
    bool torn = false;
    INLOOP_RETURN_IF_ERROR(
        WalkFrames(w->file_.get(), size, &end, &torn,
                   [&](const FrameHeader& h, int64_t at) { frames.emplace_back(h, at); }));
    if (!frames.empty()) {
      auto& [h, at] = frames.back();
      std::string payload;
      INLOOP_RETURN_IF_ERROR(w->file_->Read(at, h.payload_len, &payload));
      if (crc32c::Mask(crc32c::Value(payload)) != h.payload_crc) {
        end = at - static_cast<int64_t>(kFrameHeader);
        torn = true;
        frames.pop_back();
      }
    }
    for (auto& [fh, _] : frames) w->raw_bytes_ += fh.raw_len;
    if (torn) INLOOP_RETURN_IF_ERROR(w->file_->Truncate(end));
    w->committed_end_ = end;
  }
  w->thread_ = std::thread([p = w.get()] { p->Work(); });
  *out = std::move(w);
  return Status::OK();
}

int64_t LogWriter::file_bytes() const {
  std::lock_guard<std::mutex> l(mu_);
  return committed_end_ + open_on_disk_;
}

Status LogWriter::WriteFrame(std::string_view raw, bool final, int64_t* committed_end,
                             int64_t* open_on_disk) {
  std::string frame(kFrameHeader, '\0');
  size_t bound = ZSTD_compressBound(raw.size());
  frame.resize(kFrameHeader + bound);
  size_t z = ZSTD_compressCCtx(CompressContext(), frame.data() + kFrameHeader, bound, raw.data(),
                               raw.size(), options_.level);
  if (ZSTD_isError(z)) {
    return Status::Io(fmt::format("{}: zstd: {}", path_, ZSTD_getErrorName(z)));
  }
  frame.resize(kFrameHeader + z);
  std::string h;
  PutU32(&h, kSkippableMagic);
  PutU32(&h, 20);
  PutU32(&h, static_cast<uint32_t>(z));
  PutU32(&h, static_cast<uint32_t>(raw.size()));
  PutU32(&h, static_cast<uint32_t>(std::count(raw.begin(), raw.end(), '\n')));
  PutU32(&h, crc32c::Mask(crc32c::Value(frame.data() + kFrameHeader, z)));
  PutU32(&h, crc32c::Mask(crc32c::Value(h.data() + 8, 16)));
  std::memcpy(frame.data(), h.data(), kFrameHeader);
  INLOOP_RETURN_IF_ERROR(file_->Write(*committed_end, frame));
  int64_t len = static_cast<int64_t>(frame.size());
  if (len < *open_on_disk) INLOOP_RETURN_IF_ERROR(file_->Truncate(*committed_end + len));
  if (final) {
    *committed_end += len;
    *open_on_disk = 0;
  } else {
    *open_on_disk = len;
  }
  return Status::OK();
}

void LogWriter::Work() {
  std::unique_lock<std::mutex> l(mu_);
  for (;;) {
    cv_.wait(l, [&] { return stop_ || !queue_.empty(); });
    if (queue_.empty()) return;  // stopped, nothing left
    Job job = std::move(queue_.front());
    queue_.pop_front();
    busy_ = true;
    bool ok = failed_.ok();
    int64_t end = committed_end_, open = open_on_disk_;
    l.unlock();
    Status s = ok ? WriteFrame(job.raw, job.final, &end, &open) : Status::OK();
    l.lock();
    if (!s.ok() && failed_.ok()) failed_ = s;
    committed_end_ = end;
    open_on_disk_ = open;
    busy_ = false;
    cv_.notify_all();
  }
}

Status LogWriter::Enqueue(std::string raw, bool final) {
  std::unique_lock<std::mutex> l(mu_);
  cv_.wait(l, [&] { return queue_.size() < kMaxQueuedFrames || !failed_.ok(); });
  if (!failed_.ok()) return failed_;
  // A provisional frame still waiting is stale: what follows holds its bytes.
  while (!queue_.empty() && !queue_.back().final) queue_.pop_back();
  queue_.push_back(Job{std::move(raw), final});
  cv_.notify_all();
  last_queued_s_ = SteadySeconds();
  return Status::OK();
}

Status LogWriter::Drain() {
  std::unique_lock<std::mutex> l(mu_);
  cv_.wait(l, [&] { return (queue_.empty() && !busy_) || !failed_.ok(); });
  return failed_;
}

void LogWriter::Stop(bool drop_queued) {
  {
    std::lock_guard<std::mutex> l(mu_);
    if (drop_queued) queue_.clear();
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

Status LogWriter::Append(std::string_view data) {
  if (closed_) return Status::Invalid(fmt::format("{}: the log is closed", path_));
  {
    std::lock_guard<std::mutex> l(mu_);
    if (!failed_.ok()) return failed_;
  }
  open_.append(data);
  raw_bytes_ += static_cast<int64_t>(data.size());
  open_dirty_ = open_dirty_ || !data.empty();
  while (open_.size() >= options_.frame_bytes) {
    // Cut after the last '\n' within the frame, so that lines rarely straddle frames.
    size_t n = options_.frame_bytes;
    size_t nl = open_.rfind('\n', n - 1);
    if (nl != std::string::npos) n = nl + 1;
    INLOOP_RETURN_IF_ERROR(Enqueue(open_.substr(0, n), true));
    open_.erase(0, n);
    open_dirty_ = !open_.empty();
  }
  return Status::OK();
}

Status LogWriter::Flush() {
  if (closed_) return Status::OK();
  if (open_dirty_ && !open_.empty()) {
    INLOOP_RETURN_IF_ERROR(Enqueue(open_, false));
    open_dirty_ = false;
  }
  return Drain();
}

Status LogWriter::FlushDue() {
  if (closed_ || !open_dirty_ || open_.empty() ||
      SteadySeconds() - last_queued_s_ < options_.flush_interval_s) {
    std::lock_guard<std::mutex> l(mu_);
    return failed_;
  }
  INLOOP_RETURN_IF_ERROR(Enqueue(open_, false));
  open_dirty_ = false;
  return Status::OK();
}

void LogWriter::Abandon() {
  closed_ = true;
  Stop(true);
  file_.reset();
}

Status LogWriter::Close() {
  if (closed_) {
    std::lock_guard<std::mutex> l(mu_);
    return failed_;
  }
  Status s = Flush();
  closed_ = true;
  Stop(false);
  file_.reset();
  return s;
}

// ---- LogReader ----

LogReader::~LogReader() = default;

Status LogReader::Open(const std::string& path, std::unique_ptr<LogReader>* out) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return Status::NotFound(fmt::format("{}: no such log", path));
    return Status::Io(fmt::format("{}: cannot open: {}", path, std::strerror(errno)));
  }
  return Open(std::make_unique<FdLogFile>(path, fd), out);
}

Status LogReader::Open(std::unique_ptr<LogFile> file, std::unique_ptr<LogReader>* out) {
  std::unique_ptr<LogReader> r(new LogReader());
  r->path_ = file->name();
  r->file_ = std::move(file);
  INLOOP_RETURN_IF_ERROR(r->Index());
  *out = std::move(r);
  return Status::OK();
}

Status LogReader::Index() {
  int64_t size = 0;
  INLOOP_RETURN_IF_ERROR(file_->Size(&size));
  info_.file_bytes = size;
  std::string head;
  if (size >= static_cast<int64_t>(kFileHeader)) {
    INLOOP_RETURN_IF_ERROR(file_->Read(0, kFileHeader, &head));
  }
  if (!IsFileHeader(head)) {
    // A raw log (a store made before compression): one pass counts its lines.
    info_.compressed = false;
    info_.raw_bytes = size;
    constexpr size_t kBlock = 1 << 20;
    std::string buf;
    char last = '\n';
    for (int64_t off = 0; off < size; off += kBlock) {
      size_t n = static_cast<size_t>(std::min<int64_t>(kBlock, size - off));
      INLOOP_RETURN_IF_ERROR(file_->Read(off, n, &buf));
      info_.lines += std::count(buf.begin(), buf.end(), '\n');
      last = buf.back();
    }
    ends_with_newline_ = last == '\n';
    if (!ends_with_newline_) info_.lines++;
    return Status::OK();
  }
  info_.compressed = true;
  int64_t end = 0, raw = 0, lines = 0;
  INLOOP_RETURN_IF_ERROR(
      WalkFrames(file_.get(), size, &end, &info_.torn_tail, [&](const FrameHeader& h, int64_t at) {
        Frame f;
        f.file_offset = at;
        f.payload_len = h.payload_len;
        f.raw_len = h.raw_len;
        f.newlines = h.newlines;
        f.payload_crc = h.payload_crc;
        f.raw_start = raw;
        f.line_start = lines;
        raw += h.raw_len;
        lines += h.newlines;
        frames_.push_back(f);
      }));
  // The last frame may be a provisional one being rewritten by a live writer, or torn by a crash:
  // check its payload now, and leave it out when it does not check out.
  if (!frames_.empty()) {
    Frame& f = frames_.back();
    std::string payload;
    INLOOP_RETURN_IF_ERROR(file_->Read(f.file_offset, f.payload_len, &payload));
    if (crc32c::Mask(crc32c::Value(payload)) != f.payload_crc) {
      raw -= f.raw_len;
      lines -= f.newlines;
      frames_.pop_back();
      info_.torn_tail = true;
    }
  }
  info_.raw_bytes = raw;
  info_.frames = static_cast<int64_t>(frames_.size());
  ends_with_newline_ = true;
  if (!frames_.empty()) {
    std::string last;
    INLOOP_RETURN_IF_ERROR(Decode(frames_.size() - 1, &last));
    ends_with_newline_ = last.back() == '\n';
  }
  info_.lines = lines + (ends_with_newline_ ? 0 : 1);
  return Status::OK();
}

Status LogReader::Decode(size_t i, std::string* out) {
  if (static_cast<int64_t>(i) == cached_frame_) {
    *out = cache_;
    return Status::OK();
  }
  const Frame& f = frames_[i];
  std::string payload;
  INLOOP_RETURN_IF_ERROR(file_->Read(f.file_offset, f.payload_len, &payload));
  if (crc32c::Mask(crc32c::Value(payload)) != f.payload_crc) {
    return Status::Corrupt(fmt::format("{}: frame at byte {} fails its checksum", path_,
                                       f.file_offset - static_cast<int64_t>(kFrameHeader)));
  }
  out->resize(f.raw_len);
  size_t n = ZSTD_decompressDCtx(DecompressContext(), out->data(), out->size(), payload.data(),
                                 payload.size());
  if (ZSTD_isError(n) || n != f.raw_len) {
    return Status::Corrupt(fmt::format("{}: frame at byte {} does not decompress to its {} bytes",
                                       path_, f.file_offset - static_cast<int64_t>(kFrameHeader),
                                       f.raw_len));
  }
  ++frames_decoded_;
  cached_frame_ = static_cast<int64_t>(i);
  cache_ = *out;
  return Status::OK();
}

Status LogReader::Bytes(int64_t offset, int64_t n, std::string* out) {
  out->clear();
  if (offset < 0 || n <= 0 || offset >= info_.raw_bytes) return Status::OK();
  int64_t end = std::min(info_.raw_bytes, offset + n);
  if (!info_.compressed) {
    return file_->Read(offset, static_cast<size_t>(end - offset), out);
  }
  // The frame holding `offset`: the last one starting at or before it.
  auto it = std::upper_bound(frames_.begin(), frames_.end(), offset,
                             [](int64_t o, const Frame& f) { return o < f.raw_start; });
  std::string raw;
  for (size_t i = static_cast<size_t>(it - frames_.begin()) - 1;
       i < frames_.size() && frames_[i].raw_start < end; ++i) {
    INLOOP_RETURN_IF_ERROR(Decode(i, &raw));
    int64_t from = std::max<int64_t>(0, offset - frames_[i].raw_start);
    int64_t to = std::min<int64_t>(frames_[i].raw_len, end - frames_[i].raw_start);
    out->append(raw, static_cast<size_t>(from), static_cast<size_t>(to - from));
  }
  return Status::OK();
}

Status LogReader::Lines(int64_t first, int64_t count, std::vector<std::string>* out) {
  out->clear();
  if (first < 0 || count <= 0 || first >= info_.lines) return Status::OK();
  count = std::min(count, info_.lines - first);
  // Feeds raw bytes from where line `first` starts; collects `count` lines.
  std::string line;
  bool done = false;
  auto feed = [&](std::string_view data) {
    size_t pos = 0;
    while (!done && pos < data.size()) {
      size_t nl = data.find('\n', pos);
      if (nl == std::string_view::npos) {
        line.append(data.substr(pos));
        return;
      }
      line.append(data.substr(pos, nl - pos));
      out->push_back(std::move(line));
      line.clear();
      pos = nl + 1;
      done = static_cast<int64_t>(out->size()) == count;
    }
  };
  if (!info_.compressed) {
    // A raw log: scan from the start (logs of old stores only).
    constexpr size_t kBlock = 1 << 20;
    std::string buf;
    int64_t seen = 0;  // '\n' passed
    for (int64_t off = 0; !done && off < info_.raw_bytes; off += kBlock) {
      size_t n = static_cast<size_t>(std::min<int64_t>(kBlock, info_.raw_bytes - off));
      INLOOP_RETURN_IF_ERROR(file_->Read(off, n, &buf));
      std::string_view v(buf);
      while (seen < first && !v.empty()) {
        size_t nl = v.find('\n');
        if (nl == std::string_view::npos) {
          v = {};
          break;
        }
        v.remove_prefix(nl + 1);
        ++seen;
      }
      if (seen == first) feed(v);
    }
  } else {
    // Line `first` starts after the first-th '\n': in the frame that holds that newline (or
    // frame 0 for line 0).
    size_t i = 0;
    if (first > 0) {
      auto it =
          std::lower_bound(frames_.begin(), frames_.end(), first,
                           [](const Frame& f, int64_t k) { return f.line_start + f.newlines < k; });
      i = static_cast<size_t>(it - frames_.begin());
    }
    std::string raw;
    int64_t skip = first > 0 ? first - frames_[i].line_start : 0;  // '\n' to pass in frame i
    for (; !done && i < frames_.size(); ++i) {
      INLOOP_RETURN_IF_ERROR(Decode(i, &raw));
      std::string_view v(raw);
      while (skip > 0) {
        size_t nl = v.find('\n');
        if (nl == std::string_view::npos) {
          // The header's newline count disagrees with its checked payload: a forged frame.
          return Status::Corrupt(fmt::format("{}: a frame holds fewer lines than its header says",
                                             path_));
        }
        v.remove_prefix(nl + 1);
        --skip;
      }
      feed(v);
    }
  }
  if (!done && !line.empty()) out->push_back(std::move(line));  // the last line, no '\n'
  return Status::OK();
}

Status LogReader::Tail(int64_t n, std::vector<std::string>* out) {
  if (n <= 0) {
    out->clear();
    return Status::OK();
  }
  return Lines(std::max<int64_t>(0, info_.lines - n), n, out);
}

}  // namespace inloop::store
