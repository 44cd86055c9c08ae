// Small pieces every CLI verb uses: where the store is, how an error is printed and mapped to an
// exit code, how times, numbers and commands are shown to people, whether colour is allowed.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "common/status.h"
#include "store/store.h"

namespace inloop::cli {

// Colours only on a terminal and never with NO_COLOR set.
bool UseColor(int fd);
// --store, else $INLOOP_STORE, else the config file's store, else ./.inloop.
std::string ResolveStore(const std::string& flag, const std::string& from_config = "");
// Prints "inloop: error: MESSAGE" on stderr and returns the exit code for the status.
int Fail(const Status& s);
// Shortest round-trip text of a number ("NaN", "Infinity" unquoted).
std::string NumberText(double v);
// Opens an existing store (NotFound when there is none at `dir`).
Status OpenStore(const std::string& dir, std::unique_ptr<store::Store>* st);
// USER@HOST of whoever runs the command, for decision trails (approve/deny, model promotions).
std::string CliUser();

}  // namespace inloop::cli
