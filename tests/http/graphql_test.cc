// The GraphQL subset W&B's clients send (http/graphql.h): documents as the JS SDK and the Python
// client write them (variables, aliases, fragments, block strings), projection of answers, and
// refusals of what is malformed or too big.
#include "http/graphql.h"

#include <gtest/gtest.h>

namespace inloop::http::graphql {
namespace {

Value Vars(const std::string& json) {
  Value v;
  Status s = ValueOfJson(json, &v);
  EXPECT_TRUE(s.ok()) << s.message();
  return v;
}

TEST(Graphql, MutationWithVariablesInAnInputObject) {
  Operation op;
  Status s = Parse(R"(
    mutation UpsertBucket($id: String, $name: String, $project: String, $tags: [String!],
                          $debug: Boolean = false) {
      upsertBucket(input: {id: $id, name: $name, modelName: $project, tags: $tags,
                           debug: $debug, state: "running"}) {
        bucket { id name project { name entity { name } } }
        inserted
      }
    })",
                   "", Vars(R"({"name":"abc123","project":"vision","tags":["a","b"]})"), &op);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(op.type, "mutation");
  EXPECT_EQ(op.name, "UpsertBucket");
  ASSERT_EQ(op.selection.size(), 1u);
  const Field& f = op.selection[0];
  EXPECT_EQ(f.name, "upsertBucket");
  const Value* input = f.Arg("input");
  ASSERT_NE(input, nullptr);
  EXPECT_EQ(input->Get("name")->text, "abc123");
  EXPECT_EQ(input->Get("modelName")->text, "vision");
  EXPECT_TRUE(input->Get("id")->is_null());  // a variable not given: null
  EXPECT_FALSE(input->Get("debug")->boolean);  // its declared default
  EXPECT_EQ(input->Get("debug")->kind, Value::Kind::kBool);
  EXPECT_EQ(input->Get("state")->text, "running");
  ASSERT_EQ(input->Get("tags")->list.size(), 2u);
  EXPECT_EQ(input->Get("tags")->list[1].text, "b");
  ASSERT_EQ(f.selection.size(), 2u);
  EXPECT_EQ(f.selection[0].selection[2].selection[1].selection[0].name, "name");
}

TEST(Graphql, AliasesFragmentsAndProjection) {
  Operation op;
  Status s = Parse(R"(
    # the Python client's capability probe
    query ProbeServerCapabilities {
      QueryType: __type(name: "Query") { ...fieldData }
      MutationType: __type(name: """Mutation""") { ...fieldData }
      __typename
    }
    fragment fieldData on __Type { fields { name ... on __Field { args { name } } } })",
                   "", Value::Object(), &op);
  ASSERT_TRUE(s.ok()) << s.message();
  ASSERT_EQ(op.selection.size(), 3u);
  EXPECT_EQ(op.selection[0].alias, "QueryType");
  EXPECT_EQ(op.selection[0].name, "__type");
  EXPECT_EQ(op.selection[1].Arg("name")->text, "Mutation");
  ASSERT_EQ(op.selection[0].selection.size(), 1u);
  ASSERT_EQ(op.selection[0].selection[0].selection.size(), 2u);  // name, args (inline fragment)

  Value type = Value::Object();
  type.Set("name", Value::String("Query"));
  Value& fields = type.Set("fields", Value::List());
  Value f1 = Value::Object();
  f1.Set("name", Value::String("viewer"));
  f1.Set("type", Value::String("not selected"));
  fields.list.push_back(f1);
  JsonWriter w;
  Project(type, op.selection[0].selection, &w);
  EXPECT_EQ(w.str(), R"({"fields":[{"name":"viewer","args":null}]})");
}

TEST(Graphql, AnonymousShorthandAndChoosingAnOperation) {
  Operation op;
  ASSERT_TRUE(Parse("{ viewer { entity } }", "", Value::Object(), &op).ok());
  EXPECT_EQ(op.type, "query");
  EXPECT_EQ(op.selection[0].name, "viewer");
  std::string two = "query A { viewer { id } } query B { serverInfo { features { name } } }";
  ASSERT_TRUE(Parse(two, "B", Value::Object(), &op).ok());
  EXPECT_EQ(op.selection[0].name, "serverInfo");
  Status s = Parse(two, "", Value::Object(), &op);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("operationName"), std::string::npos) << s.message();
  s = Parse(two, "C", Value::Object(), &op);
  EXPECT_NE(s.message().find("no operation named 'C'"), std::string::npos) << s.message();
}

TEST(Graphql, StringEscapesAndNumbers) {
  Operation op;
  ASSERT_TRUE(Parse(R"({ f(a: "x\"y\u00e9\n", b: -1.5e2, c: [1 2 3], d: ENUM_V, e: null) })", "",
                    Value::Object(), &op)
                  .ok());
  const Field& f = op.selection[0];
  EXPECT_EQ(f.Arg("a")->text, "x\"y\xC3\xA9\n");
  EXPECT_EQ(f.Arg("b")->number, -150);
  EXPECT_EQ(f.Arg("c")->list.size(), 3u);
  EXPECT_EQ(f.Arg("d")->kind, Value::Kind::kEnum);
  EXPECT_TRUE(f.Arg("e")->is_null());
}

TEST(Graphql, RefusesMalformedAndExplosiveDocuments) {
  Operation op;
  for (const char* bad : {"", "   ", "{ viewer { id }", "query { f(a: ) }", "query { f(a: \"x) }",
                          "notakeyword { x }", "{ ...Missing }", "{ f(a: 1e999) }"}) {
    EXPECT_FALSE(Parse(bad, "", Value::Object(), &op).ok()) << bad;
  }
  // A fragment that spreads itself.
  Status s = Parse("{ ...A } fragment A on Q { x ...A }", "", Value::Object(), &op);
  EXPECT_FALSE(s.ok());
  // Fragments that double at each level: bounded, refused.
  std::string doc = "{ ...F0 }";
  for (int i = 0; i < 14; ++i) {
    doc += " fragment F" + std::to_string(i) + " on Q { a: f { ...F" + std::to_string(i + 1) +
           " } b: f { ...F" + std::to_string(i + 1) + " } }";
  }
  doc += " fragment F14 on Q { x }";
  s = Parse(doc, "", Value::Object(), &op);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("fields"), std::string::npos) << s.message();
  // A large variable repeated under many aliases: refused before it is copied that often.
  Value big = Value::Object();
  big.Set("v", Value::String(std::string(1 << 20, 'x')));
  std::string many = "query Q($v: String) {";
  for (int i = 0; i < 100; ++i) many += " a" + std::to_string(i) + ": f(x: $v)";
  many += " }";
  s = Parse(many, "", big, &op);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("MiB"), std::string::npos) << s.message();
  // Deep nesting.
  std::string deep(200, '{');
  EXPECT_FALSE(Parse(deep, "", Value::Object(), &op).ok());
}

TEST(Graphql, ProjectListsNullsAndLeaves) {
  Operation op;
  ASSERT_TRUE(Parse("{ a { b c { d } } e }", "", Value::Object(), &op).ok());
  Value root = Value::Object();
  Value list = Value::List();
  Value item = Value::Object();
  item.Set("b", Value::Number(1));
  item.Set("c", Value::Null());
  list.list.push_back(item);
  root.Set("a", list);
  root.Set("e", Value::String("s"));
  JsonWriter w;
  Project(root, op.selection, &w);
  EXPECT_EQ(w.str(), R"({"a":[{"b":1,"c":null}],"e":"s"})");
}

}  // namespace
}  // namespace inloop::http::graphql
