// Reading the window's records back and comparing them with the normal batches.
#include "data/spike_data.h"

#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <unordered_map>
#include <unordered_set>

#include <fmt/format.h>
#include <simdjson.h>

#include "data/hash64.h"
#include "data/minhash.h"
#include "data/validate.h"

namespace inloop::data {
namespace {

// A rate stands out when it is at least this high and kRateFactor x the normal one plus kRateGap.
constexpr double kRateFloor = 0.2, kRateFactor = 3.0, kRateGap = 0.05;
// A median length stands out at this ratio (or its inverse) to the normal batches'.
constexpr double kLengthRatio = 2.0;
// Unusual words: a record whose words are mostly outside the normal vocabulary.
constexpr double kUnusualRecordShare = 0.5;
constexpr double kNearThreshold = 0.8;
constexpr size_t kNgramWords = 8;

struct Rec {
  int64_t id = 0;
  std::string raw;   // the line
  std::string text;  // the text looked at
};

SpikeMeasure MakeMeasure(const char* name, double window, double normal) {
  SpikeMeasure m;
  m.name = name;
  m.window = window;
  m.normal = normal;
  return m;
}

bool RateStandsOut(double w, double n) { return w >= kRateFloor && w >= kRateFactor * n + kRateGap; }

std::string Groups(double n) { return fmt::format("{} group{}", n, n == 1 ? "" : "s"); }

std::string Pct(double v) { return fmt::format("{:.0f}%", 100 * v); }

std::vector<std::string> Words(std::string_view s) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : s) {
    if (std::isalnum(static_cast<unsigned char>(c))) {
      cur += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    } else if (!cur.empty()) {
      if (cur.size() >= 2) out.push_back(cur);
      cur.clear();
    }
  }
  if (cur.size() >= 2) out.push_back(cur);
  return out;
}

// The text of a JSONL record's `field`, or of the whole line for text.
bool TextOf(simdjson::dom::parser* parser, const std::string& line, const std::string& field,
            std::string* out) {
  if (field.empty()) {
    *out = line;
    return true;
  }
  simdjson::dom::element doc;
  std::string_view s;
  if (parser->parse(line).get(doc) || doc[field].get_string().get(s)) return false;
  *out = std::string(s);
  return true;
}

// jsonl with "text" (or its longest string field), or text lines.
void DetectFormat(const std::string& first, std::string* format, std::string* field) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  simdjson::dom::object obj;
  *format = "text";
  field->clear();
  if (first.empty() || first[0] != '{' || parser.parse(first).get(doc) || doc.get_object().get(obj)) return;
  *format = "jsonl";
  size_t best = 0;
  for (auto kv : obj) {
    std::string_view s;
    if (kv.value.get_string().get(s)) continue;
    if (kv.key == "text") {
      *field = "text";
      return;
    }
    if (field->empty() || s.size() > best) {
      *field = std::string(kv.key);
      best = s.size();
    }
  }
}

struct Sampler {
  int64_t stride = 1, seen = 0;
  Sampler(int64_t n, int64_t max) : stride(std::max<int64_t>(1, (n + max - 1) / max)) {}
  bool Take() { return seen++ % stride == 0; }
};

// Reads the file once: the window's and the normal sample's records, and every record's text hash.
Status ReadRecords(const RecordSplit& split, SpikeData* d, std::vector<Rec>* window,
                   std::vector<Rec>* normal, std::vector<uint64_t>* hashes) {
  std::ifstream in(split.path, std::ios::binary);
  if (!in) return Status::NotFound(fmt::format("{}: cannot read the dataset", split.path));
  Sampler ws(CountIds(split.window), kMaxWindowRecords), ns(CountIds(split.normal), kMaxNormalRecords);
  simdjson::dom::parser parser;
  std::string line, text;
  bool detected = false;
  for (int64_t id = 0; std::getline(in, line); ++id) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (!detected && !line.empty()) {
      DetectFormat(line, &d->format, &d->field);
      detected = true;
    }
    if (!TextOf(&parser, line, d->field, &text)) text.clear();
    hashes->push_back(Hash64(text));
    bool w = InRanges(split.window, id);
    if (w && ws.Take()) window->push_back({id, line, text});
    if (!w && InRanges(split.normal, id) && ns.Take()) normal->push_back({id, line, text});
  }
  return Status::OK();
}

// ValidateOutput on `recs` written to a scratch file: the pipeline's checks, verbatim.
Status Validate(const std::vector<Rec>& recs, const SpikeData& d, const std::string& dir,
                const char* name, std::vector<CheckResult>* out) {
  std::string path = dir + "/" + name;
  {
    std::ofstream f(path, std::ios::binary | std::ios::trunc);
    for (auto& r : recs) f << r.raw << '\n';
    if (!f) return Status::Io(fmt::format("{}: cannot write the records to check", path));
  }
  ValidationSpec spec;
  spec.output = name;
  spec.format = d.format;
  for (CheckSpec* c : {&spec.duplicates, &spec.near_duplicates, &spec.length}) {
    c->enabled = true;
    c->severity = Severity::kWarn;
    c->field = d.field;
    c->max_rate = 0;
  }
  spec.near_duplicates.threshold = kNearThreshold;
  Status s = ValidateOutput(path, spec, nullptr, out, nullptr);
  std::remove(path.c_str());
  return s;
}

const CheckResult* Find(const std::vector<CheckResult>& v, const char* check) {
  for (auto& c : v) {
    if (c.check == check) return &c;
  }
  return nullptr;
}

double Number(const CheckResult* c, const char* name) {
  if (!c) return 0;
  for (auto& [k, v] : c->numbers) {
    if (k == name) return v;
  }
  return 0;
}

void AddRateMeasures(const std::vector<Rec>& window, SpikeData* d, std::vector<bool>* flag) {
  const CheckResult* wn = Find(d->window_checks, "near_duplicates");
  const CheckResult* nn = Find(d->normal_checks, "near_duplicates");
  SpikeMeasure near = MakeMeasure("near_duplicates", wn ? wn->value : 0, nn ? nn->value : 0);
  near.stands_out = RateStandsOut(near.window, near.normal);
  near.text = fmt::format("{} of the window's records are near duplicates of another of them "
                          "(MinHash, Jaccard >= {}; {}), against {} in the normal batches",
                          Pct(near.window), kNearThreshold, Groups(Number(wn, "groups")), Pct(near.normal));
  if (near.stands_out) {
    NearDuplicateIndex idx;
    for (auto& r : window) idx.Add(r.text);
    std::vector<int64_t> group;
    idx.Find(kNearThreshold, &group);
    std::map<int64_t, int> size;
    for (int64_t g : group) ++size[g];
    for (size_t i = 0; i < window.size(); ++i) {
      if (size[group[i]] > 1) (*flag)[i] = true;
    }
  }
  d->measures.push_back(near);

  const CheckResult* wd = Find(d->window_checks, "duplicates");
  const CheckResult* nd = Find(d->normal_checks, "duplicates");
  SpikeMeasure dup = MakeMeasure("duplicates", wd ? wd->value : 0, nd ? nd->value : 0);
  dup.stands_out = RateStandsOut(dup.window, dup.normal);
  dup.text = fmt::format("{} of the window's records repeat another of them exactly ({}), "
                         "against {} in the normal batches", Pct(dup.window),
                         Groups(Number(wd, "groups")), Pct(dup.normal));
  if (dup.stands_out) {
    std::unordered_map<uint64_t, int> n;
    for (auto& r : window) ++n[Hash64(r.text)];
    for (size_t i = 0; i < window.size(); ++i) {
      if (n[Hash64(window[i].text)] > 1) (*flag)[i] = true;
    }
  }
  d->measures.push_back(dup);
}

void AddElsewhere(const std::vector<Rec>& window, const std::vector<Rec>& normal,
                  const std::vector<uint64_t>& hashes, const IdRanges& window_ids, SpikeData* d,
                  std::vector<bool>* flag) {
  std::unordered_map<uint64_t, int64_t> total, outside;
  for (auto& r : window) total[Hash64(r.text)] = 0;
  for (auto& r : normal) total[Hash64(r.text)] = 0;
  for (size_t id = 0; id < hashes.size(); ++id) {
    auto it = total.find(hashes[id]);
    if (it == total.end()) continue;
    ++it->second;
    if (!InRanges(window_ids, static_cast<int64_t>(id))) ++outside[hashes[id]];
  }
  int64_t w = 0, n = 0;
  std::vector<bool> here(window.size(), false);
  for (size_t i = 0; i < window.size(); ++i) {
    here[i] = outside[Hash64(window[i].text)] > 0;
    w += here[i];
  }
  for (auto& r : normal) n += total[Hash64(r.text)] > 1;
  SpikeMeasure m = MakeMeasure("duplicates_elsewhere", window.empty() ? 0 : double(w) / double(window.size()),
                               normal.empty() ? 0 : double(n) / double(normal.size()));
  m.stands_out = RateStandsOut(m.window, m.normal);
  m.text = fmt::format("{} of the window's records also occur verbatim elsewhere in the dataset, "
                       "against {} of the normal batches' records", Pct(m.window), Pct(m.normal));
  if (m.stands_out) {
    for (size_t i = 0; i < window.size(); ++i) {
      if (here[i]) (*flag)[i] = true;
    }
  }
  d->measures.push_back(m);
}

// Near duplicates against the rest of the data: a window record, or a record of half B of the
// normal sample, whose MinHash group holds a record of half A of the normal sample (the same
// reference for both sides).
void AddNearElsewhere(const std::vector<Rec>& window, const std::vector<Rec>& normal, SpikeData* d,
                      std::vector<bool>* flag) {
  if (normal.size() < 20) return;
  NearDuplicateIndex idx;
  for (auto& r : normal) idx.Add(r.text);
  for (auto& r : window) idx.Add(r.text);
  std::vector<int64_t> group;
  idx.Find(kNearThreshold, &group);
  std::unordered_set<int64_t> has_a;  // groups holding a record of half A (even positions)
  for (size_t i = 0; i < normal.size(); i += 2) has_a.insert(group[i]);
  int64_t w = 0, b = 0, nb = 0;
  std::vector<bool> here(window.size(), false);
  for (size_t i = 0; i < window.size(); ++i) {
    here[i] = has_a.count(group[normal.size() + i]) > 0;
    w += here[i];
  }
  for (size_t i = 1; i < normal.size(); i += 2) {
    ++nb;
    b += has_a.count(group[i]) > 0;
  }
  SpikeMeasure m = MakeMeasure("near_duplicates_elsewhere", window.empty() ? 0 : double(w) / double(window.size()),
                               nb ? double(b) / double(nb) : 0);
  m.stands_out = RateStandsOut(m.window, m.normal);
  m.text = fmt::format("{} of the window's records are near duplicates of records elsewhere in the data "
                       "(half of the normal batches' sample), against {} of the other half's",
                       Pct(m.window), Pct(m.normal));
  if (m.stands_out) {
    for (size_t i = 0; i < window.size(); ++i) {
      if (here[i]) (*flag)[i] = true;
    }
  }
  d->measures.push_back(m);
}

void AddLength(const std::vector<Rec>& window, SpikeData* d, std::vector<bool>* flag) {
  double wm = Number(Find(d->window_checks, "length"), "p50");
  double nm = Number(Find(d->normal_checks, "length"), "p50");
  SpikeMeasure m = MakeMeasure("length", wm, nm);
  double ratio = nm > 0 ? wm / nm : 0;
  m.stands_out = nm > 0 && wm > 0 && (ratio >= kLengthRatio || ratio <= 1 / kLengthRatio);
  m.text = fmt::format("median length {:.0f} bytes, {:.1f}x the normal batches' {:.0f}", wm, ratio, nm);
  if (m.stands_out) {
    for (size_t i = 0; i < window.size(); ++i) {
      double len = static_cast<double>(window[i].text.size());
      if (ratio >= kLengthRatio ? len >= kLengthRatio * nm : len <= nm / kLengthRatio) (*flag)[i] = true;
    }
  }
  d->measures.push_back(m);
}

void AddUnusualWords(const std::vector<Rec>& window, const std::vector<Rec>& normal, SpikeData* d,
                     std::vector<bool>* flag) {
  if (normal.size() < 20) return;  // too few normal records to know the usual words
  std::unordered_set<std::string> vocab;
  for (size_t i = 0; i < normal.size(); i += 2) {
    for (auto& w : Words(normal[i].text)) vocab.insert(w);
  }
  auto share = [&](const std::vector<Rec>& recs, size_t from, size_t step, std::map<std::string, int64_t>* top,
                   std::vector<bool>* rec_flag) {
    int64_t words = 0, out = 0;
    for (size_t i = from; i < recs.size(); i += step) {
      int64_t rw = 0, ro = 0;
      for (auto& w : Words(recs[i].text)) {
        ++rw;
        if (vocab.count(w)) continue;
        ++ro;
        if (top) ++(*top)[w];
      }
      words += rw;
      out += ro;
      if (rec_flag && ro >= 2 && double(ro) >= kUnusualRecordShare * double(rw)) (*rec_flag)[i] = true;
    }
    return words ? double(out) / double(words) : 0.0;
  };
  std::map<std::string, int64_t> top;
  std::vector<bool> rec_flag(window.size(), false);
  SpikeMeasure m = MakeMeasure("unusual_words", share(window, 0, 1, &top, &rec_flag), share(normal, 1, 2, nullptr, nullptr));
  m.stands_out = RateStandsOut(m.window, m.normal);
  std::vector<std::pair<int64_t, std::string>> order;
  for (auto& [w, n] : top) order.emplace_back(-n, w);
  std::sort(order.begin(), order.end());
  for (size_t i = 0; i < order.size() && i < 8; ++i) d->unusual_words.push_back(order[i].second);
  std::string examples;
  for (size_t i = 0; i < d->unusual_words.size() && i < 5; ++i) {
    examples += fmt::format("{}'{}'", i ? ", " : "", d->unusual_words[i]);
  }
  m.text = fmt::format("{} of the window's words never occur in the normal batches' sample{}, "
                       "against {} for normal records", Pct(m.window),
                       examples.empty() ? "" : " (" + examples + ")", Pct(m.normal));
  if (m.stands_out) {
    for (size_t i = 0; i < window.size(); ++i) {
      if (rec_flag[i]) (*flag)[i] = true;
    }
  }
  d->measures.push_back(m);
}

// The share of word n-gram occurrences (n = kNgramWords) in the first `k` records of `recs` that
// repeat one seen earlier among them: the text analogue of the token shards' repeated_ngrams check.
double RepeatedNgrams(const std::vector<Rec>& recs, size_t k, std::vector<bool>* rec_flag) {
  std::unordered_set<uint64_t> seen;
  int64_t total = 0, repeated = 0;
  for (size_t i = 0; i < k && i < recs.size(); ++i) {
    std::vector<std::string> w = Words(recs[i].text);
    int64_t rt = 0, rr = 0;
    for (size_t j = 0; j + kNgramWords <= w.size(); ++j) {
      uint64_t h = 0;
      for (size_t t = j; t < j + kNgramWords; ++t) h = Hash64(w[t], h);
      ++rt;
      rr += !seen.insert(h).second;
    }
    total += rt;
    repeated += rr;
    if (rec_flag && rt > 0 && 4 * rr >= rt) (*rec_flag)[i] = true;  // a quarter repeats
  }
  return total ? double(repeated) / double(total) : 0.0;
}

void AddRepeatedNgrams(const std::vector<Rec>& window, const std::vector<Rec>& normal, SpikeData* d,
                       std::vector<bool>* flag) {
  // Equal numbers of records on both sides: repeats grow with the sample.
  size_t k = std::min(window.size(), normal.size());
  if (k < 10) return;
  std::vector<bool> rec_flag(window.size(), false);
  SpikeMeasure m = MakeMeasure("repeated_ngrams", RepeatedNgrams(window, k, &rec_flag),
                               RepeatedNgrams(normal, k, nullptr));
  m.stands_out = RateStandsOut(m.window, m.normal);
  m.text = fmt::format("{} of the word {}-grams of {} window records repeat an earlier one among them, "
                       "against {} in as many normal records", Pct(m.window), kNgramWords, k, Pct(m.normal));
  if (m.stands_out) {
    for (size_t i = 0; i < window.size(); ++i) {
      if (rec_flag[i]) (*flag)[i] = true;
    }
  }
  d->measures.push_back(m);
}

std::string Summarize(const SpikeData& d) {
  std::string out;
  for (auto& m : d.measures) {
    if (m.stands_out) out += (out.empty() ? "" : "; ") + m.text;
  }
  if (!out.empty()) return out;
  std::string nums;
  for (auto& m : d.measures) {
    if (m.name == "length") {
      nums += fmt::format("{}median length {:.1f}x", nums.empty() ? "" : ", ",
                          m.normal > 0 ? m.window / m.normal : 0.0);
    } else {
      nums += fmt::format("{}{} {} (normal {})", nums.empty() ? "" : ", ", m.name, Pct(m.window), Pct(m.normal));
    }
  }
  return "nothing unusual found: the window's records look like the normal batches' (" + nums + ")";
}

}  // namespace

std::string LineRangesText(const IdRanges& records) {
  std::string s;
  for (auto& [lo, hi] : records) {
    s += s.empty() ? "" : ",";
    s += hi - lo == 1 ? fmt::format("{}", lo + 1) : fmt::format("{}-{}", lo + 1, hi);
  }
  return s;
}

std::string LineRangesText(const std::vector<int64_t>& records) { return LineRangesText(ToRanges(records)); }

SpikeData AnalyzeSpikeData(const RecordSplit& split) {
  SpikeData d;
  d.dataset = split.dataset;
  d.path = split.path;
  d.data_indices = split.window_indices;
  d.window = split.window;
  d.window_batches = split.window_batches;
  d.normal_batches = split.normal_batches;
  d.window_records = CountIds(split.window);
  d.normal_records = CountIds(split.normal);
  if (d.window_records == 0) {
    d.error = "the skipped batches recorded no records";
    return d;
  }
  std::vector<Rec> window, normal;
  std::vector<uint64_t> hashes;
  Status s = ReadRecords(split, &d, &window, &normal, &hashes);
  if (s.ok() && window.empty()) {
    s = Status::NotFound(fmt::format("{} has {} records; the window's are past its end (the file changed "
                                     "since the run read it?)", split.path, hashes.size()));
  }
  d.window_analysed = static_cast<int64_t>(window.size());
  d.normal_analysed = static_cast<int64_t>(normal.size());
  std::string tmpl = (std::filesystem::temp_directory_path() / "inloop-spike-XXXXXX").string();
  if (s.ok() && !::mkdtemp(tmpl.data())) s = Status::Io("cannot make a scratch directory for the window's records");
  if (s.ok()) {
    s = Validate(window, d, tmpl, "window.records", &d.window_checks);
    if (s.ok()) s = Validate(normal, d, tmpl, "normal.records", &d.normal_checks);
    ::rmdir(tmpl.c_str());
  }
  if (!s.ok()) {
    d.error = s.message();
    return d;
  }
  std::vector<bool> flag(window.size(), false);
  AddRateMeasures(window, &d, &flag);
  AddElsewhere(window, normal, hashes, split.window, &d, &flag);
  AddNearElsewhere(window, normal, &d, &flag);
  AddLength(window, &d, &flag);
  AddRepeatedNgrams(window, normal, &d, &flag);
  AddUnusualWords(window, normal, &d, &flag);
  for (size_t i = 0; i < window.size(); ++i) {
    if (flag[i]) d.flagged.push_back(window[i].id);
  }
  d.summary = Summarize(d);
  return d;
}

void WriteSpikeDataJson(const SpikeData& d, JsonWriter* w) {
  auto ranges = [&](const char* key, const IdRanges& r) {
    w->Key(key).BeginArray();
    for (auto& [lo, hi] : r) w->BeginArray().Int(lo).Int(hi).EndArray();
    w->EndArray();
  };
  w->BeginObject().Key("dataset").String(d.dataset).Key("path").String(d.path);
  w->Key("format").String(d.format).Key("field").String(d.field);
  ranges("data_indices", d.data_indices);
  ranges("window", d.window);
  w->Key("window_lines").String(LineRangesText(d.window));
  w->Key("window_batches").Int(d.window_batches).Key("normal_batches").Int(d.normal_batches);
  w->Key("window_records").Int(d.window_records).Key("window_analysed").Int(d.window_analysed);
  w->Key("normal_records").Int(d.normal_records).Key("normal_analysed").Int(d.normal_analysed);
  w->Key("measures").BeginArray();
  for (auto& m : d.measures) {
    w->BeginObject().Key("name").String(m.name).Key("window").Number(m.window);
    w->Key("normal").Number(m.normal).Key("stands_out").Bool(m.stands_out).Key("text").String(m.text);
    w->EndObject();
  }
  w->EndArray().Key("unusual_words").BeginArray();
  for (auto& u : d.unusual_words) w->String(u);
  w->EndArray().Key("flagged").Int(static_cast<int64_t>(d.flagged.size()));
  w->Key("flagged_lines").String(LineRangesText(d.flagged));
  w->Key("summary").String(d.summary).Key("error").String(d.error);
  w->Key("window_checks").BeginArray();
  for (auto& c : d.window_checks) w->Raw(CheckResultJson(c));
  w->EndArray().Key("normal_checks").BeginArray();
  for (auto& c : d.normal_checks) w->Raw(CheckResultJson(c));
  w->EndArray().EndObject();
}

}  // namespace inloop::data
