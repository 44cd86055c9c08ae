// The pickle opcode scan on hand-built streams: allowlisted data passes, every way of naming a
// global is seen (GLOBAL, INST, STACK_GLOBAL from the stack or the memo), what cannot be resolved
// or checked fails closed, and damaged streams are findings, never crashes.
#include "audit/pickle_scan.h"

#include <string>

#include <gtest/gtest.h>

namespace inloop::audit {
namespace {

using namespace std::string_literals;

PickleScan Scan(const std::string& bytes, Allowlist allow = {}) { return ScanPickle(bytes, allow); }

std::vector<std::string> Rules(const PickleScan& s) {
  std::vector<std::string> r;
  for (const Finding& f : s.findings) r.push_back(f.rule);
  return r;
}

TEST(PickleScanTest, PlainDataWithAllowedGlobalsPasses) {
  // protocol 2: OrderedDict() via REDUCE, then a dict with a string and a float.
  std::string p = "\x80\x02"s + "ccollections\nOrderedDict\nq\x00)Rq\x01}q\x02(X\x01\x00\x00\x00"s +
                  "aG?\xf0\x00\x00\x00\x00\x00\x00u."s;
  PickleScan s = Scan(p);
  EXPECT_TRUE(s.complete);
  EXPECT_EQ(s.end, p.size());
  EXPECT_EQ(s.protocol, 2);
  EXPECT_TRUE(s.findings.empty()) << s.findings[0].message;
  ASSERT_EQ(s.globals.size(), 1u);
  EXPECT_EQ(s.globals[0].module, "collections");
  EXPECT_EQ(s.globals[0].cls, GlobalClass::kAllowed);
}

TEST(PickleScanTest, GlobalThatRunsCodeIsCritical) {
  PickleScan s = Scan("cos\nsystem\n(S'true'\ntR."s);
  ASSERT_EQ(Rules(s), std::vector<std::string>{"pickle.global.dangerous"});
  EXPECT_EQ(s.findings[0].severity, Severity::kCritical);
  EXPECT_EQ(s.findings[0].offset, 0);
  EXPECT_NE(s.findings[0].message.find("os.system"), std::string::npos);
}

TEST(PickleScanTest, InstAndPython2BuiltinNamesAreChecked) {
  EXPECT_EQ(Rules(Scan("(S'x'\nisubprocess\ncall\n."s)),
            std::vector<std::string>{"pickle.global.dangerous"});
  EXPECT_EQ(Rules(Scan("c__builtin__\neval\n(S'1'\ntR."s)),
            std::vector<std::string>{"pickle.global.dangerous"});
  EXPECT_TRUE(Scan("c__builtin__\nset\n(]tR."s).findings.empty());
}

TEST(PickleScanTest, StackGlobalResolvesStringsFromTheMemo) {
  // BINUNICODE "os", MEMOIZE, "system", MEMOIZE, BINGET 0, BINGET 1, STACK_GLOBAL.
  std::string p = "\x80\x04\x8c\x02os\x94\x8c\x06system\x94h\x00h\x01\x93)R."s;
  PickleScan s = Scan(p);
  ASSERT_EQ(Rules(s), std::vector<std::string>{"pickle.global.dangerous"});
  EXPECT_EQ(s.globals[0].module, "os");
  EXPECT_EQ(s.globals[0].name, "system");
}

TEST(PickleScanTest, StackGlobalOfComputedNamesFailsClosed) {
  // The module name is the result of a call (REDUCE), not a string the scan can read.
  std::string p = "\x80\x04\x8c\x08\x62uiltins\x8c\x03str\x93\x8c\x02os\x85R\x8c\x06system\x93."s;
  PickleScan s = Scan(p);
  EXPECT_EQ(Rules(s), std::vector<std::string>{"pickle.global.unresolved"});
  EXPECT_FALSE(s.complete);
}

TEST(PickleScanTest, UnknownGlobalIsHighAndAllowCanTrustIt) {
  std::string p = "cmypkg.models\nConfig\n)R."s;
  PickleScan s = Scan(p);
  ASSERT_EQ(Rules(s), std::vector<std::string>{"pickle.global.unknown"});
  EXPECT_EQ(s.findings[0].severity, Severity::kHigh);
  Allowlist allow;
  allow.extra = {"mypkg.models.Config"};
  EXPECT_TRUE(Scan(p, allow).findings.empty());
  allow.extra = {"mypkg.models.*"};
  EXPECT_TRUE(Scan(p, allow).findings.empty());
  allow.extra = {"os.*"};  // trust never covers names that run code
  EXPECT_EQ(Rules(Scan("cos\nsystem\n)R."s, allow)), std::vector<std::string>{"pickle.global.dangerous"});
}

TEST(PickleScanTest, ExtensionCodesProtocolAndOpcodesFailClosed) {
  EXPECT_EQ(Rules(Scan("\x80\x02\x82\x01)R."s)), std::vector<std::string>{"pickle.ext"});
  EXPECT_EQ(Rules(Scan("\x80\x06N."s)), std::vector<std::string>{"pickle.protocol"});
  EXPECT_EQ(Rules(Scan("\x80\x02\xff."s)), std::vector<std::string>{"pickle.opcode"});
}

TEST(PickleScanTest, DamagedStreamsAreFindings) {
  EXPECT_EQ(Rules(Scan("\x80\x02}q\x00"s)), std::vector<std::string>{"pickle.truncated"});
  EXPECT_EQ(Rules(Scan("\x80\x02X\xff\xff\xff\x7f"s)), std::vector<std::string>{"pickle.truncated"});
  EXPECT_EQ(Rules(Scan("\x80\x02R."s)), std::vector<std::string>{"pickle.malformed"});  // underflow
  EXPECT_EQ(Rules(Scan("\x80\x02h\x05."s)), std::vector<std::string>{"pickle.malformed"});  // memo
  EXPECT_EQ(Rules(Scan("\x80\x02\x31."s)), std::vector<std::string>{"pickle.malformed"});  // no MARK
  EXPECT_EQ(Rules(Scan(""s)), std::vector<std::string>{"pickle.truncated"});
}

TEST(PickleScanTest, ScanStopsAtStopSoSequencesCanBeRead) {
  std::string two = "\x80\x02K\x01.\x80\x02K\x02."s;
  PickleScan s = Scan(two);
  EXPECT_TRUE(s.complete);
  EXPECT_EQ(s.end, 5u);
  EXPECT_TRUE(LooksLikePickle(std::string_view(two).substr(s.end)));
  EXPECT_FALSE(LooksLikePickle("hello"));
  EXPECT_FALSE(LooksLikePickle(""));
}

}  // namespace
}  // namespace inloop::audit
