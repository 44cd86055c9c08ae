#include "compare/html_app.h"

#include "common/file_io.h"

namespace inloop::compare {

namespace {
constexpr std::string_view kPlaceholder = "/*INLOOP_DATA*/null";
}

std::string RenderCompareApp(std::string_view data_json) {
  // Inside <script> only "</script" and "<!--" can end or confuse the element; JSON allows "\/"
  // and "\u003c" so both are rewritten without changing the data. U+2028/2029 are fine in JSON
  // and in a non-executed script element.
  std::string safe;
  safe.reserve(data_json.size() + 64);
  for (size_t i = 0; i < data_json.size(); ++i) {
    char c = data_json[i];
    if (c == '<') {
      safe += "\\u003c";
      continue;
    }
    safe.push_back(c);
  }
  std::string_view page = CompareAppTemplate();
  size_t at = page.find(kPlaceholder);
  std::string out;
  out.reserve(page.size() + safe.size());
  if (at == std::string_view::npos) return std::string(page);
  out.append(page.substr(0, at));
  out.append(safe);
  out.append(page.substr(at + kPlaceholder.size()));
  return out;
}

Status WriteCompareApp(const std::string& path, std::string_view data_json) {
  return WriteFileAtomically(path, RenderCompareApp(data_json));
}

}  // namespace inloop::compare
