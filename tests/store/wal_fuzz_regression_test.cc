// WAL reader inputs found by fuzz/wal_fuzz.cc.
#include <gtest/gtest.h>

#include "store/wal.h"
#include "support/fuzz_regression.h"

namespace inloop::store {
namespace {

// A points record with a good CRC whose payload holds one whole point and then a cut varint.
// The reader used to keep that point although it rejects the record (valid_bytes stops before
// it), so recovery replayed a point from a record it then truncated away.
TEST(WalFuzzRegressionTest, MalformedRecordKeepsNoneOfItsPoints) {
  std::string path = testing::FuzzRegressionPath("wal_points_record_malformed_after_one_point.wal");
  ASSERT_EQ(testing::ReadFuzzRegression("wal_points_record_malformed_after_one_point.wal").size(), 36u);
  WalContents wc;
  ASSERT_TRUE(ReadWalFile(path, &wc).ok());
  EXPECT_EQ(wc.file_bytes, 36u);
  EXPECT_EQ(wc.valid_bytes, 8u);  // the header only
  EXPECT_NE(wc.tail_error.find("malformed record at byte 8"), std::string::npos) << wc.tail_error;
  EXPECT_TRUE(wc.points.empty());
  EXPECT_TRUE(wc.bases.empty());
}

// A points record whose step delta added to the previous step overflows int64 (UBSan: signed
// integer overflow in the reader). Such a record is malformed; nothing of it is kept.
TEST(WalFuzzRegressionTest, StepDeltaOverflowIsMalformed) {
  std::string path = testing::FuzzRegressionPath("wal_step_delta_overflow.wal");
  ASSERT_FALSE(testing::ReadFuzzRegression("wal_step_delta_overflow.wal").empty());
  WalContents wc;
  ASSERT_TRUE(ReadWalFile(path, &wc).ok());
  EXPECT_NE(wc.tail_error.find("malformed record"), std::string::npos) << wc.tail_error;
  EXPECT_LT(wc.valid_bytes, wc.file_bytes);
}

}  // namespace
}  // namespace inloop::store
