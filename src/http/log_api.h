// GET /api/v1/runs/{id}/logs: an attempt's stdout or stderr, read through the store
// (Store::ReadAttemptLog: compressed frames or the raw logs of older stores). Read only.
#pragma once

#include <string>

#include "http/router.h"
#include "store/store.h"

namespace inloop::http {

// Query: attempt=N (default the last), stream=stdout|stderr (default stdout), and either
// tail=N (the last N lines) or from=L (1-based, default 1) with count=N (default 1000); at most
// kMaxLogLines lines per request. Answer: {"run","attempt","stream","first_line" (1-based),
// "total_lines","compressed","lines":[...]}. 400 names a bad parameter, 404 a missing run,
// attempt or log.
inline constexpr int64_t kMaxLogLines = 10000;
HttpResponse RunLogs(store::Store* st, const std::string& ref, const HttpRequest& r);

}  // namespace inloop::http
