// `inloop deploy`: replicas of a model-server command behind an asynchronous HTTP proxy, with
// health checks and restarts, autoscaling, a self-checking response cache, and a candidate version
// in shadow or canary mode that can be promoted or rolled back while traffic flows. This header is
// the whole surface other modules see; Boost.Asio/Beast stay inside deploy_server.cc (pimpl).
// Never builds a command from request content: replicas run the configured argv only.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"
#include "gateway/autoscaler.h"

namespace inloop::gateway {

struct DeployOptions {
  // The server command; "{port}" in any argument becomes the replica's port, and PORT is set.
  std::vector<std::string> command;
  std::string version = "current";          // label of the current version (cache key, pairs)
  std::vector<std::string> candidate_command;  // empty: no candidate
  std::string candidate_version = "candidate";
  int candidate_replicas = 1;
  double shadow_fraction = 0;  // of current requests mirrored to the candidate (answers ignored)
  double canary_percent = 0;   // of requests answered by the candidate

  std::string bind = "127.0.0.1";
  int port = 8080;              // 0: any free port (see port_file)
  std::string port_file;        // written with the bound port once listening
  std::string token;            // required for a non-loopback bind; guards /admin/ then
  std::string state_dir;        // events.jsonl, pairs.jsonl, replicas/*.log

  std::string health_path = "/health";
  double health_interval_s = 1;
  double health_timeout_s = 2;
  int health_failures = 3;      // consecutive failed checks before a restart
  double startup_timeout_s = 60;  // a replica not ready by then is restarted; none ready: exit
  double restart_backoff_s = 0.2;  // doubled per consecutive failure, up to the max
  double restart_backoff_max_s = 10;
  double drain_timeout_s = 30;  // wait this long for in-flight requests of a draining replica
  double kill_grace_s = 5;      // SIGTERM to SIGKILL

  int64_t max_body_bytes = 1 << 20;  // larger requests get 413
  double upstream_timeout_s = 60;    // no response head (or no body byte) for this long: 504
  double client_idle_timeout_s = 60;
  double queue_timeout_s = 30;       // wait for a ready replica before 503
  int retries = 2;                   // other replicas tried when a connection fails unanswered

  AutoscaleConfig autoscale;
  double autoscale_tick_s = 0.1;

  int64_t cache_bytes = 64 << 20;    // 0: no cache
  bool cache_temperature_zero = true;  // cache JSON bodies with "temperature": 0
  std::string cache_header = "X-Inloop-Cache";  // a request with this header = "1" is cached
  double cache_reverify_fraction = 0;  // hits re-checked against a live answer

  bool test_hooks = false;  // enables POST /admin/test/corrupt-cache (tests only)
  bool print_events = false;  // one line per event on stderr
};

// Exit codes of a deploy (cli/exit_codes.h keeps the same numbers).
inline constexpr int kDeployExitNoReplica = 40;  // no replica became ready at start
inline constexpr int kDeployExitBind = 43;       // the proxy port could not be bound

// Runs until SIGINT/SIGTERM, then drains every replica and returns 0; or returns an exit code
// above with *error set to one line saying what failed.
int RunDeploy(const DeployOptions& options, std::string* error);

}  // namespace inloop::gateway
