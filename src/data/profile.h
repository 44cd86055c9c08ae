// Profile: what a validated output looked like, kept so the next version can be tested for
// drift against it: a uniform reservoir sample (4096 values) per numeric field and the counts of
// up to 1000 categories per categorical field. Stored as .inloop/data/profiles/<sha256>.json
// (the output version's content hash). DriftChecks runs KS / chi-square (stats/two_sample.h).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "common/status.h"
#include "data/check_result.h"
#include "data/step_spec.h"
#include "stats/rng.h"

namespace inloop::data {

inline constexpr int kReservoirSize = 4096;
inline constexpr int kMaxCategories = 1000;

class Reservoir {
 public:
  Reservoir() : rng_(0x1234abcd) {}
  void Add(double v) {
    ++seen_;
    if (static_cast<int64_t>(values_.size()) < kReservoirSize) {
      values_.push_back(v);
      return;
    }
    uint64_t j = rng_.Next() % static_cast<uint64_t>(seen_);
    if (j < kReservoirSize) values_[j] = v;
  }
  const std::vector<double>& values() const { return values_; }
  std::vector<double>* mutable_values() { return &values_; }

 private:
  stats::Rng rng_;
  int64_t seen_ = 0;
  std::vector<double> values_;
};

struct Profile {
  int64_t rows = 0;
  std::map<std::string, Reservoir> numeric;
  std::map<std::string, std::map<std::string, int64_t, std::less<>>> categorical;
};

Status SaveProfile(const std::string& path, const Profile& p);
// NotFound when there is none.
Status LoadProfile(const std::string& path, Profile* p);

// One result per field of spec.drift present in both profiles.
void DriftChecks(const std::string& output, const DriftSpec& spec, const Profile& previous,
                 const Profile& current, std::vector<CheckResult>* out);

}  // namespace inloop::data
