// inloop.toml through LoadConfig (toml++, then every field of [run] [parse] [store] [detect]
// [remedy]), and the custom patterns it yields compiled as `inloop run` compiles them.
// Contract: bad TOML or fields are Invalid with a message naming the file, never an exception
// or a crash.
#include <memory>

#include "config/config.h"
#include "fuzz_util.h"
#include "ingest/line_parser.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace inloop;
  static const auto path = fuzz::ScratchDir() / "inloop.toml";
  fuzz::WriteFile(path, std::string_view(reinterpret_cast<const char*>(data), size));
  config::Config cfg;
  Status s = config::LoadConfig(path.string(), &cfg);
  if (!s.ok()) {
    FUZZ_CHECK(s.code() == Status::Code::kInvalid, "a config error is not Invalid");
    FUZZ_CHECK(s.message().find(path.string()) != std::string::npos, "a config error does not name the file");
    return 0;
  }
  std::unique_ptr<ingest::LineParser> parser;
  if (ingest::LineParser::Create(cfg.patterns, &parser).ok()) {
    ingest::ParsedLine out;
    parser->Parse("EVAL 3 acc=0.5 step 4 loss 1.5", &out);
  }
  return 0;
}
