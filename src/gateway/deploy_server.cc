// The deploy server (deploy_server.h): start-up (listen, the first replicas, the start-up
// watchdog), the event log, shutdown, and RunDeploy. Never runs anything taken from a request;
// replicas get the configured argv with only "{port}" substituted.
#include "gateway/deploy_server.h"

#include <filesystem>

#include <fmt/format.h>

#include "common/file_io.h"
#include "common/json_writer.h"

namespace inloop::gateway {
namespace deploy_internal {

void DeployServer::AddEvent(std::string kind, std::string message, std::string data_json) {
  Event e{WallNow(), std::move(kind), std::move(message),
          data_json.empty() ? "{}" : std::move(data_json)};
  if (events_file_.is_open()) {
    JsonWriter w;
    w.BeginObject().Key("time").Number(e.time).Key("kind").String(e.kind);
    w.Key("message").String(e.message).Key("data").Raw(e.data_json).EndObject();
    events_file_ << w.str() << '\n';
    events_file_.flush();
  }
  if (opt_.print_events) fmt::print(stderr, "deploy: {:<16} {}\n", e.kind, e.message);
  recent_events_.push_back(std::move(e));
  while (recent_events_.size() > 200) recent_events_.pop_front();
}

void DeployServer::Shutdown() {
  if (shutting_down_) return;
  shutting_down_ = true;
  AddEvent("deploy_stop", "stopping: draining every replica", "");
  beast::error_code ignore;
  acceptor_.close(ignore);
  RetirePool(current_, "shutdown");
  if (candidate_) RetirePool(candidate_, "shutdown");
  asio::co_spawn(
      ioc_,
      [this]() -> Task<void> {
        while (live_replica_loops_ > 0) co_await Sleep(0.02);
        ioc_.stop();
      },
      asio::detached);
}

int DeployServer::Run(std::string* error) {
  started_ = WallNow();
  std::error_code fec;
  std::filesystem::create_directories(opt_.state_dir + "/replicas", fec);
  if (fec) {
    *error = fmt::format("cannot create {}: {}", opt_.state_dir, fec.message());
    return kDeployExitBind;
  }
  events_file_.open(opt_.state_dir + "/events.jsonl", std::ios::app);
  pairs_file_.open(opt_.state_dir + "/pairs.jsonl", std::ios::app);

  beast::error_code ec;
  auto addr = asio::ip::make_address(opt_.bind, ec);
  if (ec) {
    *error = fmt::format("--bind {}: not an IP address", opt_.bind);
    return kDeployExitBind;
  }
  tcp::endpoint ep(addr, static_cast<unsigned short>(opt_.port));
  acceptor_.open(ep.protocol(), ec);
  if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor_.bind(ep, ec);
  if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    *error = fmt::format("cannot listen on {}:{}: {} (pick another --port)", opt_.bind, opt_.port,
                         ec.message());
    return kDeployExitBind;
  }
  int port = acceptor_.local_endpoint(ec).port();
  port_ = port;
  if (!opt_.port_file.empty()) {
    Status s = WriteFileAtomically(opt_.port_file, std::to_string(port) + "\n");
    if (!s.ok()) {
      *error = s.message();
      return kDeployExitBind;
    }
  }

  current_ = std::make_shared<Pool>();
  current_->role = "current";
  current_->version = opt_.version;
  current_->command = opt_.command;
  current_->autoscaler = std::make_unique<Autoscaler>(opt_.autoscale);
  AddEvent("deploy_start",
           fmt::format("listening on {}:{}; {} replicas of {} (min {}, max {})", opt_.bind, port,
                       opt_.autoscale.min_replicas, opt_.version, opt_.autoscale.min_replicas,
                       opt_.autoscale.max_replicas),
           fmt::format(R"({{"port":{},"min":{},"max":{}}})", port, opt_.autoscale.min_replicas,
                       opt_.autoscale.max_replicas));
  for (int i = 0; i < opt_.autoscale.min_replicas; ++i) AddReplica(current_);
  if (!opt_.candidate_command.empty()) {
    candidate_ = std::make_shared<Pool>();
    candidate_->role = "candidate";
    candidate_->version = opt_.candidate_version;
    candidate_->command = opt_.candidate_command;
    for (int i = 0; i < std::max(1, opt_.candidate_replicas); ++i) AddReplica(candidate_);
  }
  fmt::print(stderr, "inloop deploy: listening on http://{}:{} (metrics /metrics, admin "
             "/admin/status); state in {}\n", opt_.bind, port, opt_.state_dir);

  int exit_code = 0;
  signals_.async_wait([this](const beast::error_code& e, int) {
    if (!e) Shutdown();
  });
  asio::co_spawn(ioc_, AcceptLoop(), asio::detached);
  asio::co_spawn(ioc_, AutoscaleLoop(), asio::detached);
  // Start-up watchdog: no ready replica of the current version in time ends the deploy.
  asio::co_spawn(
      ioc_,
      [this, &exit_code, error]() -> Task<void> {
        auto deadline = Clock::now() + Secs(opt_.startup_timeout_s);
        while (Clock::now() < deadline && current_->Ready() == 0 && !shutting_down_) {
          co_await Sleep(0.05);
        }
        if (current_->Ready() == 0 && !shutting_down_) {
          exit_code = kDeployExitNoReplica;
          *error = fmt::format("no replica of `{}` became ready within {}s (GET {} on its "
                               "port); see {}/replicas/*.log",
                               opt_.command.empty() ? "" : opt_.command[0],
                               opt_.startup_timeout_s, opt_.health_path, opt_.state_dir);
          Shutdown();
        }
      },
      asio::detached);
  ioc_.run();
  return exit_code;
}

}  // namespace deploy_internal

int RunDeploy(const DeployOptions& options, std::string* error) {
  // Writes to a client that went away must be errors, not a signal that ends the deploy.
  signal(SIGPIPE, SIG_IGN);
  deploy_internal::DeployServer server(options);
  return server.Run(error);
}

}  // namespace inloop::gateway
