// The data index's JSON form and the window arithmetic.
#include "data/batch_index.h"

#include <algorithm>
#include <set>

#include <simdjson.h>

#include "common/json_writer.h"

namespace inloop::data {

std::string BatchLogJson(const BatchLog& b) {
  JsonWriter w;
  w.BeginObject().Key("dataset").String(b.dataset).Key("path").String(b.path).Key("batches").BeginArray();
  for (auto& e : b.batches) {
    w.BeginArray().Int(e.index).BeginArray();
    for (auto& [lo, hi] : e.records) w.BeginArray().Int(lo).Int(hi).EndArray();
    w.EndArray().EndArray();
  }
  w.EndArray().EndObject();
  return w.Take();
}

bool ParseBatchLog(std::string_view json, BatchLog* out) {
  *out = BatchLog{};
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  simdjson::padded_string padded(json);
  simdjson::dom::array batches;
  if (parser.parse(padded).get(doc) || doc["batches"].get_array().get(batches)) return false;
  std::string_view s;
  if (!doc["dataset"].get_string().get(s)) out->dataset = std::string(s);
  if (!doc["path"].get_string().get(s)) out->path = std::string(s);
  for (auto item : batches) {
    simdjson::dom::array pair, ranges;
    int64_t index = 0;
    if (item.get_array().get(pair) || pair.size() != 2 || pair.at(0).get_int64().get(index) ||
        pair.at(1).get_array().get(ranges)) {
      continue;
    }
    BatchEntry e;
    e.index = index;
    for (auto r : ranges) {
      simdjson::dom::array lh;
      int64_t lo = 0, hi = 0;
      if (r.get_array().get(lh) || lh.size() != 2 || lh.at(0).get_int64().get(lo) ||
          lh.at(1).get_int64().get(hi) || lo < 0 || hi <= lo) {
        continue;
      }
      e.records.emplace_back(lo, hi);
    }
    out->batches.push_back(std::move(e));
  }
  return true;
}

IdRanges ToRanges(std::vector<int64_t> ids) {
  std::sort(ids.begin(), ids.end());
  IdRanges out;
  for (int64_t x : ids) {
    if (x < 0) continue;
    if (!out.empty() && x <= out.back().second) {
      out.back().second = std::max(out.back().second, x + 1);
    } else {
      out.emplace_back(x, x + 1);
    }
  }
  return out;
}

namespace {

IdRanges Merge(IdRanges r) {
  std::sort(r.begin(), r.end());
  IdRanges out;
  for (auto& [lo, hi] : r) {
    if (hi <= lo) continue;
    if (!out.empty() && lo <= out.back().second) {
      out.back().second = std::max(out.back().second, hi);
    } else {
      out.emplace_back(lo, hi);
    }
  }
  return out;
}

// `a` without `b` (both merged).
IdRanges Subtract(const IdRanges& a, const IdRanges& b) {
  IdRanges out;
  size_t j = 0;
  for (auto [lo, hi] : a) {
    while (j < b.size() && b[j].second <= lo) ++j;
    for (size_t k = j; k < b.size() && b[k].first < hi; ++k) {
      if (b[k].first > lo) out.emplace_back(lo, b[k].first);
      lo = std::max(lo, b[k].second);
    }
    if (lo < hi) out.emplace_back(lo, hi);
  }
  return out;
}

}  // namespace

int64_t CountIds(const IdRanges& r) {
  int64_t n = 0;
  for (auto& [lo, hi] : r) n += hi - lo;
  return n;
}

bool InRanges(const IdRanges& r, int64_t x) {
  auto it = std::upper_bound(r.begin(), r.end(), std::make_pair(x, INT64_MAX));
  return it != r.begin() && x < std::prev(it)->second;
}

int64_t DataIndexOf(int64_t step, const std::vector<std::pair<int64_t, int64_t>>& windows) {
  int64_t k = step;
  for (auto it = windows.rbegin(); it != windows.rend(); ++it) {
    if (it->second > it->first && k >= it->first) k += it->second - it->first;
  }
  return k;
}

IdRanges SkippedDataRanges(const std::vector<std::pair<int64_t, int64_t>>& windows) {
  constexpr int64_t kMaxWindow = 10'000'000;  // steps; a longer window is cut there
  IdRanges out;
  std::vector<std::pair<int64_t, int64_t>> before;
  for (auto [from, to] : windows) {
    for (int64_t s = from; s < to && s - from < kMaxWindow; ++s) {
      int64_t k = DataIndexOf(s, before);
      if (!out.empty() && out.back().second == k) {
        ++out.back().second;
      } else {
        out.emplace_back(k, k + 1);
      }
    }
    before.emplace_back(from, to);
  }
  return Merge(std::move(out));
}

std::vector<RecordSplit> SplitRecords(const std::vector<BatchLog>& logs, const IdRanges& skipped) {
  std::vector<RecordSplit> out;
  std::map<std::string, size_t> at;
  std::map<std::string, std::set<int64_t>> seen;
  std::vector<IdRanges> window, normal;
  std::vector<std::vector<int64_t>> window_indices;
  for (auto& log : logs) {
    auto [it, fresh] = at.emplace(log.path, out.size());
    if (fresh) {
      out.push_back(RecordSplit{});
      out.back().dataset = log.dataset;
      out.back().path = log.path;
      window.emplace_back();
      normal.emplace_back();
      window_indices.emplace_back();
    }
    size_t i = it->second;
    for (auto& b : log.batches) {
      if (!seen[log.path].insert(b.index).second) continue;
      bool skip = InRanges(skipped, b.index);
      IdRanges& dst = skip ? window[i] : normal[i];
      dst.insert(dst.end(), b.records.begin(), b.records.end());
      if (skip) {
        ++out[i].window_batches;
        window_indices[i].push_back(b.index);
      } else {
        ++out[i].normal_batches;
      }
    }
  }
  for (size_t i = 0; i < out.size(); ++i) {
    out[i].window = Merge(std::move(window[i]));
    out[i].normal = Subtract(Merge(std::move(normal[i])), out[i].window);
    out[i].window_indices = ToRanges(std::move(window_indices[i]));
  }
  return out;
}

}  // namespace inloop::data
