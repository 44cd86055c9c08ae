// The MLflow tracking API's request parsing (http/mlflow_translate.h): the first byte picks
// log-batch bodies, runs/search filters (matched against a run) or order_by items (sorting runs).
// Contract: a refused body is MLflow's INVALID_PARAMETER_VALUE (400) and leaves the output alone;
// an accepted batch keeps MLflow's limits and holds only valid keys; a filter or order_by is
// parsed (and then evaluates) or refused as Invalid, never anything else.
#include <string>
#include <vector>

#include "fuzz_util.h"
#include "http/mlflow_translate.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace inloop::http::mlflow;
  if (size == 0) return 0;
  std::string in(reinterpret_cast<const char*>(data) + 1, size - 1);
  std::string why;
  switch (data[0] % 3) {
    case 0: {
      Batch b;
      b.run_id = "untouched";
      auto bad = ParseLogBatch(in, 1700000000000, &b);
      if (bad) {
        FUZZ_CHECK(bad->status == 400, "a refused batch is not a 400");
        FUZZ_CHECK(bad->body.find("INVALID_PARAMETER_VALUE") != std::string::npos,
                   "a refused batch is not INVALID_PARAMETER_VALUE");
        FUZZ_CHECK(b.run_id == "untouched", "a refused batch changed the output");
      } else {
        FUZZ_CHECK(!b.run_id.empty(), "accepted a batch without a run");
        FUZZ_CHECK(b.metrics.size() <= kMaxMetricsPerBatch, "over the metric limit");
        FUZZ_CHECK(b.params.size() <= kMaxParamsTagsPerBatch, "over the param limit");
        FUZZ_CHECK(b.tags.size() <= kMaxParamsTagsPerBatch, "over the tag limit");
        for (auto& m : b.metrics) FUZZ_CHECK(ValidKey(m.key, "k", &why), "accepted a bad key");
        for (auto& p : b.params) FUZZ_CHECK(ValidKey(p.first, "k", &why), "accepted a bad key");
      }
      break;
    }
    case 1: {
      std::vector<Clause> clauses;
      inloop::Status s = ParseFilter(in, &clauses);
      if (!s.ok()) {
        FUZZ_CHECK(s.code() == inloop::Status::Code::kInvalid, "a bad filter is not Invalid");
        break;
      }
      RunView run;
      run.run_id = "r";
      run.run_name = "name";
      run.status = "finished";
      run.start_time_ms = 5;
      run.metrics.push_back({"loss", 0.5, 1, 1});
      run.params["lr"] = "0.1";
      run.tags["t"] = "v";
      (void)Matches(clauses, run);
      break;
    }
    default: {
      std::vector<std::string> items;
      size_t start = 0;
      while (start <= in.size()) {
        size_t nl = in.find('\n', start);
        if (nl == std::string::npos) nl = in.size();
        items.push_back(in.substr(start, nl - start));
        start = nl + 1;
      }
      std::vector<OrderKey> keys;
      inloop::Status s = ParseOrderBy(items, &keys);
      if (!s.ok()) {
        FUZZ_CHECK(s.code() == inloop::Status::Code::kInvalid, "a bad order_by is not Invalid");
        break;
      }
      std::vector<RunView> runs(3);
      runs[0].metrics.push_back({"loss", 1, 1, 1});
      runs[1].params["lr"] = "x";
      runs[2].end_time_ms = 4;
      SortRuns(keys, &runs);
      break;
    }
  }
  return 0;
}
