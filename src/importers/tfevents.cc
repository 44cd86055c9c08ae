#include "importers/tfevents.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <limits>
#include <map>
#include <unordered_map>
#include <utility>
#include <vector>

#include "common/file_io.h"
#include "importers/proto/event.pb.h"
#include "importers/proto/hparams.pb.h"
#include "importers/tfrecord.h"

namespace inloop::importers {
namespace {

namespace tb = ::tensorboard;

// Kinds counted in ImportBatch::skipped that are known up front (plugins are counted by name).
enum Kind : size_t {
  kFileVersion,
  kGraphDef,
  kLogMessage,
  kSessionLog,
  kTaggedRunMetadata,
  kMetaGraphDef,
  kEmptyEvent,
  kImage,
  kHisto,
  kAudio,
  kOldStyleHistogram,
  kEmptyValue,
  kNonScalarTensor,
  kMalformedTensor,
  kKindCount,
};
constexpr std::array<const char*, kKindCount> kKindNames = {
    "event:file_version", "event:graph_def",   "event:log_message",
    "event:session_log",  "event:tagged_run_metadata", "event:meta_graph_def",
    "event:empty",        "value:image",       "value:histo",
    "value:audio",        "value:old_style_histogram", "value:empty",
    "tensor:non_scalar",  "tensor:malformed",
};

template <typename T>
T LoadLe(const char* p) {
  T v;
  std::memcpy(&v, p, sizeof v);
  static_assert(std::endian::native == std::endian::little, "tensor_content is little-endian");
  return v;
}

float HalfToFloat(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t exp = (h >> 10) & 0x1fu;
  const uint32_t mant = h & 0x3ffu;
  if (exp == 0) {  // zero or subnormal: mant * 2^-24
    float f = std::ldexp(static_cast<float>(mant), -24);
    return sign ? -f : f;
  }
  uint32_t bits = exp == 0x1f ? sign | 0x7f800000u | (mant << 13)  // inf, NaN
                              : sign | ((exp + 112) << 23) | (mant << 13);
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}

float Bfloat16ToFloat(uint16_t b) {
  uint32_t bits = static_cast<uint32_t>(b) << 16;
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}

enum class TensorValue { kScalar, kNonScalar, kMalformed, kUnsupported };

// The value of a rank-0 numeric tensor. As TensorBoard's make_ndarray does, a tensor without
// content or typed values is zero.
TensorValue ScalarOf(const tb::TensorProto& t, double* out) {
  if (t.has_tensor_shape() && (t.tensor_shape().dim_size() != 0 || t.tensor_shape().unknown_rank()))
    return TensorValue::kNonScalar;
  const std::string& c = t.tensor_content();
  const bool raw = !c.empty();
  auto need = [&](size_t n) { return c.size() == n; };
  *out = 0;
  switch (t.dtype()) {
    case tb::DT_FLOAT:
      if (raw) {
        if (!need(4)) return TensorValue::kMalformed;
        *out = LoadLe<float>(c.data());
      } else if (t.float_val_size() > 0) {
        *out = t.float_val(0);
      }
      return TensorValue::kScalar;
    case tb::DT_DOUBLE:
      if (raw) {
        if (!need(8)) return TensorValue::kMalformed;
        *out = LoadLe<double>(c.data());
      } else if (t.double_val_size() > 0) {
        *out = t.double_val(0);
      }
      return TensorValue::kScalar;
    case tb::DT_HALF:
    case tb::DT_BFLOAT16: {
      uint16_t bits = 0;
      if (raw) {
        if (!need(2)) return TensorValue::kMalformed;
        bits = LoadLe<uint16_t>(c.data());
      } else if (t.half_val_size() > 0) {
        bits = static_cast<uint16_t>(t.half_val(0));
      }
      *out = t.dtype() == tb::DT_HALF ? HalfToFloat(bits) : Bfloat16ToFloat(bits);
      return TensorValue::kScalar;
    }
    case tb::DT_INT32:
    case tb::DT_INT16:
    case tb::DT_INT8:
    case tb::DT_UINT8:
    case tb::DT_UINT16: {
      if (raw) {
        switch (t.dtype()) {
          case tb::DT_INT32:
            if (!need(4)) return TensorValue::kMalformed;
            *out = LoadLe<int32_t>(c.data());
            break;
          case tb::DT_INT16:
            if (!need(2)) return TensorValue::kMalformed;
            *out = LoadLe<int16_t>(c.data());
            break;
          case tb::DT_UINT16:
            if (!need(2)) return TensorValue::kMalformed;
            *out = LoadLe<uint16_t>(c.data());
            break;
          case tb::DT_INT8:
            if (!need(1)) return TensorValue::kMalformed;
            *out = LoadLe<int8_t>(c.data());
            break;
          default:
            if (!need(1)) return TensorValue::kMalformed;
            *out = LoadLe<uint8_t>(c.data());
            break;
        }
      } else if (t.int_val_size() > 0) {
        *out = t.int_val(0);
      }
      return TensorValue::kScalar;
    }
    case tb::DT_INT64:
      if (raw) {
        if (!need(8)) return TensorValue::kMalformed;
        *out = static_cast<double>(LoadLe<int64_t>(c.data()));
      } else if (t.int64_val_size() > 0) {
        *out = static_cast<double>(t.int64_val(0));
      }
      return TensorValue::kScalar;
    case tb::DT_UINT32:
      if (raw) {
        if (!need(4)) return TensorValue::kMalformed;
        *out = LoadLe<uint32_t>(c.data());
      } else if (t.uint32_val_size() > 0) {
        *out = t.uint32_val(0);
      }
      return TensorValue::kScalar;
    case tb::DT_UINT64:
      if (raw) {
        if (!need(8)) return TensorValue::kMalformed;
        *out = static_cast<double>(LoadLe<uint64_t>(c.data()));
      } else if (t.uint64_val_size() > 0) {
        *out = static_cast<double>(t.uint64_val(0));
      }
      return TensorValue::kScalar;
    case tb::DT_BOOL:
      if (raw) {
        if (!need(1)) return TensorValue::kMalformed;
        *out = c[0] != 0 ? 1 : 0;
      } else if (t.bool_val_size() > 0) {
        *out = t.bool_val(0) ? 1 : 0;
      }
      return TensorValue::kScalar;
    default:
      return TensorValue::kUnsupported;
  }
}

struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

// One file's parse: the reused Event, what is known about each tag, and the skip counters, which
// are added to the batch once at the end.
class Parser {
 public:
  Parser(const std::string& path, ImportedRun* run, ImportBatch* batch)
      : path_(path), run_(run), batch_(batch) {}

  void Parse(std::string_view bytes) {
    Begin(bytes.size());
    Feed(bytes, 0, static_cast<int64_t>(bytes.size()));
    Finish();
  }

  // Streaming: Begin with the expected size (for reserving), Feed pieces in order, then Finish.
  void Begin(size_t expected_bytes) {
    expected_ = expected_bytes;
    // Once an eighth of a large file is read, each series is sized for the whole file, so that
    // its vector is not grown (copied, and its fresh pages faulted in) again and again.
    // A streamed run holds a bounded number of points: nothing to reserve.
    checkpoint_ = expected_ >= kReserveMinBytes && run_->sink() == nullptr ? expected_ / 8 : SIZE_MAX;
  }

  // Parses the records of `piece` (bytes [base, base + piece.size()) of a stream of stream_size
  // bytes) and returns how many bytes it took: the rest starts a record that needs more bytes.
  size_t Feed(std::string_view piece, int64_t base, int64_t stream_size) {
    TfRecordReader reader(piece, base, stream_size);
    std::string_view data;
    for (;;) {
      TfRecordResult r = reader.Next(&data);
      if (r == TfRecordResult::kEnd || r == TfRecordResult::kNeedMore) break;
      if (static_cast<size_t>(reader.resume()) >= checkpoint_) {
        Reserve(static_cast<size_t>(reader.resume()), std::max<size_t>(expected_, 1));
        checkpoint_ = SIZE_MAX;
      }
      if (r != TfRecordResult::kRecord) {
        batch_->Issue(path_, reader.offset(), 0, reader.message());
        continue;
      }
      ++batch_->records;
      if (data.size() > static_cast<size_t>(std::numeric_limits<int>::max()) ||
          !event_.ParseFromArray(data.data(), static_cast<int>(data.size()))) {
        batch_->Issue(path_, reader.offset(), 0,
                      fmt::format("byte {}: a {}-byte record that is not a TensorBoard Event; "
                                  "record skipped",
                                  reader.offset(), data.size()));
        continue;
      }
      OnEvent();
    }
    batch_->bytes += static_cast<int64_t>(reader.consumed());
    return reader.consumed();
  }

  void Finish() {
    for (size_t k = 0; k < kKindCount; ++k) {
      if (kinds_[k] > 0) batch_->skipped[kKindNames[k]] += kinds_[k];
    }
    for (auto& [name, n] : named_) {
      if (n > 0) batch_->skipped[name] += n;
    }
  }

 private:
  struct Tag {
    size_t series = kNone;      // index in run_->series once a point was added
    bool plugin_known = false;  // the first plugin name seen for the tag decides
    int64_t* skip = nullptr;    // counter of the tag's non-scalars plugin, if it has one
    size_t points = 0;          // points this parse added
    bool hparams = false;       // the hparams plugin's: its metadata may hold the run's params
  };
  static constexpr size_t kNone = static_cast<size_t>(-1);
  static constexpr size_t kReserveMinBytes = 4 << 20;

  // Reserves room in each series for its points so far extrapolated from `done` of `total`
  // bytes, plus a sixteenth: at worst the vector doubles once more, as it would have anyway.
  void Reserve(size_t done, size_t total) {
    for (auto& [name, tag] : tags_) {
      if (tag.series == kNone || done == 0) continue;
      const double expected = static_cast<double>(tag.points) * static_cast<double>(total) /
                              static_cast<double>(done);
      const auto more = static_cast<size_t>(expected * 17 / 16) + 64 - tag.points;
      auto& points = run_->series[tag.series].points;
      points.reserve(points.size() + more);
    }
  }

  int64_t* Named(std::string_view name) {
    auto it = named_.find(name);
    if (it == named_.end()) it = named_.emplace(std::string(name), 0).first;
    return &it->second;
  }

  void OnEvent() {
    if (!event_.has_summary()) {  // upstream's oneof `what`, as plain fields (proto/event.proto)
      Kind k = event_.has_file_version()          ? kFileVersion
               : event_.has_graph_def()           ? kGraphDef
               : event_.has_log_message()         ? kLogMessage
               : event_.has_session_log()         ? kSessionLog
               : event_.has_tagged_run_metadata() ? kTaggedRunMetadata
               : event_.has_meta_graph_def()      ? kMetaGraphDef
                                                  : kEmptyEvent;
      ++kinds_[k];
      return;
    }
    const int64_t step = event_.step();
    const double wall_time = event_.wall_time();
    for (const tb::Summary::Value& v : event_.summary().value()) {
      const std::string& tag_name = v.tag();
      auto it = tags_.find(std::string_view(tag_name));
      if (it == tags_.end()) it = tags_.emplace(tag_name, Tag{}).first;
      Tag& tag = it->second;
      if (!tag.plugin_known && v.has_metadata()) {
        const std::string& plugin = v.metadata().plugin_data().plugin_name();
        if (!plugin.empty()) {
          tag.plugin_known = true;
          if (plugin != "scalars") tag.skip = Named(fmt::format("plugin:{}", plugin));
          tag.hparams = plugin == "hparams";
        }
      }
      if (tag.hparams && v.has_metadata()) HParams(v.metadata().plugin_data().content());
      if (tag.skip != nullptr) {
        ++*tag.skip;
        continue;
      }
      double value = 0;
      if (v.has_tensor()) {  // upstream's oneof `value`, as plain fields (proto/summary.proto)
        switch (ScalarOf(v.tensor(), &value)) {
          case TensorValue::kScalar: break;
          case TensorValue::kNonScalar: ++kinds_[kNonScalarTensor]; continue;
          case TensorValue::kMalformed: ++kinds_[kMalformedTensor]; continue;
          case TensorValue::kUnsupported: {
            const std::string& dtype = tb::DataType_Name(v.tensor().dtype());
            ++*Named(dtype.empty() ? fmt::format("tensor:dtype_{}", v.tensor().dtype())
                                   : fmt::format("tensor:{}", dtype));
            continue;
          }
        }
      } else if (v.has_simple_value()) {
        value = v.simple_value();
      } else {
        ++kinds_[v.has_image()                          ? kImage
                 : v.has_histo()                        ? kHisto
                 : v.has_audio()                        ? kAudio
                 : v.has_obsolete_old_style_histogram() ? kOldStyleHistogram
                                                        : kEmptyValue];
        continue;
      }
      if (tag.series == kNone) tag.series = run_->SeriesIndex(tag_name);
      run_->Push(tag.series, Point{step, wall_time, value});
      ++tag.points;
    }
  }

  // The hyperparameters of a session_start_info (hparams plugin) as run params, in name order.
  void HParams(const std::string& content) {
    tb::hparams::HParamsPluginData data;
    if (content.empty() || !data.ParseFromString(content) || !data.has_session_start_info()) {
      return;
    }
    std::map<std::string_view, const google::protobuf::Value*> sorted;
    for (const auto& [name, value] : data.session_start_info().hparams()) sorted[name] = &value;
    for (const auto& [name, value] : sorted) {
      switch (value->kind_case()) {
        case google::protobuf::Value::kNumberValue:
          run_->SetParam(std::string(name), fmt::format("{}", value->number_value()));
          break;
        case google::protobuf::Value::kStringValue:
          run_->SetParam(std::string(name), value->string_value());
          break;
        case google::protobuf::Value::kBoolValue:
          run_->SetParam(std::string(name), value->bool_value() ? "true" : "false");
          break;
        default:  // null, struct, list: not a scalar hyperparameter
          break;
      }
    }
  }

  const std::string& path_;
  ImportedRun* run_;
  ImportBatch* batch_;
  tb::Event event_;
  std::unordered_map<std::string, Tag, StringHash, std::equal_to<>> tags_;
  std::array<int64_t, kKindCount> kinds_{};
  std::map<std::string, int64_t, std::less<>> named_;  // node-based: Tag::skip stays valid
  size_t expected_ = 0;
  size_t checkpoint_ = SIZE_MAX;
};

}  // namespace

void ParseTfEvents(std::string_view bytes, const std::string& path, ImportedRun* run,
                   ImportBatch* batch) {
  Parser(path, run, batch).Parse(bytes);
}

namespace {
// Reads the open event file `fd` (`expected` bytes long, as far as fstat knows) into `run`.
Status ParseTfEventsFd(int fd, const std::string& path, int64_t expected, size_t piece_bytes,
                       ImportedRun* run, ImportBatch* out);
}  // namespace

Status ReadTfEventsFile(const std::string& path, ImportBatch* out, size_t piece_bytes) {
  int fd = -1;
  if (Status s = OpenForReading(path, &fd); !s.ok()) return s;
  struct stat st {};
  int64_t expected = ::fstat(fd, &st) == 0 ? static_cast<int64_t>(st.st_size) : 0;
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::path dir = fs::absolute(fs::path(path), ec).lexically_normal().parent_path();
  if (ec) dir = fs::path(path).parent_path();
  ImportedRun run;
  run.name = dir.filename().string();
  run.format = "tfevents";
  run.source = dir.string();
  run.StreamTo(std::exchange(out->stream, nullptr));
  Status s = ParseTfEventsFd(fd, path, expected, piece_bytes, &run, out);
  ::close(fd);
  if (!s.ok()) return s;
  out->runs.push_back(std::move(run));
  return Status::OK();
}

Status ReadTfEventsInto(const std::string& path, ImportedRun* run, ImportBatch* out,
                        size_t piece_bytes) {
  int fd = -1;
  if (Status s = OpenForReading(path, &fd); !s.ok()) return s;
  struct stat st {};
  int64_t expected = ::fstat(fd, &st) == 0 ? static_cast<int64_t>(st.st_size) : 0;
  Status s = ParseTfEventsFd(fd, path, expected, piece_bytes, run, out);
  ::close(fd);
  return s;
}

namespace {

Status ParseTfEventsFd(int fd, const std::string& path, int64_t expected, size_t piece_bytes,
                       ImportedRun* run, ImportBatch* out) {
  // One piece-sized buffer, reused: reading the file into fresh memory costs more than parsing
  // it (page faults), a reused buffer stays in cache. A record longer than the buffer grows it.
  Parser parser(path, run, out);
  parser.Begin(static_cast<size_t>(std::max<int64_t>(expected, 0)));
  std::vector<char> buf(std::max<size_t>(piece_bytes, 64));
  size_t have = 0;
  int64_t base = 0;
  bool eof = false;
  while (!eof || have > 0) {
    while (!eof && have < buf.size()) {
      ssize_t r = ::read(fd, buf.data() + have, buf.size() - have);
      if (r < 0 && errno == EINTR) continue;
      if (r < 0) {
        int e = errno;
        return Status::Io(fmt::format("{}: read failed at byte {}: {}", path,
                                      base + static_cast<int64_t>(have), std::strerror(e)));
      }
      if (r == 0) eof = true;
      have += static_cast<size_t>(r);
    }
    // Until the end is seen the stream is at least as long as the file was, or as what was read.
    int64_t stream = base + static_cast<int64_t>(have);
    if (!eof) stream = std::max(stream + 1, expected);
    size_t used = parser.Feed(std::string_view(buf.data(), have), base, stream);
    if (eof) break;
    std::memmove(buf.data(), buf.data() + used, have - used);
    have -= used;
    base += static_cast<int64_t>(used);
    if (have == buf.size()) buf.resize(buf.size() * 2);  // one record longer than the buffer
  }
  parser.Finish();
  return Status::OK();
}

}  // namespace

}  // namespace inloop::importers
