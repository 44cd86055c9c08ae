// JSON of catalog records as the HTTP API and the stream show them (docs/http_api.md): events and
// actions, written the same way by the REST answers and the server-sent events. No I/O.
#pragma once

#include <string>

#include "common/json_writer.h"
#include "store/catalog.h"

namespace inloop::http {

// {"id","run_id","time","kind","severity","step","step_lo","step_hi","attempt","message","data"}.
// attempt comes from the evidence's "attempt" when it has one; data is {} when the stored text is
// not JSON.
void WriteEventJson(JsonWriter& w, const store::EventRecord& e);

// {"id","run_id","run_name","kind","action","trigger","step","state","reason","created_at",
//  "decided_by","decided_at","note","data"}.
void WriteActionJson(JsonWriter& w, const store::ActionRecord& a, const std::string& run_name);

// A stored JSON text as a value, or as a string when it does not parse (the answer stays valid
// JSON whatever the catalog holds); `fallback` when empty.
void WriteStoredJson(JsonWriter& w, const std::string& json, const char* fallback);

}  // namespace inloop::http
