// GET /api/v1/models and /api/v1/models/{name}: the model registry (registry/registry.h), read
// only (read scope). Shapes: registry/registry_json.h, docs/http_api.md.
#pragma once

#include <string>

#include "http/router.h"
#include "store/store.h"

namespace inloop::http {

// {"models": [{"name","champion":N|null,"versions":N,"latest":N}, ...]} by name.
HttpResponse ListModels(store::Store* st);
// registry::WriteModelJson of the name: its versions and stage changes; 404 when unknown.
HttpResponse GetModel(store::Store* st, const std::string& name);

}  // namespace inloop::http
