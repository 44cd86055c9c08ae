// Bundles the dashboard (ui/src) with esbuild into one folder that CMake embeds into the inloop
// binary (cmake/embed_files.cmake -> src/http/ui_assets.h). Usage: node ui/build.mjs OUT_DIR
// Output: index.html, app.js, app.css. Minified, no source maps, nothing fetched at run time.
import * as esbuild from "esbuild";
import { copyFileSync, mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const out = process.argv[2];
if (!out) {
  console.error("usage: node ui/build.mjs OUT_DIR");
  process.exit(2);
}
mkdirSync(out, { recursive: true });
await esbuild.build({
  entryPoints: { app: join(here, "src", "main.ts") },
  bundle: true,
  minify: true,
  format: "iife",
  target: ["chrome100", "firefox100", "safari15"],
  outdir: out,
  logLevel: "warning",
});
copyFileSync(join(here, "src", "index.html"), join(out, "index.html"));
