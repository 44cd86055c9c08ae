// SourcePrecedence: which of a process's two metric sources is recorded for each metric, key by
// key: the SDK pipe or its printed lines. Pure bookkeeping (no I/O, no clock): the supervisor asks
// it about every value before recording it.
//
// Contract:
// - Keys are compared by their canonical name (CanonicalMetricKey): printed `loss`, `train_loss`
//   and `Train Loss` are the SDK's `train/loss`; `val_loss` is `val/loss`; `learning_rate` is `lr`.
// - A value the SDK logs is always recorded. A printed value is recorded unless the SDK owns its
//   canonical key: once the SDK has logged a key, the same key printed repeats it for people and
//   is not recorded (it would be every value twice). Every printed key the SDK never logs keeps
//   being recorded, before and after the SDK connects.
// - The SDK goes quiet on a key while the process keeps printing it. Judged on steps when both
//   sides carry one (the only order that survives the two pipes being read in batches: the SDK
//   pipe is drained first, so when a printed step arrives the SDK's values up to it have come):
//   a printed step more than 2 x the SDK's largest step interval of the key plus 2 past the SDK's
//   last step of the key. Without steps (or before the SDK's interval is known), on counts: more
//   printed values since the SDK's last value than max(kQuietFirstPrinted, 2 x the printed-to-SDK
//   ratio so far + 2).
//   Printed values of the key are then recorded again, and the change is reported (a
//   `metric_source` event), as is the SDK taking the key back when it logs it again. So a series
//   never silently stops while the process keeps printing it.
// - With `lines_with_sdk` every printed value is recorded (the SDK's too): nothing is arbitrated.
// Memory: one small entry per distinct key. No allocation for a key seen before.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace inloop::ingest {

// Lower-cased, every run of characters other than [a-z0-9] as one '_', without a leading
// "train_"/"training_" (what is left must not be empty), and a few synonyms folded
// ("learning_rate" -> "lr", "gradient_norm" / "grad_l2_norm" -> "grad_norm").
std::string CanonicalMetricKey(std::string_view key);

enum class MetricSource { kSdk, kPrinted };
std::string_view MetricSourceName(MetricSource s);  // "sdk", "printed"

// A change of the source recorded for one canonical key.
struct SourceChange {
  std::string canonical;    // e.g. "loss"
  std::string sdk_key;      // the key as the SDK logs it, e.g. "train/loss"
  std::string printed_key;  // the key as printed (may be empty: never printed)
  MetricSource now = MetricSource::kSdk;
  int64_t printed_since_sdk = 0;  // printed values since the SDK's last value of the key
};

class SourcePrecedence {
 public:
  static constexpr int64_t kQuietFirstPrinted = 32;

  explicit SourcePrecedence(bool lines_with_sdk = false) : lines_with_sdk_(lines_with_sdk) {}

  // A value of `key` arrived through the SDK (it is always recorded). Appends a change when the
  // SDK takes the key over from printed values that were being recorded.
  void OnSdk(std::string_view key, std::optional<int64_t> step, std::vector<SourceChange>* changes);

  // A printed value of `key`: true when it is to be recorded. Appends a change when the SDK went
  // quiet on the key and printed values are recorded again.
  bool OnPrinted(std::string_view key, std::optional<int64_t> step,
                 std::vector<SourceChange>* changes);

  // The source recorded for `key` now (kPrinted for keys the SDK never logged).
  MetricSource SourceOf(std::string_view key) const;

 private:
  struct Entry {
    std::string canonical;
    std::string sdk_key;
    std::string printed_key;
    int64_t sdk_values = 0;
    int64_t printed_values = 0;       // recorded printed values
    int64_t printed_since_sdk = 0;    // printed values since the SDK's last value
    int64_t printed_owned = 0;        // printed values not recorded (the SDK owned the key)
    std::optional<int64_t> sdk_last_step;
    int64_t sdk_max_interval = 0;     // largest step interval between two SDK values
    bool sdk_owns = false;            // the SDK's values are the recorded ones
  };
  Entry& EntryFor(std::string_view key, std::map<std::string, size_t, std::less<>>* by_key);
  static bool Quiet(const Entry& e, std::optional<int64_t> step);

  bool lines_with_sdk_;
  std::vector<Entry> entries_;
  std::map<std::string, size_t, std::less<>> by_canonical_;
  std::map<std::string, size_t, std::less<>> by_sdk_key_;      // raw SDK key -> entry
  std::map<std::string, size_t, std::less<>> by_printed_key_;  // raw printed key -> entry
};

}  // namespace inloop::ingest
