// The contracts of common/subprocess: argv and environment pass through exactly, descriptors and
// signal state do not leak into the child, errors name the cause, and starting processes while
// other threads allocate never deadlocks (the hang this module exists to remove).
#include "common/subprocess.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace inloop {
namespace {

CapturedOutput Capture(std::vector<std::string> argv, SubprocessSpec spec = {}) {
  spec.argv = std::move(argv);
  CapturedOutput r;
  Status st = RunCaptured(spec, &r);
  EXPECT_TRUE(st.ok()) << st.message();
  return r;
}

std::string TempDir() {
  char tmpl[] = "/tmp/inloop-subprocess-XXXXXX";
  const char* d = mkdtemp(tmpl);
  return d ? d : "";
}

TEST(SubprocessTest, ArgvPassesThroughVerbatim) {
  auto r = Capture({"printf", "[%s]\\n", "a b", "", "$HOME", "'quoted' \"too\"", "; rm -rf x"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out, "[a b]\n[]\n[$HOME]\n['quoted' \"too\"]\n[; rm -rf x]\n");
}

TEST(SubprocessTest, ExitCodesAndSignalsAreDecoded) {
  EXPECT_EQ(Capture({"sh", "-c", "exit 7"}).exit_code, 7);
  EXPECT_EQ(Capture({"sh", "-c", "kill -TERM $$"}).exit_code, 128 + SIGTERM);
}

TEST(SubprocessTest, StdoutAndStderrAreCapturedApart) {
  // More than a pipe's buffer on both streams: neither may stall the other.
  auto r = Capture({"sh", "-c", "i=0; while [ $i -lt 3000 ]; do echo out$i; echo err$i >&2; i=$((i+1)); done"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("out2999\n"), std::string::npos);
  EXPECT_NE(r.err.find("err2999\n"), std::string::npos);
  EXPECT_EQ(r.out.find("err"), std::string::npos);
}

// A program that outlives its timeout is killed and reported as such, keeping what it wrote;
// one that ends in time is not. (Neither result depends on how fast the machine is: the sleeper
// would run for an hour, the quick one ends at once within a generous timeout.)
TEST(SubprocessTest, ATimeoutKillsTheProgramAndKeepsItsOutput) {
  SubprocessSpec spec;
  spec.argv = {"sh", "-c", "echo started; exec sleep 3600"};
  CapturedOutput r;
  ASSERT_TRUE(RunCaptured(spec, &r, 0.5).ok());
  EXPECT_TRUE(r.timed_out);
  EXPECT_EQ(r.exit_code, 128 + SIGKILL);
  EXPECT_EQ(r.out, "started\n");

  // A grandchild that keeps the pipes open does not hold the caller: its group is killed.
  spec.argv = {"sh", "-c", "sleep 3600 & echo bg; wait"};
  spec.new_process_group = true;
  CapturedOutput g;
  ASSERT_TRUE(RunCaptured(spec, &g, 0.5).ok());
  EXPECT_TRUE(g.timed_out);
  EXPECT_EQ(g.out, "bg\n");

  spec.argv = {"sh", "-c", "echo done"};
  CapturedOutput quick;
  ASSERT_TRUE(RunCaptured(spec, &quick, 600).ok());
  EXPECT_FALSE(quick.timed_out);
  EXPECT_EQ(quick.exit_code, 0);
  EXPECT_EQ(quick.out, "done\n");
}

TEST(SubprocessTest, EnvironmentOverridesAndRemovals) {
  setenv("INLOOP_SUBPROCESS_TEST_KEEP", "kept", 1);
  setenv("INLOOP_SUBPROCESS_TEST_DROP", "dropped", 1);
  setenv("INLOOP_SUBPROCESS_TEST_OVER", "old", 1);
  SubprocessSpec spec;
  spec.env = {{"INLOOP_SUBPROCESS_TEST_OVER", "new value"}, {"INLOOP_SUBPROCESS_TEST_ADD", "a=b"}};
  spec.unset_env = {"INLOOP_SUBPROCESS_TEST_DROP"};
  auto r = Capture({"sh", "-c",
                "echo \"$INLOOP_SUBPROCESS_TEST_KEEP|${INLOOP_SUBPROCESS_TEST_DROP-unset}|"
                "$INLOOP_SUBPROCESS_TEST_OVER|$INLOOP_SUBPROCESS_TEST_ADD\"; "
                "env | grep -c '^INLOOP_SUBPROCESS_TEST_OVER='"},
               spec);
  EXPECT_EQ(r.out, "kept|unset|new value|a=b\n1\n");
}

TEST(SubprocessTest, PathComesFromTheChildsEnvironment) {
  std::string dir = TempDir();
  ASSERT_FALSE(dir.empty());
  std::string tool = dir + "/inloop-test-tool";
  {
    std::ofstream f(tool);
    f << "#!/bin/sh\necho found-in-path\n";
  }
  chmod(tool.c_str(), 0755);
  SubprocessSpec spec;
  spec.env = {{"PATH", "/nonexistent:" + dir + ":/usr/bin:/bin"}};
  EXPECT_EQ(Capture({"inloop-test-tool"}, spec).out, "found-in-path\n");
  std::remove(tool.c_str());
  rmdir(dir.c_str());
}

TEST(SubprocessTest, AScriptWithoutShebangRunsWithTheShell) {
  std::string dir = TempDir();
  std::string script = dir + "/plain";
  {
    std::ofstream f(script);
    f << "echo \"no shebang $1\"\n";
  }
  chmod(script.c_str(), 0755);
  EXPECT_EQ(Capture({script, "arg"}).out, "no shebang arg\n");
  std::remove(script.c_str());
  rmdir(dir.c_str());
}

TEST(SubprocessTest, WorkingDirectory) {
  std::string dir = TempDir();
  char resolved[4096];
  ASSERT_NE(realpath(dir.c_str(), resolved), nullptr);
  SubprocessSpec spec;
  spec.cwd = dir;
  EXPECT_EQ(Capture({"pwd", "-P"}, spec).out, std::string(resolved) + "\n");

  spec.cwd = dir + "/missing";
  spec.argv = {"true"};
  CapturedOutput r;
  Status st = RunCaptured(spec, &r);
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("working directory"), std::string::npos) << st.message();
  rmdir(dir.c_str());
}

TEST(SubprocessTest, StartFailuresNameTheProgram) {
  SubprocessSpec spec;
  spec.argv = {"inloop-no-such-program-xyz"};
  pid_t pid = -1;
  Status st = StartSubprocess(spec, &pid);
  EXPECT_EQ(st.code(), Status::Code::kNotFound);
  EXPECT_NE(st.message().find("inloop-no-such-program-xyz"), std::string::npos);

  std::string dir = TempDir();
  std::string file = dir + "/not-executable";
  std::ofstream(file) << "echo hi\n";
  chmod(file.c_str(), 0644);
  spec.argv = {file};
  st = StartSubprocess(spec, &pid);
  EXPECT_EQ(st.code(), Status::Code::kIo);
  EXPECT_NE(st.message().find("not-executable"), std::string::npos);
  std::remove(file.c_str());
  rmdir(dir.c_str());
}

TEST(SubprocessTest, BadInputIsRefusedBeforeAnythingRuns) {
  pid_t pid = -1;
  SubprocessSpec spec;
  EXPECT_EQ(StartSubprocess(spec, &pid).code(), Status::Code::kInvalid);
  spec.argv = {"echo", std::string("a\0b", 3)};
  EXPECT_EQ(StartSubprocess(spec, &pid).code(), Status::Code::kInvalid);
  spec.argv = {"echo"};
  spec.env = {{"A=B", "c"}};
  EXPECT_EQ(StartSubprocess(spec, &pid).code(), Status::Code::kInvalid);
  spec.env = {{"", "c"}};
  EXPECT_EQ(StartSubprocess(spec, &pid).code(), Status::Code::kInvalid);
}

TEST(SubprocessTest, OnlyTheAskedDescriptorsReachTheChild) {
  // High numbers, so that no descriptor the shell opens for itself can take the same number.
  int base = open("/dev/null", O_RDONLY);
  ASSERT_GE(base, 3);
  int leaked = fcntl(base, F_DUPFD, 200);  // no FD_CLOEXEC: the old code passed this on
  int kept = fcntl(base, F_DUPFD, 220);
  close(base);
  ASSERT_GE(leaked, 200);
  ASSERT_GE(kept, 220);
  SubprocessSpec spec;
  spec.keep_fds = {kept};
  auto r = Capture({"sh", "-c", "for f in /proc/self/fd/*; do echo \"${f##*/}\"; done"}, spec);
  auto has = [&](int fd) { return r.out.find("\n" + std::to_string(fd) + "\n") != std::string::npos ||
                                  r.out.rfind(std::to_string(fd) + "\n", 0) == 0; };
  EXPECT_FALSE(has(leaked)) << r.out;
  EXPECT_TRUE(has(kept)) << r.out;
  close(leaked);
  close(kept);
}

TEST(SubprocessTest, TheChildStartsWithDefaultSignals) {
  sigset_t block, old;
  sigemptyset(&block);
  sigaddset(&block, SIGTERM);
  sigaddset(&block, SIGINT);
  pthread_sigmask(SIG_BLOCK, &block, &old);
  struct sigaction ign {}, old_pipe {};
  ign.sa_handler = SIG_IGN;
  sigaction(SIGPIPE, &ign, &old_pipe);
  auto r = Capture({"sh", "-c", "grep -E '^(SigBlk|SigIgn):' /proc/self/status"});
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  sigaction(SIGPIPE, &old_pipe, nullptr);
  EXPECT_NE(r.out.find("SigBlk:\t0000000000000000"), std::string::npos) << r.out;
  // SIGPIPE is signal 13: bit 12 of the ignored mask, the 4th hex digit from the right.
  auto ign_pos = r.out.find("SigIgn:\t");
  ASSERT_NE(ign_pos, std::string::npos);
  unsigned long long ignored = std::strtoull(r.out.c_str() + ign_pos + 8, nullptr, 16);
  EXPECT_EQ(ignored & (1ULL << (SIGPIPE - 1)), 0ULL) << r.out;
}

TEST(SubprocessTest, NewProcessGroupLeadsItsGroup) {
  SubprocessSpec spec;
  spec.argv = {"sh", "-c", "read -r pid comm state ppid pgrp rest < /proc/self/stat; echo $pgrp"};
  int out[2];
  ASSERT_EQ(pipe2(out, O_CLOEXEC), 0);
  spec.stdout_plan = StdioPlan::Fd(out[1]);
  spec.new_process_group = true;
  pid_t pid = -1;
  ASSERT_TRUE(StartSubprocess(spec, &pid).ok());
  close(out[1]);
  char buf[64] = {};
  ssize_t n = read(out[0], buf, sizeof buf - 1);
  close(out[0]);
  EXPECT_EQ(WaitSubprocess(pid), 0);
  ASSERT_GT(n, 0);
  EXPECT_EQ(std::atol(buf), static_cast<long>(pid));
}

// Two threads start processes while three others allocate and free as fast as they can. With an
// allocation between fork() and exec(), a child that forked while another thread held the
// allocator's lock blocks forever; the watchdog turns such a hang into a failure with a message
// instead of a suite that never ends.
TEST(SubprocessTest, StartingWhileOtherThreadsAllocateNeverHangs) {
  std::atomic<bool> done{false};
  std::thread watchdog([&] {
    for (int i = 0; i < 3000 && !done.load(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    if (!done.load()) {
      std::fprintf(stderr, "subprocess stress: no progress in 300 s, a child is stuck between fork and exec\n");
      std::abort();
    }
  });
  std::atomic<bool> stop_alloc{false};
  std::vector<std::thread> allocators;
  for (int t = 0; t < 3; ++t) {
    allocators.emplace_back([&, t] {
      unsigned x = 12345u + static_cast<unsigned>(t);
      std::vector<std::unique_ptr<char[]>> held(64);
      while (!stop_alloc.load(std::memory_order_relaxed)) {
        x = x * 1103515245u + 12345u;
        size_t slot = (x >> 8) % held.size();
        held[slot].reset(new char[16 + (x >> 16) % 8192]);
        std::string s(static_cast<size_t>(x % 300), 'x');
        (void)s;
      }
    });
  }
  std::atomic<int> ok{0};
  std::vector<std::thread> spawners;
  for (int t = 0; t < 2; ++t) {
    spawners.emplace_back([&] {
      for (int i = 0; i < 60; ++i) {
        SubprocessSpec spec;
        spec.argv = {"true"};
        spec.env = {{"INLOOP_STRESS", std::to_string(i)}};
        CapturedOutput r;
        if (RunCaptured(spec, &r).ok() && r.exit_code == 0) ok.fetch_add(1);
      }
    });
  }
  for (auto& t : spawners) t.join();
  stop_alloc = true;
  for (auto& t : allocators) t.join();
  done = true;
  watchdog.join();
  EXPECT_EQ(ok.load(), 120);
}

}  // namespace
}  // namespace inloop
