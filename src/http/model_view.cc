// The model registry over HTTP (model_view.h).
#include "http/model_view.h"

#include <fmt/format.h>

#include "common/json_writer.h"
#include "registry/registry.h"
#include "registry/registry_json.h"

namespace inloop::http {

HttpResponse ListModels(store::Store* st) {
  std::vector<store::ModelVersionRecord> all;
  Status s = st->ListModelVersions("", &all);
  if (!s.ok()) return ErrorFor(s);
  JsonWriter w;
  w.BeginObject().Key("models").BeginArray();
  for (size_t i = 0; i < all.size();) {
    size_t j = i;
    const store::ModelVersionRecord* champion = nullptr;
    for (; j < all.size() && all[j].name == all[i].name; ++j) {
      if (all[j].stage == store::kStageChampion) champion = &all[j];
    }
    w.BeginObject().Key("name").String(all[i].name).Key("champion");
    if (champion) {
      w.Int(champion->version);
    } else {
      w.Null();
    }
    w.Key("versions").Int(static_cast<int64_t>(j - i)).Key("latest").Int(all[j - 1].version);
    w.EndObject();
    i = j;
  }
  w.EndArray().EndObject();
  return JsonResponse(w.Take());
}

HttpResponse GetModel(store::Store* st, const std::string& name) {
  if (!registry::CheckModelName(name).ok()) {
    return JsonError(404, fmt::format("no model named {}", name.substr(0, 64)));
  }
  std::vector<store::ModelVersionRecord> versions;
  std::vector<store::ModelStageChange> changes;
  Status s = st->ListModelVersions(name, &versions);
  if (s.ok()) s = st->ListModelStageChanges(name, &changes);
  if (!s.ok()) return ErrorFor(s);
  if (versions.empty()) return JsonError(404, fmt::format("no model named {}", name));
  JsonWriter w;
  registry::WriteModelJson(name, versions, changes, &w);
  return JsonResponse(w.Take());
}

}  // namespace inloop::http
