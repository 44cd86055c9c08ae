// Typed queries across runs (Store::ListRunsPage, LastValues, RunLabelsOf, ParamKeys,
// SeriesKeys, RunningRunIds): structs in, structs out, no SQL outside the store. The filter and
// sort language is that of GET /api/v1/runs (docs/http_api.md); a second backend implements
// the same semantics.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "store/catalog.h"

namespace inloop::store {

// Which runs a listing keeps. Every condition must hold; an empty one keeps every run.
struct RunFilter {
  std::string name_glob;              // shell-style glob on the name (* ? [..]), case-sensitive
  std::vector<std::string> statuses;  // any of these statuses
  std::vector<std::string> tags;      // has every one of these tags
  std::vector<std::pair<std::string, std::string>> params;  // param KEY equals VALUE, every pair
};

enum class RunSort {
  kCreatedAt,  // started_at
  kName,
  kStatus,
  kDuration,  // ended_at (or `now` while running) - started_at
  kParam,     // the value of param `sort_key`: runs without it last whatever the order,
              // numeric values (compared as numbers) before other text (compared as text)
  kLastValue  // the last value of series `sort_key`: runs without one (or NaN) last
};

struct RunListQuery {
  RunFilter filter;
  RunSort sort = RunSort::kCreatedAt;
  std::string sort_key;  // for kParam and kLastValue
  bool ascending = false;
  int64_t limit = 100;  // > 0
  int64_t offset = 0;   // >= 0
  double now = 0;       // the end of a running run's duration for kDuration
};

struct RunListPage {
  int64_t total = 0;            // runs that pass the filter, before paging
  std::vector<RunRecord> runs;  // the page, in order; ties broken by creation order
};

// Tags and params of one run, both sorted (tags by tag, params by key).
struct RunLabels {
  std::vector<std::string> tags;
  std::vector<Param> params;
};

}  // namespace inloop::store
