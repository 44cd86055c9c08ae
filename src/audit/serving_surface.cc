// Reading a model server's surface from its source (see serving_surface.h). Line-based and
// conservative: comments and the insides of string literals other than the ones a pattern reads
// are ignored; what cannot be read literally (a route from a variable) is left out rather than
// guessed.
#include "audit/serving_surface.h"

#include <sys/stat.h>

#include <algorithm>
#include <array>
#include <fstream>
#include <iterator>
#include <regex>
#include <set>

#include <fmt/format.h>

#include "common/json_writer.h"
#include "common/text_trim.h"

namespace inloop::audit {
namespace {

// CPython 3.11's sys.stdlib_module_names, the top-level names a server is likely to import.
constexpr std::array<std::string_view, 120> kStdlib = {
    "__future__", "abc", "argparse", "array", "ast", "asyncio", "atexit", "base64", "binascii",
    "bisect", "builtins", "bz2", "calendar", "cgi", "cmath", "codecs", "collections",
    "concurrent", "configparser", "contextlib", "contextvars", "copy", "csv", "ctypes",
    "dataclasses", "datetime", "dbm", "decimal", "difflib", "dis", "email", "enum", "errno",
    "faulthandler", "fcntl", "filecmp", "fnmatch", "fractions", "functools", "gc", "getopt",
    "getpass", "gettext", "glob", "graphlib", "gzip", "hashlib", "heapq", "hmac", "html", "http",
    "imaplib", "importlib", "inspect", "io", "ipaddress", "itertools", "json", "keyword",
    "linecache", "locale", "logging", "lzma", "marshal", "math", "mimetypes", "mmap",
    "multiprocessing", "numbers", "operator", "os", "pathlib", "pickle", "platform", "pprint",
    "queue", "random", "re", "resource", "sched", "secrets", "select", "selectors", "shelve",
    "shlex", "shutil", "signal", "socket", "socketserver", "sqlite3", "ssl", "stat",
    "statistics", "string", "struct", "subprocess", "sys", "sysconfig", "tarfile", "tempfile",
    "textwrap", "threading", "time", "timeit", "token", "tokenize", "traceback", "types",
    "typing", "unicodedata", "unittest", "urllib", "uuid", "warnings", "weakref", "wsgiref",
    "xml", "zipfile", "zlib", "zoneinfo"};

std::string_view Trim(std::string_view s) { return TrimAsciiSpace(s); }

std::string Upper(std::string s) {
  for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

// Top-level module names of an import statement ("import a.b as c, d" / "from a.b import c").
void ImportsOf(std::string_view line, std::vector<std::string>* out) {
  auto first_name = [](std::string_view s) {
    s = Trim(s);
    size_t end = 0;
    while (end < s.size() && (std::isalnum(static_cast<unsigned char>(s[end])) || s[end] == '_')) ++end;
    return std::string(s.substr(0, end));
  };
  if (line.rfind("from ", 0) == 0) {
    std::string_view rest = Trim(line.substr(5));
    if (!rest.empty() && rest.front() == '.') return;  // relative: the server's own package
    if (std::string m = first_name(rest); !m.empty()) out->push_back(m);
    return;
  }
  if (line.rfind("import ", 0) != 0) return;
  std::string_view rest = line.substr(7);
  size_t hash = rest.find('#');
  if (hash != std::string_view::npos) rest = rest.substr(0, hash);
  while (!rest.empty()) {
    size_t comma = rest.find(',');
    if (std::string m = first_name(rest.substr(0, comma)); !m.empty()) out->push_back(m);
    if (comma == std::string_view::npos) break;
    rest.remove_prefix(comma + 1);
  }
}

}  // namespace

bool IsStdlibModule(std::string_view module) {
  return std::find(kStdlib.begin(), kStdlib.end(), module) != kStdlib.end();
}

ServingSurface ReadServingSurface(const std::string& file, std::string_view source) {
  ServingSurface s;
  s.file = file;
  // @app.get("/x"), @router.post('/x'), @app.route("/x", methods=["GET", "POST"]), app.add_url_rule
  static const std::regex kDecorator(
      R"(^@\w+(?:\.\w+)*\.(get|post|put|patch|delete|head|options|websocket|route|api_route)\(\s*['"]([^'"]*)['"](.*)$)");
  static const std::regex kMethods(R"(methods\s*=\s*[\[\(]([^\]\)]*)[\]\)])");
  static const std::regex kQuoted(R"(['"]([A-Za-z]+)['"])");
  // aiohttp web.get("/x", h) / Starlette Route("/x", endpoint, methods=[...]) / add_url_rule
  static const std::regex kCall(
      R"(\b(?:web\.(get|post|put|patch|delete|head|route)|Route|add_url_rule|add_route)\(\s*(?:['"]([A-Z]+)['"]\s*,\s*)?['"](/[^'"]*)['"](.*)$)");
  static const std::regex kHandler(R"(^def\s+do_([A-Z]+)\s*\()");
  static const std::regex kPathCompare(
      R"(self\.path\s*(?:==|!=|\.startswith\()\s*['"](/[^'"]*)['"]|urlparse\(self\.path\)\.path\s*(?:==|!=)\s*['"](/[^'"]*)['"])");
  static const std::regex kPublic(R"(['"](0\.0\.0\.0|::)['"])");

  std::set<std::string> deps, stdlib;
  std::string handler;  // the do_METHOD we are inside, while its body lasts
  size_t handler_indent = 0;
  bool handler_has_path = false;
  int handler_line = 0;
  int line_no = 0;
  size_t pos = 0;
  auto close_handler = [&] {
    if (!handler.empty() && !handler_has_path) s.endpoints.push_back({handler, "", handler_line});
    handler.clear();
  };
  while (pos <= source.size()) {
    size_t nl = source.find('\n', pos);
    std::string_view raw = source.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos);
    pos = nl == std::string_view::npos ? source.size() + 1 : nl + 1;
    ++line_no;
    std::string_view line = Trim(raw);
    if (line.empty() || line.front() == '#') continue;
    size_t indent = raw.find_first_not_of(" \t");
    if (!handler.empty() && indent <= handler_indent) close_handler();

    std::vector<std::string> mods;
    ImportsOf(line, &mods);
    for (auto& m : mods) (IsStdlibModule(m) ? stdlib : deps).insert(m);

    std::string text(line);
    std::smatch m;
    if (std::regex_search(text, m, kDecorator)) {
      std::string verb = m[1].str();
      std::vector<std::string> methods;
      std::string rest = m[3].str();
      std::smatch mm;
      if ((verb == "route" || verb == "api_route") && std::regex_search(rest, mm, kMethods)) {
        std::string list = mm[1].str();
        for (std::sregex_iterator it(list.begin(), list.end(), kQuoted), end; it != end; ++it) {
          methods.push_back(Upper((*it)[1].str()));
        }
      }
      if (methods.empty()) {
        methods.push_back(verb == "route" ? "GET" : verb == "api_route" ? "*" : Upper(verb));
      }
      for (auto& meth : methods) s.endpoints.push_back({meth, m[2].str(), line_no});
    } else if (std::regex_search(text, m, kCall)) {
      std::string meth = m[1].matched ? Upper(m[1].str()) : m[2].matched ? m[2].str() : "*";
      s.endpoints.push_back({meth == "ROUTE" ? "*" : meth, m[3].str(), line_no});
    } else if (std::regex_search(text, m, kHandler)) {
      close_handler();
      handler = m[1].str();
      handler_indent = indent;
      handler_has_path = false;
      handler_line = line_no;
    } else if (!handler.empty()) {
      for (std::sregex_iterator it(text.begin(), text.end(), kPathCompare), end; it != end; ++it) {
        std::string path = (*it)[1].matched ? (*it)[1].str() : (*it)[2].str();
        bool seen = false;
        for (auto& e : s.endpoints) seen = seen || (e.method == handler && e.path == path);
        if (!seen) s.endpoints.push_back({handler, path, line_no});
        handler_has_path = true;
      }
    }
    if (std::regex_search(text, kPublic)) s.public_binds.push_back(line_no);
  }
  close_handler();
  s.dependencies.assign(deps.begin(), deps.end());
  s.stdlib.assign(stdlib.begin(), stdlib.end());
  return s;
}

std::vector<ServingSurface> SurfacesOf(const std::vector<std::string>& files) {
  std::vector<ServingSurface> out;
  for (const std::string& f : files) {
    if (f.size() < 3 || f.compare(f.size() - 3, 3, ".py") != 0) continue;
    struct stat st;
    if (::stat(f.c_str(), &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > (4 << 20)) continue;
    std::ifstream in(f, std::ios::binary);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (!in.bad()) out.push_back(ReadServingSurface(f, text));
  }
  return out;
}

std::string ServingSurfaceJson(const ServingSurface& s) {
  JsonWriter w;
  w.BeginObject().Key("file").String(s.file).Key("dependencies").BeginArray();
  for (auto& d : s.dependencies) w.String(d);
  w.EndArray().Key("stdlib").BeginArray();
  for (auto& d : s.stdlib) w.String(d);
  w.EndArray().Key("endpoints").BeginArray();
  for (auto& e : s.endpoints) {
    w.BeginObject().Key("method").String(e.method).Key("path").String(e.path);
    w.Key("line").Int(e.line).EndObject();
  }
  w.EndArray().Key("public_binds").BeginArray();
  for (int l : s.public_binds) w.Int(l);
  w.EndArray().EndObject();
  return w.Take();
}

std::string ServingSurfaceText(const ServingSurface& s) {
  std::string deps;
  for (auto& d : s.dependencies) deps += (deps.empty() ? "" : ", ") + d;
  std::string eps;
  for (auto& e : s.endpoints) {
    eps += fmt::format("{}{} {}", eps.empty() ? "" : ", ", e.method,
                       e.path.empty() ? std::string("(any path)") : e.path);
  }
  std::string out = fmt::format("dependencies: {}; endpoints: {}", deps.empty() ? "none beyond the standard library" : deps,
                                eps.empty() ? "none found" : eps);
  if (!s.public_binds.empty()) {
    std::string lines;
    for (int l : s.public_binds) lines += (lines.empty() ? "" : ", ") + std::to_string(l);
    out += fmt::format("; binds beyond loopback (0.0.0.0 / ::) at line {}", lines);
  }
  return out;
}

}  // namespace inloop::audit
