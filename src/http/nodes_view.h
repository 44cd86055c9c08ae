// GET /api/v1/nodes: the lemon-node ledger (slurm/node_ledger.h), Slurm nodes with the hardware
// faults runs saw on them, counted from node_fault events across every run. Read only.
#pragma once

#include "http/router.h"
#include "store/store.h"

namespace inloop::http {

// {"nodes": [{"node","faults","runs","last_time","classes":{class: count}}, ...]}, most faults
// first.
HttpResponse ListNodes(store::Store* st);

}  // namespace inloop::http
