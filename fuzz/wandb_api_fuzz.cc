// W&B's wire protocol without the store (http/graphql.h, http/wandb_translate.h): the first byte
// picks a GraphQL document (parsed, then an answer projected onto it), a file stream body (against
// a stored state), or an upsertBucket input (JSON). Contract: a refusal is Invalid and nothing
// else; an accepted file stream never moves a stored count back and only yields points with keys;
// an accepted upsert names a run and a project.
#include <string>
#include <vector>

#include "fuzz_util.h"
#include "http/graphql.h"
#include "http/wandb_translate.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace inloop::http;
  using inloop::Status;
  if (size == 0) return 0;
  std::string in(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 3) {
    case 0: {
      graphql::Value vars = graphql::Value::Object();
      vars.Set("name", graphql::Value::String("run"));
      graphql::Operation op;
      Status s = graphql::Parse(in, "", vars, &op);
      if (!s.ok()) {
        FUZZ_CHECK(s.code() == Status::Code::kInvalid, "a bad document is not Invalid");
        break;
      }
      graphql::Value answer = graphql::Value::Object();
      answer.Set("viewer", graphql::Value::Object()).Set("entity", graphql::Value::String("e"));
      inloop::JsonWriter w;
      graphql::Project(answer, op.selection, &w);
      FUZZ_CHECK(!w.str().empty(), "an empty projection");
      break;
    }
    case 1: {
      wandb::FileStreamState have{3, 2};
      wandb::FileStreamUpdate u;
      Status s = wandb::ParseFileStream(in, have, 1700000000, 1700000100, &u);
      if (!s.ok()) {
        FUZZ_CHECK(s.code() == Status::Code::kInvalid, "a bad file stream is not Invalid");
        break;
      }
      FUZZ_CHECK(u.history_lines >= have.history_lines, "the history count went back");
      FUZZ_CHECK(u.output_lines >= have.output_lines, "the output count went back");
      for (auto& p : u.points) FUZZ_CHECK(p.key < u.keys.size(), "a point names no key");
      for (auto& k : u.keys) FUZZ_CHECK(!k.empty(), "an empty series key");
      break;
    }
    default: {
      graphql::Value input;
      if (!graphql::ValueOfJson(in, &input).ok()) break;
      wandb::RunUpsert up;
      Status s = wandb::ParseUpsert(input, &up);
      if (!s.ok()) {
        FUZZ_CHECK(s.code() == Status::Code::kInvalid, "a bad upsert is not Invalid");
        break;
      }
      FUZZ_CHECK(!up.run_name.empty() || !up.id.empty(), "an upsert without a run");
      FUZZ_CHECK(!up.project.empty() && !up.entity.empty(), "an upsert without a project");
      break;
    }
  }
  return 0;
}
