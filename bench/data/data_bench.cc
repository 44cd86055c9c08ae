// Data validation speed and duplicate-detection quality (issue 20), each against a baseline
// measured in the same run:
//   1. JSONL validation throughput on one core (schema of 3 fields, rows, nulls, empty, exact
//      duplicates, lengths; then with MinHash near duplicates too) vs a plain read of the same
//      file that only finds the line ends (memchr): the floor any line-based validator pays.
//   2. Near-duplicate recall on a planted set (documents copied with 1-3 words replaced) and the
//      false groups among the unrelated documents; exact-duplicate recall of verbatim copies.
// Usage: data_bench [--mb N] [--dir /tmp]. The generated file is deleted at the end.
#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <set>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "data/minhash.h"
#include "data/validate.h"

using namespace inloop;
using Clock = std::chrono::steady_clock;

namespace {

double Seconds(Clock::time_point a) { return std::chrono::duration<double>(Clock::now() - a).count(); }

std::string Generate(const std::string& dir, int64_t mb) {
  std::string path = dir + "/inloop-databench.jsonl";
  FILE* f = std::fopen(path.c_str(), "w");
  std::mt19937_64 rng(1);
  const char* words[] = {"river", "stone", "cloud", "lantern", "garden", "harbor", "letter",
                         "mountain", "window", "orchard", "bridge", "candle", "meadow", "valley"};
  const char* sources[] = {"essays", "letters", "notes", "stories"};
  int64_t bytes = 0, id = 0;
  std::string line, text;
  while (bytes < mb * 1000000) {
    text.clear();
    int n = 40 + static_cast<int>(rng() % 80);
    for (int w = 0; w < n; ++w) {
      text += words[rng() % 14];
      text += fmt::format("{} ", rng() % 1000);
    }
    line = fmt::format("{{\"id\": {}, \"source\": \"{}\", \"score\": {:.4f}, \"text\": \"{}\"}}\n", id++,
                       sources[rng() % 4], double(rng() % 10000) / 10000, text);
    std::fwrite(line.data(), 1, line.size(), f);
    bytes += static_cast<int64_t>(line.size());
  }
  std::fclose(f);
  return path;
}

double ScanOnly(const std::string& path, int64_t* lines) {
  auto t = Clock::now();
  int fd = ::open(path.c_str(), O_RDONLY);
  std::vector<char> buf(8 << 20);
  *lines = 0;
  for (;;) {
    ssize_t n = ::read(fd, buf.data(), buf.size());
    if (n <= 0) break;
    const char* p = buf.data();
    const char* end = p + n;
    while ((p = static_cast<const char*>(std::memchr(p, '\n', end - p)))) {
      ++*lines;
      ++p;
    }
  }
  ::close(fd);
  return Seconds(t);
}

data::CheckSpec On(std::string field = "") {
  data::CheckSpec c;
  c.enabled = true;
  c.field = std::move(field);
  return c;
}

void Throughput(const std::string& dir, int64_t mb) {
  std::string path = Generate(dir, mb);
  int64_t lines = 0;
  double size_mb = 0;
  {
    FILE* f = std::fopen(path.c_str(), "r");
    std::fseek(f, 0, SEEK_END);
    size_mb = double(std::ftell(f)) / 1e6;
    std::fclose(f);
  }
  ScanOnly(path, &lines);  // warm the page cache
  double base = 1e9;
  for (int i = 0; i < 2; ++i) base = std::min(base, ScanOnly(path, &lines));
  data::ValidationSpec spec;
  spec.output = "bench.jsonl";
  spec.format = "jsonl";
  spec.schema = {{"id", "integer"}, {"source", "string"}, {"text", "string"}};
  spec.rows = On();
  spec.nulls = On();
  spec.empty = On();
  spec.duplicates = On("text");
  spec.length = On("text");
  spec.length.min = 1;
  auto run = [&](const data::ValidationSpec& s) {
    double best = 1e9;
    for (int i = 0; i < 2; ++i) {
      std::vector<data::CheckResult> rs;
      auto t = Clock::now();
      data::Profile prof;
      Status st = data::ValidateOutput(path, s, nullptr, &rs, &prof);
      best = std::min(best, Seconds(t));
      if (!st.ok() || rs.empty() || rs[0].numbers[0].second != double(lines)) {
        fmt::print("validation failed: {}\n", st.message());
        std::exit(1);
      }
    }
    return best;
  };
  double v = run(spec);
  data::ValidationSpec near = spec;
  near.near_duplicates = On("text");
  double nv = run(near);
  fmt::print("JSONL validation, {:.0f} MB, {} records, one core:\n", size_mb, lines);
  fmt::print("  baseline: read + find line ends      {:8.0f} MB/s\n", size_mb / base);
  fmt::print("  schema/rows/nulls/empty/dups/length  {:8.0f} MB/s  ({:.1f}x the baseline's time)\n",
             size_mb / v, v / base);
  fmt::print("  ... + MinHash near duplicates        {:8.0f} MB/s  ({:.1f}x)\n", size_mb / nv, nv / base);
  std::remove(path.c_str());
}

void Recall() {
  std::mt19937 rng(5);
  auto word = [&] { return "w" + std::to_string(rng() % 20000); };
  std::vector<std::string> docs;
  const int base_docs = 20000, planted = 2000;
  for (int i = 0; i < base_docs; ++i) {
    std::string d;
    int n = 40 + static_cast<int>(rng() % 80);
    for (int w = 0; w < n; ++w) d += word() + " ";
    docs.push_back(d);
  }
  for (int i = 0; i < planted; ++i) {
    std::vector<std::string> words;
    std::string cur;
    for (char c : docs[i]) {
      if (c == ' ') {
        words.push_back(cur);
        cur.clear();
      } else {
        cur += c;
      }
    }
    int edits = 1 + i % 3;
    for (int e = 0; e < edits; ++e) words[rng() % words.size()] = "edit" + std::to_string(rng());
    std::string d;
    for (auto& w : words) d += w + " ";
    docs.push_back(d);
  }
  auto t = Clock::now();
  data::NearDuplicateIndex idx;
  for (auto& d : docs) idx.Add(d);
  const double threshold = 0.7;
  std::vector<int64_t> group;
  data::NearDuplicateGroups g = idx.Find(threshold, &group);
  double secs = Seconds(t);
  // Ground truth: the exact 3-shingle Jaccard of each planted copy with its original; a pair is
  // a near duplicate when it is >= the threshold. Unrelated random documents share ~no shingles.
  auto shingles = [](const std::string& d) {
    std::vector<std::string> w;
    std::string cur;
    for (char c : d) {
      if (c == ' ') {
        w.push_back(cur);
        cur.clear();
      } else {
        cur += c;
      }
    }
    std::set<std::string> s;
    for (size_t i = 2; i < w.size(); ++i) s.insert(w[i - 2] + " " + w[i - 1] + " " + w[i]);
    return s;
  };
  int truth = 0, found = 0;
  for (int i = 0; i < planted; ++i) {
    auto a = shingles(docs[i]), b = shingles(docs[base_docs + i]);
    int inter = 0;
    for (auto& x : a) inter += b.count(x);
    double j = double(inter) / double(a.size() + b.size() - inter);
    if (j < threshold) continue;
    ++truth;
    found += group[i] == group[base_docs + i];
  }
  int64_t false_extra = 0;
  for (int i = planted; i < base_docs; ++i) false_extra += group[i] != i;
  fmt::print("Near duplicates (threshold {}): {} planted copies among {} documents, {} of them with "
             "true Jaccard >= {}\n", threshold, planted, base_docs + planted, truth, threshold);
  fmt::print("  recall {:.4f} ({} of {}), unrelated documents grouped: {} ({:.2f} s for {} documents)\n",
             double(found) / truth, found, truth, false_extra, secs, docs.size());
  // Exact duplicates: verbatim copies, found by hashing (the duplicates check).
  std::string path = "/tmp/inloop-databench-exact.jsonl";
  {
    FILE* f = std::fopen(path.c_str(), "w");
    for (int i = 0; i < base_docs; ++i) std::fprintf(f, "{\"text\": \"%s\"}\n", docs[i].c_str());
    for (int i = 0; i < planted; ++i) std::fprintf(f, "{\"text\": \"%s\"}\n", docs[i * 7].c_str());
    std::fclose(f);
  }
  data::ValidationSpec spec;
  spec.output = "exact.jsonl";
  spec.format = "jsonl";
  spec.duplicates = On("text");
  std::vector<data::CheckResult> rs;
  data::Profile prof;
  (void)data::ValidateOutput(path, spec, nullptr, &rs, &prof);
  std::remove(path.c_str());
  for (auto& r : rs) {
    if (r.check == "duplicates") {
      fmt::print("Exact duplicates: {} verbatim copies planted, {} found: recall {:.4f}\n", planted,
                 r.numbers[0].second, r.numbers[0].second / planted);
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  int64_t mb = 300;
  std::string dir = "/tmp";
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::string(argv[i]) == "--mb") mb = std::atoll(argv[i + 1]);
    if (std::string(argv[i]) == "--dir") dir = argv[i + 1];
  }
  Recall();
  Throughput(dir, mb);
  return 0;
}
