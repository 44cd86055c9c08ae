// Store::Open: picks the backend by the location's form (store.h).
#include "store/pg_store.h"
#include "store/sqlite_store.h"

namespace inloop::store {

Store::~Store() = default;

bool Store::IsPostgresUrl(std::string_view location) {
  return location.starts_with("postgresql://") || location.starts_with("postgres://");
}

Status Store::Open(const std::string& location, bool create, std::unique_ptr<Store>* out) {
  if (IsPostgresUrl(location)) return PgStore::Open(location, create, out);
  return SqliteStore::Open(location, create, out);
}

}  // namespace inloop::store
