// RankListener: the ranks' TCP channel (docs/sdk_protocol.md "Ranks"), the way in for ranks on
// other hosts of a multi-node job (and for any rank that cannot open the FIFO). One listening
// socket per run, bound as [run] ranks_listen says (rank_link.h), and the ranks' connections;
// all non-blocking, serviced from the supervisor's one poll() loop (no thread). Each connection
// first presents the run's secret (INLOOP_RANKS_TOKEN), then sends SDK lines exactly as a rank
// writes them to the FIFO. What a connection sends is only ever parsed as SDK messages; a bad
// connection is dropped with a one-line warning.
#pragma once

#include <poll.h>

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "supervise/rank_link.h"

namespace inloop::supervise {

// 32 random bytes from the kernel, as 64 hex digits (empty if the kernel gave none).
std::string NewRanksSecret();

class RankListener {
 public:
  struct Options {
    RanksListen listen;
    bool multi_node = false;     // "auto" binds the host's reachable address, else loopback
    size_t max_connections = 4096;  // authenticated ranks at once
    size_t max_pending = 64;        // connections that have not presented the secret yet
    double hello_seconds = 10;      // time to present it
    size_t max_line = 64 * 1024;    // the SDK's line limit (docs/sdk_protocol.md)
  };
  using LineFn = std::function<void(std::string_view)>;
  using WarnFn = std::function<void(const std::string&)>;

  RankListener();
  RankListener(const RankListener&) = delete;
  RankListener& operator=(const RankListener&) = delete;
  ~RankListener();

  Status Open(const Options& opts);
  bool is_open() const { return listen_fd_ >= 0; }
  const std::string& address() const { return address_; }  // HOST:PORT, for INLOOP_RANKS_ADDR
  const std::string& secret() const { return secret_; }    // INLOOP_RANKS_TOKEN

  // Appends the listening socket's and the connections' pollfds; OnPoll gets back that slice
  // (nothing may change in between).
  void AddPollFds(std::vector<pollfd>* fds) const;
  void OnPoll(const pollfd* fds, size_t n, double now, const LineFn& on_line, const WarnFn& warn);
  // Drops connections that have not presented the secret within hello_seconds, and ends a
  // pause of the listener (after accept() ran out of descriptors).
  void Expire(double now, const WarnFn& warn);
  // Reads what the connections hold, then closes them (the attempt is over).
  void Drain(double now, const LineFn& on_line, const WarnFn& warn);
  void Close();

  size_t connections() const { return conns_.size(); }

 private:
  struct Conn;
  void Accept(double now, const WarnFn& warn);
  // false: the connection is over (EOF, error, or refused).
  bool Read(Conn* c, const LineFn& on_line, const WarnFn& warn, int max_reads);
  void Refuse(const std::string& peer, const std::string& why, const WarnFn& warn);

  Options opts_;
  int listen_fd_ = -1;
  std::string address_;
  std::string secret_;
  std::vector<std::unique_ptr<Conn>> conns_;
  std::string buf_;
  int refusals_ = 0;  // warnings said (at most kMaxRefusalWarnings, then one more line)
  double accept_paused_until_ = 0;  // out of descriptors: the listener rests until then
  bool accept_warned_ = false;
};

}  // namespace inloop::supervise
