// Key classification by boundary-aligned pattern matching over normalized keys. Runs once per new
// key (DetectorSet caches the answer); must never be on the per-point path.
#include "detect/series_class.h"

#include <vector>

namespace inloop::detect {

std::string_view SeriesClassName(SeriesClass c) {
  switch (c) {
    case SeriesClass::kOther:
      return "other";
    case SeriesClass::kLoss:
      return "loss";
    case SeriesClass::kEvalLoss:
      return "eval_loss";
    case SeriesClass::kGradNorm:
      return "grad_norm";
    case SeriesClass::kThroughput:
      return "throughput";
    case SeriesClass::kStepTime:
      return "step_time";
    case SeriesClass::kMemory:
      return "memory";
  }
  return "other";
}

std::string NormalizeKey(std::string_view key) {
  std::string out;
  out.reserve(key.size());
  for (char ch : key) {
    unsigned char c = static_cast<unsigned char>(ch);
    if (c >= 'A' && c <= 'Z') {
      out.push_back(static_cast<char>(c - 'A' + 'a'));
    } else if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) {
      out.push_back(static_cast<char>(c));
    } else if (!out.empty() && out.back() != '_') {
      out.push_back('_');
    }
  }
  while (!out.empty() && out.back() == '_') out.pop_back();
  return out;
}

bool KeyMatches(std::string_view key, std::string_view pattern) {
  std::string p = NormalizeKey(pattern);
  if (p.empty()) return false;
  for (size_t pos = key.find(p); pos != std::string_view::npos; pos = key.find(p, pos + 1)) {
    bool left = pos == 0 || key[pos - 1] == '_';
    size_t end = pos + p.size();
    bool right = end == key.size() || key[end] == '_';
    if (left && right) return true;
  }
  return false;
}

namespace {

bool AnyMatches(std::string_view key, const std::vector<std::string>& patterns) {
  for (const std::string& p : patterns) {
    if (KeyMatches(key, p)) return true;
  }
  return false;
}

}  // namespace

SeriesClass ClassifyKey(std::string_view raw_key, const DetectConfig& c) {
  std::string key = NormalizeKey(raw_key);
  if (AnyMatches(key, c.ignore_keys)) return SeriesClass::kOther;
  if (AnyMatches(key, c.grad_norm_keys)) return SeriesClass::kGradNorm;
  if (AnyMatches(key, c.loss_keys)) {
    return AnyMatches(key, c.eval_markers) ? SeriesClass::kEvalLoss : SeriesClass::kLoss;
  }
  if (AnyMatches(key, c.step_time_keys)) return SeriesClass::kStepTime;
  if (AnyMatches(key, c.throughput_keys)) return SeriesClass::kThroughput;
  if (AnyMatches(key, c.memory_keys)) return SeriesClass::kMemory;
  return SeriesClass::kOther;
}

}  // namespace inloop::detect
