// RankLink: the pure parts of the ranks' TCP channel (docs/sdk_protocol.md "Ranks"): ranks on
// other hosts of a multi-node job cannot reach the supervisor's FIFO, so they connect to a TCP
// socket the supervisor listens on (rank_listener.h does the I/O) and send the same SDK lines.
// Here: the [run] ranks_listen setting, whether a command is a multi-node job, the per-run
// secret and its constant-time check, and one connection's state machine (the hello line with
// the secret first, then bounded SDK lines). No clock, no I/O.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace inloop::supervise {

// [run] ranks_listen: "auto" (default): loopback when the job runs on this host alone, the
// host's address that other nodes reach when it spans several (MultiNodeJob); "off": no socket;
// "HOST", "HOST:PORT" or ":PORT": bind there (HOST an address or a name; 0.0.0.0 is every
// interface; port 0 or none: any free port).
struct RanksListen {
  enum class Mode { kAuto, kOff, kAddress };
  Mode mode = Mode::kAuto;
  std::string host;  // kAddress: empty = choose as "auto" does, with the given port
  int port = 0;
};
Status ParseRanksListen(std::string_view text, RanksListen* out);

// Whether the job runs on more than one host: Slurm's allocation (SLURM_JOB_NUM_NODES /
// SLURM_NNODES > 1), or a launcher in the command asking for several nodes (torchrun's
// --nnodes N or MIN:MAX with a maximum > 1, srun's -N/--nodes N or MIN-MAX with one > 1).
// `getenv_fn` is injectable for tests; null reads the process environment.
bool MultiNodeJob(const std::vector<std::string>& command,
                  const std::function<const char*(const char*)>& getenv_fn = nullptr);

// The first line a rank sends on a connection: kRanksHello, a space, then the run's secret.
inline constexpr std::string_view kRanksHello = "inloop-ranks/1";
inline constexpr size_t kMaxHelloBytes = 256;
// Whether `presented` equals a non-empty `secret` (common/secrets.h: every byte compared; the
// length, 64 hex digits, is not secret).
bool SecretMatches(std::string_view presented, std::string_view secret);

// One connection: Feed() the bytes read from it; complete SDK lines are delivered once the hello
// line presented the secret. A wrong or missing hello, or a hello longer than kMaxHelloBytes,
// ends the connection (Feed returns false; reason() says why, in words for a one-line warning).
// Lines longer than max_line are dropped whole and counted.
class RankConnection {
 public:
  RankConnection(std::string secret, size_t max_line) : secret_(std::move(secret)), max_line_(max_line) {}

  bool Feed(std::string_view data, const std::function<void(std::string_view)>& on_line);
  // At the end of the stream: a last unterminated line of an authenticated connection.
  void Finish(const std::function<void(std::string_view)>& on_line);

  bool authenticated() const { return authenticated_; }
  const std::string& reason() const { return reason_; }
  int64_t lines() const { return lines_; }
  int64_t dropped() const { return dropped_; }  // lines over max_line

 private:
  bool Line(std::string_view line, const std::function<void(std::string_view)>& on_line);

  std::string secret_;
  size_t max_line_;
  bool authenticated_ = false;
  bool skipping_ = false;  // inside a line over max_line
  std::string partial_;
  std::string reason_;
  int64_t lines_ = 0;
  int64_t dropped_ = 0;
};

}  // namespace inloop::supervise
