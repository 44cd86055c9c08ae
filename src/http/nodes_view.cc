// The lemon-node ledger over HTTP (nodes_view.h).
#include "http/nodes_view.h"

#include "slurm/node_ledger.h"

namespace inloop::http {

HttpResponse ListNodes(store::Store* st) {
  std::vector<store::EventRecord> events;
  Status s = st->ListEventsOfKind(slurm::event_kind::kNodeFault, &events);
  if (!s.ok()) return ErrorFor(s);
  return JsonResponse("{\"nodes\":" + slurm::LedgerJson(slurm::CountNodeFaults(events)) + "}");
}

}  // namespace inloop::http
