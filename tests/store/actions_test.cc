// Store actions: the decision trail of remedies. Add/list/filter, pending -> approved|denied once
// and only once, unknown ids, a second Store on the same directory (as `inloop approve` in
// another process) deciding what the supervisor's Store created, supervisor state changes, old
// stores gaining the table, and recovery expiring what a dead supervisor left pending.
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <filesystem>

#include "store/store.h"
#include "support/temp_store.h"

namespace inloop::store {
namespace {

namespace fs = std::filesystem;

class ActionStoreTest : public BackendStoreTest {
 protected:
  ActionRecord Proposal(const std::string& run_id, const std::string& action = "rollback_skip",
                        const char* state = kActionPending) {
    ActionRecord a;
    a.run_id = run_id;
    a.action = action;
    a.trigger = "loss_spike";
    a.step = 1200;
    a.reason = "loss 9.1 at step 1200, 6x its running median";
    a.state = state;
    a.data_json = R"({"checkpoint":"ckpt/step-1000.pt","skip":[1190,1210]})";
    return a;
  }
};

TEST_P(ActionStoreTest, AddGetListAndFilter) {
  auto st = Open();
  std::string r1 = NewRun(st.get(), "one"), r2 = NewRun(st.get(), "two");
  ActionRecord a = Proposal(r1);
  ASSERT_TRUE(st->AddAction(&a).ok());
  EXPECT_EQ(a.id, 1);  // small integers users type
  EXPECT_GT(a.created_at, 0);
  ActionRecord b = Proposal(r2, "lr_cut");
  b.step.reset();
  b.created_at = 1234.5;
  ASSERT_TRUE(st->AddAction(&b).ok());
  ActionRecord c = Proposal(r1, "resume", kActionObserved);
  c.decided_by = "policy";
  c.decided_at = 99;
  ASSERT_TRUE(st->AddAction(&c).ok());
  EXPECT_EQ(b.id, 2);
  EXPECT_EQ(c.id, 3);

  ActionRecord got;
  ASSERT_TRUE(st->GetAction(a.id, &got).ok());
  EXPECT_EQ(got.run_id, r1);
  EXPECT_EQ(got.action, "rollback_skip");
  EXPECT_EQ(got.trigger, "loss_spike");
  ASSERT_TRUE(got.step.has_value());
  EXPECT_EQ(*got.step, 1200);
  EXPECT_EQ(got.reason, a.reason);
  EXPECT_EQ(got.state, kActionPending);
  EXPECT_EQ(got.decided_by, "");
  EXPECT_EQ(got.decided_at, 0);
  EXPECT_EQ(got.note, "");
  EXPECT_EQ(got.data_json, a.data_json);
  EXPECT_DOUBLE_EQ(got.created_at, a.created_at);
  ASSERT_TRUE(st->GetAction(b.id, &got).ok());
  EXPECT_FALSE(got.step.has_value());
  EXPECT_DOUBLE_EQ(got.created_at, 1234.5);

  std::vector<ActionRecord> out;
  ASSERT_TRUE(st->ListActions("", "", &out).ok());
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[0].id, 1);  // oldest first
  EXPECT_EQ(out[2].id, 3);
  ASSERT_TRUE(st->ListActions("", kActionPending, &out).ok());
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].id, 1);
  EXPECT_EQ(out[1].id, 2);
  ASSERT_TRUE(st->ListActions(r1, "", &out).ok());
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[1].state, kActionObserved);
  EXPECT_EQ(out[1].decided_by, "policy");
  ASSERT_TRUE(st->ListActions(r1, kActionPending, &out).ok());
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].id, 1);
  ASSERT_TRUE(st->ListActions("no-such-run", "", &out).ok());
  EXPECT_TRUE(out.empty());

  ActionRecord bad = Proposal(r1, "resume", "maybe");
  EXPECT_EQ(st->AddAction(&bad).code(), Status::Code::kInvalid);
}

TEST_P(ActionStoreTest, DecidePendingOnceOnly) {
  auto st = Open();
  std::string run = NewRun(st.get());
  ActionRecord a = Proposal(run);
  ASSERT_TRUE(st->AddAction(&a).ok());
  ActionRecord after;
  ASSERT_TRUE(
      st->DecideAction(a.id, kActionApproved, "cli:alice@gpu1", "looks right", &after).ok());
  EXPECT_EQ(after.id, a.id);
  EXPECT_EQ(after.state, kActionApproved);
  EXPECT_EQ(after.decided_by, "cli:alice@gpu1");
  EXPECT_GT(after.decided_at, 0);
  EXPECT_EQ(after.note, "looks right");
  EXPECT_EQ(after.action, "rollback_skip");
  EXPECT_EQ(after.data_json, a.data_json);

  // Twice: Invalid, naming the state it is in; the first decision stands.
  Status s = st->DecideAction(a.id, kActionDenied, "cli:bob@gpu2", "no", nullptr);
  EXPECT_EQ(s.code(), Status::Code::kInvalid);
  EXPECT_NE(s.message().find("action 1 is already approved"), std::string::npos) << s.message();
  s = st->DecideAction(a.id, kActionApproved, "cli:bob@gpu2", "", nullptr);
  EXPECT_EQ(s.code(), Status::Code::kInvalid);
  ActionRecord got;
  ASSERT_TRUE(st->GetAction(a.id, &got).ok());
  EXPECT_EQ(got.state, kActionApproved);
  EXPECT_EQ(got.decided_by, "cli:alice@gpu1");
  EXPECT_EQ(got.note, "looks right");

  // Deny works the same way; a null `after` is fine.
  ActionRecord b = Proposal(run, "lr_cut");
  ASSERT_TRUE(st->AddAction(&b).ok());
  ASSERT_TRUE(st->DecideAction(b.id, kActionDenied, "cli:bob@gpu2", "", nullptr).ok());
  ASSERT_TRUE(st->GetAction(b.id, &got).ok());
  EXPECT_EQ(got.state, kActionDenied);

  // Only approved/denied are decisions.
  ActionRecord c = Proposal(run, "resume");
  ASSERT_TRUE(st->AddAction(&c).ok());
  EXPECT_EQ(st->DecideAction(c.id, kActionApplied, "cli:x@y", "", nullptr).code(),
            Status::Code::kInvalid);
  ASSERT_TRUE(st->GetAction(c.id, &got).ok());
  EXPECT_EQ(got.state, kActionPending);

  // An action the supervisor already expired cannot be approved.
  ASSERT_TRUE(st->SetActionState(c.id, kActionExpired, "exit").ok());
  s = st->DecideAction(c.id, kActionApproved, "cli:x@y", "", nullptr);
  EXPECT_EQ(s.code(), Status::Code::kInvalid);
  EXPECT_NE(s.message().find("is already expired"), std::string::npos) << s.message();
}

TEST_P(ActionStoreTest, UnknownIdIsNotFound) {
  auto st = Open();
  ActionRecord a;
  Status s = st->GetAction(42, &a);
  EXPECT_EQ(s.code(), Status::Code::kNotFound);
  EXPECT_EQ(s.message(), "no action 42 (inloop pending lists them)");
  EXPECT_EQ(st->DecideAction(42, kActionApproved, "cli:x@y", "", nullptr).code(),
            Status::Code::kNotFound);
  EXPECT_EQ(st->SetActionState(42, kActionApplied, "policy").code(), Status::Code::kNotFound);
}

TEST_P(ActionStoreTest, SecondStoreOnSameDirSeesAndDecides) {
  // The supervisor's Store holds the run's writer the whole run; `inloop approve` opens its own.
  auto sup = Open();
  std::string run = NewRun(sup.get());
  RunRecord rr;
  ASSERT_TRUE(sup->FindRun(run, &rr).ok());
  std::unique_ptr<RunWriter> w;
  ASSERT_TRUE(sup->OpenWriter(run, &w).ok());
  ASSERT_TRUE(w->Append("loss", 1, 1.0, 2.5).ok());
  ASSERT_TRUE(w->Flush().ok());
  ActionRecord a = Proposal(run);
  ASSERT_TRUE(sup->AddAction(&a).ok());

  auto cli = Open();
  std::vector<ActionRecord> pending;
  ASSERT_TRUE(cli->ListActions("", kActionPending, &pending).ok());
  ASSERT_EQ(pending.size(), 1u);
  EXPECT_EQ(pending[0].id, a.id);
  ASSERT_TRUE(cli->DecideAction(a.id, kActionApproved, "cli:alice@gpu1", "", nullptr).ok());

  // The supervisor's polling sees the decision; the run it is writing was not touched.
  ActionRecord got;
  ASSERT_TRUE(sup->GetAction(a.id, &got).ok());
  EXPECT_EQ(got.state, kActionApproved);
  EXPECT_EQ(got.decided_by, "cli:alice@gpu1");
  ASSERT_TRUE(cli->FindRun(run, &rr).ok());
  EXPECT_EQ(rr.status, kRunning);
  ASSERT_TRUE(sup->SetActionState(a.id, kActionApplied, "policy").ok());
  ASSERT_TRUE(cli->GetAction(a.id, &got).ok());
  EXPECT_EQ(got.state, kActionApplied);
  ASSERT_TRUE(w->Close().ok());
}

TEST_P(ActionStoreTest, DecisionFromAnotherProcessWhileSupervisorHoldsTheRun) {
  auto sup = Open();
  std::string run = NewRun(sup.get());
  std::unique_ptr<RunWriter> w;
  ASSERT_TRUE(sup->OpenWriter(run, &w).ok());
  ASSERT_TRUE(w->Append("loss", 1, 1.0, 2.5).ok());
  ASSERT_TRUE(w->Flush().ok());  // a WAL exists and the run lock is held: a live supervisor
  ActionRecord a = Proposal(run);
  ASSERT_TRUE(sup->AddAction(&a).ok());
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    // A real second process: Open runs recovery, which must leave the live run alone.
    std::unique_ptr<Store> st;
    if (!Store::Open(dir_, false, &st).ok()) _exit(2);
    if (!st->DecideAction(a.id, kActionDenied, "cli:bob@gpu2", "not now", nullptr).ok()) _exit(3);
    _exit(0);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  ASSERT_EQ(WEXITSTATUS(status), 0);
  ActionRecord got;
  ASSERT_TRUE(sup->GetAction(a.id, &got).ok());
  EXPECT_EQ(got.state, kActionDenied);
  EXPECT_EQ(got.note, "not now");
  RunRecord rr;
  ASSERT_TRUE(sup->FindRun(run, &rr).ok());
  EXPECT_EQ(rr.status, kRunning);  // not marked interrupted by the other process's open
  ASSERT_TRUE(w->Append("loss", 2, 2.0, 2.4).ok());
  ASSERT_TRUE(w->Close().ok());
}

TEST_P(ActionStoreTest, SetActionStateKeepsTheFirstDecider) {
  auto st = Open();
  std::string run = NewRun(st.get());
  ActionRecord a = Proposal(run);
  ASSERT_TRUE(st->AddAction(&a).ok());
  ASSERT_TRUE(st->DecideAction(a.id, kActionApproved, "cli:alice@gpu1", "go", nullptr).ok());
  ActionRecord decided;
  ASSERT_TRUE(st->GetAction(a.id, &decided).ok());
  ASSERT_TRUE(st->SetActionState(a.id, kActionApplied, "policy").ok());
  ActionRecord got;
  ASSERT_TRUE(st->GetAction(a.id, &got).ok());
  EXPECT_EQ(got.state, kActionApplied);
  EXPECT_EQ(got.decided_by, "cli:alice@gpu1");
  EXPECT_DOUBLE_EQ(got.decided_at, decided.decided_at);
  EXPECT_EQ(got.note, "go");

  // Undecided: the supervisor's change fills in who and when.
  ActionRecord b = Proposal(run, "lr_cut");
  ASSERT_TRUE(st->AddAction(&b).ok());
  ASSERT_TRUE(st->SetActionState(b.id, kActionExpired, "exit").ok());
  ASSERT_TRUE(st->GetAction(b.id, &got).ok());
  EXPECT_EQ(got.state, kActionExpired);
  EXPECT_EQ(got.decided_by, "exit");
  EXPECT_GT(got.decided_at, 0);

  // Auto approval, then applied; no precondition on the current state.
  ActionRecord c = Proposal(run, "resume");
  ASSERT_TRUE(st->AddAction(&c).ok());
  ASSERT_TRUE(st->SetActionState(c.id, kActionApproved, "auto").ok());
  ASSERT_TRUE(st->SetActionState(c.id, kActionApplied, "policy").ok());
  ASSERT_TRUE(st->GetAction(c.id, &got).ok());
  EXPECT_EQ(got.state, kActionApplied);
  EXPECT_EQ(got.decided_by, "auto");

  EXPECT_EQ(st->SetActionState(c.id, "done", "policy").code(), Status::Code::kInvalid);
}

TEST_P(ActionStoreTest, OldStoreGainsTheTable) {
  if (pg()) GTEST_SKIP() << "the PostgreSQL store has every table since its first format";
  {
    auto st = Open();
    NewRun(st.get());
  }
  // A version-1 store made before the actions table existed.
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open((dir_ + "/inloop.db").c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "DROP TABLE actions", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);
  auto st = Open();
  std::vector<ActionRecord> out;
  ASSERT_TRUE(st->ListActions("", "", &out).ok());
  EXPECT_TRUE(out.empty());
  ActionRecord a = Proposal("some-run");
  EXPECT_TRUE(st->AddAction(&a).ok());
}

TEST_P(ActionStoreTest, RecoveryExpiresWhatADeadSupervisorLeftPending) {
  std::string run;
  ActionRecord a;
  {
    auto st = Open();
    run = NewRun(st.get());
    a = Proposal(run);
    ASSERT_TRUE(st->AddAction(&a).ok());
  }
  // The supervisor dies holding the writer: its WAL stays, its lock goes with the process.
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    std::unique_ptr<Store> st;
    if (!Store::Open(dir_, false, &st).ok()) _exit(2);
    std::unique_ptr<RunWriter> w;
    if (!st->OpenWriter(run, &w).ok()) _exit(3);
    if (!w->Append("loss", 1, 1.0, 2.0).ok() || !w->Flush().ok()) _exit(4);
    _exit(0);  // no Close: like kill -9
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  ASSERT_EQ(WEXITSTATUS(status), 0);
  auto st = OpenAfterDeadWriter(run);
  RunRecord rr;
  ASSERT_TRUE(st->FindRun(run, &rr).ok());
  EXPECT_EQ(rr.status, kInterrupted);
  ActionRecord got;
  ASSERT_TRUE(st->GetAction(a.id, &got).ok());
  EXPECT_EQ(got.state, kActionExpired);
  EXPECT_EQ(got.decided_by, "recovery");
  EXPECT_EQ(st->DecideAction(a.id, kActionApproved, "cli:x@y", "", nullptr).code(),
            Status::Code::kInvalid);
}

INLOOP_ON_EVERY_STORE_BACKEND(ActionStoreTest);

}  // namespace
}  // namespace inloop::store
