// The Beast/Asio side of `inloop serve` (server.h): acceptor, one session per connection on its
// own strand, request bodies bounded (413), keep-alive, and server-sent-event streams fed from
// SseClient queues. The only file that includes Beast. The I/O threads read, admit and write;
// the Api's handlers (which may wait on a store's commit) run on a pool of their own, so a slow
// commit never holds up other connections' reads and writes, and as many requests as there are
// handler threads are answered at once. A session's state is touched only on its strand.
#include "http/server.h"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <optional>
#include <thread>
#include <vector>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <fmt/format.h>

#include "http/admission.h"
#include "http/api.h"
#include "http/auth.h"
#include "http/live_hub.h"
#include "http/router.h"
#include "http/server_metrics.h"

namespace inloop::http {
namespace {

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

struct Shared {
  explicit Shared(int handler_threads) : handlers(static_cast<size_t>(handler_threads)) {}
  ServerOptions options;
  net::thread_pool handlers;  // runs Api::Handle; joined before the I/O threads' context goes
  Api* api = nullptr;
  LiveHub* hub = nullptr;
  ServerMetrics* metrics = nullptr;
  AdmissionPolicy admission;
  std::unique_ptr<Authenticator> auth;
};

std::optional<std::string_view> HeaderOf(const bhttp::request<bhttp::string_body>& req,
                                         bhttp::field f) {
  auto it = req.find(f);
  if (it == req.end()) return std::nullopt;
  return std::string_view(it->value().data(), it->value().size());
}

std::optional<std::string_view> HeaderOf(const bhttp::request<bhttp::string_body>& req,
                                         std::string_view name) {
  auto it = req.find(beast::string_view(name.data(), name.size()));
  if (it == req.end()) return std::nullopt;
  return std::string_view(it->value().data(), it->value().size());
}

constexpr auto kIdleTimeout = std::chrono::seconds(120);
constexpr uint32_t kHeaderLimit = 256u << 10;

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, Shared* shared) : stream_(std::move(socket)), shared_(shared) {}
  ~Session() {
    if (client_ && !sse_done_) shared_->hub->Unsubscribe(client_);
  }

  void Run() {
    // The address this connection came in on: a Host naming it as an IP literal is this server.
    beast::error_code ec;
    auto local = stream_.socket().local_endpoint(ec);
    if (!ec) {
      net::ip::address a = local.address();
      if (a.is_v6() && a.to_v6().is_v4_mapped()) {
        a = net::ip::make_address_v4(net::ip::v4_mapped, a.to_v6());
      }
      local_address_ = a.to_string();
      if (a.is_v6()) {  // no zone id ("%eth0") in a Host
        local_address_ = local_address_.substr(0, local_address_.find('%'));
      }
    }
    net::dispatch(stream_.get_executor(),
                  beast::bind_front_handler(&Session::ReadRequest, shared_from_this()));
  }

 private:
  void ReadRequest() {
    parser_.emplace();
    parser_->body_limit(shared_->options.max_body_bytes);
    parser_->header_limit(kHeaderLimit);  // room for ?runs= lists of hundreds of run ids
    stream_.expires_after(kIdleTimeout);
    bhttp::async_read_header(stream_, buffer_, *parser_,
                             beast::bind_front_handler(&Session::OnHeader, shared_from_this()));
  }

  // A declared body over the limit is refused before it is sent; a client that waits for
  // "100 Continue" (curl does for large bodies) is told to go on.
  void OnHeader(beast::error_code ec, size_t) {
    if (ec) return OnRead(ec, 0);
    auto length = parser_->content_length();
    if (length && *length > shared_->options.max_body_bytes) {
      return OnRead(bhttp::error::body_limit, 0);
    }
    if (parser_->get()[bhttp::field::expect] == "100-continue" && !parser_->is_done()) {
      static const std::string kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
      return net::async_write(stream_, net::buffer(kContinue),
                              [self = shared_from_this()](beast::error_code wec, size_t) {
                                if (wec) return self->Close();
                                self->ReadBody();
                              });
    }
    ReadBody();
  }

  void ReadBody() {
    bhttp::async_read(stream_, buffer_, *parser_,
                      beast::bind_front_handler(&Session::OnRead, shared_from_this()));
  }

  void OnRead(beast::error_code ec, size_t) {
    if (ec == bhttp::error::body_limit) {
      HttpResponse r = JsonError(
          413, fmt::format("body: larger than the {} bytes a request may carry (send smaller "
                           "batches)",
                           shared_->options.max_body_bytes));
      r.route = "too_large";
      shared_->metrics->RecordRequest(r.route, r.status, 0);
      return Send(std::move(r), false);
    }
    if (ec == bhttp::error::header_limit) {
      HttpResponse r = JsonError(
          431, fmt::format("request head: larger than {} bytes (ask for fewer runs at once)",
                           kHeaderLimit));
      r.route = "too_large";
      shared_->metrics->RecordRequest(r.route, r.status, 0);
      return Send(std::move(r), false);
    }
    if (ec) return Close();
    auto start = std::chrono::steady_clock::now();
    bhttp::request<bhttp::string_body> req = parser_->release();
    HttpRequest r;
    r.method = std::string(req.method_string());
    r.authorization = std::string(req[bhttp::field::authorization]);
    r.cookie = std::string(req[bhttp::field::cookie]);
    bool keep_alive = req.keep_alive();
    // Admission (Host, Origin, Content-Type), then the target (400), then the token and scope.
    RequestHeaders headers;
    headers.method = r.method;
    headers.host = HeaderOf(req, bhttp::field::host);
    headers.origin = HeaderOf(req, bhttp::field::origin);
    headers.sec_fetch_site = HeaderOf(req, "Sec-Fetch-Site");
    headers.content_type = HeaderOf(req, bhttp::field::content_type);
    headers.local_address = local_address_;
    std::optional<HttpResponse> refusal;
    AdmissionResult admitted = Admit(shared_->admission, headers);
    if (!admitted.ok()) {
      refusal = JsonError(admitted.status, admitted.reason);
      refusal->route = "refused";
    }
    if (!refusal) refusal = ParseOrRefuse(std::string_view(req.target()), &r);
    std::string set_cookie;
    if (!refusal) {
      Principal who;
      refusal = shared_->auth->Check(r, &who, &set_cookie);
      r.audit_name = who.Audit();
    }
    r.body = std::move(req.body());
    HttpResponse resp;
    if (refusal) {
      resp = std::move(*refusal);
    } else if (r.segments.size() == 3 && r.segments[0] == "api" && r.segments[1] == "v1" &&
               r.segments[2] == "stream") {
      if (r.method != "GET") {
        resp = JsonError(405, "POST /api/v1/stream: method not allowed (use GET)");
      } else {
        std::vector<std::string> ids;
        Status s = shared_->api->ResolveRuns(ListParam(r, "run"), &ids);
        std::shared_ptr<SseClient> client;
        if (s.ok()) s = shared_->hub->Subscribe(ids, &client);
        if (s.ok()) {
          shared_->metrics->RecordRequest("/api/v1/stream", 200, 0);
          return StartStream(std::move(client));
        }
        resp = ErrorFor(s);
      }
      resp.route = "/api/v1/stream";
    } else {
      // To the handler pool and back to this session's strand with the answer.
      net::post(shared_->handlers, [self = shared_from_this(), r = std::move(r), keep_alive, start,
                                    set_cookie = std::move(set_cookie)]() mutable {
        HttpResponse answer = self->shared_->api->Handle(r);
        net::post(self->stream_.get_executor(),
                  [self, answer = std::move(answer), keep_alive, start,
                   set_cookie = std::move(set_cookie)]() mutable {
                    self->Answer(std::move(answer), keep_alive, start, std::move(set_cookie));
                  });
      });
      return;
    }
    Answer(std::move(resp), keep_alive, start, std::move(set_cookie));
  }

  void Answer(HttpResponse resp, bool keep_alive, std::chrono::steady_clock::time_point start,
              std::string set_cookie) {
    if (!set_cookie.empty() && resp.set_cookie.empty()) resp.set_cookie = std::move(set_cookie);
    double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    shared_->metrics->RecordRequest(resp.route, resp.status, seconds);
    Send(std::move(resp), keep_alive);
  }

  void Send(HttpResponse r, bool keep_alive) {
    res_ = {};
    res_.version(11);
    res_.result(static_cast<unsigned>(r.status));
    res_.set(bhttp::field::server, "inloop");
    res_.set(bhttp::field::content_type, r.content_type);
    res_.set(bhttp::field::cache_control, r.route == "static" ? "no-cache" : "no-store");
    res_.set("X-Content-Type-Options", "nosniff");
    res_.set("X-Frame-Options", "DENY");  // no other site frames the Approve button
    res_.set("Referrer-Policy", "no-referrer");  // a ?token= URL never leaks as a Referer
    if (!r.set_cookie.empty()) res_.set(bhttp::field::set_cookie, r.set_cookie);
    res_.keep_alive(keep_alive);
    res_.body() = std::move(r.body);
    res_.prepare_payload();
    bhttp::async_write(
        stream_, res_,
        beast::bind_front_handler(&Session::OnWrite, shared_from_this(), keep_alive));
  }

  void OnWrite(bool keep_alive, beast::error_code ec, size_t) {
    if (ec || !keep_alive) return Close();
    ReadRequest();
  }

  void Close() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
  }

  // ---- server-sent events ----
  void StartStream(std::shared_ptr<SseClient> client) {
    client_ = std::move(client);
    stream_.expires_never();
    out_ =
        "HTTP/1.1 200 OK\r\nServer: inloop\r\nContent-Type: text/event-stream\r\n"
        "Cache-Control: no-store\r\nX-Accel-Buffering: no\r\nConnection: close\r\n\r\n";
    writing_ = true;
    net::async_write(stream_, net::buffer(out_),
                     beast::bind_front_handler(&Session::OnStreamWrite, shared_from_this()));
    std::weak_ptr<Session> weak = shared_from_this();
    auto ex = stream_.get_executor();
    client_->SetWakeup([weak, ex] {
      net::post(ex, [weak] {
        if (auto self = weak.lock()) self->Pump();
      });
    });
    // Any byte or EOF from the client ends the stream (EventSource never sends after the request).
    stream_.async_read_some(net::buffer(read_byte_),
                            beast::bind_front_handler(&Session::OnStreamRead, shared_from_this()));
  }

  void Pump() {
    if (writing_ || sse_done_) return;
    if (client_->overflowed()) return EndStream();
    out_.clear();
    client_->TakeAll(&out_);
    if (out_.empty()) return;
    writing_ = true;
    net::async_write(stream_, net::buffer(out_),
                     beast::bind_front_handler(&Session::OnStreamWrite, shared_from_this()));
  }

  void OnStreamWrite(beast::error_code ec, size_t) {
    writing_ = false;
    if (ec) return EndStream();
    Pump();
  }

  void OnStreamRead(beast::error_code, size_t) { EndStream(); }

  void EndStream() {
    if (sse_done_) return;
    sse_done_ = true;
    shared_->hub->Unsubscribe(client_);
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
    stream_.socket().close(ec);
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  Shared* shared_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  bhttp::response<bhttp::string_body> res_;
  std::shared_ptr<SseClient> client_;
  std::string out_;
  bool writing_ = false;
  bool sse_done_ = false;
  char read_byte_[1];
  std::string local_address_;
};

}  // namespace

struct Server::Impl {
  explicit Impl(int handler_threads) : shared(handler_threads) {}
  // The context outlives the handler pool (declared first, destroyed last): a handler that
  // finishes during shutdown posts its answer to a strand of a stopped context, never run.
  net::io_context ioc;
  Shared shared;
  tcp::acceptor acceptor{ioc};
  net::signal_set signals{ioc, SIGINT, SIGTERM};
  std::vector<std::thread> threads;
  int port = 0;

  void Accept() {
    acceptor.async_accept(net::make_strand(ioc), [this](beast::error_code ec, tcp::socket socket) {
      if (!ec) std::make_shared<Session>(std::move(socket), &shared)->Run();
      if (acceptor.is_open()) Accept();
    });
  }
};

Server::Server(int handler_threads) : impl_(std::make_unique<Impl>(handler_threads)) {}

Server::~Server() {
  Stop();
  Wait();
}

Status Server::Start(const ServerOptions& options, Api* api, LiveHub* hub, ServerMetrics* metrics,
                     std::unique_ptr<Server>* out) {
  if (!IsLoopbackBind(options.bind) && options.token.empty()) {
    return Status::Invalid(fmt::format(
        "--bind {}: serving beyond this machine needs a token (--token or INLOOP_TOKEN)",
        options.bind));
  }
  if (options.token.empty() && !options.no_token) {
    return Status::Invalid("serve: no token (pass one, or no_token on a loopback bind)");
  }
  for (const std::string& h : options.allow_hosts) {
    std::string why;
    if (!ValidAllowHost(h, &why)) return Status::Invalid(why);
  }
  std::unique_ptr<Server> server(new Server(std::clamp(options.handler_threads, 1, 256)));
  Impl& impl = *server->impl_;
  impl.shared.options = options;
  impl.shared.api = api;
  impl.shared.hub = hub;
  impl.shared.metrics = metrics;
  beast::error_code ec;
  tcp::resolver resolver(impl.ioc);
  auto results = resolver.resolve(options.bind, std::to_string(options.port),
                                  tcp::resolver::passive | tcp::resolver::numeric_service, ec);
  if (ec || results.empty()) {
    return Status::Invalid(fmt::format("--bind {}: not an address of this machine ({})",
                                       options.bind, ec ? ec.message() : "no address"));
  }
  tcp::endpoint ep = results.begin()->endpoint();
  impl.acceptor.open(ep.protocol(), ec);
  if (!ec) impl.acceptor.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) impl.acceptor.bind(ep, ec);
  if (ec.value() == EADDRNOTAVAIL) {
    return Status::Invalid(
        fmt::format("--bind {}: not an address of this machine ({})", options.bind, ec.message()));
  }
  if (!ec) impl.acceptor.listen(net::socket_base::max_listen_connections, ec);
  if (ec) {
    return Status::Io(
        fmt::format("cannot listen on {}:{}: {} (pick another --port, or 0 for any "
                    "free one)",
                    options.bind, options.port, ec.message()));
  }
  impl.port = impl.acceptor.local_endpoint().port();
  impl.shared.admission.bind = options.bind;
  impl.shared.admission.port = impl.port;
  impl.shared.admission.allow_hosts = options.allow_hosts;
  AuthOptions auth;
  auth.server_token = options.token;
  auth.no_token = options.no_token;
  auth.port = impl.port;
  impl.shared.auth = std::make_unique<Authenticator>(
      std::move(auth), [api](const std::string& sha256_hex, store::TokenRecord* rec) {
        return api->LookupToken(sha256_hex, rec);
      });
  impl.signals.async_wait([&impl](beast::error_code e, int) {
    if (!e) impl.ioc.stop();
  });
  impl.Accept();
  int n = std::max(1, options.threads);
  for (int i = 0; i < n; ++i) impl.threads.emplace_back([&impl] { impl.ioc.run(); });
  *out = std::move(server);
  return Status::OK();
}

int Server::port() const { return impl_->port; }

void Server::Wait() {
  for (auto& t : impl_->threads) {
    if (t.joinable()) t.join();
  }
  impl_->shared.handlers.join();  // stopped with the context: requests in hand are finished
}

void Server::Stop() {
  impl_->ioc.stop();
  impl_->shared.handlers.stop();
}

}  // namespace inloop::http
