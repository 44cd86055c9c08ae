// Per-key arbitration between SDK values and printed values (see source_precedence.h).
#include "ingest/source_precedence.h"

#include <algorithm>

#include "detect/series_class.h"

namespace inloop::ingest {

std::string CanonicalMetricKey(std::string_view key) {
  std::string out = detect::NormalizeKey(key);
  for (std::string_view prefix : {"training_", "train_"}) {
    if (out.size() > prefix.size() && out.compare(0, prefix.size(), prefix) == 0) {
      out.erase(0, prefix.size());
      break;
    }
  }
  if (out == "learning_rate") return "lr";
  if (out == "gradient_norm" || out == "grad_l2_norm") return "grad_norm";
  return out;
}

std::string_view MetricSourceName(MetricSource s) {
  return s == MetricSource::kSdk ? "sdk" : "printed";
}

SourcePrecedence::Entry& SourcePrecedence::EntryFor(
    std::string_view key, std::map<std::string, size_t, std::less<>>* by_key) {
  auto it = by_key->find(key);
  if (it != by_key->end()) return entries_[it->second];
  std::string canonical = CanonicalMetricKey(key);
  auto c = by_canonical_.find(canonical);
  size_t index;
  if (c != by_canonical_.end()) {
    index = c->second;
  } else {
    index = entries_.size();
    entries_.push_back(Entry{});
    entries_.back().canonical = canonical;
    by_canonical_.emplace(std::move(canonical), index);
  }
  by_key->emplace(std::string(key), index);
  return entries_[index];
}

bool SourcePrecedence::Quiet(const Entry& e, std::optional<int64_t> step) {
  // On steps once the SDK's interval is known (two SDK values with steps).
  if (step && e.sdk_last_step && e.sdk_max_interval > 0) {
    // In double: steps come from the process and may be anywhere in int64.
    return static_cast<double>(*step) >
           static_cast<double>(*e.sdk_last_step) + 2.0 * static_cast<double>(e.sdk_max_interval) + 2;
  }
  // Printed values per SDK value before the SDK's last one (rounded up).
  int64_t before = e.printed_owned - e.printed_since_sdk + 1;
  int64_t ratio = (std::max<int64_t>(before, 0) + e.sdk_values - 1) / e.sdk_values;
  return e.printed_since_sdk > std::max(kQuietFirstPrinted, 2 * ratio + 2);
}

void SourcePrecedence::OnSdk(std::string_view key, std::optional<int64_t> step,
                             std::vector<SourceChange>* changes) {
  if (lines_with_sdk_) return;
  Entry& e = EntryFor(key, &by_sdk_key_);
  if (e.sdk_key != key) e.sdk_key = std::string(key);
  if (step) {
    // The SDK's own interval is learned only while it is the recorded source (a quiet spell is
    // not its normal interval).
    int64_t interval = 0;
    if (e.sdk_owns && e.sdk_last_step && *step > *e.sdk_last_step &&
        !__builtin_sub_overflow(*step, *e.sdk_last_step, &interval)) {
      e.sdk_max_interval = std::max(e.sdk_max_interval, interval);
    }
    e.sdk_last_step = step;
  }
  ++e.sdk_values;
  if (!e.sdk_owns) {
    e.sdk_owns = true;
    // Nothing to say when no printed value of the key was ever recorded.
    if (e.printed_values > 0) {
      changes->push_back(SourceChange{e.canonical, e.sdk_key, e.printed_key, MetricSource::kSdk,
                                      e.printed_since_sdk});
    }
  }
  e.printed_since_sdk = 0;
}

bool SourcePrecedence::OnPrinted(std::string_view key, std::optional<int64_t> step,
                                 std::vector<SourceChange>* changes) {
  if (lines_with_sdk_) return true;
  Entry& e = EntryFor(key, &by_printed_key_);
  if (e.printed_key != key) e.printed_key = std::string(key);
  if (e.sdk_values == 0) {
    ++e.printed_values;
    return true;
  }
  ++e.printed_since_sdk;
  if (e.sdk_owns) {
    if (!Quiet(e, step)) {
      ++e.printed_owned;
      return false;
    }
    e.sdk_owns = false;
    changes->push_back(SourceChange{e.canonical, e.sdk_key, e.printed_key,
                                    MetricSource::kPrinted, e.printed_since_sdk});
  }
  ++e.printed_values;
  return true;
}

MetricSource SourcePrecedence::SourceOf(std::string_view key) const {
  for (const auto* m : {&by_sdk_key_, &by_printed_key_}) {
    auto it = m->find(key);
    if (it != m->end()) {
      return entries_[it->second].sdk_owns ? MetricSource::kSdk : MetricSource::kPrinted;
    }
  }
  auto c = by_canonical_.find(CanonicalMetricKey(key));
  if (c != by_canonical_.end() && entries_[c->second].sdk_owns) return MetricSource::kSdk;
  return MetricSource::kPrinted;
}

}  // namespace inloop::ingest
