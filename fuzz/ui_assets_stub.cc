// The fuzz build does not bundle the dashboard: router.cc's ServeAsset sees an empty table.
#include "http/ui_assets.h"

namespace inloop::http {
const std::vector<UiAsset>& UiAssets() {
  static const std::vector<UiAsset> none;
  return none;
}
}  // namespace inloop::http
