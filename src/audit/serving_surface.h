// ServingSurface: what a model server's Python source exposes and depends on, read from the text
// (nothing is imported or run): the modules it imports (third-party ones are its dependencies;
// the standard library and relative imports are told apart), the HTTP endpoints it declares
// (Flask/FastAPI/Starlette/aiohttp route declarations, http.server do_METHOD handlers with the
// paths they compare `self.path` to), and binds beyond loopback ("0.0.0.0", "::"). `inloop deploy`
// prints it before starting replicas; `inloop audit --surface` lists it.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace inloop::audit {

struct Endpoint {
  std::string method;  // "GET", "POST", ...; "*" when the declaration does not say
  std::string path;    // "/v1/completions"; "" when a handler compares no literal path
  int line = 0;
};

struct ServingSurface {
  std::string file;
  std::vector<std::string> dependencies;  // third-party top-level modules, sorted, unique
  std::vector<std::string> stdlib;        // standard-library modules, sorted, unique
  std::vector<Endpoint> endpoints;        // in source order
  std::vector<int> public_binds;          // lines binding 0.0.0.0 / :: (reachable off this host)
};

// The surface of one Python source text (`file` is only recorded).
ServingSurface ReadServingSurface(const std::string& file, std::string_view source);

// The surfaces of the Python files (".py", at most 4 MiB) among `files`, in order; others and
// unreadable ones are left out.
std::vector<ServingSurface> SurfacesOf(const std::vector<std::string>& files);

// Whether `module` (a top-level name) is in CPython 3's standard library.
bool IsStdlibModule(std::string_view module);

std::string ServingSurfaceJson(const ServingSurface& s);
// "deps: numpy, torch; endpoints: GET /health, POST /v1/completions; binds 0.0.0.0 (line 9)"
std::string ServingSurfaceText(const ServingSurface& s);

}  // namespace inloop::audit
