// audit/serving_surface: imports, endpoints and public binds read from server sources written in
// the shapes of Flask, FastAPI, aiohttp, Starlette and http.server (their documented examples).
#include "audit/serving_surface.h"

#include <gtest/gtest.h>

namespace inloop::audit {
namespace {

std::vector<std::string> Eps(const ServingSurface& s) {
  std::vector<std::string> out;
  for (auto& e : s.endpoints) out.push_back(e.method + " " + e.path + " @" + std::to_string(e.line));
  return out;
}

TEST(ServingSurfaceTest, FastApiAndFlaskRoutes) {
  ServingSurface s = ReadServingSurface("app.py", R"(import os, json as j
from fastapi import FastAPI, Request
from .model import load   # the server's own package
import torch.nn as nn
import numpy
app = FastAPI()
router = APIRouter()

@app.get("/health")
def health(): return {"ok": True}

@router.post('/v1/generate')
async def gen(req: Request): ...

@app.route("/admin", methods=["GET", "post"])
def admin(): ...
@app.api_route("/any")
def anything(): ...
# @app.get("/commented")
uvicorn.run(app, host="0.0.0.0", port=8000)
)");
  EXPECT_EQ(s.dependencies, (std::vector<std::string>{"fastapi", "numpy", "torch"}));
  EXPECT_EQ(s.stdlib, (std::vector<std::string>{"json", "os"}));
  EXPECT_EQ(Eps(s), (std::vector<std::string>{"GET /health @9", "POST /v1/generate @12",
                                              "GET /admin @15", "POST /admin @15", "* /any @17"}));
  EXPECT_EQ(s.public_binds, (std::vector<int>{20}));
  EXPECT_NE(ServingSurfaceText(s).find("binds beyond loopback (0.0.0.0 / ::) at line 20"),
            std::string::npos);
}

TEST(ServingSurfaceTest, AiohttpStarletteAndHttpServerHandlers) {
  ServingSurface s = ReadServingSurface("srv.py", R"(from aiohttp import web
from http.server import BaseHTTPRequestHandler
app.add_routes([web.get('/', handle), web.post("/predict", predict)])
routes = [Route("/items", endpoint=items, methods=["GET"])]
class H(BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path == "/health":
            return self.ok()
        if self.path.startswith("/metrics"):
            return self.metrics()
    def do_PUT(self):
        self.send_response(405)
    def do_POST(self):
        if urlparse(self.path).path != "/v1/completions":
            return
)");
  EXPECT_EQ(s.dependencies, (std::vector<std::string>{"aiohttp"}));
  EXPECT_EQ(Eps(s), (std::vector<std::string>{"GET / @3", "* /items @4", "GET /health @7",
                                              "GET /metrics @9", "PUT  @11",
                                              "POST /v1/completions @14"}));
  EXPECT_TRUE(s.public_binds.empty());
}

TEST(ServingSurfaceTest, NothingToReadIsEmptyAndJsonIsOneObject) {
  ServingSurface s = ReadServingSurface("x.py", "");
  EXPECT_TRUE(s.endpoints.empty());
  EXPECT_EQ(ServingSurfaceText(s), "dependencies: none beyond the standard library; endpoints: none found");
  EXPECT_EQ(ServingSurfaceJson(s), R"({"file":"x.py","dependencies":[],"stdlib":[],"endpoints":[],"public_binds":[]})");
  EXPECT_TRUE(IsStdlibModule("asyncio"));
  EXPECT_FALSE(IsStdlibModule("torch"));
}

}  // namespace
}  // namespace inloop::audit
