// The first header of the precompiled headers (CMakeLists.txt, INLOOP_PCH): nothing else includes
// it. fmt/core.h brackets itself with `#pragma GCC push_options` / `optimize("Og")` /
// `pop_options` in unoptimised builds; saved in a GCC precompiled header, that state leaks into
// every file using it (__OPTIMIZE__ becomes defined at -O0, and intrinsics headers then pick
// their inline-function forms, which need immediates that -O0 cannot fold). Turning fmt's pragma
// off here keeps the files that use the PCH compiled exactly as the ones that do not.
#pragma once

#define FMT_GCC_PRAGMA(arg)
