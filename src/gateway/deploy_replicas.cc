// The deploy server's replicas (deploy_server.h): processes started through common/subprocess
// in their own process group, readiness and health checks, restarts with backoff, draining, and
// the autoscaler tick.
#include "gateway/deploy_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include <fmt/format.h>

#include "common/json_writer.h"
#include "common/subprocess.h"

namespace inloop::gateway::deploy_internal {
namespace {

int FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  int port = -1;
  socklen_t len = sizeof a;
  if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0) {
    port = ntohs(a.sin_port);
  }
  close(fd);
  return port;
}

// Starts argv (with "{port}" replaced) in its own process group (killed if inloop dies), stdout and stderr appended to
// log_path, stdin from /dev/null, PORT in the environment.
Status SpawnReplica(const std::vector<std::string>& command, int port, const std::string& log_path,
                    pid_t* pid) {
  std::vector<std::string> args;
  for (const auto& a : command) {
    std::string s = a;
    for (size_t p = s.find("{port}"); p != std::string::npos; p = s.find("{port}", p)) {
      s.replace(p, 6, std::to_string(port));
    }
    args.push_back(std::move(s));
  }
  // Through common/subprocess: the replica leads its own process group and is killed when
  // inloop dies (PR_SET_PDEATHSIG), so a deploy killed with SIGKILL leaves no server behind.
  int log_fd = open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log_fd < 0) {
    return Status::Io(fmt::format("cannot open the replica log {}: {}", log_path, strerror(errno)));
  }
  SubprocessSpec spec;
  spec.argv = std::move(args);
  spec.env.emplace_back("PORT", std::to_string(port));
  spec.stdin_plan = StdioPlan::DevNull();
  spec.stdout_plan = StdioPlan::Fd(log_fd);
  spec.stderr_plan = StdioPlan::Fd(log_fd);
  spec.new_process_group = true;
  spec.die_with_parent = true;
  Status st = StartSubprocess(spec, pid);
  close(log_fd);
  if (!st.ok()) return Status::NotFound(fmt::format("cannot start replica: {}", st.message()));
  return Status::OK();
}

std::string ExitText(int wstatus) {
  if (WIFEXITED(wstatus)) return fmt::format("exit {}", WEXITSTATUS(wstatus));
  if (WIFSIGNALED(wstatus)) return fmt::format("signal {}", WTERMSIG(wstatus));
  return "ended";
}

}  // namespace


Task<void> DeployServer::Sleep(double s) {
  Timer t(co_await asio::this_coro::executor);
  t.expires_after(Secs(s));
  co_await t.async_wait(kTuple);
}

std::shared_ptr<Replica> DeployServer::AddReplica(const std::shared_ptr<Pool>& pool) {
  auto r = std::make_shared<Replica>();
  r->id = next_replica_id_++;
  r->pool = pool.get();
  r->log_path = fmt::format("{}/replicas/{}-{}.log", opt_.state_dir, pool->role, r->id);
  pool->replicas.push_back(r);
  ++live_replica_loops_;
  asio::co_spawn(ioc_, ReplicaLoop(pool, r), asio::detached);
  return r;
}

bool DeployServer::Reap(Replica* r, int* wstatus) {
  if (r->pid <= 0) return true;
  pid_t got = waitpid(r->pid, wstatus, WNOHANG);
  if (got == r->pid || (got < 0 && errno == ECHILD)) {
    r->pid = -1;
    return true;
  }
  return false;
}

Task<bool> DeployServer::HealthCheck(int port) {
  auto ex = co_await asio::this_coro::executor;
  Stream s(ex);
  s.expires_after(Secs(opt_.health_timeout_s));
  tcp::endpoint ep(asio::ip::address_v4::loopback(), static_cast<unsigned short>(port));
  auto [ec] = co_await s.async_connect(ep, kTuple);
  if (ec) co_return false;
  http::request<http::empty_body> req{http::verb::get, opt_.health_path, 11};
  req.set(http::field::host, fmt::format("127.0.0.1:{}", port));
  req.keep_alive(false);
  auto [wec, wn] = co_await http::async_write(s, req, kTuple);
  if (wec) co_return false;
  beast::flat_buffer buf;
  http::response<http::string_body> res;
  auto [rec, rn] = co_await http::async_read(s, buf, res, kTuple);
  beast::error_code ignore;
  s.socket().shutdown(tcp::socket::shutdown_both, ignore);
  co_return !rec && res.result_int() == 200;
}


Task<void> DeployServer::ReplicaLoop(std::shared_ptr<Pool> pool, std::shared_ptr<Replica> r) {
  std::error_code dir_error;
  std::filesystem::create_directories(opt_.state_dir + "/replicas", dir_error);
  while (!r->retire) {
    // Start.
    r->port = FreePort();
    r->host = fmt::format("127.0.0.1:{}", r->port);
    r->state = ReplicaState::kStarting;
    r->suspect = false;
    Status s = r->port > 0 ? SpawnReplica(pool->command, r->port, r->log_path, &r->pid)
                           : Status::Io("no free port on 127.0.0.1");
    std::string failure;
    double started = std::chrono::duration<double>(Clock::now().time_since_epoch()).count();
    auto elapsed = [&] {
      return std::chrono::duration<double>(Clock::now().time_since_epoch()).count() - started;
    };
    if (!s.ok()) {
      failure = s.message();
    } else {
      // Readiness: poll the health path until it answers 200.
      int wstatus = 0;
      bool ready = false;
      while (!r->retire) {
        if (Reap(r.get(), &wstatus)) {
          failure = fmt::format("exited before ready ({})", ExitText(wstatus));
          break;
        }
        if (co_await HealthCheck(r->port)) {
          ready = true;
          break;
        }
        if (elapsed() > opt_.startup_timeout_s) {
          failure = fmt::format("not ready after {}s", opt_.startup_timeout_s);
          break;
        }
        co_await Sleep(0.05);
      }
      if (ready && !r->retire) {
        r->state = ReplicaState::kReady;
        r->consecutive_failures = 0;
        AddEvent("replica_ready",
                 fmt::format("{} replica {} ready on port {} (pid {}) after {:.2f}s", pool->role,
                             r->id, r->port, r->pid, elapsed()),
                 fmt::format(R"({{"replica":{},"pool":"{}","port":{},"pid":{},"seconds":{:.3f}}})",
                             r->id, pool->role, r->port, r->pid, elapsed()));
        // Serve: watch the process and its health.
        double next_check = elapsed() + opt_.health_interval_s;
        int failed_checks = 0;
        while (!r->retire) {
          if (Reap(r.get(), &wstatus)) {
            failure = fmt::format("exited ({})", ExitText(wstatus));
            break;
          }
          if (elapsed() >= next_check) {
            bool ok = co_await HealthCheck(r->port);
            next_check = elapsed() + opt_.health_interval_s;
            if (ok) {
              failed_checks = 0;
              r->suspect = false;
            } else if (++failed_checks >= opt_.health_failures) {
              failure = fmt::format("failed {} health checks in a row", failed_checks);
              break;
            }
          }
          co_await Sleep(0.05);
        }
      }
    }
    if (r->retire) break;
    // Failed or died: kill what is left, back off, start again.
    r->state = ReplicaState::kBackoff;
    r->idle.clear();
    if (r->pid > 0) {
      kill(-r->pid, SIGKILL);
      int ws;
      waitpid(r->pid, &ws, 0);
      r->pid = -1;
    }
    double backoff = std::min(opt_.restart_backoff_max_s,
                              opt_.restart_backoff_s * std::pow(2.0, r->consecutive_failures));
    r->consecutive_failures += 1;
    r->restarts += 1;
    ++replica_restarts_;
    AddEvent("replica_restart",
             fmt::format("{} replica {} {}; restart {} in {:.2f}s (log {})", pool->role, r->id,
                         failure, r->restarts, backoff, r->log_path),
             fmt::format(R"({{"replica":{},"pool":"{}","restarts":{},"backoff_s":{:.3f}}})", r->id,
                         pool->role, r->restarts, backoff));
    co_await Sleep(backoff);
  }
  // Drain: no new requests are routed here (retire), in-flight ones finish, then stop.
  r->state = ReplicaState::kDraining;
  double drain_start = std::chrono::duration<double>(Clock::now().time_since_epoch()).count();
  auto since = [&] {
    return std::chrono::duration<double>(Clock::now().time_since_epoch()).count() - drain_start;
  };
  int wstatus = 0;
  while (r->outstanding > 0 && since() < opt_.drain_timeout_s && !Reap(r.get(), &wstatus)) {
    co_await Sleep(0.02);
  }
  int left = r->outstanding;
  r->idle.clear();
  if (r->pid > 0) {
    kill(-r->pid, SIGTERM);
    double term_at = since();
    while (!Reap(r.get(), &wstatus) && since() - term_at < opt_.kill_grace_s) {
      co_await Sleep(0.02);
    }
    if (r->pid > 0) {
      kill(-r->pid, SIGKILL);
      waitpid(r->pid, &wstatus, 0);
      r->pid = -1;
    }
  }
  r->state = ReplicaState::kStopped;
  AddEvent("replica_stopped",
           fmt::format("{} replica {} drained in {:.2f}s and stopped{}", pool->role, r->id,
                       since(), left ? fmt::format(" ({} requests still in flight)", left) : ""),
           fmt::format(R"({{"replica":{},"pool":"{}","drain_s":{:.3f},"in_flight_left":{}}})",
                       r->id, pool->role, since(), left));
  auto& v = pool->replicas;
  v.erase(std::remove(v.begin(), v.end(), r), v.end());
  --live_replica_loops_;
}

void DeployServer::Retire(Replica* r, const std::string& why) {
  if (r->retire) return;
  r->retire = true;
  AddEvent("replica_drain",
           fmt::format("{} replica {} draining ({}), {} in flight", r->pool->role, r->id, why,
                       r->outstanding),
           fmt::format(R"({{"replica":{},"pool":"{}","in_flight":{}}})", r->id, r->pool->role,
                       r->outstanding));
}

void DeployServer::RetirePool(const std::shared_ptr<Pool>& pool, const std::string& why) {
  pool->retired = true;
  for (auto& r : pool->replicas) Retire(r.get(), why);
  retired_pools_.push_back(pool);
}

Task<void> DeployServer::AutoscaleLoop() {
  double t0 = std::chrono::duration<double>(Clock::now().time_since_epoch()).count();
  while (!shutting_down_) {
    co_await Sleep(opt_.autoscale_tick_s);
    if (shutting_down_) break;
    double now = std::chrono::duration<double>(Clock::now().time_since_epoch()).count() - t0;
    std::shared_ptr<Pool> pool = current_;
    if (!pool->autoscaler) continue;
    pool->autoscaler->Observe(now, pool->in_flight);
    ScaleDecision d;
    int active = pool->Active();
    if (!pool->autoscaler->Decide(now, active, &d)) continue;
    const char* dir = d.to > d.from ? "up" : "down";
    scale_events_[d.panic ? std::string("panic_") + dir : std::string(dir)] += 1;
    JsonWriter w;
    w.BeginObject().Key("pool").String(pool->role).Key("from").Int(d.from).Key("to").Int(d.to);
    w.Key("panic").Bool(d.panic).Key("stable_avg").Number(d.stable_avg);
    w.Key("panic_avg").Number(d.panic_avg).Key("stable_want").Int(d.stable_want);
    w.Key("panic_want").Int(d.panic_want).Key("capacity").Number(d.capacity);
    w.Key("target_in_flight").Number(opt_.autoscale.target_in_flight);
    w.Key("stable_window_s").Number(opt_.autoscale.stable_window_s);
    w.Key("panic_window_s").Number(opt_.autoscale.panic_window_s).EndObject();
    AddEvent(d.to > d.from ? "scale_up" : "scale_down",
             fmt::format("{} -> {} replicas: {}", d.from, d.to, d.reason), w.Take());
    if (d.to > active) {
      for (int i = active; i < d.to; ++i) AddReplica(pool);
    } else {
      // One step down: the replica that is least useful now (not ready first, then idlest).
      Replica* pick = nullptr;
      for (auto& r : pool->replicas) {
        if (r->retire) continue;
        auto rank = [](Replica* x) { return x->Routable() ? 1 : 0; };
        if (!pick || rank(r.get()) < rank(pick) ||
            (rank(r.get()) == rank(pick) && r->outstanding <= pick->outstanding)) {
          pick = r.get();
        }
      }
      for (int i = active; i > d.to && pick; --i) Retire(pick, "scale down");
    }
  }
}

}  // namespace inloop::gateway::deploy_internal
