// LineParser: dispatch of one output line to the custom patterns (PCRE2, JIT) and the built-in
// shapes (json_metrics.h, text_metrics.h). This comment is the reference for what becomes a
// metric; tests/data/lines/ holds an example of every rule.
//
// Order. (1) Custom patterns, in configuration order; the first whose match yields a metric
// wins. (2) Lines with no digit and no "nan"/"inf" are rejected at once. (3) A line ending in
// '}' is parsed from its first '{' as a JSON object (simdjson) or, failing that, as a Python
// dict print; any text before the '{' is a log prefix and ignored (fairseq's
// "... | INFO | train_inner | {...}"). (4) Otherwise the text rules below.
//
// Keys. JSON/dict keys are kept as written; nested objects join with '/' ("train/loss").
// Text keys are lower-cased and their words joined by '_' ("lm loss" -> "lm_loss"). A unit in
// parentheses after a key and a unit after a number are appended with '_': "elapsed time per
// iteration (ms): 812" -> elapsed_time_per_iteration_ms, "time 12.34ms" -> time_ms, "11.7it/s"
// -> it_per_s ('/' reads "_per_", 'µ' reads 'u'). Values are never rescaled: "time 0.5s" and
// "time 500ms" are two series, time_s and time_ms. A trailing '%' is dropped ("mfu 1.23%" ->
// mfu = 1.23). Only known units count (ms, s, min, h, it/s, tok/s, GB, TFLOPs, ... see
// IsKnownUnit); any other word after a number makes the item prose ("Using 8 GPUs").
//
// Step. Keys step, iter, iteration, update, global_step, num_updates (any case) are never
// metrics. With a whole, non-negative value they set the step; with several, global_step >
// num_updates > step > iteration > iter > update; a fractional or negative value (fairseq's
// "update": 1.003, a "step": -1 placeholder) is dropped. In JSON only top-level keys count.
// epoch is always a metric. In JSON and dict lines one metric per key: the last value wins.
// In text lines a key met again later in the line is another measurement (train, then val:
// "Token Acc: 0.5 | Val Loss: 2.1 | Token Acc: 0.4"): it becomes "<pass>_<key>" when a key
// before it began with a pass word (val, valid, validation, eval, test, dev; here
// val_token_acc) and that name is free, else "<key>_2", "<key>_3", ... At most 100,000 metrics per line
// (ParsedLine::dropped counts the rest, which readers report); keys longer than 256 bytes, or
// with control characters or invalid UTF-8, are skipped. A line with a step but no metric returns false.
//
// Text rules (what keeps prose out):
// - After a log prefix is stripped ("[default7]:", "[...]", dates, times, INFO/WARNING...,
//   "INFO:name:", "rank0:"), the line is split into segments at '|', ';', ',', a tab and " - ",
//   but not inside (), [] or {}, not at a comma inside "25,000", and not at a tab after "key:".
// - A segment must be, in full, a sequence of items KEY SEP NUMBER [UNIT]. KEY is 1-6 words
//   (a word starts with a letter or '_' and continues with letters, digits, _ . / @ -), plus an
//   optional "(unit)". SEP is ':' or '=' (strong) or whitespace (weak). A weak key has at most
//   2 words, none of them a function word or prose verb (of, in, at, to, using, loading, ...).
//   NUMBER is a full token: "2.1.0", "12:00:00", "ckpt-100.pt" and "v1" are not numbers;
//   nan/inf/infinity are ("loss nan"), though a key may contain the word ("number of nan
//   iterations: 0"). Step keys and epoch may carry a total ("iteration 100/ 500000", "Epoch
//   1/10"), and the first item of a line may be a step/epoch head closed by ':' ("iter 100:").
//   A number in parentheses right after a value is a running average and skipped ("loss: 6.9
//   (6.9)", torchvision/timm).
// - A segment that is not such a sequence is cut at runs of two or more spaces (aligned logs:
//   "lr: 0.1  eta: 0:30:00  loss: 6.9"); each part that is such a sequence counts. A part that
//   is not still yields its step if it ends in "at <step key> N" ("valid loss at iteration
//   45000") and its single-word key=NUMBER tokens ("epoch 001: 100 / 1000 loss=2.34" -> loss);
//   everything else is ignored.
// - Keys naming identifiers (version, pid, port, line, lineno, rank, id, seed, v_num, by their
//   last word) are never metrics: "CUDA version: 12.1", "local_rank=0".
// - The line is accepted when it has a strong pair; or a step and a weak pair ("step 100 |
//   loss 2.34", "iter 100: loss 2.34, time 12ms"); or an epoch head closed by ':' or a
//   separator and a weak pair ("Epoch 3: loss 2.3"); or an epoch head and two weak pairs. So
//   "line 12" in a traceback, "Python 3.10", "Using 8 GPUs", "Step 5 of 10", "Epoch 3 finished
//   in 12 minutes", "torch 2.1.0" yield nothing.
// - Megatron-LM: a record starting "iteration N/M" ends with '|'. When a line ends without
//   it, its last segment is held back and completed by the next line if that line continues
//   the table (contains '|', has no step head); the joined segment is used only when the break
//   is visibly between words (a space on either side), the rest of the continuation line takes
//   the held record's step. A '|' table of Megatron keys with no step and no held record is a
//   fragment and yields nothing (so " rate: 4.475E-05 | ..." never makes a metric "rate").
// - Caffe (glog prefix "I0402 10:11:12.345678  1234 solver.cpp:218] " stripped like the
//   others): "Iteration N (12.3 iter/s, 8.1s/100 iters), loss = 2.3" sets the step to N and
//   gives iter_per_s and loss; "Iteration N, lr = 0.01" the step and lr; "Iteration N, Testing
//   net (#0)" only the step. "Train net output #0: loss = 2.3 (* 1 = 2.3 loss)" and "Test net
//   output #1: accuracy = 0.9" give train_loss and test_accuracy at the step of the latest
//   "Iteration N" line (the parser remembers it). The solver/net configuration Caffe echoes at
//   the top of a log is not parsed here: the log importer reads it as params (log_reader.h).
// - tqdm bars ("...%|...| n/total [elapsed<eta, rate, k=v, ...]"): postfix k=v values are
//   metrics; when the description is "Epoch N" (PyTorch Lightning) also epoch, it_per_s (or
//   s_per_it) and step = N * total + n, which keeps the step increasing across epochs. Other
//   bars (data loading, evaluation) give no step, so they cannot rewind the training's step.
//
// Custom patterns: PCRE2 with UTF and invalid-UTF-8 tolerance, JIT-compiled once, match limit
// 1e6. Each named group becomes a metric keyed by the group's name; group "step" is the step.
// A group's text must be one number (the grammar of number_scan.h); other groups are skipped.
#include "ingest/line_parser.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <fmt/format.h>
#include <pcre2.h>

#include "ingest/json_metrics.h"
#include "ingest/metric_sink.h"
#include "ingest/number_scan.h"
#include "ingest/text_metrics.h"

namespace inloop::ingest {
namespace {

struct CodeFree {
  void operator()(pcre2_code* c) const { pcre2_code_free(c); }
};
struct MatchDataFree {
  void operator()(pcre2_match_data* m) const { pcre2_match_data_free(m); }
};
struct MatchContextFree {
  void operator()(pcre2_match_context* m) const { pcre2_match_context_free(m); }
};

// Bounds the work of one match against catastrophic backtracking.
constexpr uint32_t kMatchLimit = 1000000;

struct Group {
  uint32_t number;
  std::string name;
  bool is_step;
};

struct CompiledPattern {
  std::string name;
  std::unique_ptr<pcre2_code, CodeFree> code;
  std::unique_ptr<pcre2_match_data, MatchDataFree> match_data;
  bool jit = false;
  std::vector<Group> groups;
};

std::string PcreError(int code) {
  PCRE2_UCHAR buf[256];
  int n = pcre2_get_error_message(code, buf, sizeof(buf));
  if (n < 0) return fmt::format("error {}", code);
  return std::string(reinterpret_cast<const char*>(buf), static_cast<size_t>(n));
}

// No digit and no "nan"/"inf": nothing any built-in shape could read as a number.
bool MayHaveNumber(std::string_view s) {
  const size_t n = s.size();
  for (size_t i = 0; i < n; ++i) {
    char c = s[i];
    if (IsDigit(c)) return true;
    // "nan" / "inf": only the rare 'n'/'i' bytes look further.
    char l = static_cast<char>(c | 0x20);
    if ((l == 'n' || l == 'i') && i + 2 < n) {
      char b = static_cast<char>(s[i + 1] | 0x20), d = static_cast<char>(s[i + 2] | 0x20);
      if ((l == 'n' && b == 'a' && d == 'n') || (l == 'i' && b == 'n' && d == 'f')) return true;
    }
  }
  return false;
}

}  // namespace

struct LineParser::Impl {
  std::vector<CompiledPattern> patterns;
  std::unique_ptr<pcre2_match_context, MatchContextFree> match_context;
  JsonMetrics json;
  TextMetrics text;

  bool MatchPatterns(std::string_view line, MetricSink* sink);
};

bool LineParser::Impl::MatchPatterns(std::string_view line, MetricSink* sink) {
  const auto* subject = reinterpret_cast<PCRE2_SPTR>(line.data());
  for (CompiledPattern& p : patterns) {
    int rc = p.jit ? pcre2_jit_match(p.code.get(), subject, line.size(), 0, 0, p.match_data.get(),
                                     match_context.get())
                   : pcre2_match(p.code.get(), subject, line.size(), 0, 0, p.match_data.get(),
                                 match_context.get());
    if (rc <= 0) continue;  // no match, or an error such as the match limit
    const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(p.match_data.get());
    for (const Group& g : p.groups) {
      if (g.number >= static_cast<uint32_t>(rc)) continue;
      PCRE2_SIZE b = ov[2 * g.number], e = ov[2 * g.number + 1];
      if (b == PCRE2_UNSET || e < b || e > line.size()) continue;
      double v = 0;
      if (!ParseNumericString(line.substr(b, e - b), &v)) continue;
      int64_t step = 0;
      if (g.is_step) {
        if (AsStep(v, &step)) sink->OfferStep(StepKeyRank("step"), step);
      } else {
        sink->Add(g.name, v);
      }
    }
    if (sink->size() > 0) return true;
    sink->Reset();
  }
  return false;
}

LineParser::LineParser() : impl_(std::make_unique<Impl>()) {}
LineParser::~LineParser() = default;

Status LineParser::Create(std::vector<CustomPattern> patterns, std::unique_ptr<LineParser>* out) {
  std::unique_ptr<LineParser> parser(new LineParser());
  Impl& impl = *parser->impl_;
  impl.match_context.reset(pcre2_match_context_create(nullptr));
  if (!impl.match_context) return Status::Invalid("pcre2: out of memory");
  pcre2_set_match_limit(impl.match_context.get(), kMatchLimit);
  for (CustomPattern& cp : patterns) {
    int err = 0;
    PCRE2_SIZE offset = 0;
    pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(cp.regex.data()), cp.regex.size(),
                                     PCRE2_UTF | PCRE2_MATCH_INVALID_UTF, &err, &offset, nullptr);
    if (code == nullptr) {
      return Status::Invalid(
          fmt::format("pattern '{}': {} at offset {}", cp.name, PcreError(err), offset));
    }
    CompiledPattern compiled;
    compiled.name = std::move(cp.name);
    compiled.code.reset(code);
    compiled.jit = pcre2_jit_compile(code, PCRE2_JIT_COMPLETE) == 0;
    compiled.match_data.reset(pcre2_match_data_create_from_pattern(code, nullptr));
    if (!compiled.match_data) return Status::Invalid("pcre2: out of memory");

    uint32_t count = 0, entry_size = 0;
    PCRE2_SPTR table = nullptr;
    pcre2_pattern_info(code, PCRE2_INFO_NAMECOUNT, &count);
    pcre2_pattern_info(code, PCRE2_INFO_NAMEENTRYSIZE, &entry_size);
    pcre2_pattern_info(code, PCRE2_INFO_NAMETABLE, &table);
    bool has_metric = false;
    for (uint32_t i = 0; i < count; ++i) {
      PCRE2_SPTR entry = table + static_cast<size_t>(i) * entry_size;
      Group g;
      g.number = (static_cast<uint32_t>(entry[0]) << 8) | entry[1];
      g.name = reinterpret_cast<const char*>(entry + 2);
      g.is_step = g.name == "step";
      has_metric = has_metric || !g.is_step;
      compiled.groups.push_back(std::move(g));
    }
    if (!has_metric) {
      return Status::Invalid(fmt::format(
          "pattern '{}': no named group other than 'step'; name each value to record, e.g. "
          "(?<loss>[0-9.eE+-]+)",
          compiled.name));
    }
    impl.patterns.push_back(std::move(compiled));
  }
  *out = std::move(parser);
  return Status::OK();
}

bool LineParser::Parse(std::string_view line, ParsedLine* out) {
  MetricSink sink(out);
  sink.Reset();
  size_t end = line.size();
  while (end > 0 && IsSpace(line[end - 1])) --end;
  line = line.substr(0, end);
  Impl& impl = *impl_;

  if (!impl.patterns.empty() && impl.MatchPatterns(line, &sink)) return true;
  if (line.empty() || !MayHaveNumber(line)) {
    impl.text.ResetContinuation();
    return false;
  }
  if (line.back() == '}') {
    size_t open = line.find('{');
    if (open != std::string_view::npos && impl.json.Parse(line.substr(open), &sink)) {
      impl.text.ResetContinuation();
      if (sink.size() > 0) return true;
      sink.Reset();
      return false;
    }
  }
  if (impl.text.Parse(line, &sink)) return true;
  sink.Reset();
  return false;
}

}  // namespace inloop::ingest
