// Replaying the shared real-world fixtures as a supervised run would see them: a Megatron-LM log
// (the BLOOM-176B fixtures) through the line parser and the detectors, and the TensorBoard
// writer's loss curve. Shared by tests/detect/fixtures_test.cc and
// bench/detect_bench.cc so the numbers the bench reports are the ones the tests assert.
#pragma once

#include <cstdint>
#include <cstdio>
#include <ctime>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <regex>
#include <string>
#include <string_view>
#include <vector>

#include <simdjson.h>

#include "detect/detector_set.h"
#include "detect/series_class.h"
#include "ingest/line_parser.h"

namespace inloop::replay {

inline std::vector<std::string> ReadLines(const std::filesystem::path& path) {
  std::vector<std::string> lines;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// The step of "iteration 31214/ 115311", or -1.
inline int64_t IterationOf(const std::string& line) {
  static const std::regex re(R"(iteration\s+(\d+)\s*/)");
  std::smatch m;
  return std::regex_search(line, m, re) ? std::stoll(m[1]) : -1;
}

struct ParsedPoint {
  size_t line = 0;  // 0-based physical line
  int64_t step = 0;
  std::string key;
  double value = 0;
};

// Every line through one LineParser (default shapes, no custom patterns), in order. A line
// without a parsed step takes its "iteration N/"; a line with neither is passed over.
inline std::vector<ParsedPoint> ParseLog(const std::vector<std::string>& lines) {
  std::vector<ParsedPoint> out;
  std::unique_ptr<ingest::LineParser> parser;
  if (!ingest::LineParser::Create({}, &parser).ok()) return out;
  ingest::ParsedLine parsed;
  for (size_t i = 0; i < lines.size(); ++i) {
    if (!parser->Parse(lines[i], &parsed)) continue;
    const int64_t step = parsed.has_step ? parsed.step : IterationOf(lines[i]);
    if (step < 0) continue;
    for (const ingest::Metric& m : parsed.metrics) out.push_back({i, step, m.key, m.value});
  }
  return out;
}

// The points into a DetectorSet. These lines carry no timestamps: ~106 s per iteration, as in
// the logs.
inline std::vector<detect::Finding> Feed(detect::DetectorSet* set,
                                         const std::vector<ParsedPoint>& points) {
  std::vector<detect::Finding> found;
  for (const ParsedPoint& p : points) {
    set->Observe(p.key, {p.step, 1.6497e9 + 106.0 * static_cast<double>(p.step), p.value}, &found);
  }
  return found;
}

// What each wrapped record of a log really says: a record is a physical line starting with '['
// and its continuation lines, joined with a space, then split at '|' into "key: value" (keys
// normalized as the detectors do). The ground truth the parser's output is checked against.
struct WrappedRecords {
  size_t count = 0;                                             // records in the log
  std::map<int64_t, std::map<std::string, double>> by_step;     // step -> key -> value
  std::vector<int64_t> step_of_line;                            // per physical line
};

inline WrappedRecords SplitWrappedRecords(const std::vector<std::string>& lines) {
  WrappedRecords out;
  std::vector<std::string> joined;
  std::vector<size_t> record_of_line;
  for (const std::string& l : lines) {
    if (joined.empty() || (!l.empty() && l[0] == '[')) {
      joined.push_back(l);
    } else {
      joined.back() += " " + l;
    }
    record_of_line.push_back(joined.size() - 1);
  }
  out.count = joined.size();
  std::vector<int64_t> steps;
  for (const std::string& r : joined) {
    const int64_t step = IterationOf(r);
    steps.push_back(step);
    size_t begin = 0;
    while (begin < r.size()) {
      size_t bar = r.find('|', begin);
      std::string seg = r.substr(begin, bar == std::string::npos ? std::string::npos : bar - begin);
      begin = bar == std::string::npos ? r.size() : bar + 1;
      size_t colon = seg.rfind(':');
      if (colon == std::string::npos) continue;
      const char* v = seg.c_str() + colon + 1;
      char* end = nullptr;
      double value = std::strtod(v, &end);
      if (end == v || std::string_view(end).find_first_not_of(' ') != std::string_view::npos) {
        continue;
      }
      out.by_step[step][detect::NormalizeKey(seg.substr(0, colon))] = value;
    }
  }
  for (size_t r : record_of_line) out.step_of_line.push_back(steps[r]);
  return out;
}

// The BLOOM throughput-drop fixture quotes five iterations; the defaults want 20 points of
// history, a 5-point short median and 5 slow points in a row. Not a default: the windows shrunk
// to the fixture, the 4% drop kept, to show that the parsed values carry the slowdown.
inline detect::DetectConfig ThroughputShrunkToFiveRecords() {
  detect::DetectConfig c;
  c.throughput_min_points = 3;
  c.throughput_short_window = 1;
  c.throughput_sustain = 2;
  return c;
}

// The train/loss curve of the TensorBoard writer fixture (expected.json: {"train/loss":
// [[step, value], ...]}) as points whose wall time is the step in seconds; false when the file
// is missing or not of that shape.
inline bool ReadTensorboardLoss(const std::filesystem::path& path, std::vector<Point>* out) {
  out->clear();
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  simdjson::dom::array pairs;
  if (parser.load(path.string()).get(doc) || doc["train/loss"].get_array().get(pairs)) {
    return false;
  }
  for (simdjson::dom::element e : pairs) {
    simdjson::dom::array pair;
    int64_t step = 0;
    double value = 0;
    if (e.get_array().get(pair) || pair.size() != 2 || pair.at(0).get_int64().get(step) ||
        pair.at(1).get_double().get(value)) {
      return false;
    }
    out->push_back({step, static_cast<double>(step), value});
  }
  return true;
}

// "[2022-05-01 03:56:11] ..." as seconds since the epoch (UTC), or -1.
inline double LineTime(const std::string& line) {
  std::tm tm{};
  if (std::sscanf(line.c_str(), "[%d-%d-%d %d:%d:%d]", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                  &tm.tm_hour, &tm.tm_min, &tm.tm_sec) != 6) {
    return -1;
  }
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  return static_cast<double>(timegm(&tm));
}

// A time for every line: its own stamp, else that of the next stamped line (an upper bound on
// when it was written, so a silence can only look shorter); -1 after the last stamp.
inline std::vector<double> LineTimes(const std::vector<std::string>& lines) {
  std::vector<double> t(lines.size(), -1);
  for (size_t i = lines.size(); i-- > 0;) {
    t[i] = LineTime(lines[i]);
    if (t[i] < 0 && i + 1 < lines.size()) t[i] = t[i + 1];
  }
  return t;
}

}  // namespace inloop::replay
