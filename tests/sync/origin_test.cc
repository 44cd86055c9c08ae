// The origin id of a store (sync/origin.h): drawn once, then read back the same; a damaged file
// is refused with the way out, never silently replaced (that would make every run new).
#include "sync/origin.h"

#include <gtest/gtest.h>

#include "common/file_io.h"
#include "support/temp_store.h"
#include "sync/protocol.h"

namespace inloop::sync {
namespace {

class OriginTest : public store::TempStoreTest {};

TEST_F(OriginTest, DrawnOnceThenStable) {
  std::string a, b;
  ASSERT_TRUE(LoadOrCreateOrigin(dir_, &a).ok());
  EXPECT_TRUE(ValidOrigin(a)) << a;
  ASSERT_TRUE(LoadOrCreateOrigin(dir_, &b).ok());
  EXPECT_EQ(a, b);
}

TEST_F(OriginTest, ADamagedFileIsRefused) {
  ASSERT_TRUE(WriteFileAtomically(dir_ + "/sync-origin", "not an id\n").ok());
  std::string id;
  Status s = LoadOrCreateOrigin(dir_, &id);
  EXPECT_EQ(s.code(), Status::Code::kCorrupt);
  EXPECT_NE(s.message().find("delete the file"), std::string::npos) << s.message();
}

}  // namespace
}  // namespace inloop::sync
