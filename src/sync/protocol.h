// The wire format of run replication (docs/http_api.md, "Sync"): one request type, SyncBatch
// (POST /api/v1/sync/runs), and one answer, SyncMarks, as typed structs with one JSON form each,
// plus the pure rules both ends apply: where a batch overlaps what the server holds (dedupe) or
// leaves a hole (gap), and how points fall into segments. No sockets, no store, no threads: the
// server (http/sync_api.cc) and the client (sync/replicator.cc) share this file and its tests.
//
// Idempotence: the server keys a replicated run by (origin, origin_run), where `origin` is the
// random id of the client's local store (sync/origin.h). Every list in a batch (a series' points,
// the events, an attempt log's bytes) carries the origin offset of its first item ("from"): the server skips what it already holds and refuses a batch
// that would leave a hole (409 with its marks), so a batch resent after a lost answer, a client
// restart or a server crash is applied exactly once.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/point.h"
#include "common/status.h"
#include "store/attempt_log.h"
#include "store/catalog.h"

namespace inloop::sync {

// Limits of one request, checked by the server (400) and respected by the client's batching.
inline constexpr size_t kMaxBatchPoints = 200000;
inline constexpr size_t kMaxBatchEvents = 5000;
inline constexpr size_t kMaxBatchSeries = 10000;
inline constexpr size_t kMaxTextBytes = 1u << 20;  // one message, data_json, stderr tail
inline constexpr size_t kMaxNameBytes = 4096;      // keys, names, paths, ids
inline constexpr size_t kMaxBatchLogBytes = 8u << 20;  // attempt log bytes, all pieces together

// The points of one series (all its segments, in order) from origin offset `from`: the index of
// points[0] among the key's points counted across segments.
struct SeriesBatch {
  std::string key;
  int64_t from = 0;
  std::vector<Point> points;
};

// Bytes of one attempt's stdout or stderr log from byte offset `from` (base64 on the wire: a log
// may hold any bytes, and offsets must stay exact).
struct LogBatch {
  int attempt = 0;
  store::LogStream stream = store::LogStream::kStdout;
  int64_t from = 0;
  std::string bytes;
};

struct SyncBatch {
  std::string origin;      // the origin store's id: 16 to 64 of [0-9a-z]
  std::string origin_run;  // the run's id in the origin store
  store::RunRecord run;    // id ignored; the server keeps its own
  std::optional<std::vector<store::Param>> params;  // replaces nothing, upserts each
  std::optional<std::vector<std::string>> tags;
  std::vector<store::AttemptRecord> attempts;  // run_id ignored; log paths are not sent
  int64_t events_from = 0;                     // origin index of events[0]
  std::vector<store::EventRecord> events;      // in origin id order; id and run_id ignored
  std::vector<SeriesBatch> series;
  std::vector<LogBatch> logs;  // at most one piece per (attempt, stream)
};

// What the server holds of one series: points per segment, in segment order.
struct SeriesMarks {
  std::string key;
  std::vector<int64_t> segments;
  int64_t total() const;
};

struct LogMarks {
  int attempt = 0;
  store::LogStream stream = store::LogStream::kStdout;
  int64_t bytes = 0;  // log bytes the server holds
};

struct SyncMarks {
  std::string run_id;  // the server's id of the run
  std::string status;  // the server's status of the run
  int64_t events = 0;  // origin events the server holds
  std::vector<SeriesMarks> series;  // sorted by key
  std::vector<LogMarks> logs;
  const SeriesMarks* Find(std::string_view key) const;
  int64_t LogBytes(int attempt, store::LogStream stream) const;  // 0 when none
};

// JSON forms. Parse* check every field (Invalid naming the first bad one, nothing filled).
std::string EncodeBatch(const SyncBatch& b);
Status ParseBatch(std::string_view json, SyncBatch* out);
std::string EncodeMarks(const SyncMarks& m);
Status ParseMarks(std::string_view json, SyncMarks* out);

// Standard base64 (RFC 4648, with padding). Decode is false on anything else.
std::string Base64Encode(std::string_view bytes);
bool Base64Decode(std::string_view text, std::string* out);

// Whether `id` is a well-formed origin id (16 to 64 of [0-9a-z]).
bool ValidOrigin(std::string_view id);

// The server's verdict on items [from, from + n) of a list of which it holds the first `held`.
struct Overlap {
  bool gap = false;  // from > held: applying it would leave a hole
  int64_t skip = 0;  // items at the front it already holds (0..n)
};
Overlap OverlapOf(int64_t held, int64_t from, int64_t n);

// Segment bookkeeping of one series as store::RunWriter::Append does it: a point whose step is
// lower than the previous point's starts a new segment.
class SegmentCounter {
 public:
  SegmentCounter() = default;
  // From what a store holds: the counts of each segment and the last step of the last one.
  SegmentCounter(std::vector<int64_t> segments, int64_t last_step);
  void Add(int64_t step);
  const std::vector<int64_t>& segments() const { return segments_; }
  int64_t total() const { return total_; }

 private:
  std::vector<int64_t> segments_;
  int64_t total_ = 0;
  int64_t last_step_ = 0;
};

// Whether the server's segments agree with the origin's as far as the server got: every segment
// but the server's last equal, and its last no longer than the origin's same segment. Otherwise
// *why says where they part.
bool SegmentsAgree(const std::vector<int64_t>& origin, const std::vector<int64_t>& server,
                   std::string* why);

}  // namespace inloop::sync
