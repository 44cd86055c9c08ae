// The deploy server's reverse proxy (deploy_server.h): accepting clients, picking a replica,
// forwarding with retries on another replica, relaying bodies whole or as they arrive, the
// response cache path, and shadow and canary routing.
#include "gateway/deploy_server.h"

#include <fmt/format.h>

#include "common/json_writer.h"
#include "gateway/canonical_json.h"

namespace inloop::gateway::deploy_internal {
namespace {

// Reads more of an upstream answer's body into [data, data + size) within timeout_s: the number
// of bytes placed there, or nothing when the replica failed, closed early or timed out.
Task<std::optional<size_t>> ReadBodyInto(UpstreamConn& conn, UpstreamParser& parser, char* data,
                                         size_t size, double timeout_s) {
  auto& body = parser.get().body();
  body.data = data;
  body.size = size;
  conn.stream.expires_after(Secs(timeout_s));
  auto [ec, n] = co_await http::async_read_some(conn.stream, conn.buffer, parser, kTuple);
  if (ec == http::error::need_buffer) ec = {};  // the buffer is full: more to read next time
  if (ec) co_return std::nullopt;
  co_return size - body.size;
}

// HTTP/1.1 wire bytes of a head (start line already in *out) and body, built by hand into one
// buffer: one write per message, without the serializer's buffer-sequence machinery.
void AppendFieldsAndBody(const http::fields& fields, std::string_view body, std::string* out) {
  for (const auto& f : fields) {
    out->append(f.name_string().data(), f.name_string().size());
    out->append(": ");
    out->append(f.value().data(), f.value().size());
    out->append("\r\n");
  }
  out->append("\r\n");
  out->append(body);
}

bool HopByHop(http::field f) {
  switch (f) {
    case http::field::connection:
    case http::field::keep_alive:
    case http::field::proxy_authenticate:
    case http::field::proxy_authorization:
    case http::field::te:
    case http::field::trailer:
    case http::field::upgrade:
      return true;
    default:
      return false;
  }
}

}  // namespace

Task<void> DeployServer::AcceptLoop() {
  while (!shutting_down_) {
    auto [ec, sock] = co_await acceptor_.async_accept(kTuple);
    if (ec) {
      if (shutting_down_ || ec == asio::error::operation_aborted) break;
      continue;
    }
    beast::error_code nd;
    sock.set_option(tcp::no_delay(true), nd);
    asio::co_spawn(ioc_, Session(std::move(sock)), asio::detached);
  }
}

Task<void> DeployServer::Session(Socket socket) {
  beast::error_code ec0;
  auto remote = socket.remote_endpoint(ec0);
  bool loopback = !ec0 && remote.address().is_loopback();
  Stream client(std::move(socket));
  beast::flat_buffer buffer;
  for (;;) {
    http::request_parser<http::string_body> parser;
    parser.body_limit(static_cast<uint64_t>(opt_.max_body_bytes));
    client.expires_after(Secs(opt_.client_idle_timeout_s));
    auto [ec, n] = co_await http::async_read(client, buffer, parser, kTuple);
    if (ec == http::error::body_limit) {
      CountRequest(413, 0);
      co_await Reply(client, 413, "application/json",
                     fmt::format(R"({{"error":"request body larger than {} bytes"}})",
                                 opt_.max_body_bytes) + "\n",
                     false);
      break;
    }
    if (ec == http::error::header_limit) {
      CountRequest(431, 0);
      co_await Reply(client, 431, "application/json", "{\"error\":\"request head too large\"}\n",
                     false);
      break;
    }
    if (ec) break;
    http::request<http::string_body> req = parser.release();
    bool keep = co_await Handle(client, req, loopback);
    if (!keep) break;
  }
  // Lingering close: stop sending, then read what the client still sends (e.g. the rest of a
  // refused body) for a moment, so closing does not reset the connection before it read our
  // last answer.
  beast::error_code ignore;
  client.socket().shutdown(tcp::socket::shutdown_send, ignore);
  client.expires_after(Secs(1));
  std::array<char, 4096> junk;
  for (int i = 0; i < 256; ++i) {
    auto [rec, rn] = co_await client.async_read_some(asio::buffer(junk), kTuple);
    if (rec) break;
  }
}

Task<bool> DeployServer::Reply(Stream& client, int status,
                                    std::string content_type, std::string body, bool keep_alive,
                                    std::vector<std::pair<std::string, std::string>> headers) {
  http::response<http::string_body> res{static_cast<http::status>(status), 11};
  res.set(http::field::server, "inloop-deploy");
  res.set(http::field::content_type, content_type);
  for (auto& [k, v] : headers) res.set(k, v);
  res.body() = std::move(body);
  res.keep_alive(keep_alive);
  res.prepare_payload();
  client.expires_after(Secs(opt_.client_idle_timeout_s));
  auto [ec, n] = co_await http::async_write(client, res, kTuple);
  co_return !ec && keep_alive;
}

void DeployServer::CountRequest(int status, double seconds) {
  requests_by_code_[status] += 1;
  latency_count_ += 1;
  latency_sum_ += seconds;
  for (auto& [le, count] : latency_buckets_) {
    if (seconds <= le) count += 1;
  }
}

Task<bool> DeployServer::Handle(Stream& client,
                                     http::request<http::string_body>& req, bool from_loopback) {
  std::string_view target(req.target().data(), req.target().size());
  if (target == "/metrics" && req.method() == http::verb::get) {
    co_return co_await Reply(client, 200, "text/plain; version=0.0.4", MetricsText(),
                             req.keep_alive());
  }
  if (target.substr(0, 7) == "/admin/") {
    co_return co_await Admin(client, req, from_loopback);
  }
  co_return co_await Proxy(client, req);
}

Replica* DeployServer::PickNow(Pool* pool, const Tried& tried, bool allow_tried) {
  loads_.clear();
  for (auto& r : pool->replicas) {
    bool excluded = !allow_tried &&
                    std::find(tried.begin(), tried.end(), r.get()) != tried.end();
    loads_.push_back({r->outstanding, r->Routable(), excluded});
  }
  int i = PickLeastOutstanding(loads_, &pool->cursor);
  return i >= 0 ? pool->replicas[i].get() : nullptr;
}

Task<Replica*> DeployServer::WaitForReplica(Pool* pool, const Tried& tried) {
  auto start = Clock::now();
  auto deadline = start + Secs(opt_.queue_timeout_s);
  // After a failed attempt prefer another replica; once none has come up for a second, a
  // replica already tried may be tried again (e.g. the same one after its restart).
  auto reuse_after = start + Secs(1.0);
  for (;;) {
    Replica* r = PickNow(pool, tried, Clock::now() >= reuse_after);
    if (r) co_return r;
    if (Clock::now() >= deadline || shutting_down_ || pool->retired) co_return nullptr;
    co_await Sleep(0.01);
  }
}

Task<std::unique_ptr<UpstreamConn>> DeployServer::Acquire(Replica* r) {
  while (!r->idle.empty()) {
    auto c = std::move(r->idle.back());
    r->idle.pop_back();
    if (c->stream.socket().is_open()) co_return c;
  }
  auto c = std::make_unique<UpstreamConn>(co_await asio::this_coro::executor);
  c->stream.expires_after(Secs(std::min(2.0, opt_.upstream_timeout_s)));
  tcp::endpoint ep(asio::ip::address_v4::loopback(), static_cast<unsigned short>(r->port));
  auto [ec] = co_await c->stream.async_connect(ep, kTuple);
  if (ec) co_return nullptr;
  beast::error_code nd;
  c->stream.socket().set_option(tcp::no_delay(true), nd);
  co_return c;
}

void DeployServer::Release(Replica* r, std::unique_ptr<UpstreamConn> conn) {
  if (r->Routable() && r->idle.size() < 64) r->idle.push_back(std::move(conn));
}

// Sends req to a replica of `pool` and relays the answer to `client` as it arrives (client may
// be null: the answer is only captured). A connection that fails before any response byte is
// retried on another replica; a missing response head after upstream_timeout is a 504.
Task<ForwardResult> DeployServer::Forward(Stream* client, bool client_keep_alive,
                                               http::request<http::string_body>& req,
                                               std::shared_ptr<Pool> pool, bool capture) {
  ForwardResult out;
  out.version = pool->version;
  auto t0 = Clock::now();
  pool->in_flight += 1;
  Tried tried;
  std::shared_ptr<Replica> keep_replica;  // keeps the chosen replica alive across awaits
  // The request goes upstream as it came, less hop-by-hop fields, kept alive.
  http::request<http::string_body>& up_req = req;
  for (auto it = up_req.begin(); it != up_req.end();) {
    if (HopByHop(it->name())) {
      it = up_req.erase(it);
    } else {
      ++it;
    }
  }
  up_req.version(11);
  up_req.keep_alive(true);
  up_req.prepare_payload();

  for (int attempt = 0; attempt <= opt_.retries && out.status == 0; ++attempt) {
    // A promotion or rollback retired this pool while the request waited: the version that
    // serves now answers it (shadow copies, client == null, are dropped instead).
    if (pool->retired && client && current_ && current_ != pool && !shutting_down_) {
      pool->in_flight -= 1;
      pool = current_;
      pool->in_flight += 1;
      out.version = pool->version;
      tried.clear();
    }
    Replica* r = PickNow(pool.get(), tried, false);
    if (!r) r = co_await WaitForReplica(pool.get(), tried);
    if (!r && pool->retired && client && current_ != pool && !shutting_down_) {
      --attempt;
      continue;
    }
    if (!r) {
      out.status = 503;
      if (client) {
        bool ok = co_await Reply(*client, 503, "application/json",
                                 "{\"error\":\"no ready replica\"}\n", client_keep_alive);
        out.client_broken = !ok;
      }
      break;
    }
    for (auto& sp : pool->replicas) {
      if (sp.get() == r) keep_replica = sp;
    }
    tried.push_back(r);
    if (attempt > 0) ++retries_;
    r->outstanding += 1;
    struct Done {
      Replica* r;
      ~Done() { r->outstanding -= 1; }
    } done{r};
    std::unique_ptr<UpstreamConn> conn;
    while (!conn && !r->idle.empty()) {  // fast path: a pooled connection, no coroutine
      conn = std::move(r->idle.back());
      r->idle.pop_back();
      if (!conn->stream.socket().is_open()) conn.reset();
    }
    if (!conn) conn = co_await Acquire(r);
    if (!conn) {
      r->suspect = true;  // refused: not routable until its next good health check
      continue;
    }
    conn->stream.expires_after(Secs(opt_.upstream_timeout_s));
    up_req.set(http::field::host, r->host);
    std::string& wire = conn->wire;  // reused per connection
    wire.clear();
    wire.append(up_req.method_string().data(), up_req.method_string().size());
    wire.push_back(' ');
    wire.append(up_req.target().data(), up_req.target().size());
    wire.append(" HTTP/1.1\r\n");
    AppendFieldsAndBody(up_req.base(), up_req.body(), &wire);
    auto [wec, wn] = co_await asio::async_write(conn->stream, asio::buffer(wire), kTuple);
    if (wec) continue;  // nothing was answered: safe to try another replica
    UpstreamParser parser;
    parser.body_limit(boost::none);
    auto [hec, hn] = co_await http::async_read_header(conn->stream, conn->buffer, parser, kTuple);
    if (hec) {
      if (hec == beast::error::timeout) {
        ++upstream_timeouts_;
        out.status = 504;
        if (client) {
          bool ok = co_await Reply(*client, 504, "application/json",
                                   fmt::format(R"({{"error":"no answer from replica {} in {}s"}})",
                                               r->id, opt_.upstream_timeout_s) + "\n",
                                   client_keep_alive);
          out.client_broken = !ok;
        }
        break;
      }
      if (!parser.got_some()) continue;  // closed before any byte (a crash, a stale connection)
      out.status = 502;
      if (client) {
        bool ok = co_await Reply(*client, 502, "application/json",
                                 "{\"error\":\"bad response head from replica\"}\n",
                                 client_keep_alive);
        out.client_broken = !ok;
      }
      break;
    }
    // A response head arrived: from here on the answer belongs to this request.
    auto& msg = parser.get();
    out.status = msg.result_int();
    out.content_type = std::string(msg[http::field::content_type]);
    out.streamed = msg.chunked() ||
                   out.content_type.find("text/event-stream") != std::string::npos;
    for (auto it = msg.begin(); it != msg.end();) {
      if (HopByHop(it->name())) {
        it = msg.erase(it);
      } else {
        ++it;
      }
    }
    msg.keep_alive(client_keep_alive);
    std::array<char, 16384> buf;
    bool upstream_ok = true;
    auto length = parser.content_length();
    if (client && !out.streamed && length && *length <= kWholeBodyLimit) {
      // Small answer: read it whole, then one write of head and body to the client.
      std::string body(static_cast<size_t>(*length), '\0');
      size_t got = 0;
      while (!parser.is_done()) {
        auto n = co_await ReadBodyInto(*conn, parser, body.data() + got, body.size() - got,
                                       opt_.upstream_timeout_s);
        if (!n) {
          upstream_ok = false;
          break;
        }
        got += *n;
      }
      bool upstream_keep = parser.keep_alive();
      if (!upstream_ok) {
        // Cut before its end: a 502 when nothing was sent to the client yet.
        out.status = 502;
        bool ok = co_await Reply(*client, 502, "application/json",
                                 "{\"error\":\"the replica closed in the middle of its answer\"}\n",
                                 client_keep_alive);
        out.client_broken = !ok;
        break;
      }
      if (capture) {
        out.body = body;
        out.body_complete = true;
      }
      std::string wire;
      wire.reserve(256 + body.size());
      std::string_view reason(msg.reason().data(), msg.reason().size());
      if (reason.empty()) reason = std::string_view(http::obsolete_reason(msg.result()).data(),
                                                    http::obsolete_reason(msg.result()).size());
      wire.append(fmt::format("HTTP/1.1 {} ", msg.result_int()));
      wire.append(reason);
      wire.append("\r\n");
      AppendFieldsAndBody(msg.base(), body, &wire);
      client->expires_after(Secs(opt_.client_idle_timeout_s));
      auto [wec2, wn2] = co_await asio::async_write(*client, asio::buffer(wire), kTuple);
      if (wec2 || !client_keep_alive) out.client_broken = true;
      if (upstream_keep) Release(r, std::move(conn));
      break;
    }
    if (client) {
      http::serializer<false, http::buffer_body> sr{msg};
      msg.body().data = nullptr;
      msg.body().size = 0;
      msg.body().more = !parser.is_done();
      client->expires_after(Secs(opt_.client_idle_timeout_s));
      auto [whec, whn] = co_await http::async_write_header(*client, sr, kTuple);
      if (whec) out.client_broken = true;
      while (!out.client_broken && !sr.is_done()) {
        if (!parser.is_done()) {
          auto n = co_await ReadBodyInto(*conn, parser, buf.data(), buf.size(),
                                         opt_.upstream_timeout_s);
          if (!n) {
            upstream_ok = false;
            out.client_broken = true;  // the answer is cut: the client must see it end
            break;
          }
          msg.body().size = *n;
          msg.body().data = buf.data();
          msg.body().more = !parser.is_done();
        } else {
          msg.body().data = nullptr;
          msg.body().size = 0;
          msg.body().more = false;
        }
        // Nothing parsed yet (e.g. only a chunk header arrived): an empty write would send a
        // zero-size chunk, which ends a chunked body.
        if (msg.body().size == 0 && msg.body().more) continue;
        if (capture && out.body.size() + msg.body().size <= kCaptureLimit) {
          out.body.append(buf.data(), msg.body().size);
        } else if (capture) {
          capture = false;
          out.body.clear();
        }
        auto [wbec, wbn] = co_await http::async_write(*client, sr, kTuple);
        if (wbec == http::error::need_buffer) wbec = {};
        if (wbec) out.client_broken = true;
      }
      out.body_complete = capture && parser.is_done() && upstream_ok;
      if (!msg.keep_alive()) out.client_broken = true;
    } else {
      while (!parser.is_done()) {
        auto n = co_await ReadBodyInto(*conn, parser, buf.data(), buf.size(),
                                       opt_.upstream_timeout_s);
        if (!n) {
          upstream_ok = false;
          break;
        }
        if (out.body.size() + *n <= kCaptureLimit) out.body.append(buf.data(), *n);
      }
      out.body_complete = upstream_ok && parser.is_done();
    }
    if (upstream_ok && parser.is_done() && parser.keep_alive()) {
      Release(r, std::move(conn));
    }
  }
  if (out.status == 0) {
    out.status = 502;
    if (client) {
      bool ok = co_await Reply(*client, 502, "application/json",
                               "{\"error\":\"every replica tried failed to answer\"}\n",
                               client_keep_alive);
      out.client_broken = !ok;
    }
  }
  pool->in_flight -= 1;
  out.latency_s = std::chrono::duration<double>(Clock::now() - t0).count();
  co_return out;
}

Task<bool> DeployServer::Proxy(Stream& client,
                                    http::request<http::string_body>& req) {
  auto t0 = Clock::now();
  in_flight_ += 1;
  struct InFlight {
    int64_t* n;
    ~InFlight() { *n -= 1; }
  } in_flight_guard{&in_flight_};
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  bool keep_alive = req.keep_alive();

  std::shared_ptr<Pool> pool = current_;
  if (candidate_ && opt_.canary_percent > 0 && unit(rng_) * 100.0 < opt_.canary_percent) {
    pool = candidate_;
    ++canary_requests_;
  }

  // Cache rule: an explicit header, or a JSON body with "temperature": 0.
  std::string key;
  if (cache_) {
    bool cacheable = false;
    auto h = req.find(opt_.cache_header);
    if (h != req.end()) cacheable = h->value() == "1";
    if (!cacheable && opt_.cache_temperature_zero && req.method() == http::verb::post) {
      auto t = TopLevelNumber(req.body(), "temperature");
      cacheable = t && *t == 0.0;
    }
    if (cacheable) {
      std::string canonical;
      if (!CanonicalJson(req.body(), &canonical).ok()) canonical = req.body();
      key = CacheKey(std::string_view(req.method_string().data(), req.method_string().size()),
                     std::string_view(req.target().data(), req.target().size()), pool->version,
                     canonical);
    }
  }
  CachedAnswer cached;
  bool have_cached = false;
  if (!key.empty()) {
    bool reverify = opt_.cache_reverify_fraction > 0 && unit(rng_) < opt_.cache_reverify_fraction;
    CacheLookup got = cache_->Lookup(key, pool->version, &cached);
    if (got == CacheLookup::kHit && !reverify) {
      std::vector<std::pair<std::string, std::string>> hit_headers;
      hit_headers.emplace_back("X-Inloop-Cache", "hit");
      bool ok = co_await Reply(client, 200, cached.content_type, std::move(cached.body),
                               keep_alive, std::move(hit_headers));
      CountRequest(200, std::chrono::duration<double>(Clock::now() - t0).count());
      co_return ok;
    }
    have_cached = got == CacheLookup::kHit;
  }

  std::shared_ptr<ShadowPair> pair;
  if (candidate_ && pool == current_ && opt_.shadow_fraction > 0 &&
      unit(rng_) < opt_.shadow_fraction) {
    pair = std::make_shared<ShadowPair>();
    pair->id = next_pair_id_++;
    pair->method = std::string(req.method_string());
    pair->path = std::string(req.target());
    pair->request = req.body();
    asio::co_spawn(ioc_, Shadow(req, pair), asio::detached);
  }

  ForwardResult res = co_await Forward(&client, keep_alive, req, pool, !key.empty() || pair);
  CountRequest(res.status, std::chrono::duration<double>(Clock::now() - t0).count());
  if (!key.empty() && res.status == 200 && res.body_complete && !res.streamed &&
      !pool->retired) {
    if (have_cached && cached.body != res.body) cache_->Evict(key, kEvictMismatch);
    cache_->Insert(key, pool->version, CachedAnswer{res.content_type, res.body});
  }
  if (pair) {
    pair->current = std::move(res);
    FinishPair(pair);
    co_return !pair->current.client_broken && keep_alive;
  }
  co_return !res.client_broken && keep_alive;
}

Task<void> DeployServer::Shadow(http::request<http::string_body> req,
                                     std::shared_ptr<ShadowPair> pair) {
  std::shared_ptr<Pool> pool = candidate_;
  if (pool) {
    pair->candidate = co_await Forward(nullptr, true, req, pool, true);
  } else {
    pair->candidate.status = 0;
  }
  FinishPair(pair);
}

void DeployServer::FinishPair(const std::shared_ptr<ShadowPair>& pair) {
  if (--pair->pending > 0) return;
  ++shadow_pairs_;
  if (!pairs_file_.is_open()) return;
  auto side = [](JsonWriter& w, const ForwardResult& r) {
    w.BeginObject().Key("version").String(r.version).Key("status").Int(r.status);
    w.Key("latency_ms").Number(std::round(r.latency_s * 1e6) / 1e3);
    w.Key("body").String(r.body_complete ? r.body : "").EndObject();
  };
  JsonWriter w;
  w.BeginObject().Key("id").String(fmt::format("{}-{}", static_cast<int64_t>(started_),
                                               pair->id));
  w.Key("time").Number(WallNow()).Key("method").String(pair->method);
  w.Key("path").String(pair->path).Key("request").String(pair->request);
  w.Key("current");
  side(w, pair->current);
  w.Key("candidate");
  side(w, pair->candidate);
  w.EndObject();
  pairs_file_ << w.str() << '\n';
  pairs_file_.flush();
}

}  // namespace inloop::gateway::deploy_internal
