#include "supervise/rank_listener.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "common/secrets.h"
#include "supervise/run_context.h"

namespace inloop::supervise {

namespace {

constexpr int kMaxRefusalWarnings = 5;

std::string NumericHost(const sockaddr* sa, socklen_t len) {
  char host[NI_MAXHOST];
  if (getnameinfo(sa, len, host, sizeof(host), nullptr, 0, NI_NUMERICHOST) != 0) return "?";
  return host;
}

std::string HostPort(const std::string& host, int port) {
  if (host.find(':') != std::string::npos) return fmt::format("[{}]:{}", host, port);
  return fmt::format("{}:{}", host, port);
}

bool IsLoopback(const sockaddr* sa) {
  if (sa->sa_family == AF_INET) {
    auto* in = reinterpret_cast<const sockaddr_in*>(sa);
    return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
  }
  if (sa->sa_family == AF_INET6) {
    auto* in6 = reinterpret_cast<const sockaddr_in6*>(sa);
    return IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr);
  }
  return false;
}

// The host's own address that other nodes reach: the first non-loopback IPv4 address its name
// resolves to (empty when there is none).
std::string ReachableAddress() {
  addrinfo hints{};
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (getaddrinfo(HostName().c_str(), nullptr, &hints, &res) != 0) return "";
  std::string out;
  for (addrinfo* a = res; a && out.empty(); a = a->ai_next) {
    if (!IsLoopback(a->ai_addr)) out = NumericHost(a->ai_addr, a->ai_addrlen);
  }
  freeaddrinfo(res);
  return out;
}

}  // namespace

std::string NewRanksSecret() {
  std::string hex;
  return RandomHex(32, &hex).ok() ? hex : "";
}

struct RankListener::Conn {
  Conn(int fd_in, std::string peer_in, double now, const Options& o, const std::string& secret)
      : fd(fd_in), peer(std::move(peer_in)), opened(now), link(secret, o.max_line) {}
  ~Conn() {
    if (fd >= 0) ::close(fd);
  }
  int fd;
  std::string peer;
  double opened;
  RankConnection link;
};

RankListener::RankListener() = default;
RankListener::~RankListener() { Close(); }

Status RankListener::Open(const Options& opts) {
  Close();
  opts_ = opts;
  if (opts.listen.mode == RanksListen::Mode::kOff) return Status::OK();
  secret_ = NewRanksSecret();
  if (secret_.empty()) return Status::Io("no random bytes for the ranks' secret");
  // Where to bind, and the address to tell the ranks.
  std::string bind_host = opts.listen.host, advertise;
  if (bind_host.empty()) {
    if (!opts.multi_node) {
      bind_host = "127.0.0.1";
    } else {
      bind_host = ReachableAddress();
      if (bind_host.empty()) bind_host = "0.0.0.0";
    }
  }
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE;
  addrinfo* res = nullptr;
  int gai = getaddrinfo(bind_host.c_str(), std::to_string(opts.listen.port).c_str(), &hints, &res);
  if (gai != 0) {
    return Status::Io(fmt::format("cannot resolve {} to listen on: {}", bind_host, gai_strerror(gai)));
  }
  std::string err = "no address";
  for (addrinfo* a = res; a && listen_fd_ < 0; a = a->ai_next) {
    int fd = ::socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      err = std::strerror(errno);
      continue;
    }
    int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (::bind(fd, a->ai_addr, a->ai_addrlen) != 0 || ::listen(fd, 128) != 0) {
      err = std::strerror(errno);
      ::close(fd);
      continue;
    }
    listen_fd_ = fd;
  }
  freeaddrinfo(res);
  if (listen_fd_ < 0) {
    return Status::Io(fmt::format("cannot listen on {}: {}", HostPort(bind_host, opts.listen.port), err));
  }
  sockaddr_storage ss{};
  socklen_t len = sizeof(ss);
  ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&ss), &len);
  int port = ss.ss_family == AF_INET6 ? ntohs(reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port)
                                      : ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
  std::string bound = NumericHost(reinterpret_cast<sockaddr*>(&ss), len);
  // Every interface: the ranks reach it by this host's name.
  advertise = (bound == "0.0.0.0" || bound == "::") ? HostName() : bound;
  address_ = HostPort(advertise, port);
  buf_.assign(64 * 1024, '\0');
  return Status::OK();
}

void RankListener::Close() {
  conns_.clear();
  if (listen_fd_ >= 0) ::close(listen_fd_);
  listen_fd_ = -1;
  address_.clear();
}

void RankListener::AddPollFds(std::vector<pollfd>* fds) const {
  if (listen_fd_ < 0) return;
  // A negative fd keeps the slice's shape while poll() ignores it.
  fds->push_back({accept_paused_until_ > 0 ? -1 : listen_fd_, POLLIN, 0});
  for (const auto& c : conns_) fds->push_back({c->fd, POLLIN, 0});
}

void RankListener::Refuse(const std::string& peer, const std::string& why, const WarnFn& warn) {
  ++refusals_;
  if (refusals_ <= kMaxRefusalWarnings) {
    warn(fmt::format("warning: refused a connection to the ranks' socket from {}: {}", peer, why));
  } else if (refusals_ == kMaxRefusalWarnings + 1) {
    warn("warning: further refused connections to the ranks' socket are not reported");
  }
}

void RankListener::OnPoll(const pollfd* fds, size_t n, double now, const LineFn& on_line,
                          const WarnFn& warn) {
  if (listen_fd_ < 0 || n == 0) return;
  // fds[1..] are conns_ as they were when AddPollFds ran.
  for (size_t k = 1; k < n && k - 1 < conns_.size(); ++k) {
    Conn* c = conns_[k - 1].get();
    if (!fds[k].revents || c->fd != fds[k].fd) continue;
    if (!Read(c, on_line, warn, 16)) {
      ::close(c->fd);
      c->fd = -1;
    }
  }
  std::erase_if(conns_, [](const auto& c) { return c->fd < 0; });
  if (fds[0].revents) Accept(now, warn);
}

void RankListener::Accept(double now, const WarnFn& warn) {
  for (int round = 0; round < 64; ++round) {
    sockaddr_storage ss{};
    socklen_t len = sizeof(ss);
    int fd = ::accept4(listen_fd_, reinterpret_cast<sockaddr*>(&ss), &len,
                       SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR || errno == ECONNABORTED) return;
      // Out of descriptors (EMFILE, ENFILE, ENOBUFS): the pending connection keeps the socket
      // readable, so stop polling it for a second rather than spin.
      if (!accept_warned_) {
        warn(fmt::format("warning: cannot accept a rank's connection ({}); retrying every second",
                         std::strerror(errno)));
        accept_warned_ = true;
      }
      accept_paused_until_ = now + 1;
      return;
    }
    std::string peer = NumericHost(reinterpret_cast<sockaddr*>(&ss), len);
    size_t pending = 0;
    for (const auto& c : conns_) pending += c->link.authenticated() ? 0 : 1;
    if (pending >= opts_.max_pending) {
      ::close(fd);
      Refuse(peer, fmt::format("{} connections are already waiting to present the secret",
                               pending), warn);
      continue;
    }
    if (conns_.size() - pending >= opts_.max_connections) {
      ::close(fd);
      Refuse(peer, fmt::format("{} ranks are already connected", conns_.size() - pending), warn);
      continue;
    }
    conns_.push_back(std::make_unique<Conn>(fd, std::move(peer), now, opts_, secret_));
  }
}

bool RankListener::Read(Conn* c, const LineFn& on_line, const WarnFn& warn, int max_reads) {
  for (int i = 0; i < max_reads; ++i) {
    ssize_t got = ::read(c->fd, buf_.data(), buf_.size());
    if (got < 0 && (errno == EAGAIN || errno == EINTR)) return true;
    if (got <= 0) {
      c->link.Finish(on_line);
      return false;
    }
    if (!c->link.Feed(std::string_view(buf_.data(), static_cast<size_t>(got)), on_line)) {
      Refuse(c->peer, c->link.reason(), warn);
      return false;
    }
  }
  return true;
}

void RankListener::Expire(double now, const WarnFn& warn) {
  if (accept_paused_until_ > 0 && now >= accept_paused_until_) accept_paused_until_ = 0;
  std::erase_if(conns_, [&](const auto& c) {
    if (c->link.authenticated() || now - c->opened < opts_.hello_seconds) return false;
    Refuse(c->peer,
           fmt::format("it did not present the secret within {:.0f} seconds", opts_.hello_seconds),
           warn);
    return true;
  });
}

void RankListener::Drain(double now, const LineFn& on_line, const WarnFn& warn) {
  if (listen_fd_ < 0) return;
  Accept(now, warn);  // a rank that connected last, not yet accepted
  for (auto& c : conns_) {
    if (Read(c.get(), on_line, warn, 64)) c->link.Finish(on_line);
  }
  conns_.clear();
}

}  // namespace inloop::supervise
