// Test helpers that write what the W&B client writes: protobuf fields by hand and the .wandb log
// framing (header, 32 KiB blocks, FULL/FIRST/MIDDLE/LAST chunks with CRC-32 over type + data),
// so tests build exact inputs, damaged ones included.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "importers/wandb_log.h"

namespace inloop::importers::wandb_test {

inline std::string Varint(uint64_t v) {
  std::string out;
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7F) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
  return out;
}

// A length-delimited field.
inline std::string Bytes(uint32_t field, std::string_view data) {
  return Varint(uint64_t{field} << 3 | 2) + Varint(data.size()) + std::string(data);
}
inline std::string VarintField(uint32_t field, uint64_t v) {
  return Varint(uint64_t{field} << 3) + Varint(v);
}

// A HistoryItem / SummaryItem / ConfigItem: key, or nested_key parts, and value_json.
inline std::string Item(std::string_view key, std::string_view value_json) {
  return Bytes(1, key) + Bytes(16, value_json);
}
inline std::string NestedItem(const std::vector<std::string>& parts, std::string_view value_json) {
  std::string out;
  for (const auto& p : parts) out += Bytes(2, p);
  return out + Bytes(16, value_json);
}

// Record{history: HistoryRecord{item...}} and friends; `items` are encoded items.
inline std::string HistoryRecord(const std::vector<std::string>& items) {
  std::string h;
  for (const auto& i : items) h += Bytes(1, i);
  return VarintField(1, 7) + Bytes(2, h);  // num = 7, then history
}
inline std::string UpdatesRecord(uint32_t field, const std::vector<std::string>& updates,
                                 const std::vector<std::string>& removes = {}) {
  std::string body;
  for (const auto& u : updates) body += Bytes(1, u);
  for (const auto& r : removes) body += Bytes(2, r);
  return Bytes(field, body);
}
inline std::string SummaryRecord(const std::vector<std::string>& updates) {
  return UpdatesRecord(3, updates);
}
inline std::string ConfigRecord(const std::vector<std::string>& updates,
                                const std::vector<std::string>& removes = {}) {
  return UpdatesRecord(5, updates, removes);
}
inline std::string RunRecord(std::string_view id, std::string_view project,
                             std::string_view display_name, int64_t start_seconds) {
  std::string run = Bytes(1, id) + Bytes(3, project);
  if (!display_name.empty()) run += Bytes(8, display_name);
  run += Bytes(10, "tag-a");
  run += Bytes(17, VarintField(1, static_cast<uint64_t>(start_seconds)) +
                       VarintField(2, 500000000));
  return Bytes(17, run);
}
inline std::string ExitRecord(int32_t code, int32_t runtime) {
  return Bytes(18, VarintField(1, static_cast<uint32_t>(code)) +
                       VarintField(2, static_cast<uint32_t>(runtime)));
}

// The .wandb framing of `records`: each is split over blocks as the client does. *offsets gets
// each record's first chunk offset when not null.
inline std::string Framed(const std::vector<std::string>& records,
                          std::vector<int64_t>* offsets = nullptr) {
  constexpr size_t kBlock = WandbLogReader::kBlockSize;
  std::string out(":W&B\xE1\xBE\x00", 7);
  for (const std::string& rec : records) {
    std::string_view left = rec;
    bool first = true;
    do {
      size_t room = kBlock - out.size() % kBlock;
      if (room < 7) {
        out.append(room, '\0');
        room = kBlock;
      }
      if (first && offsets) offsets->push_back(static_cast<int64_t>(out.size()));
      size_t n = std::min(left.size(), room - 7);
      bool end = n == left.size();
      uint8_t type = first && end ? 1 : first ? 2 : end ? 4 : 3;
      uint32_t crc = Crc32Ieee(0, &type, 1);
      crc = Crc32Ieee(crc, left.data(), n);
      for (int k = 0; k < 4; ++k) out.push_back(static_cast<char>(crc >> (8 * k)));
      out.push_back(static_cast<char>(n & 0xFF));
      out.push_back(static_cast<char>(n >> 8));
      out.push_back(static_cast<char>(type));
      out.append(left.substr(0, n));
      left.remove_prefix(n);
      first = false;
    } while (!left.empty());
  }
  return out;
}

}  // namespace inloop::importers::wandb_test
