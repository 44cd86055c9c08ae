// The W&B importer on the real run directories of ../shared/fixtures/wandb (six clients, 0.8.31
// to 0.22.3; SOURCES.md says where each came from), against expected.json, written by an
// independent reader: series keys, point counts, first and last (step, value), wall times, non-
// numeric keys, config keys, summary values, name, run id, project, start time, client version,
// exit code and chunk counts. Then damaged copies: flipped bytes and a truncated file keep every
// readable record and name the byte offsets. The directory is $INLOOP_FIXTURES, else
// $INLOOP_SRC/../shared/fixtures, else the one next to the source tree; the tests skip when it
// is absent.
#include "source_paths.h"

#include <gtest/gtest.h>
#include <simdjson.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "import_fixture.h"
#include "importers/text_input.h"
#include "importers/wandb_log.h"
#include "importers/wandb_reader.h"
#include "ingest/number_scan.h"

namespace inloop::importers {
namespace {

namespace fs = std::filesystem;

fs::path FixturesDir() {
  if (const char* e = std::getenv("INLOOP_FIXTURES"); e != nullptr && *e != '\0') return e;
  if (const char* s = std::getenv("INLOOP_SRC"); s != nullptr && *s != '\0') {
    return fs::path(s) / ".." / "shared" / "fixtures";
  }
  return INLOOP_SHARED_FIXTURES;
}

fs::path WandbDir() { return FixturesDir() / "wandb"; }

#define WANDB_FIXTURES_OR_SKIP()                                                         \
  if (!fs::is_regular_file(WandbDir() / "expected.json")) {                              \
    GTEST_SKIP() << "fixtures: not found: " << (WandbDir() / "expected.json").string()   \
                 << " (set INLOOP_FIXTURES to the shared fixtures directory)";           \
  }

// expected.json's numbers: a number, or "NaN" / "Infinity" / "-Infinity".
double Num(simdjson::dom::element e) {
  if (e.is_string()) {
    std::string_view s = e.get_string().value();
    if (s == "NaN") return NAN;
    return s == "-Infinity" ? -INFINITY : INFINITY;
  }
  if (e.is_int64()) return static_cast<double>(e.get_int64().value());
  if (e.is_uint64()) return static_cast<double>(e.get_uint64().value());
  return e.get_double().value();
}

bool Same(double a, double b) {
  if (std::isnan(a) || std::isnan(b)) return std::isnan(a) && std::isnan(b);
  return a == b || std::fabs(a - b) <= 1e-9 * std::max(1.0, std::fabs(b));
}

const ImportedSeries* Find(const ImportedRun& r, std::string_view key) {
  for (const auto& s : r.series)
    if (s.key == key) return &s;
  return nullptr;
}

std::string ParamOf(const ImportedRun& r, std::string_view key) { return Param(r, key); }

struct Expected {
  simdjson::dom::parser parser;
  simdjson::dom::object root;
  Expected() {
    root = parser.load((WandbDir() / "expected.json").string()).get_object().value();
  }
};

// Checks one fixture run directory against its expected.json entry.
void CheckRun(const std::string& slug, simdjson::dom::object exp) {
  SCOPED_TRACE(slug);
  ImportBatch b;
  WandbNonNumeric nn;
  ASSERT_TRUE(ReadWandbRun((WandbDir() / slug).string(), &b, &nn).ok());
  ASSERT_EQ(b.runs.size(), 1u);
  EXPECT_TRUE(b.issues.empty()) << IssueText(b);
  const ImportedRun& r = b.runs[0];
  EXPECT_EQ(r.format, "wandb");
  const bool binary = std::string_view(exp["format"].get_string().value()) == "wandb-binary";

  // Series: every non-internal key, its count, first and last (step, value); the internal
  // _timestamp is each row's wall time.
  std::set<std::string> want_keys;
  std::map<int64_t, double> wall_at;  // step -> wall time, from every point
  for (const auto& s : r.series)
    for (const Point& p : s.points) wall_at[p.step] = p.wall_time;
  simdjson::dom::object series = exp["series"].get_object().value();
  for (auto [key, v] : series) {
    simdjson::dom::object o = v.get_object().value();
    simdjson::dom::array first = o["first"].get_array().value();
    simdjson::dom::array last = o["last"].get_array().value();
    bool internal = false;
    if (o["internal"].get_bool().get(internal) == simdjson::SUCCESS && internal) {
      EXPECT_EQ(Find(r, key), nullptr) << key << " is the row's time, not a series";
      if (key == "_timestamp") {
        for (auto pt : {first, last}) {
          int64_t step = pt.at(0).get_int64().value();
          if (wall_at.count(step)) {
            EXPECT_TRUE(Same(wall_at[step], Num(pt.at(1)))) << "wall time at step " << step;
          }
        }
      }
      continue;
    }
    want_keys.insert(std::string(key));
    const ImportedSeries* s = Find(r, key);
    ASSERT_NE(s, nullptr) << key;
    ASSERT_EQ(static_cast<int64_t>(s->points.size()), o["count"].get_int64().value()) << key;
    EXPECT_EQ(s->points.front().step, first.at(0).get_int64().value()) << key;
    EXPECT_TRUE(Same(s->points.front().value, Num(first.at(1)))) << key;
    EXPECT_EQ(s->points.back().step, last.at(0).get_int64().value()) << key;
    EXPECT_TRUE(Same(s->points.back().value, Num(last.at(1)))) << key;
    EXPECT_GT(s->points.back().wall_time, 1e9) << key;
  }
  std::set<std::string> got_keys;
  for (const auto& s : r.series) got_keys.insert(s.key);
  EXPECT_EQ(got_keys, want_keys);

  // Non-numeric history values: the same keys, kinds and counts.
  std::map<std::string, std::map<std::string, int64_t>> want_nn;
  simdjson::dom::object non_numeric = exp["non_numeric_keys"].get_object().value();
  for (auto [key, kinds] : non_numeric) {
    simdjson::dom::object by_kind = kinds.get_object().value();
    for (auto [kind, n] : by_kind)
      want_nn[std::string(key)][std::string(kind)] = n.get_int64().value();
  }
  EXPECT_EQ(nn.by_key, want_nn);

  // Config: the top-level keys of the params that are neither summary/ nor wandb/.
  std::set<std::string> want_cfg, got_cfg;
  simdjson::dom::array cfg_names = exp["config_key_names"].get_array().value();
  for (auto k : cfg_names)
    want_cfg.insert(std::string(k.get_string().value()));
  for (const auto& p : r.params) {
    if (p.key.rfind("summary/", 0) == 0 || p.key.rfind("wandb/", 0) == 0) continue;
    got_cfg.insert(p.key.substr(0, p.key.find('.')));
  }
  EXPECT_EQ(got_cfg, want_cfg);

  // Summary: where wandb-summary.json has a numeric key with history, it is its last value.
  int summary_checked = 0;
  for (const auto& s : r.series) {
    std::string v = ParamOf(r, "summary/" + s.key);
    if (v == "<none>") continue;
    double d = 0;
    ASSERT_TRUE(v == "NaN" || ingest::ParseNumericString(v, &d)) << s.key << "=" << v;
    EXPECT_TRUE(Same(v == "NaN" ? NAN : d, s.points.back().value)) << s.key;
    ++summary_checked;
  }
  EXPECT_GT(summary_checked, 0);

  // Name, run id, project, start time.
  simdjson::dom::element dn = exp["display_name"].value();
  std::string run_id = binary ? std::string(exp["run"]["run_id"].get_string().value())
                              : slug.substr(slug.rfind('-') + 1);
  EXPECT_EQ(r.name, dn.is_null() ? run_id : std::string(dn.get_string().value()));
  if (binary) {
    EXPECT_EQ(ParamOf(r, "wandb/run_id"), run_id);
    EXPECT_TRUE(Same(r.started_at, Num(exp["run"]["start_time"].value())));
    EXPECT_GT(r.ended_at, r.started_at);
    EXPECT_EQ(ParamOf(r, "wandb/cli_version"),
              exp["telemetry"]["cli_version"].get_string().value());
    int64_t code = exp["exit"]["exit_code"].get_int64().value();
    EXPECT_EQ(ParamOf(r, "wandb/exit_code"), std::to_string(code));
    EXPECT_EQ(r.status, code == 0 ? "finished" : "failed");
    EXPECT_EQ(b.records, exp["records"].get_int64().value());
    // Records of kinds not imported are counted as the independent reader counted them.
    simdjson::dom::object types = exp["record_types"].get_object().value();
    auto type_count = [&](const char* k) {
      int64_t n = 0;
      return types[k].get_int64().get(n) == simdjson::SUCCESS ? n : 0;
    };
    EXPECT_EQ(b.skipped["wandb:system stats"], type_count("stats"));
    EXPECT_EQ(b.skipped["wandb:console line"], type_count("output") + type_count("output_raw"));
  } else {
    double t = 0;
    ASSERT_TRUE(ParseWallTime(exp["run"]["startedAt"].get_string().value(), &t));
    EXPECT_TRUE(Same(r.started_at, t));
    EXPECT_EQ(b.records, exp["history_rows"].get_int64().value());
    EXPECT_EQ(r.status, exp["run"]["state"].get_string().value());
  }
  // The machine it ran on becomes the run's host, where the run record names one.
  simdjson::dom::element host;
  if (exp["run"]["host"].get(host) == simdjson::SUCCESS && host.is_string()) {
    EXPECT_EQ(r.host, host.get_string().value());
  }
  simdjson::dom::element project = exp["run"]["project"].value();
  if (project.is_string()) {
    EXPECT_EQ(ParamOf(r, "wandb/project"), project.get_string().value());
  } else {
    EXPECT_EQ(ParamOf(r, "wandb/project"), "<none>");
  }
}

TEST(WandbFixturesTest, EveryRunMatchesTheIndependentReader) {
  WANDB_FIXTURES_OR_SKIP();
  Expected e;
  int runs = 0;
  for (auto [slug, v] : e.root) {
    CheckRun(std::string(slug), v.get_object().value());
    ++runs;
  }
  EXPECT_EQ(runs, 6);
}

TEST(WandbFixturesTest, ChunkCountsMatch) {
  WANDB_FIXTURES_OR_SKIP();
  Expected e;
  for (auto [slug, v] : e.root) {
    simdjson::dom::object exp = v.get_object().value();
    if (std::string_view(exp["format"].get_string().value()) != "wandb-binary") continue;
    SCOPED_TRACE(std::string(slug));
    std::vector<std::string> logs = WandbLogFiles(WandbDir() / std::string(slug));
    ASSERT_EQ(logs.size(), 1u);
    std::string bytes;
    ASSERT_TRUE(ReadWholeFile(logs[0], &bytes).ok());
    WandbLogReader log(bytes);
    ASSERT_TRUE(log.ReadHeader());
    std::string_view rec;
    int64_t off;
    while (log.Next(&rec, &off)) {}
    EXPECT_TRUE(log.TakeProblems().empty());
    auto chunks = exp["framing"]["chunks"];
    auto count = [&](const char* k) {
      int64_t n = 0;
      return chunks[k].get_int64().get(n) == simdjson::SUCCESS ? n : 0;
    };
    EXPECT_EQ(log.counts().full, count("FULL"));
    EXPECT_EQ(log.counts().first, count("FIRST"));
    EXPECT_EQ(log.counts().middle, count("MIDDLE"));
    EXPECT_EQ(log.counts().last, count("LAST"));
    EXPECT_EQ(log.counts().records, exp["records"].get_int64().value());
  }
}

class WandbDamageTest : public ImportFixture {
 protected:
  // A copy of the azhir-pino run (300 rows over 12 blocks) in the temp directory, with `edit`
  // applied to the .wandb bytes. Returns the copy's directory.
  std::string Copy(const std::function<void(std::string*)>& edit) {
    fs::path src = WandbDir() / "azhir-pino" / "run-20221003_004923-2y1a2utr";
    std::string bytes;
    EXPECT_TRUE(ReadWholeFile((src / "run-2y1a2utr.wandb").string(), &bytes).ok());
    edit(&bytes);
    Write("run-x/run-2y1a2utr.wandb", bytes);
    std::string summary;
    EXPECT_TRUE(ReadWholeFile((src / "files" / "wandb-summary.json").string(), &summary).ok());
    Write("run-x/files/wandb-summary.json", summary);
    return dir_ + "/run-x";
  }
};

TEST_F(WandbDamageTest, FlippedBytesLoseOnlyTheirBlocks) {
  WANDB_FIXTURES_OR_SKIP();
  const size_t kBlock = WandbLogReader::kBlockSize;
  // One byte in block 3 and one in block 7.
  std::vector<size_t> flips = {3 * kBlock + 5000, 7 * kBlock + 20000};
  std::string dir = Copy([&](std::string* b) {
    for (size_t at : flips) (*b)[at] ^= 0x21;
  });
  ImportBatch b;
  ASSERT_TRUE(ReadWandbRun(dir, &b).ok());
  ASSERT_EQ(b.runs.size(), 1u);
  const ImportedSeries* loss = Find(b.runs[0], "train loss");
  ASSERT_NE(loss, nullptr);
  // Each block holds about 25 of the 300 rows: a few dozen are lost, the rest kept in order.
  EXPECT_LT(loss->points.size(), 300u);
  EXPECT_GT(loss->points.size(), 200u);
  EXPECT_EQ(loss->points.front().step, 0);
  EXPECT_EQ(loss->points.back().step, 299);
  // Every problem lies in a damaged block, and each damaged block is reported.
  std::set<size_t> blocks;
  for (const ImportIssue& i : b.issues) {
    ASSERT_GE(i.offset, 0) << i.message;
    size_t blk = static_cast<size_t>(i.offset) / kBlock;
    EXPECT_TRUE(blk == 3 || blk == 7 || blk == 4 || blk == 8 || blk == 2 || blk == 6)
        << i.offset << ": " << i.message;
    if (i.message.find("damaged chunk") != std::string::npos) blocks.insert(blk);
  }
  EXPECT_EQ(blocks, (std::set<size_t>{3, 7})) << IssueText(b);
  EXPECT_EQ(Param(b.runs[0], "wandb/run_id"), "2y1a2utr");  // the run record is in block 0
}

TEST_F(WandbDamageTest, TruncatedFileKeepsTheRowsBeforeTheCut) {
  WANDB_FIXTURES_OR_SKIP();
  std::string dir = Copy([](std::string* b) { b->resize(b->size() / 2 + 13); });
  ImportBatch b;
  ASSERT_TRUE(ReadWandbRun(dir, &b).ok());
  ASSERT_EQ(b.runs.size(), 1u);
  const ImportedSeries* loss = Find(b.runs[0], "train loss");
  ASSERT_NE(loss, nullptr);
  EXPECT_GT(loss->points.size(), 50u);
  EXPECT_LT(loss->points.size(), 300u);
  for (size_t i = 0; i < loss->points.size(); ++i) EXPECT_EQ(loss->points[i].step, int64_t(i));
  ASSERT_FALSE(b.issues.empty());
  EXPECT_NE(b.issues.back().message.find("file ends inside"), std::string::npos)
      << IssueText(b);
  EXPECT_EQ(b.runs[0].status, "interrupted");  // the exit record was cut off
  // The summary file beside it is still read.
  EXPECT_NE(Param(b.runs[0], "summary/train loss"), "<none>");
}

}  // namespace
}  // namespace inloop::importers
