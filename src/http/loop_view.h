// The dashboard's view of research loops (issue 8): every round `inloop loop` finished, read from
// the `loop_round` events it records in the store (loop/loop_runner.cc), so the server needs no
// access to the loop's repository. Read only; no sockets.
#pragma once

#include <string>

#include "http/router.h"
#include "store/store.h"

namespace inloop::http {

// GET /api/v1/loops: {"loops": [{"name","metric_key","goal","branch","rounds","kept",
// "discarded","failed","rejected","baseline","champion":{round,metric,commit,run_id},"throughput":
// {experiments_per_hour, kept_per_hour, cpu_hours_per_kept, ... (loop/throughput.h)},"last_at"}]}.
HttpResponse ListLoops(store::Store* st);

// GET /api/v1/loops/{name}: {"name","metric_key","goal","branch","rounds":[round records as
// docs/loop.md writes them, plus "time"],"lineage":[round numbers of the champions, baseline
// first]}. 404 when no round of that loop is recorded.
HttpResponse LoopRounds(store::Store* st, const std::string& name);

// The loops' pace and cost (loop/throughput.h) as Prometheus gauges for /metrics, labelled
// loop="NAME": experiments and kept improvements per hour, CPU-/GPU-hours (per kept one).
// Empty when the store has no loop.
std::string LoopMetricsText(store::Store* st);

}  // namespace inloop::http
