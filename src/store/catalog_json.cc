#include "store/catalog_json.h"

namespace inloop::store {

void WriteSeriesStatsJson(const SeriesStats& s, JsonWriter* w) {
  w->BeginObject().Key("key").String(s.key).Key("points").Int(s.points);
  w->Key("first_step").Int(s.first_step).Key("last_step").Int(s.last_step);
  w->Key("last").Number(s.last.value);
  if (s.has_finite) {
    w->Key("min").Number(s.min).Key("max").Number(s.max);
  } else {
    w->Key("min").Null().Key("max").Null();
  }
  w->Key("nonfinite").Int(s.nonfinite).Key("segments").Int(s.segments).EndObject();
}

}  // namespace inloop::store
