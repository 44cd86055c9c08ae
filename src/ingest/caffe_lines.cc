// Caffe's solver output (glog prefix already stripped by StripLogPrefix): the lines that carry
// the iteration, the loss and the learning rate, and the per-blob net outputs that follow them.
// The rules are documented in line_parser.cc.
#include "ingest/number_scan.h"
#include "ingest/text_metrics.h"
#include "ingest/text_scan.h"

namespace inloop::ingest {

// Caffe's solver lines, glog prefix stripped (see line_parser.cc for the rules).
bool TextMetrics::ParseCaffe(std::string_view s, MetricSink* sink, bool* handled) {
  *handled = false;
  const int iteration_rank = StepKeyRank("iteration");
  const size_t n = s.size();
  constexpr std::string_view kIteration = "Iteration ";
  if (s.substr(0, kIteration.size()) == kIteration) {
    size_t i = kIteration.size();
    size_t d = DigitsAt(s, i);
    int64_t step = 0;
    if (d == 0 || !ParseInt(s.substr(i, d), &step)) return false;
    i += d;
    if (!(i == n || s[i] == ',' || (s[i] == ' ' && i + 1 < n && s[i + 1] == '('))) return false;
    *handled = true;
    caffe_step_ = step;
    has_caffe_step_ = true;
    sink->OfferStep(iteration_rank, step);
    if (i < n && s[i] == ' ') {  // "(12.3 iter/s, 8.1s/100 iters)"
      size_t close = s.find(')', i);
      if (close == std::string_view::npos) return false;
      std::string_view rate = s.substr(i + 2, close - i - 2);
      double v = 0;
      size_t len = ScanNumber(rate, &v, /*allow_groups=*/false);
      if (len > 0 && rate.substr(len, 8) == " iter/s,") sink->Add("iter_per_s", v);
      i = close + 1;
    }
    // ", loss = 2.3", ", lr = 0.01"; ", Testing net (#0)" holds no item.
    while (i < n && s[i] == ',') {
      size_t next = s.find(',', i + 1);
      std::string_view part = s.substr(i + 1, (next == std::string_view::npos ? n : next) - i - 1);
      size_t pos = 0;
      Pair p;
      if (ParseItem(part, &pos, /*head_allowed=*/false, &p) && !p.ignored &&
          p.step_rank == 0 && TrimSpace(part.substr(pos)).empty()) {
        BuildKey(p);
        if (!key_.empty() && key_.size() <= kMaxKeyLength) sink->Add(key_, p.value);
      }
      i = next == std::string_view::npos ? n : next;
    }
    return sink->size() > 0;
  }
  // "Train net output #0: loss = 2.3 (* 1 = 2.3 loss)", "Test net output #1: accuracy = 0.9"
  std::string_view pass;
  if (s.substr(0, 18) == "Train net output #") pass = "train";
  if (s.substr(0, 17) == "Test net output #") pass = "test";
  if (pass.empty()) return false;
  size_t i = s.find('#') + 1;
  size_t d = DigitsAt(s, i);
  if (d == 0 || i + d + 1 >= n || s[i + d] != ':') return false;
  i += d + 1;
  while (i < n && s[i] == ' ') ++i;
  size_t eq = s.find(" = ", i);
  if (eq == std::string_view::npos || eq == i) return false;
  std::string_view name = s.substr(i, eq - i);
  double v = 0;
  size_t len = ScanNumber(s.substr(eq + 3), &v, /*allow_groups=*/false);
  if (len == 0) return false;
  std::string_view rest = TrimSpace(s.substr(eq + 3 + len));
  if (!rest.empty() && rest.front() != '(') return false;
  *handled = true;
  key_.assign(pass.data(), pass.size());
  key_.push_back('_');
  AppendWords(&key_, name);
  if (key_.size() > kMaxKeyLength) return false;
  if (has_caffe_step_) sink->OfferStep(iteration_rank, caffe_step_);
  sink->Add(key_, v);
  return true;
}

}  // namespace inloop::ingest
