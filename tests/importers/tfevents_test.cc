// The tfevents importer: the real TensorBoard-written fixture against its expected.json, crafted
// event files (written with the generated classes and tests/support/tfevents_writer.h) for each
// value encoding and each kind of skipped data, and damaged files (always copies in a temp dir).
#include "source_paths.h"
#include "importers/tfevents.h"

#include <gtest/gtest.h>
#include <simdjson.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "importers/proto/hparams.pb.h"
#include "importers/tfrecord.h"
#include "support/tfevents_writer.h"

namespace inloop::importers {
namespace {

namespace fs = std::filesystem;
using namespace tfevents_testing;  // NOLINT
using Event = tensorboard::Event;

fs::path FixturesDir() {
  if (const char* e = std::getenv("INLOOP_FIXTURES"); e != nullptr && *e != '\0') return e;
  return INLOOP_SHARED_FIXTURES;
}

const char kFixtureDir[] = "tfevents/tensorboard-writer";
const char kFixtureFile[] = "events.out.tfevents.1700000000.writer.1.0";

#define FIXTURE_OR_SKIP(var)                                                              \
  const fs::path var = FixturesDir() / kFixtureDir;                                       \
  if (!fs::is_regular_file(var / kFixtureFile) || !fs::is_regular_file(var / "expected.json")) { \
    GTEST_SKIP() << "fixtures: not found: " << var.string()                               \
                 << " (set INLOOP_FIXTURES to the shared fixtures directory)";            \
  }

// A fresh directory under the temp dir, removed with the object.
class TempDir {
 public:
  explicit TempDir(const std::string& leaf) {
    static std::atomic<int> n{0};
    path_ = fs::temp_directory_path() /
            ("inloop-tfevents-" + std::to_string(::getpid()) + "-" + std::to_string(n++)) / leaf;
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_.parent_path(), ec);
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

std::string ReadBytes(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void WriteBytes(const fs::path& p, const std::string& bytes) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  ASSERT_TRUE(out.good()) << p;
}

const ImportedSeries* Find(const ImportedRun& run, const std::string& key) {
  for (const auto& s : run.series)
    if (s.key == key) return &s;
  return nullptr;
}

// Parses `bytes` as a file at dir/events.out.tfevents.test into one run.
struct Parsed {
  ImportBatch batch;
  ImportedRun run;
};
Parsed ParseBytes(const std::string& bytes) {
  Parsed p;
  ParseTfEvents(bytes, "mem/events.out.tfevents.test", &p.run, &p.batch);
  return p;
}

std::vector<int64_t> Steps(const ImportedSeries* s) {
  std::vector<int64_t> out;
  if (s != nullptr)
    for (const Point& p : s->points) out.push_back(p.step);
  return out;
}

// ---- the real fixture ----

TEST(TfEventsFixture, EveryTagMatchesExpectedJson) {
  FIXTURE_OR_SKIP(dir);
  ImportBatch batch;
  ASSERT_TRUE(ReadTfEventsFile((dir / kFixtureFile).string(), &batch).ok());
  ASSERT_EQ(batch.runs.size(), 1u);
  const ImportedRun& run = batch.runs[0];
  EXPECT_EQ(run.name, "tensorboard-writer");
  EXPECT_EQ(run.format, "tfevents");
  EXPECT_EQ(fs::path(run.source), fs::absolute(dir).lexically_normal());
  EXPECT_TRUE(batch.issues.empty()) << batch.issues[0].message;
  EXPECT_EQ(batch.records, 2001);
  EXPECT_EQ(batch.bytes, static_cast<int64_t>(fs::file_size(dir / kFixtureFile)));
  EXPECT_EQ(batch.skipped, (std::map<std::string, int64_t>{{"event:file_version", 1}}));

  simdjson::dom::parser parser;
  simdjson::dom::object expected;
  ASSERT_FALSE(parser.load((dir / "expected.json").string()).get(expected));
  size_t tags = 0;
  for (auto [key, value] : expected) {
    ++tags;
    const std::string tag(key);
    const ImportedSeries* s = Find(run, tag);
    ASSERT_NE(s, nullptr) << tag;
    simdjson::dom::array pairs;
    ASSERT_FALSE(value.get_array().get(pairs)) << tag;
    ASSERT_EQ(s->points.size(), pairs.size()) << tag;
    size_t i = 0;
    double last_wall = 0;
    for (simdjson::dom::element e : pairs) {
      int64_t step = 0;
      double v = 0;
      ASSERT_FALSE(e.at(0).get_int64().get(step)) << tag;
      ASSERT_FALSE(e.at(1).get_double().get(v)) << tag;
      const Point& p = s->points[i++];
      EXPECT_EQ(p.step, step) << tag << " #" << i;
      EXPECT_EQ(p.value, v) << tag << " step " << step;  // exact: float32 widened to double
      EXPECT_GT(p.wall_time, 1.6e9) << tag << " step " << step;
      EXPECT_GE(p.wall_time, last_wall) << tag << " step " << step;
      last_wall = p.wall_time;
    }
  }
  EXPECT_EQ(tags, 3u);
  EXPECT_EQ(run.series.size(), tags);  // nothing beyond expected.json
  // The spike the README describes, as a spot check independent of expected.json.
  const ImportedSeries* loss = Find(run, "train/loss");
  ASSERT_NE(loss, nullptr);
  ASSERT_GT(loss->points.size(), 1234u);
  EXPECT_EQ(loss->points[1234].step, 1234);
  EXPECT_EQ(loss->points[1234].value, 9.5);
}

TEST(TfEventsFixture, BadDataCrcInACopyCostsOneRecord) {
  FIXTURE_OR_SKIP(dir);
  std::string bytes = ReadBytes(dir / kFixtureFile);
  // Walk the framing to record 1000 (independently of the reader).
  size_t at = 0;
  for (int i = 0; i < 1000; ++i) {
    uint64_t len = 0;
    std::memcpy(&len, bytes.data() + at, 8);
    at += 16 + len;
  }
  bytes[at + 12 + 5] ^= 0x20;
  TempDir tmp("copy");
  const fs::path file = tmp.path() / kFixtureFile;
  WriteBytes(file, bytes);
  ImportBatch batch;
  ASSERT_TRUE(ReadTfEventsFile(file.string(), &batch).ok());
  ASSERT_EQ(batch.issues.size(), 1u);
  EXPECT_EQ(batch.issues[0].offset, static_cast<int64_t>(at));
  EXPECT_EQ(batch.issues[0].path, file.string());
  EXPECT_EQ(batch.records, 2000);
  const ImportedSeries* loss = Find(batch.runs.at(0), "train/loss");
  ASSERT_NE(loss, nullptr);
  EXPECT_EQ(loss->points.size(), 1999u);  // record 1000 holds step 999
  std::vector<int64_t> steps = Steps(loss);
  EXPECT_EQ(std::count(steps.begin(), steps.end(), 999), 0);
  EXPECT_EQ(steps.back(), 1999);
  EXPECT_EQ(batch.runs[0].name, "copy");
}

// ---- crafted files: value encodings ----

TEST(TfEventsParse, EachScalarEncoding) {
  std::string f;
  AppendEvent(&f, FileVersionEvent(1.5e9));
  for (int64_t step = 0; step < 3; ++step) {
    Event e = StepEvent(step, 1.7e9 + static_cast<double>(step));
    AddValue(&e, "simple")->set_simple_value(0.1f * static_cast<float>(step));
    auto* fv = AddValue(&e, "float_val")->mutable_tensor();
    fv->set_dtype(tensorboard::DT_FLOAT);
    fv->add_float_val(1.25f + static_cast<float>(step));
    auto* dv = AddValue(&e, "double_val")->mutable_tensor();
    dv->set_dtype(tensorboard::DT_DOUBLE);
    dv->add_double_val(0.1 + static_cast<double>(step));
    SetRawScalar(AddValue(&e, "content_float")->mutable_tensor(), tensorboard::DT_FLOAT,
                 0.3f * static_cast<float>(step + 1));
    SetRawScalar(AddValue(&e, "content_double")->mutable_tensor(), tensorboard::DT_DOUBLE,
                 1.0 / 3.0 + static_cast<double>(step));
    SetRawScalar(AddValue(&e, "content_int64")->mutable_tensor(), tensorboard::DT_INT64,
                 int64_t{-5} * step);
    auto* hv = AddValue(&e, "half_val")->mutable_tensor();
    hv->set_dtype(tensorboard::DT_HALF);
    hv->add_half_val(0x3e00);  // 1.5
    auto* bv = AddValue(&e, "bfloat16_val")->mutable_tensor();
    bv->set_dtype(tensorboard::DT_BFLOAT16);
    bv->add_half_val(0xc040);  // -3.0
    auto* iv = AddValue(&e, "int_val")->mutable_tensor();
    iv->set_dtype(tensorboard::DT_INT32);
    iv->add_int_val(static_cast<int32_t>(step * 7));
    AppendEvent(&f, e);
  }
  Parsed p = ParseBytes(f);
  EXPECT_TRUE(p.batch.issues.empty());
  EXPECT_EQ(p.batch.records, 4);
  EXPECT_EQ(p.batch.bytes, static_cast<int64_t>(f.size()));
  EXPECT_EQ(p.batch.skipped, (std::map<std::string, int64_t>{{"event:file_version", 1}}));
  ASSERT_EQ(p.run.series.size(), 9u);
  for (const auto& s : p.run.series) {
    ASSERT_EQ(s.points.size(), 3u) << s.key;
    EXPECT_EQ(Steps(&s), (std::vector<int64_t>{0, 1, 2})) << s.key;
    for (int i = 0; i < 3; ++i) EXPECT_EQ(s.points[i].wall_time, 1.7e9 + i) << s.key;
  }
  for (int i = 0; i < 3; ++i) {
    const auto fi = static_cast<float>(i);
    EXPECT_EQ(Find(p.run, "simple")->points[i].value, static_cast<double>(0.1f * fi));
    EXPECT_EQ(Find(p.run, "float_val")->points[i].value, static_cast<double>(1.25f + fi));
    EXPECT_EQ(Find(p.run, "double_val")->points[i].value, 0.1 + i);
    EXPECT_EQ(Find(p.run, "content_float")->points[i].value,
              static_cast<double>(0.3f * static_cast<float>(i + 1)));
    EXPECT_EQ(Find(p.run, "content_double")->points[i].value, 1.0 / 3.0 + i);
    EXPECT_EQ(Find(p.run, "content_int64")->points[i].value, -5.0 * i);
    EXPECT_EQ(Find(p.run, "half_val")->points[i].value, 1.5);
    EXPECT_EQ(Find(p.run, "bfloat16_val")->points[i].value, -3.0);
    EXPECT_EQ(Find(p.run, "int_val")->points[i].value, 7.0 * i);
  }
}

TEST(TfEventsParse, NanAndInfinityAreKept) {
  std::string f;
  Event e = StepEvent(1, 2.0);
  AddValue(&e, "loss")->set_simple_value(std::numeric_limits<float>::quiet_NaN());
  SetRawScalar(AddValue(&e, "grad")->mutable_tensor(), tensorboard::DT_FLOAT,
               std::numeric_limits<float>::infinity());
  AppendEvent(&f, e);
  Parsed p = ParseBytes(f);
  ASSERT_NE(Find(p.run, "loss"), nullptr);
  EXPECT_TRUE(std::isnan(Find(p.run, "loss")->points.at(0).value));
  ASSERT_NE(Find(p.run, "grad"), nullptr);
  EXPECT_TRUE(std::isinf(Find(p.run, "grad")->points.at(0).value));
}

// ---- crafted files: what is skipped ----

TEST(TfEventsParse, PluginOfATagIsRememberedFromItsFirstValue) {
  std::string f;
  for (int64_t step = 0; step < 4; ++step) {
    Event e = StepEvent(step, 100.0 + static_cast<double>(step));
    // TF2 writers: metadata on the first value of a tag only.
    const bool first = step == 0;
    SetRawScalar(AddValue(&e, "lr", first ? "scalars" : nullptr)->mutable_tensor(),
                 tensorboard::DT_FLOAT, 0.5f);
    // Rank-0 float tensors too, so only the remembered plugin keeps them out of the series.
    SetRawScalar(AddValue(&e, "sample/image", first ? "images" : nullptr)->mutable_tensor(),
                 tensorboard::DT_FLOAT, 7.0f);
    SetRawScalar(AddValue(&e, "notes", first ? "text" : nullptr)->mutable_tensor(),
                 tensorboard::DT_FLOAT, 8.0f);
    AppendEvent(&f, e);
  }
  Parsed p = ParseBytes(f);
  EXPECT_TRUE(p.batch.issues.empty());
  ASSERT_EQ(p.run.series.size(), 1u);
  EXPECT_EQ(p.run.series[0].key, "lr");
  EXPECT_EQ(Steps(&p.run.series[0]), (std::vector<int64_t>{0, 1, 2, 3}));
  EXPECT_EQ(p.batch.skipped,
            (std::map<std::string, int64_t>{{"plugin:images", 4}, {"plugin:text", 4}}));
}

TEST(TfEventsParse, NonScalarTensorsAndTf1PayloadsAreCounted) {
  std::string f;
  Event e = StepEvent(3, 10.0);
  auto* t = AddValue(&e, "vec", "scalars")->mutable_tensor();
  t->set_dtype(tensorboard::DT_FLOAT);
  t->mutable_tensor_shape()->add_dim()->set_size(2);
  t->add_float_val(1);
  t->add_float_val(2);
  auto* s = AddValue(&e, "str")->mutable_tensor();
  s->set_dtype(tensorboard::DT_STRING);
  s->add_string_val("hello");
  auto* bad = AddValue(&e, "short_content")->mutable_tensor();
  bad->set_dtype(tensorboard::DT_DOUBLE);
  bad->set_tensor_content("abc");
  AddValue(&e, "img")->set_image("not really an image");
  AddValue(&e, "hist")->set_histo("bins");
  AddValue(&e, "snd")->set_audio("wav");
  AddValue(&e, "nothing");
  AddValue(&e, "kept")->set_simple_value(4.0f);
  AppendEvent(&f, e);
  Event g = StepEvent(0, 1.0);
  g.set_graph_def("graph");
  AppendEvent(&f, g);
  Event sl = StepEvent(0, 1.0);
  sl.set_session_log("start");
  AppendEvent(&f, sl);
  Event lm = StepEvent(0, 1.0);
  lm.set_log_message("hi");
  AppendEvent(&f, lm);
  Event mg = StepEvent(0, 1.0);
  mg.set_meta_graph_def("meta");
  AppendEvent(&f, mg);
  Event rm = StepEvent(0, 1.0);
  rm.set_tagged_run_metadata("rm");
  AppendEvent(&f, rm);
  Parsed p = ParseBytes(f);
  EXPECT_TRUE(p.batch.issues.empty());
  ASSERT_EQ(p.run.series.size(), 1u);
  EXPECT_EQ(p.run.series[0].key, "kept");
  EXPECT_EQ(p.run.series[0].points.at(0), (Point{3, 10.0, 4.0}));
  EXPECT_EQ(p.batch.skipped, (std::map<std::string, int64_t>{
                                 {"tensor:non_scalar", 1},
                                 {"tensor:DT_STRING", 1},
                                 {"tensor:malformed", 1},
                                 {"value:image", 1},
                                 {"value:histo", 1},
                                 {"value:audio", 1},
                                 {"value:empty", 1},
                                 {"event:graph_def", 1},
                                 {"event:session_log", 1},
                                 {"event:log_message", 1},
                                 {"event:meta_graph_def", 1},
                                 {"event:tagged_run_metadata", 1},
                             }));
}

TEST(TfEventsParse, HparamsSessionStartInfoBecomesParams) {
  tensorboard::hparams::HParamsPluginData data;
  auto* hp = data.mutable_session_start_info()->mutable_hparams();
  (*hp)["optimizer"].set_string_value("adam");
  (*hp)["lr"].set_number_value(0.001);
  (*hp)["layers"].set_number_value(4);
  (*hp)["use_bn"].set_bool_value(true);
  (*hp)["nested"].mutable_list_value();  // not a scalar: left out
  std::string f;
  Event e = StepEvent(0, 5.0);
  auto* v = AddValue(&e, "_hparams_/session_start_info", "hparams");
  v->mutable_metadata()->mutable_plugin_data()->set_content(data.SerializeAsString());
  v->mutable_tensor()->set_dtype(tensorboard::DT_FLOAT);
  AppendEvent(&f, e);
  Parsed p = ParseBytes(f);
  EXPECT_TRUE(p.batch.issues.empty());
  EXPECT_TRUE(p.run.series.empty());
  EXPECT_EQ(p.batch.skipped, (std::map<std::string, int64_t>{{"plugin:hparams", 1}}));
  std::vector<std::string> params;
  for (const auto& param : p.run.params) {
    params.push_back(param.key + "=" + param.value);
    EXPECT_EQ(param.source, "import");
  }
  EXPECT_EQ(params,
            (std::vector<std::string>{"layers=4", "lr=0.001", "optimizer=adam", "use_bn=true"}));
}

// Records whose CRCs check but whose bytes are random, or valid events with bytes changed: the
// protobuf parser and the tensor decoding see garbage. Nothing may crash (run under ASan), every
// record is counted, and each is either parsed or reported.
TEST(TfEventsParse, GarbageInsideValidFramingNeverCrashes) {
  std::mt19937_64 rng(77);
  std::vector<std::string> seeds;
  {
    Event e = StepEvent(12, 3.5);
    SetRawScalar(AddValue(&e, "a", "scalars")->mutable_tensor(), tensorboard::DT_DOUBLE, 2.5);
    auto* t = AddValue(&e, "b")->mutable_tensor();
    t->set_dtype(tensorboard::DT_HALF);
    t->add_half_val(0x7c00);
    t->mutable_tensor_shape()->add_dim()->set_size(1);
    AddValue(&e, "c")->set_simple_value(1.0f);
    seeds.push_back(e.SerializeAsString());
  }
  std::string f;
  const int kRecords = 3000;
  for (int i = 0; i < kRecords; ++i) {
    std::string data;
    if (i % 2 == 0) {
      data.resize(rng() % 80);
      for (char& c : data) c = static_cast<char>(rng());
    } else {
      data = seeds[0];
      for (int k = 1 + static_cast<int>(rng() % 4); k > 0; --k) {
        data[rng() % data.size()] = static_cast<char>(rng());
      }
    }
    AppendRecord(&f, data);
  }
  std::vector<char> exact(f.begin(), f.end());  // exactly sized, so ASan sees overreads
  Parsed p;
  ParseTfEvents(std::string_view(exact.data(), exact.size()), "mem/x", &p.run, &p.batch);
  EXPECT_EQ(p.batch.records, kRecords);
  for (const auto& issue : p.batch.issues) {
    EXPECT_NE(issue.message.find("not a TensorBoard Event"), std::string::npos) << issue.message;
  }
  EXPECT_FALSE(p.batch.issues.empty());  // random bytes are not all valid protobuf
  EXPECT_LT(p.batch.issues.size(), static_cast<size_t>(kRecords));
}

// ---- damaged files, on disk ----

// 20 scalar events (steps 0..19) after a file_version record; offsets[i] = record of step i.
std::string TwentySteps(std::vector<size_t>* offsets) {
  std::string f;
  AppendEvent(&f, FileVersionEvent(1.0));
  for (int64_t step = 0; step < 20; ++step) {
    Event e = StepEvent(step, 1000.0 + static_cast<double>(step));
    AddValue(&e, "loss")->set_simple_value(static_cast<float>(step) / 4);
    offsets->push_back(AppendEvent(&f, e));
  }
  return f;
}

std::vector<int64_t> AllBut(std::initializer_list<int64_t> missing) {
  std::vector<int64_t> out;
  for (int64_t s = 0; s < 20; ++s)
    if (std::find(missing.begin(), missing.end(), s) == missing.end()) out.push_back(s);
  return out;
}

struct FileRead {
  Status status;
  ImportBatch batch;
};
FileRead ReadDamaged(const std::string& bytes) {
  TempDir tmp("run-7");
  const fs::path file = tmp.path() / "events.out.tfevents.1.host";
  WriteBytes(file, bytes);
  FileRead r;
  r.status = ReadTfEventsFile(file.string(), &r.batch);
  return r;
}

TEST(TfEventsDamaged, BadDataCrcInTheMiddle) {
  std::vector<size_t> off;
  std::string f = TwentySteps(&off);
  f[off[9] + 12 + 2] ^= 0x01;
  FileRead r = ReadDamaged(f);
  ASSERT_TRUE(r.status.ok());
  ASSERT_EQ(r.batch.issues.size(), 1u);
  EXPECT_EQ(r.batch.issues[0].offset, static_cast<int64_t>(off[9]));
  EXPECT_NE(r.batch.issues[0].message.find(std::to_string(off[9])), std::string::npos);
  EXPECT_EQ(Steps(Find(r.batch.runs.at(0), "loss")), AllBut({9}));
  EXPECT_EQ(r.batch.runs[0].name, "run-7");
}

TEST(TfEventsDamaged, BadLengthCrcResyncs) {
  std::vector<size_t> off;
  std::string f = TwentySteps(&off);
  f[off[5] + 1] ^= 0x40;
  FileRead r = ReadDamaged(f);
  ASSERT_TRUE(r.status.ok());
  ASSERT_EQ(r.batch.issues.size(), 1u);
  EXPECT_EQ(r.batch.issues[0].offset, static_cast<int64_t>(off[5]));
  EXPECT_NE(r.batch.issues[0].message.find(std::to_string(off[6])), std::string::npos)
      << r.batch.issues[0].message;  // the end of the skipped range
  EXPECT_EQ(Steps(Find(r.batch.runs.at(0), "loss")), AllBut({5}));
}

TEST(TfEventsDamaged, TruncatedFinalRecord) {
  std::vector<size_t> off;
  std::string f = TwentySteps(&off);
  f.resize(off[19] + 20);
  FileRead r = ReadDamaged(f);
  ASSERT_TRUE(r.status.ok());
  ASSERT_EQ(r.batch.issues.size(), 1u);
  EXPECT_EQ(r.batch.issues[0].offset, static_cast<int64_t>(off[19]));
  EXPECT_EQ(Steps(Find(r.batch.runs.at(0), "loss")), AllBut({19}));
}

TEST(TfEventsDamaged, HugeLengthAfterGoodRecords) {
  std::vector<size_t> off;
  std::string f = TwentySteps(&off);
  const size_t at = f.size();
  std::string len;
  PutLe64(&len, uint64_t{1} << 60);
  f += len;
  PutLe32(&f, crc32c::Mask(crc32c::Value(len)));
  f += "tail";
  FileRead r = ReadDamaged(f);
  ASSERT_TRUE(r.status.ok());
  ASSERT_EQ(r.batch.issues.size(), 1u);
  EXPECT_EQ(r.batch.issues[0].offset, static_cast<int64_t>(at));
  EXPECT_EQ(Steps(Find(r.batch.runs.at(0), "loss")), AllBut({}));
}

TEST(TfEventsDamaged, RecordThatIsNotAnEvent) {
  std::vector<size_t> off;
  std::string f = TwentySteps(&off);
  const size_t at = f.size();
  AppendRecord(&f, std::string("\xff\xff\xff\xff\x0f", 5));  // field 0 is never valid protobuf
  Event e = StepEvent(20, 2000.0);
  AddValue(&e, "loss")->set_simple_value(5.0f);
  AppendEvent(&f, e);
  FileRead r = ReadDamaged(f);
  ASSERT_TRUE(r.status.ok());
  ASSERT_EQ(r.batch.issues.size(), 1u);
  EXPECT_EQ(r.batch.issues[0].offset, static_cast<int64_t>(at));
  EXPECT_NE(r.batch.issues[0].message.find("not a TensorBoard Event"), std::string::npos);
  EXPECT_EQ(Find(r.batch.runs.at(0), "loss")->points.size(), 21u);
}

TEST(TfEventsDamaged, EmptyFile) {
  FileRead r = ReadDamaged("");
  ASSERT_TRUE(r.status.ok());
  ASSERT_EQ(r.batch.runs.size(), 1u);
  EXPECT_TRUE(r.batch.runs[0].series.empty());
  EXPECT_TRUE(r.batch.issues.empty());
  EXPECT_EQ(r.batch.records, 0);
  EXPECT_EQ(r.batch.bytes, 0);
}

TEST(TfEventsDamaged, GarbageFile) {
  std::string junk;
  for (int i = 0; i < 5000; ++i) junk.push_back(static_cast<char>((i * 7919) ^ (i >> 3)));
  FileRead r = ReadDamaged(junk);
  ASSERT_TRUE(r.status.ok());
  ASSERT_EQ(r.batch.runs.size(), 1u);
  EXPECT_TRUE(r.batch.runs[0].series.empty());
  ASSERT_FALSE(r.batch.issues.empty());
  EXPECT_EQ(r.batch.issues[0].offset, 0);
  EXPECT_EQ(r.batch.records, 0);
}

TEST(TfEventsFile, MissingFileIsNotFoundAndAddsNoRun) {
  ImportBatch batch;
  Status s = ReadTfEventsFile("/nonexistent/dir/events.out.tfevents.0", &batch);
  EXPECT_EQ(s.code(), Status::Code::kNotFound);
  EXPECT_NE(s.message().find("/nonexistent/dir/events.out.tfevents.0"), std::string::npos);
  EXPECT_TRUE(batch.runs.empty());
}

}  // namespace
}  // namespace inloop::importers

namespace inloop::importers {
namespace {

// Reading a file in pieces gives what parsing the whole file in memory gives: the same points,
// issues (offsets and messages), counts, whatever the piece size, on a clean copy of the fixture
// and on one with a bad data CRC, a bad length CRC (resync) and a truncated tail.
TEST(TfEventsStream, PiecesOfAnySizeReadLikeTheWholeFile) {
  FIXTURE_OR_SKIP(dir);
  const std::string clean = ReadBytes(dir / kFixtureFile);
  std::string damaged = clean;
  damaged[damaged.size() / 3] ^= 0x40;          // inside some record: a data or length CRC
  damaged[damaged.size() / 2 + 3] ^= 0x01;
  damaged.resize(damaged.size() - 5);           // the last record cut short
  std::string header_hit = clean;
  size_t at = 0;
  for (int i = 0; i < 700; ++i) {  // the length field of record 700: a resync
    uint64_t len = 0;
    std::memcpy(&len, header_hit.data() + at, 8);
    at += 16 + len;
  }
  header_hit[at + 2] ^= 0x10;
  TempDir tmp("stream");
  for (const std::string* bytes : std::vector<const std::string*>{&clean, &damaged, &header_hit}) {
    const fs::path file = tmp.path() / kFixtureFile;
    WriteBytes(file, *bytes);
    Parsed whole = ParseBytes(*bytes);
    for (size_t piece : {size_t{1}, size_t{17}, size_t{100}, size_t{4096}, size_t{1} << 20}) {
      ImportBatch batch;
      ASSERT_TRUE(ReadTfEventsFile(file.string(), &batch, piece).ok());
      ASSERT_EQ(batch.runs.size(), 1u);
      const ImportedRun& run = batch.runs[0];
      EXPECT_EQ(batch.records, whole.batch.records) << "piece " << piece;
      EXPECT_EQ(batch.bytes, whole.batch.bytes) << "piece " << piece;
      EXPECT_EQ(batch.skipped, whole.batch.skipped) << "piece " << piece;
      ASSERT_EQ(batch.issues.size(), whole.batch.issues.size()) << "piece " << piece;
      for (size_t i = 0; i < batch.issues.size(); ++i) {
        EXPECT_EQ(batch.issues[i].offset, whole.batch.issues[i].offset) << "piece " << piece;
        EXPECT_EQ(batch.issues[i].message, whole.batch.issues[i].message) << "piece " << piece;
      }
      ASSERT_EQ(run.series.size(), whole.run.series.size()) << "piece " << piece;
      for (size_t s = 0; s < run.series.size(); ++s) {
        EXPECT_EQ(run.series[s].key, whole.run.series[s].key);
        EXPECT_EQ(run.series[s].points, whole.run.series[s].points) << run.series[s].key;
      }
    }
    if (bytes != &clean) {
      EXPECT_FALSE(whole.batch.issues.empty());
    }
  }
}

}  // namespace
}  // namespace inloop::importers
