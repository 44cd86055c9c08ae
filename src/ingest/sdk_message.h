// SdkMessage: one line of the SDK protocol (docs/sdk_protocol.md), written by python/inloop to
// the pipe named by INLOOP_METRICS_FD: {"t":"log"|"params"|"tags"|"checkpoint"|"remedies"|"live"|
// "remedy_applied"|"dataset"|"batches"|"rank", ...}. Any message may carry "rank" (the sender's
// rank in a multi-rank job, docs/sdk_protocol.md "Ranks"); a log may carry "step_time". Parsing is strict
// about shape and tolerant about content: unknown fields are ignored, bad values skipped.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "data/batch_index.h"

namespace inloop::ingest {

struct SdkMessage {
  // kRemedies: the process read its remedy instructions (SDK control()/remedies()).
  // kLive: it polls for in-process remedies (SDK remedy_request()); kRemedyApplied: it applied
  // in-process request `seq` (SDK remedy_applied()). kDataset: the process reads a dataset (SDK
  // dataset(name, path)); path and name set. kBatches: the records some data batches consumed
  // (SDK batch(index, ids)); batches set, its dataset the name ("" for the last one declared).
  // kRank: a rank of a multi-rank job connected (rank, world_size, host set).
  enum class Type {
    kLog, kParams, kTags, kCheckpoint, kRemedies, kLive, kRemedyApplied, kDataset, kBatches, kRank,
    kUnknown
  };
  Type type = Type::kUnknown;
  std::optional<int64_t> step;
  std::vector<std::pair<std::string, double>> metrics;      // kLog
  std::vector<std::pair<std::string, std::string>> params;  // kParams (values as text)
  std::vector<std::string> tags;                            // kTags (non-empty strings)
  std::string path;                                         // kCheckpoint, kDataset
  std::string name;                                         // kDataset
  int64_t seq = 0;                                          // kRemedyApplied (> 0)
  std::optional<int> rank;          // the sender's rank (>= 0); absent: a single process (rank 0)
  std::optional<double> step_time;  // kLog: seconds the sender's step took (finite, > 0)
  int world_size = 0;               // kRank (0: unknown)
  std::string host;                 // kRank
  data::BatchLog batches;           // kBatches (path unset)
};

// Returns false when the line is not a valid SDK message.
bool ParseSdkMessage(std::string_view line, SdkMessage* out);

}  // namespace inloop::ingest
