// MetricsWriter: the Prometheus text exposition format (version 0.0.4) for /metrics: HELP/TYPE
// lines once per family, samples with escaped label values. Pure string building.
#pragma once

#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace inloop::gateway {

class MetricsWriter {
 public:
  void Help(std::string_view name, std::string_view type, std::string_view help);
  void Sample(std::string_view name,
              const std::vector<std::pair<std::string, std::string>>& labels, double value);
  std::string Take() { return std::move(out_); }

 private:
  std::string out_;
  std::set<std::string, std::less<>> described_;
};

}  // namespace inloop::gateway
