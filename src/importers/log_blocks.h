// The parts of a plain log that are not one line's metrics, for the log importer: the
// configuration a trainer echoes before it trains, which is made of params, not metrics, and
// tab-separated tables ("step<TAB>loss" and its rows), which are read by column.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "importers/imported_run.h"
#include "importers/text_input.h"

namespace inloop::importers {

// A configuration echo block: Caffe prints "Initializing solver from parameters:" (or
// "Initializing net from parameters:") and then the prototxt, one "key: value", "name {" or "}" per line, until
// its next glog line. Every "key: value" in the block is a param: top-level solver keys as
// written ("base_lr", "max_iter"), nested keys joined by '/' under the enclosing blocks, with a
// layer's block named by its `name` ("conv1/param/lr_mult"), and net keys under "net/". Quotes
// around a value are removed.
class ConfigEcho {
 public:
  // True when `line` starts or continues a block: it is then no metric line.
  bool Consume(std::string_view line, ImportedRun* run);

 private:
  // A line of an open block: true when it belongs to it.
  bool InBlock(std::string_view line, ImportedRun* run);

  bool in_block_ = false;
  std::string prefix_;             // "" for a solver, "net/" for a net
  std::vector<std::string> path_;  // the enclosing blocks' names
};

// "key: value" alone on a line, with a one-word key ("base_lr: 0.01", "  max_iter: 10000"): how
// a configuration is echoed. Returns the key and the value's text.
bool BareSetting(std::string_view line, std::string_view* key, std::string_view* value);

// A table of tab-separated columns: a header line of names ("step\tloss\tacc": at least two,
// each one word of letters, digits and _ . / - @ that is not a number) and the rows after it,
// each with as many fields, all numbers. A column named by a step key (step, iter, iteration,
// global_step, ...) gives the row's step and one named by a wall-time key (time, timestamp,
// wall_time) its wall time; every other column is a series keyed by its name. A line of another
// shape ends the table.
class TabTable {
 public:
  // True when `line` is a header or a row; a row's values are added to *run.
  bool Consume(std::string_view line, double wall_time, ImportedRun* run, StepCounter* counter);

 private:
  std::vector<std::string> header_;
  std::vector<std::string_view> fields_;  // scratch
  std::vector<double> values_;            // scratch
};

}  // namespace inloop::importers
