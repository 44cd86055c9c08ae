// GET /api/v1/nodes over a real store: the lemon-node ledger counted from node_fault events of
// several runs (other events ignored), and the route's method check.
#include <gtest/gtest.h>

#include "http/api.h"
#include "http/server_metrics.h"
#include "slurm/node_ledger.h"
#include "support/temp_store.h"

namespace inloop::slurm {
namespace {

class NodesApiTest : public store::TempStoreTest {
 protected:
  void AddFault(store::Store* st, const std::string& run, const std::string& node) {
    store::EventRecord e;
    e.run_id = run;
    e.kind = std::string(event_kind::kNodeFault);
    e.severity = "error";
    e.time = 100;
    e.data_json = ToJson(NodeFaultData{node, "7", "gpu_fault", 1});
    ASSERT_TRUE(st->AddEvent(&e).ok());
  }
  http::HttpResponse Call(const std::string& method) {
    http::StorePool pool(dir_);
    http::ServerMetrics metrics;
    http::Api api(&pool, &metrics);
    http::HttpRequest r;
    r.method = method;
    EXPECT_TRUE(http::ParseTarget("/api/v1/nodes", &r).ok());
    return api.Handle(r);
  }
};

TEST_F(NodesApiTest, ListsTheLedgerAcrossRuns) {
  auto st = Open();
  std::string a = NewRun(st.get(), "a"), b = NewRun(st.get(), "b");
  AddFault(st.get(), a, "n1");
  AddFault(st.get(), b, "n1");
  AddFault(st.get(), b, "n2");
  store::EventRecord crash;
  crash.run_id = a;
  crash.kind = "crash";
  crash.data_json = ToJson(NodeFaultData{"n3", "7", "gpu_fault", 1});
  ASSERT_TRUE(st->AddEvent(&crash).ok());
  st.reset();
  http::HttpResponse r = Call("GET");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body,
            "{\"nodes\":[{\"node\":\"n1\",\"faults\":2,\"runs\":2,\"last_time\":100,"
            "\"classes\":{\"gpu_fault\":2}},{\"node\":\"n2\",\"faults\":1,\"runs\":1,"
            "\"last_time\":100,\"classes\":{\"gpu_fault\":1}}]}");
  EXPECT_EQ(r.route, "/api/v1/nodes");
}

// `inloop submit --server` reads the ledger back from this answer (LedgerFromJson).
TEST_F(NodesApiTest, TheAnswerReadsBackAsTheLedger) {
  auto st = Open();
  std::string a = NewRun(st.get(), "a"), b = NewRun(st.get(), "b");
  AddFault(st.get(), a, "n1");
  AddFault(st.get(), b, "n1");
  AddFault(st.get(), b, "n2");
  st.reset();
  std::vector<NodeFaults> ledger;
  ASSERT_TRUE(LedgerFromJson(Call("GET").body, &ledger));
  ASSERT_EQ(ledger.size(), 2u);
  EXPECT_EQ(ledger[0].node, "n1");
  EXPECT_EQ(ledger[0].faults, 2);
  EXPECT_EQ(ledger[0].runs, 2);
  EXPECT_DOUBLE_EQ(ledger[0].last_time, 100);
  EXPECT_EQ(ledger[0].classes, (std::vector<std::pair<std::string, int>>{{"gpu_fault", 2}}));
  EXPECT_EQ(LemonNodes(ledger, 2), (std::vector<std::string>{"n1"}));
  // The bare array (LedgerJson's form) reads the same; anything else is not a ledger.
  std::vector<NodeFaults> again;
  ASSERT_TRUE(LedgerFromJson(LedgerJson(ledger), &again));
  EXPECT_EQ(LedgerJson(again), LedgerJson(ledger));
  EXPECT_TRUE(LedgerFromJson("{\"nodes\":[{\"faults\":3},{\"node\":\"n9\"}]}", &again));
  ASSERT_EQ(again.size(), 1u);  // the entry without a node name is skipped
  EXPECT_EQ(again[0].faults, 0);
  EXPECT_FALSE(LedgerFromJson("{\"error\":\"unauthorized\"}", &again));
  EXPECT_FALSE(LedgerFromJson("<html>", &again));
  EXPECT_TRUE(again.empty());
}

TEST_F(NodesApiTest, EmptyLedgerAndMethodCheck) {
  Open();
  EXPECT_EQ(Call("GET").body, "{\"nodes\":[]}");
  EXPECT_EQ(Call("POST").status, 405);
}

}  // namespace
}  // namespace inloop::slurm
