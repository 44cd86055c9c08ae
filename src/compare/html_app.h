// The standalone comparison app: one HTML file with its data inlined (no network, no files beside
// it) that a researcher opens anywhere. The page (compare_app.html, compiled into the binary)
// draws whichever view its data asks for: "evaldiff" (summary, slice table, sortable flipped
// examples with side-by-side outputs and highlighted differences) or "compare" (curves with bands
// and the difference, summary table). Charts are inline SVG drawn by the page's own script.
#pragma once

#include <string>
#include <string_view>

#include "common/status.h"

namespace inloop::compare {

// The page template; its `/*INLOOP_DATA*/null` placeholder receives the data.
std::string_view CompareAppTemplate();

// The page with `data_json` (an object with at least "view" and "title") inlined safely inside a
// <script type="application/json"> element ("</" and "<!--" escaped).
std::string RenderCompareApp(std::string_view data_json);

// Renders and writes the page atomically to `path`.
Status WriteCompareApp(const std::string& path, std::string_view data_json);

}  // namespace inloop::compare
