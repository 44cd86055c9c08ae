// The session's ranks (see session.h): a multi-rank job's processes (torchrun's workers, srun's
// tasks) all report to this one supervisor. Rank 0's points are the run's main series, exactly
// as a single process's; another rank's points are watched by detectors of their own under
// rank/<r>/<key> (a NaN on rank 3 acts for the whole job, like one on rank 0) and only their
// step times are stored (rank/<r>/step_time, every rank, 0 included), which the straggler
// detector compares across ranks. docs/sdk_protocol.md "Ranks" is the contract.
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <functional>

#include <fmt/format.h>

#include "ingest/rank_prefix.h"
#include "supervise/session.h"

namespace inloop::supervise {

namespace {

// A multi-node job's ranks on other hosts reach the supervisor only through the socket.
void OpenRankSocket(const SupervisorOptions& opts, RankListener* tcp,
                    const std::function<void(const std::string&)>& say) {
  RankListener::Options lo;
  lo.listen = opts.ranks_listen;
  lo.multi_node = MultiNodeJob(opts.command);
  Status s = tcp->Open(lo);
  if (!s.ok()) {
    say(fmt::format("warning: {}; ranks {}cannot report over TCP (set [run] ranks_listen)",
                    s.message(), lo.multi_node ? "on other hosts " : ""));
    return;
  }
  if (!tcp->is_open()) return;
  if (lo.multi_node) {
    say(fmt::format("ranks on other hosts report to {}", tcp->address()));
  } else if (opts.ranks_listen.mode == RanksListen::Mode::kAddress) {
    say(fmt::format("ranks report over TCP to {} ([run] ranks_listen)", tcp->address()));
  }
}

}  // namespace

void Session::OpenRankChannel() {
  // srun --label prefixes every line with its task number.
  bool srun = false;
  for (const auto& a : opts_.command) {
    if (a == "srun" || (a.size() > 5 && a.compare(a.size() - 5, 5, "/srun") == 0)) srun = true;
    if (srun && (a == "--label" || a == "-l")) srun_labels_ = true;
  }
  OpenRankSocket(opts_, &rank_tcp_, [&](const std::string& line) { Say(line); });
  const char* tmp = getenv("TMPDIR");
  std::string templ = fmt::format("{}/inloop-ranks-XXXXXX", tmp && *tmp ? tmp : "/tmp");
  if (!mkdtemp(templ.data())) {
    Say(fmt::format("warning: no channel for the ranks of a multi-rank job ({}: {}); only the "
                    "main process reports through the SDK",
                    templ, std::strerror(errno)));
    return;
  }
  rank_dir_ = templ;
  std::string path = rank_dir_ + "/sdk";
  // O_RDWR: the FIFO never reads as ended while no rank has it open (between attempts too).
  if (mkfifo(path.c_str(), 0600) != 0 ||
      (rank_fifo_ = ::open(path.c_str(), O_RDWR | O_NONBLOCK | O_CLOEXEC)) < 0) {
    Say(fmt::format("warning: no channel for the ranks of a multi-rank job ({}: {}); only the "
                    "main process reports through the SDK",
                    path, std::strerror(errno)));
    CloseRankChannel();
    return;
  }
  fcntl(rank_fifo_, F_SETPIPE_SZ, 1 << 20);
}

void Session::CloseRankChannel() {
  rank_tcp_.Close();
  if (rank_fifo_ >= 0) ::close(rank_fifo_);
  rank_fifo_ = -1;
  if (rank_dir_.empty()) return;
  ::unlink((rank_dir_ + "/sdk").c_str());
  ::rmdir(rank_dir_.c_str());
  rank_dir_.clear();
}

void Session::DrainRankChannel() {
  // The ranks that connected over TCP belong to this attempt: what they sent, then they go.
  rank_tcp_.Drain(
      SteadyNow(), [&](std::string_view line) { RankSocketLine(line); },
      [&](const std::string& w) { Say(w); });
  if (rank_fifo_ < 0) return;
  std::string buf(64 * 1024, '\0');
  for (int rounds = 0; rounds < 1024; ++rounds) {
    ssize_t got = ::read(rank_fifo_, buf.data(), buf.size());
    if (got <= 0) break;  // EAGAIN: nothing left
    HandleStream(3, std::string_view(buf.data(), static_cast<size_t>(got)));
  }
  splitters_[3].Finish([&](std::string_view line) { DispatchLine(3, line); });
  if (HasWork()) ActOnFindings();
}

void Session::ReadRankSockets(const pollfd* fds, size_t n) {
  rank_tcp_.OnPoll(
      fds, n, SteadyNow(), [&](std::string_view line) { RankSocketLine(line); },
      [&](const std::string& w) { Say(w); });
  if (HasWork()) ActOnFindings();
}

// A line from a rank's connection is handled exactly as one from the FIFO.
void Session::RankSocketLine(std::string_view line) {
  hang_.OnOutput(now_ms_);
  DispatchLine(3, line);
  // Act before the next line: the latency from a bad line to the signal is what matters.
  if (HasWork()) ActOnFindings();
}

std::optional<int> Session::PrintedRank(std::string_view* line) const {
  ingest::RankedLine r = ingest::SplitRankPrefix(*line, srun_labels_);
  if (r.rank) *line = r.text;
  return r.rank;
}

void Session::RankConnected(const ingest::SdkMessage& msg) {
  int rank = *msg.rank;
  if (!msg.host.empty()) {
    rank_hosts_[rank] = msg.host;
    stragglers_.SetHost(rank, msg.host);
  }
  if (msg.world_size > world_size_) {
    world_size_ = msg.world_size;
    if (store_ok_) {
      Status s = store_->SetParams(
          run_.id, {store::Param{"inloop.world_size", std::to_string(world_size_), "sdk"}});
      if (!s.ok()) StoreFailed(s);
    }
  }
}

// Only what concerns a rank's own training is taken from it: its metrics and step times. Params,
// tags, checkpoints, datasets and the remedy handshake are the job's, and come from rank 0.
void Session::HandleRankMessage(int rank, const ingest::SdkMessage& msg) {
  if (msg.type == ingest::SdkMessage::Type::kRank) {
    RankConnected(msg);
    return;
  }
  if (msg.type != ingest::SdkMessage::Type::kLog) return;
  if (msg.step_time) RankStepTime(rank, msg.step, *msg.step_time);
  for (auto& [k, v] : msg.metrics) AppendRankMetric(rank, k, msg.step, v);
}

// Another rank's losses and gradient norms are watched for what acts on the job (non-finite
// values, spikes, divergence, gradient explosions). Its throughput, memory and plateaus are not:
// they repeat rank 0's findings once per rank (its step times are the straggler detector's).
void Session::AppendRankMetric(int rank, std::string_view key, std::optional<int64_t> step,
                               double value) {
  std::string full = fmt::format("rank/{}/{}", rank, key);
  int64_t s = step ? *step : ++rank_counters_[full];
  hang_.OnProgress(now_ms_, s);
  detect::SeriesClass cls = rank_detectors_.ClassOf(full);
  if (cls != detect::SeriesClass::kLoss && cls != detect::SeriesClass::kEvalLoss &&
      cls != detect::SeriesClass::kGradNorm) {
    return;
  }
  size_t before = findings_.size();
  rank_detectors_.Observe(full, Point{s, now_ms_, value}, &findings_);
  auto h = rank_hosts_.find(rank);
  for (size_t i = before; i < findings_.size();) {
    if (findings_[i].kind == detect::FindingKind::kPlateau) {
      findings_.erase(findings_.begin() + static_cast<std::ptrdiff_t>(i));
      continue;
    }
    findings_[i].rank = rank;
    if (h != rank_hosts_.end()) findings_[i].host = h->second;
    ++i;
  }
  if (cls == detect::SeriesClass::kLoss) {
    controller_.OnLossPoint(full, s, value);
    if (findings_.size() > findings_acted_) ActOnFindings();
  }
}

void Session::RankStepTime(int rank, std::optional<int64_t> step, double seconds) {
  std::string key = fmt::format("rank/{}/step_time", rank);
  int64_t s = step ? *step : ++rank_counters_[key];
  stragglers_.Observe(rank, s, seconds, now_ms_, &findings_);
  if (!store_ok_) return;
  Status st = writer_->Append(key, s, now_ms_, seconds);
  if (!st.ok()) StoreFailed(st);
}

detect::SeriesClass Session::ClassOfFinding(const detect::Finding& f) {
  if (f.kind == detect::FindingKind::kStraggler) return detect::SeriesClass::kOther;
  return f.rank > 0 ? rank_detectors_.ClassOf(f.series) : detectors_.ClassOf(f.series);
}

void Session::RewindRanks(std::optional<int64_t> step) {
  if (step) {
    rank_detectors_.RewindTo(*step);
  } else {
    rank_detectors_.StartFresh();
  }
  stragglers_.Reset();
  for (auto& [key, n] : rank_counters_) n = step.value_or(0);
}

}  // namespace inloop::supervise
