// The ranks' TCP channel: [run] ranks_listen, multi-node detection, the secret's check and one
// connection's state machine (hello first, bounded lines), and the listener over loopback.
#include "supervise/rank_link.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "config/config.h"
#include "supervise/rank_listener.h"

namespace inloop::supervise {
namespace {

const std::string kSecret(64, 'a');

struct Fed {
  bool ok = true;
  std::vector<std::string> lines;
};

Fed FeedAll(RankConnection& c, const std::vector<std::string>& chunks, bool finish = false) {
  Fed f;
  auto cb = [&](std::string_view l) { f.lines.emplace_back(l); };
  for (const auto& chunk : chunks) {
    if (!c.Feed(chunk, cb)) {
      f.ok = false;
      return f;
    }
  }
  if (finish) c.Finish(cb);
  return f;
}

TEST(RanksListenTest, ParsesTheSettings) {
  RanksListen l;
  ASSERT_TRUE(ParseRanksListen("auto", &l).ok());
  EXPECT_EQ(l.mode, RanksListen::Mode::kAuto);
  ASSERT_TRUE(ParseRanksListen("off", &l).ok());
  EXPECT_EQ(l.mode, RanksListen::Mode::kOff);
  ASSERT_TRUE(ParseRanksListen("10.0.0.5:29600", &l).ok());
  EXPECT_EQ(l.mode, RanksListen::Mode::kAddress);
  EXPECT_EQ(l.host, "10.0.0.5");
  EXPECT_EQ(l.port, 29600);
  ASSERT_TRUE(ParseRanksListen(":4000", &l).ok());
  EXPECT_EQ(l.host, "");
  EXPECT_EQ(l.port, 4000);
  ASSERT_TRUE(ParseRanksListen("node-01.cluster", &l).ok());
  EXPECT_EQ(l.host, "node-01.cluster");
  EXPECT_EQ(l.port, 0);
  ASSERT_TRUE(ParseRanksListen("[::1]:5", &l).ok());
  EXPECT_EQ(l.host, "::1");
  EXPECT_EQ(l.port, 5);
  for (const char* bad : {"host:", "host:70000", "host:x", "::1:5", "[::1", "a b:1", "h;rm:1"}) {
    Status s = ParseRanksListen(bad, &l);
    EXPECT_FALSE(s.ok()) << bad;
    EXPECT_NE(s.message().find("run.ranks_listen"), std::string::npos) << s.message();
  }
}

TEST(RanksListenTest, ComesFromTheRunSectionOfInloopToml) {
  char path[] = "/tmp/inloop-ranks-config-XXXXXX";
  int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  ::close(fd);
  config::Config c;
  ASSERT_TRUE(config::LoadConfig(path, &c).ok());
  EXPECT_EQ(c.ranks_listen.mode, RanksListen::Mode::kAuto);  // the default
  std::ofstream(path) << "[run]\nranks_listen = \"10.1.2.3:29600\"\n";
  ASSERT_TRUE(config::LoadConfig(path, &c).ok());
  EXPECT_EQ(c.ranks_listen.host, "10.1.2.3");
  EXPECT_EQ(c.ranks_listen.port, 29600);
  std::ofstream(path) << "[run]\nranks_listen = \"10.1.2.3:\"\n";
  Status s = config::LoadConfig(path, &c);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find(":2:"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("run.ranks_listen must be"), std::string::npos) << s.message();
  std::ofstream(path) << "[run]\nranks_listen = 5\n";
  s = config::LoadConfig(path, &c);
  EXPECT_NE(s.message().find("run.ranks_listen must be a string"), std::string::npos) << s.message();
  std::remove(path);
}

TEST(MultiNodeJobTest, SlurmAllocationsAndLaunchers) {
  std::map<std::string, std::string> env;
  auto get = [&](const char* n) -> const char* {
    auto it = env.find(n);
    return it == env.end() ? nullptr : it->second.c_str();
  };
  EXPECT_FALSE(MultiNodeJob({"python", "train.py"}, get));
  EXPECT_FALSE(MultiNodeJob({"torchrun", "--nnodes", "1", "--nproc_per_node", "8", "t.py"}, get));
  EXPECT_TRUE(MultiNodeJob({"torchrun", "--nnodes", "2", "t.py"}, get));
  EXPECT_TRUE(MultiNodeJob({"torchrun", "--nnodes=1:4", "t.py"}, get));
  EXPECT_TRUE(MultiNodeJob({"/usr/bin/srun", "-N2", "python", "t.py"}, get));
  EXPECT_TRUE(MultiNodeJob({"srun", "--nodes=2-4", "python", "t.py"}, get));
  EXPECT_TRUE(MultiNodeJob({"srun", "-N", "3", "python", "t.py"}, get));
  EXPECT_FALSE(MultiNodeJob({"srun", "-N", "1", "python", "t.py"}, get));
  EXPECT_FALSE(MultiNodeJob({"python", "t.py", "-N", "4"}, get));  // not srun's
  env["SLURM_JOB_NUM_NODES"] = "1";
  EXPECT_FALSE(MultiNodeJob({"python", "train.py"}, get));
  env["SLURM_NNODES"] = "4";
  EXPECT_TRUE(MultiNodeJob({"python", "train.py"}, get));
}

TEST(SecretTest, MatchesOnlyTheWholeSecret) {
  EXPECT_TRUE(SecretMatches(kSecret, kSecret));
  EXPECT_FALSE(SecretMatches(kSecret.substr(0, 63), kSecret));
  EXPECT_FALSE(SecretMatches(kSecret + "a", kSecret));
  EXPECT_FALSE(SecretMatches("", kSecret));
  EXPECT_FALSE(SecretMatches("", ""));  // no secret: nothing matches
  std::string one_off = kSecret;
  one_off[40] = 'b';
  EXPECT_FALSE(SecretMatches(one_off, kSecret));
  std::string s = NewRanksSecret();
  EXPECT_EQ(s.size(), 64u);
  EXPECT_EQ(s.find_first_not_of("0123456789abcdef"), std::string::npos);
  EXPECT_NE(s, NewRanksSecret());
}

TEST(RankConnectionTest, DeliversLinesAfterTheHello) {
  RankConnection c(kSecret, 1024);
  Fed f = FeedAll(c, {"inloop-ranks/1 " + kSecret.substr(0, 10), kSecret.substr(10) + "\r\n{\"t\":",
                      "\"log\"}\n\n{\"t\":\"rank\"}\n{\"t\""},
                  true);
  EXPECT_TRUE(f.ok);
  EXPECT_TRUE(c.authenticated());
  EXPECT_EQ(f.lines, (std::vector<std::string>{"{\"t\":\"log\"}", "{\"t\":\"rank\"}", "{\"t\""}));
}

TEST(RankConnectionTest, AWrongSecretEndsTheConnectionBeforeAnyLine) {
  RankConnection c(kSecret, 1024);
  std::string wrong = kSecret;
  wrong[0] = 'b';
  Fed f = FeedAll(c, {"inloop-ranks/1 " + wrong + "\n{\"t\":\"log\",\"rank\":1}\n"});
  EXPECT_FALSE(f.ok);
  EXPECT_TRUE(f.lines.empty());
  EXPECT_NE(c.reason().find("INLOOP_RANKS_TOKEN"), std::string::npos);
  // Whatever comes next is ignored.
  EXPECT_FALSE(FeedAll(c, {"inloop-ranks/1 " + kSecret + "\n{}\n"}).ok);
}

TEST(RankConnectionTest, NoHelloOrAnEndlessOneIsRefused) {
  RankConnection c(kSecret, 1024);
  EXPECT_FALSE(FeedAll(c, {"{\"t\":\"log\",\"rank\":1}\n"}).ok);
  EXPECT_NE(c.reason().find("no hello"), std::string::npos);
  RankConnection d(kSecret, 1024);
  Fed f = FeedAll(d, {std::string(200, 'x'), std::string(200, 'x')});  // no newline yet
  EXPECT_FALSE(f.ok);
  EXPECT_NE(d.reason().find("longer than"), std::string::npos);
  // Finish on a connection that never authenticated delivers nothing.
  RankConnection e(kSecret, 1024);
  Fed g = FeedAll(e, {"inloop-ranks/1 " + kSecret}, true);
  EXPECT_TRUE(g.ok);
  EXPECT_TRUE(g.lines.empty());
  EXPECT_FALSE(e.authenticated());
}

TEST(RankConnectionTest, LinesOverTheLimitAreDroppedWhole) {
  RankConnection c(kSecret, 16);
  Fed f = FeedAll(c, {"inloop-ranks/1 " + kSecret + "\nshort\n" + std::string(10, 'x'),
                      std::string(10, 'y'), std::string(30, 'z') + "\nafter\n" +
                          std::string(40, 'w') + "\nlast\n"});
  EXPECT_TRUE(f.ok);
  EXPECT_EQ(f.lines, (std::vector<std::string>{"short", "after", "last"}));
  EXPECT_EQ(c.dropped(), 2);
  EXPECT_EQ(c.lines(), 3);
}

// The listener over loopback: a wrong secret is refused with a warning, a right one's lines come
// through, the connection limit holds, and Drain closes what is left.
class RankListenerTest : public ::testing::Test {
 protected:
  int Connect() {
    std::string addr = listener_.address();
    size_t colon = addr.rfind(':');
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(static_cast<uint16_t>(std::stoi(addr.substr(colon + 1))));
    inet_pton(AF_INET, addr.substr(0, colon).c_str(), &sa.sin_addr);
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    EXPECT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)), 0);
    return fd;
  }
  void Send(int fd, const std::string& data) {
    ASSERT_EQ(::write(fd, data.data(), data.size()), static_cast<ssize_t>(data.size()));
  }
  // Services the listener until `done` holds (60 s at most).
  template <class F>
  bool PollUntil(F done) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (!done()) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      std::vector<pollfd> fds;
      listener_.AddPollFds(&fds);
      ::poll(fds.data(), fds.size(), 50);
      listener_.OnPoll(
          fds.data(), fds.size(), now_, [&](std::string_view l) { lines_.emplace_back(l); },
          [&](const std::string& w) { warnings_.push_back(w); });
    }
    return true;
  }
  // Whether the peer closed fd (read returns 0 or an error within 60 s).
  static bool Closed(int fd) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 60000) <= 0) return false;
    char c;
    return ::read(fd, &c, 1) <= 0;
  }

  RankListener listener_;
  double now_ = 100;
  std::vector<std::string> lines_, warnings_;
};

TEST_F(RankListenerTest, RefusesAWrongSecretAndServesTheRightOne) {
  RankListener::Options o;
  o.max_connections = 1;
  ASSERT_TRUE(listener_.Open(o).ok());
  ASSERT_TRUE(listener_.is_open());
  EXPECT_EQ(listener_.address().rfind("127.0.0.1:", 0), 0u) << listener_.address();
  EXPECT_EQ(listener_.secret().size(), 64u);

  int bad = Connect();
  Send(bad, "inloop-ranks/1 " + std::string(64, '0') + "\n{\"t\":\"log\",\"rank\":1}\n");
  ASSERT_TRUE(PollUntil([&] { return !warnings_.empty(); }));
  EXPECT_NE(warnings_[0].find("refused a connection to the ranks' socket from 127.0.0.1"),
            std::string::npos)
      << warnings_[0];
  EXPECT_TRUE(Closed(bad));
  ::close(bad);
  EXPECT_TRUE(lines_.empty());

  int good = Connect();
  Send(good, "inloop-ranks/1 " + listener_.secret() + "\n{\"t\":\"rank\",\"rank\":1}\n{\"t\":");
  ASSERT_TRUE(PollUntil([&] { return lines_.size() == 1; }));
  EXPECT_EQ(lines_[0], "{\"t\":\"rank\",\"rank\":1}");

  // One rank at most (max_connections): the next connection is refused when accepted.
  int extra = Connect();
  ASSERT_TRUE(PollUntil([&] { return warnings_.size() == 2; }));
  EXPECT_NE(warnings_[1].find("1 ranks are already connected"), std::string::npos) << warnings_[1];
  EXPECT_TRUE(Closed(extra));
  ::close(extra);

  // A connection that never says hello is dropped after hello_seconds.
  listener_.Close();
  lines_.clear();
  warnings_.clear();
  ASSERT_TRUE(listener_.Open(RankListener::Options{}).ok());
  int silent = Connect();
  ASSERT_TRUE(PollUntil([&] { return listener_.connections() == 1; }));
  listener_.Expire(now_ + 5, [&](const std::string& w) { warnings_.push_back(w); });
  EXPECT_EQ(listener_.connections(), 1u);
  listener_.Expire(now_ + 11, [&](const std::string& w) { warnings_.push_back(w); });
  EXPECT_EQ(listener_.connections(), 0u);
  ASSERT_EQ(warnings_.size(), 1u);
  EXPECT_NE(warnings_[0].find("within 10 seconds"), std::string::npos) << warnings_[0];
  ::close(silent);

  // Drain: the last line of a rank (unterminated) is delivered, then the connection is closed.
  int last = Connect();
  Send(last, "inloop-ranks/1 " + listener_.secret() + "\n{\"t\":\"first\"}\n{\"t\":\"log\"}");
  ASSERT_TRUE(PollUntil([&] { return lines_.size() == 1; }));  // one write: the tail is read too
  listener_.Drain(now_, [&](std::string_view l) { lines_.emplace_back(l); },
                  [&](const std::string& w) { warnings_.push_back(w); });
  ASSERT_EQ(lines_, (std::vector<std::string>{"{\"t\":\"first\"}", "{\"t\":\"log\"}"}));
  EXPECT_EQ(listener_.connections(), 0u);
  EXPECT_TRUE(Closed(last));
  ::close(last);
  ::close(good);
}

TEST_F(RankListenerTest, OffMeansNoSocket) {
  RankListener::Options o;
  o.listen.mode = RanksListen::Mode::kOff;
  ASSERT_TRUE(listener_.Open(o).ok());
  EXPECT_FALSE(listener_.is_open());
  std::vector<pollfd> fds;
  listener_.AddPollFds(&fds);
  EXPECT_TRUE(fds.empty());
}

}  // namespace
}  // namespace inloop::supervise
