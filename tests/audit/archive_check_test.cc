// ZIP reading and safetensors checks on hand-built bytes: members listed and read, damage named
// with its offset; safetensors ranges checked against dtype x shape and the data region.
#include <cstdint>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "audit/safetensors_check.h"
#include "audit/zip_reader.h"

namespace inloop::audit {
namespace {

void Put(std::string* s, uint64_t v, int n) {
  for (int i = 0; i < n; ++i) s->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

// A ZIP with stored members, laid out as any writer does (local headers, then the directory).
std::string StoredZip(const std::vector<std::pair<std::string, std::string>>& members) {
  std::string z, cd;
  for (const auto& [name, data] : members) {
    uint64_t off = z.size();
    Put(&z, 0x04034b50, 4); Put(&z, 20, 2); Put(&z, 0, 2); Put(&z, 0, 2); Put(&z, 0, 4);
    Put(&z, 0, 4); Put(&z, data.size(), 4); Put(&z, data.size(), 4); Put(&z, name.size(), 2);
    Put(&z, 0, 2);
    z += name + data;
    Put(&cd, 0x02014b50, 4); Put(&cd, 20, 2); Put(&cd, 20, 2); Put(&cd, 0, 2); Put(&cd, 0, 2);
    Put(&cd, 0, 4); Put(&cd, 0, 4); Put(&cd, data.size(), 4); Put(&cd, data.size(), 4);
    Put(&cd, name.size(), 2); Put(&cd, 0, 2); Put(&cd, 0, 2); Put(&cd, 0, 2); Put(&cd, 0, 2);
    Put(&cd, 0, 4); Put(&cd, off, 4);
    cd += name;
  }
  uint64_t cd_off = z.size();
  z += cd;
  Put(&z, 0x06054b50, 4); Put(&z, 0, 2); Put(&z, 0, 2); Put(&z, members.size(), 2);
  Put(&z, members.size(), 2); Put(&z, cd.size(), 4); Put(&z, cd_off, 4); Put(&z, 0, 2);
  return z;
}

TEST(ZipReaderTest, ListsAndReadsStoredMembers) {
  std::string z = StoredZip({{"archive/data.pkl", "\x80\x02K\x01."}, {"archive/version", "3\n"}});
  std::vector<ZipMember> ms;
  ASSERT_TRUE(ListZip(z, &ms).ok());
  ASSERT_EQ(ms.size(), 2u);
  EXPECT_EQ(ms[0].name, "archive/data.pkl");
  std::string storage;
  std::string_view bytes;
  ASSERT_TRUE(ReadZipMember(z, ms[1], 1 << 20, &storage, &bytes).ok());
  EXPECT_EQ(bytes, "3\n");
}

TEST(ZipReaderTest, DamageIsAnErrorWithAnOffset) {
  std::string z = StoredZip({{"a.pkl", "xyz"}});
  std::vector<ZipMember> ms;
  EXPECT_FALSE(ListZip(z.substr(0, z.size() - 22), &ms).ok());  // no end record
  std::string bad = z;
  bad[bad.size() - 6] = '\x7f';  // the directory's offset points past the file
  Status s = ListZip(bad, &ms);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("damaged ZIP archive at byte"), std::string::npos) << s.message();
  ASSERT_TRUE(ListZip(z, &ms).ok());
  ms[0].compressed = 1u << 30;  // a length past the file
  std::string storage;
  std::string_view bytes;
  EXPECT_FALSE(ReadZipMember(z, ms[0], 1 << 20, &storage, &bytes).ok());
}

std::string Safetensors(const std::string& header, size_t data_bytes) {
  std::string s;
  Put(&s, header.size(), 8);
  return s + header + std::string(data_bytes, '\0');
}

std::vector<std::string> Rules(const std::string& file) {
  std::vector<Finding> fs;
  CheckSafetensors(file, &fs);
  std::vector<std::string> r;
  for (const Finding& f : fs) r.push_back(f.rule);
  return r;
}

TEST(SafetensorsCheckTest, ConsistentHeaderPasses) {
  std::string f = Safetensors(
      R"({"__metadata__":{"format":"pt"},"a":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]},)"
      R"("b":{"dtype":"BF16","shape":[3],"data_offsets":[16,22]}})", 22);
  EXPECT_TRUE(LooksLikeSafetensors(f));
  std::vector<Finding> fs;
  EXPECT_EQ(CheckSafetensors(f, &fs), 2);
  EXPECT_TRUE(fs.empty()) << fs[0].message;
}

TEST(SafetensorsCheckTest, RangesMustMatchShapesStayInsideAndCoverTheData) {
  EXPECT_EQ(Rules(Safetensors(R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,8]}})", 8)),
            std::vector<std::string>{"safetensors.tensor"});
  EXPECT_EQ(Rules(Safetensors(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", 4)),
            std::vector<std::string>{"safetensors.tensor"});
  EXPECT_EQ(Rules(Safetensors(R"({"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]},)"
                              R"("b":{"dtype":"U8","shape":[4],"data_offsets":[2,6]}})", 6)),
            std::vector<std::string>{"safetensors.overlap"});
  EXPECT_EQ(Rules(Safetensors(R"({"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]}})", 40)),
            std::vector<std::string>{"safetensors.unreferenced"});
  EXPECT_EQ(Rules(Safetensors(R"({"a":{"dtype":"X9","shape":[2],"data_offsets":[0,2]}})", 2)),
            std::vector<std::string>{"safetensors.tensor"});
  EXPECT_EQ(Rules(Safetensors(R"([1,2])", 0)), std::vector<std::string>{"safetensors.header"});
  std::string huge;
  Put(&huge, 1ull << 40, 8);
  EXPECT_EQ(Rules(huge + "{}"), std::vector<std::string>{"safetensors.header"});
}

}  // namespace
}  // namespace inloop::audit
