// The shared number grammar: what counts as one number, where it ends, and its value.
#include "ingest/number_scan.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

namespace inloop::ingest {
namespace {

size_t Scan(std::string_view s, double* v, bool groups = false) { return ScanNumber(s, v, groups); }

TEST(NumberScanTest, PlainForms) {
  double v = 0;
  EXPECT_EQ(Scan("2.3456", &v), 6u);
  EXPECT_DOUBLE_EQ(v, 2.3456);
  EXPECT_EQ(Scan("3e-4,", &v), 4u);
  EXPECT_DOUBLE_EQ(v, 3e-4);
  EXPECT_EQ(Scan("2.345678E+00 |", &v), 12u);
  EXPECT_DOUBLE_EQ(v, 2.345678);
  EXPECT_EQ(Scan("-0.5", &v), 4u);
  EXPECT_DOUBLE_EQ(v, -0.5);
  EXPECT_EQ(Scan("+2", &v), 2u);
  EXPECT_DOUBLE_EQ(v, 2);
  EXPECT_EQ(Scan(".5", &v), 2u);
  EXPECT_DOUBLE_EQ(v, 0.5);
  EXPECT_EQ(Scan("5.", &v), 2u);
  EXPECT_DOUBLE_EQ(v, 5);
  EXPECT_EQ(Scan("146341199872", &v), 12u);
  EXPECT_DOUBLE_EQ(v, 146341199872.0);
}

TEST(NumberScanTest, StopsWhereTheNumberEnds) {
  double v = 0;
  EXPECT_EQ(Scan("12.34ms", &v), 5u);  // the unit is the caller's business
  EXPECT_EQ(Scan("2.1.0", &v), 3u);    // callers reject the '.' that follows
  EXPECT_EQ(Scan("1e", &v), 1u);       // a bare 'e' is not an exponent
  EXPECT_EQ(Scan("0x10", &v), 1u);
  EXPECT_EQ(Scan("12:00:00", &v), 2u);
}

TEST(NumberScanTest, RejectsNonNumbers) {
  double v = 0;
  EXPECT_EQ(Scan("", &v), 0u);
  EXPECT_EQ(Scan("-", &v), 0u);
  EXPECT_EQ(Scan(".", &v), 0u);
  EXPECT_EQ(Scan("e5", &v), 0u);
  EXPECT_EQ(Scan("abc", &v), 0u);
  EXPECT_EQ(Scan("info", &v), 0u);  // "inf" followed by a letter
  EXPECT_EQ(Scan("nano", &v), 0u);
  EXPECT_EQ(Scan("inf_x", &v), 0u);
}

TEST(NumberScanTest, NonFiniteWords) {
  double v = 0;
  EXPECT_EQ(Scan("nan", &v), 3u);
  EXPECT_TRUE(std::isnan(v));
  EXPECT_EQ(Scan("NaN,", &v), 3u);
  EXPECT_TRUE(std::isnan(v));
  EXPECT_EQ(Scan("Infinity", &v), 8u);
  EXPECT_EQ(v, std::numeric_limits<double>::infinity());
  EXPECT_EQ(Scan("-Infinity}", &v), 9u);
  EXPECT_EQ(v, -std::numeric_limits<double>::infinity());
  EXPECT_EQ(Scan("-inf", &v), 4u);
  EXPECT_EQ(v, -std::numeric_limits<double>::infinity());
  EXPECT_EQ(Scan("INF%", &v), 3u);
  EXPECT_EQ(v, std::numeric_limits<double>::infinity());
}

TEST(NumberScanTest, OutOfRangeSaturates) {
  double v = 0;
  EXPECT_EQ(Scan("1e400", &v), 5u);
  EXPECT_EQ(v, std::numeric_limits<double>::infinity());
  EXPECT_EQ(Scan("-1e400", &v), 6u);
  EXPECT_EQ(v, -std::numeric_limits<double>::infinity());
  EXPECT_EQ(Scan("1e-400", &v), 6u);
  EXPECT_EQ(v, 0.0);
}

TEST(NumberScanTest, ThousandsGroupsOnlyWhenAllowed) {
  double v = 0;
  EXPECT_EQ(Scan("25,000", &v, /*groups=*/true), 6u);
  EXPECT_DOUBLE_EQ(v, 25000);
  EXPECT_EQ(Scan("6,742,609,920 ||", &v, true), 13u);
  EXPECT_DOUBLE_EQ(v, 6742609920.0);
  EXPECT_EQ(Scan("1,234.5", &v, true), 7u);
  EXPECT_DOUBLE_EQ(v, 1234.5);
  EXPECT_EQ(Scan("25,000", &v, /*groups=*/false), 2u);
  EXPECT_EQ(Scan("1,23", &v, true), 1u);      // not a group of three
  EXPECT_EQ(Scan("1,2345", &v, true), 1u);    // nor four
  EXPECT_EQ(Scan("1234,567", &v, true), 4u);  // groups follow at most three digits
}

TEST(NumberScanTest, NumericStrings) {
  double v = 0;
  EXPECT_TRUE(ParseNumericString("2.34", &v));
  EXPECT_DOUBLE_EQ(v, 2.34);
  EXPECT_TRUE(ParseNumericString("  41123 ", &v));
  EXPECT_DOUBLE_EQ(v, 41123);
  EXPECT_TRUE(ParseNumericString("nan", &v));
  EXPECT_TRUE(std::isnan(v));
  EXPECT_TRUE(ParseNumericString("-Infinity", &v));
  EXPECT_FALSE(ParseNumericString("", &v));
  EXPECT_FALSE(ParseNumericString("2.3 GB", &v));
  EXPECT_FALSE(ParseNumericString("v1", &v));
  EXPECT_FALSE(ParseNumericString("2024-01-01", &v));
}

TEST(NumberScanTest, StepsAreWholeAndNonNegative) {
  int64_t s = 0;
  EXPECT_TRUE(AsStep(100, &s));
  EXPECT_EQ(s, 100);
  EXPECT_TRUE(AsStep(0, &s));
  EXPECT_FALSE(AsStep(1.5, &s));
  EXPECT_FALSE(AsStep(-1, &s));
  EXPECT_FALSE(AsStep(std::nan(""), &s));
  EXPECT_FALSE(AsStep(std::numeric_limits<double>::infinity(), &s));
  EXPECT_FALSE(AsStep(1e300, &s));
}

}  // namespace
}  // namespace inloop::ingest
