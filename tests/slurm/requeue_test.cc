// The requeue decision of a supervisor inside a Slurm job, the scontrol argv it leads to, and the
// lemon-node ledger counted from node_fault events.
#include "slurm/requeue.h"

#include <map>
#include <string>

#include <gtest/gtest.h>

#include "slurm/node_ledger.h"

namespace inloop::slurm {
namespace {

RequeueInput InJob() {
  RequeueInput in;
  in.job = SlurmJob{"1234", "gpu-017"};
  in.continues = true;
  return in;
}

TEST(SlurmJobFromEnv, ReadsTheJobAndRefusesOddValues) {
  std::map<std::string, const char*> env = {{"SLURM_JOB_ID", "77"},
                                            {"SLURMD_NODENAME", "node-3"}};
  auto get = [&](const char* n) -> const char* {
    auto it = env.find(n);
    return it == env.end() ? nullptr : it->second;
  };
  SlurmJob j = SlurmJobFromEnv(get);
  EXPECT_EQ(j.job_id, "77");
  EXPECT_EQ(j.node, "node-3");
  EXPECT_TRUE(j.in_job());
  env["SLURM_JOB_ID"] = "77; rm -rf /";
  env["SLURMD_NODENAME"] = "a,b";
  j = SlurmJobFromEnv(get);
  EXPECT_FALSE(j.in_job());
  EXPECT_EQ(j.node, "");
  env.clear();
  EXPECT_FALSE(SlurmJobFromEnv(get).in_job());
}

TEST(DecideRequeue, NothingOutsideAJob) {
  RequeueInput in;
  in.continues = true;
  in.usr1_received = true;
  in.crash_class = "gpu_fault";
  in.node_faults = 5;
  RequeueDecision d = DecideRequeue(in);
  EXPECT_FALSE(d.requeue());
  EXPECT_FALSE(d.record_fault);
}

TEST(DecideRequeue, ARunThatDoesNotContinueIsNeverRequeuedButTheFaultIsRecorded) {
  RequeueInput in = InJob();
  in.continues = false;  // a plain `inloop run` inside srun/salloc
  in.usr1_received = true;
  EXPECT_FALSE(DecideRequeue(in).requeue());
  in.crash_class = "gpu_fault";
  in.node_faults = 9;
  RequeueDecision d = DecideRequeue(in);
  EXPECT_FALSE(d.requeue());
  EXPECT_TRUE(d.record_fault);
  EXPECT_TRUE(d.exclude.empty());
}

TEST(DecideRequeue, SignalRequeuesWithoutExcluding) {
  RequeueInput in = InJob();
  in.usr1_received = true;
  RequeueDecision d = DecideRequeue(in);
  EXPECT_EQ(d.why, RequeueWhy::kSignal);
  EXPECT_FALSE(d.record_fault);
  EXPECT_TRUE(d.exclude.empty());
  EXPECT_NE(d.reason.find("1234"), std::string::npos);
}

TEST(DecideRequeue, OrdinaryCrashesStayWithTheLocalRemedies) {
  for (const char* cls : {"python_exception", "cuda_oom", "segfault", "unknown", ""}) {
    RequeueInput in = InJob();
    in.crash_class = cls;
    EXPECT_FALSE(DecideRequeue(in).requeue()) << cls;
  }
}

TEST(DecideRequeue, HardwareFaultBelowThresholdRequeuesAndRecords) {
  RequeueInput in = InJob();
  in.crash_class = "gpu_fault";
  in.node_faults = 1;
  in.exclude_after = 2;
  RequeueDecision d = DecideRequeue(in);
  EXPECT_EQ(d.why, RequeueWhy::kNodeFault);
  EXPECT_TRUE(d.record_fault);
  EXPECT_TRUE(d.exclude.empty());
}

TEST(DecideRequeue, HardwareFaultAtThresholdExcludesTheNodeAndKeepsTheOthers) {
  RequeueInput in = InJob();
  in.crash_class = "nccl_timeout";
  in.node_faults = 2;
  in.exclude_after = 2;
  in.lemon_nodes = {"zeta-1", "alpha-9"};
  RequeueDecision d = DecideRequeue(in);
  EXPECT_EQ(d.why, RequeueWhy::kNodeFault);
  EXPECT_EQ(d.exclude, (std::vector<std::string>{"alpha-9", "gpu-017", "zeta-1"}));
  // Already a lemon node: listed once.
  in.lemon_nodes = {"gpu-017"};
  EXPECT_EQ(DecideRequeue(in).exclude, (std::vector<std::string>{"gpu-017"}));
  // A threshold below 1 means 1.
  in.exclude_after = 0;
  in.node_faults = 1;
  in.lemon_nodes.clear();
  EXPECT_EQ(DecideRequeue(in).exclude, (std::vector<std::string>{"gpu-017"}));
}

TEST(DecideRequeue, AFaultWinsOverTheSignalAndNeedsTheNode) {
  RequeueInput in = InJob();
  in.usr1_received = true;
  in.crash_class = "gpu_fault";
  in.node_faults = 1;
  EXPECT_EQ(DecideRequeue(in).why, RequeueWhy::kNodeFault);
  in.job.node.clear();  // nothing to record: the signal still requeues
  RequeueDecision d = DecideRequeue(in);
  EXPECT_EQ(d.why, RequeueWhy::kSignal);
  EXPECT_FALSE(d.record_fault);
}

TEST(ScontrolArgv, IsFixedAndCarriesTheValuesAsOneArgumentEach) {
  EXPECT_EQ(RequeueArgv("55"), (std::vector<std::string>{"scontrol", "requeue", "55"}));
  EXPECT_EQ(ExcludeNodesArgv("55", {"a", "b"}),
            (std::vector<std::string>{"scontrol", "update", "JobId=55", "ExcNodeList=a,b"}));
  EXPECT_TRUE(ValidJobId("123"));
  EXPECT_TRUE(ValidJobId("123_4"));
  EXPECT_FALSE(ValidJobId(""));
  EXPECT_FALSE(ValidJobId("12 3"));
  EXPECT_FALSE(ValidJobId("_1"));
  EXPECT_TRUE(ValidNodeName("gpu-017.cluster"));
  EXPECT_FALSE(ValidNodeName("a,b"));
  EXPECT_FALSE(ValidNodeName("-x"));
}

TEST(RequeueJob, RefusesBadValuesBeforeRunningAnything) {
  EXPECT_EQ(RequeueJob("1;2", {}).code(), Status::Code::kInvalid);
  EXPECT_EQ(RequeueJob("12", {"n1 n2"}).code(), Status::Code::kInvalid);
}

store::EventRecord Fault(const std::string& run, const std::string& node, const std::string& cls,
                         double t) {
  store::EventRecord e;
  e.run_id = run;
  e.kind = std::string(event_kind::kNodeFault);
  e.time = t;
  e.data_json = ToJson(NodeFaultData{node, "9", cls, 1});
  return e;
}

TEST(NodeLedger, CountsFaultsPerNodeAcrossRuns) {
  std::vector<store::EventRecord> ev = {
      Fault("r1", "n2", "gpu_fault", 10), Fault("r2", "n2", "nccl_timeout", 30),
      Fault("r2", "n2", "gpu_fault", 20), Fault("r1", "n1", "gpu_fault", 5),
      Fault("r3", "n3", "gpu_fault", 7)};
  store::EventRecord other;
  other.kind = "crash";
  other.data_json = ToJson(NodeFaultData{"n9", "9", "gpu_fault", 1});
  ev.push_back(other);
  store::EventRecord broken = Fault("r4", "n4", "gpu_fault", 1);
  broken.data_json = "not json";
  ev.push_back(broken);

  std::vector<NodeFaults> ledger = CountNodeFaults(ev);
  ASSERT_EQ(ledger.size(), 3u);
  EXPECT_EQ(ledger[0].node, "n2");
  EXPECT_EQ(ledger[0].faults, 3);
  EXPECT_EQ(ledger[0].runs, 2);
  EXPECT_EQ(ledger[0].last_time, 30);
  EXPECT_EQ(ledger[0].classes,
            (std::vector<std::pair<std::string, int>>{{"gpu_fault", 2}, {"nccl_timeout", 1}}));
  EXPECT_EQ(ledger[1].node, "n1");  // ties by name
  EXPECT_EQ(ledger[2].node, "n3");
  EXPECT_EQ(FaultsOf(ledger, "n2"), 3);
  EXPECT_EQ(FaultsOf(ledger, "n9"), 0);
  EXPECT_EQ(LemonNodes(ledger, 2), (std::vector<std::string>{"n2"}));
  EXPECT_EQ(LemonNodes(ledger, 1), (std::vector<std::string>{"n1", "n2", "n3"}));
  EXPECT_EQ(LedgerJson({ledger[1]}),
            "[{\"node\":\"n1\",\"faults\":1,\"runs\":1,\"last_time\":5,"
            "\"classes\":{\"gpu_fault\":1}}]");
}

TEST(SlurmEvents, RoundTripTheirJson) {
  NodeFaultData f{"n1", "12", "gpu_fault", 3}, f2;
  ASSERT_TRUE(FromJson(ToJson(f), &f2));
  EXPECT_EQ(f2.node, "n1");
  EXPECT_EQ(f2.job_id, "12");
  EXPECT_EQ(f2.crash_class, "gpu_fault");
  EXPECT_EQ(f2.attempt, 3);
  JobRequeuedData r{"12", "node_fault", {"a", "b"}, false, "scontrol said no"}, r2;
  ASSERT_TRUE(FromJson(ToJson(r), &r2));
  EXPECT_EQ(r2.exclude, r.exclude);
  EXPECT_EQ(r2.why, "node_fault");
  EXPECT_FALSE(r2.ok);
  EXPECT_EQ(r2.error, "scontrol said no");
  SchedulerSignalData s{"SIGUSR1", "12", "n1", 2}, s2;
  ASSERT_TRUE(FromJson(ToJson(s), &s2));
  EXPECT_EQ(s2.signal, "SIGUSR1");
  EXPECT_EQ(s2.attempt, 2);
  EXPECT_FALSE(FromJson("[1]", &s2));
}

}  // namespace
}  // namespace inloop::slurm
