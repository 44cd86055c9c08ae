#include "audit/zip_reader.h"

#include <zlib.h>

#include <algorithm>

#include <fmt/format.h>

namespace inloop::audit {
namespace {

uint64_t Le(std::string_view d, size_t at, size_t n) {  // REQUIRES: at + n <= d.size()
  uint64_t v = 0;
  for (size_t i = 0; i < n; ++i) v |= uint64_t(static_cast<uint8_t>(d[at + i])) << (8 * i);
  return v;
}

bool Fits(std::string_view d, uint64_t at, uint64_t n) {
  return at <= d.size() && n <= d.size() - at;
}

Status Bad(uint64_t at, std::string_view what) {
  return Status::Corrupt(fmt::format("damaged ZIP archive at byte {}: {}", at, what));
}

// Applies a ZIP64 extra field (id 1) to the fields that are 0xFFFFFFFF.
void ApplyZip64(std::string_view extra, ZipMember* m) {
  size_t p = 0;
  while (p + 4 <= extra.size()) {
    uint16_t id = static_cast<uint16_t>(Le(extra, p, 2));
    uint16_t len = static_cast<uint16_t>(Le(extra, p + 2, 2));
    if (p + 4 + len > extra.size()) return;
    if (id == 1) {
      size_t q = p + 4, end = p + 4 + len;
      if (m->size == 0xFFFFFFFFu && q + 8 <= end) { m->size = Le(extra, q, 8); q += 8; }
      if (m->compressed == 0xFFFFFFFFu && q + 8 <= end) { m->compressed = Le(extra, q, 8); q += 8; }
      if (m->local_offset == 0xFFFFFFFFu && q + 8 <= end) m->local_offset = Le(extra, q, 8);
      return;
    }
    p += 4 + len;
  }
}

}  // namespace

Status ListZip(std::string_view d, std::vector<ZipMember>* out) {
  out->clear();
  if (d.size() < 22) return Bad(0, "shorter than an end-of-central-directory record");
  size_t lowest = d.size() > 22 + 65535 ? d.size() - 22 - 65535 : 0;
  size_t eocd = std::string_view::npos;
  for (size_t p = d.size() - 22 + 1; p-- > lowest;) {
    if (Le(d, p, 4) == 0x06054b50u) { eocd = p; break; }
  }
  if (eocd == std::string_view::npos) return Bad(d.size(), "no end-of-central-directory record");
  uint64_t count = Le(d, eocd + 10, 2);
  uint64_t cd_size = Le(d, eocd + 12, 4);
  uint64_t cd_off = Le(d, eocd + 16, 4);
  if ((count == 0xFFFF || cd_off == 0xFFFFFFFFu || cd_size == 0xFFFFFFFFu) && eocd >= 20 &&
      Le(d, eocd - 20, 4) == 0x07064b50u) {
    uint64_t z64 = Le(d, eocd - 20 + 8, 8);
    if (!Fits(d, z64, 56) || Le(d, z64, 4) != 0x06064b50u) {
      return Bad(eocd - 20, "the ZIP64 locator points at no ZIP64 record");
    }
    count = Le(d, z64 + 32, 8);
    cd_size = Le(d, z64 + 40, 8);
    cd_off = Le(d, z64 + 48, 8);
  }
  if (!Fits(d, cd_off, cd_size)) return Bad(eocd, "the central directory lies outside the file");
  if (count > cd_size / 46 + 1) return Bad(eocd, "more members than the central directory holds");
  uint64_t p = cd_off;
  for (uint64_t i = 0; i < count; ++i) {
    if (!Fits(d, p, 46) || Le(d, p, 4) != 0x02014b50u) {
      return Bad(p, fmt::format("central directory entry {} is missing", i));
    }
    ZipMember m;
    m.method = static_cast<uint16_t>(Le(d, p + 10, 2));
    m.compressed = Le(d, p + 20, 4);
    m.size = Le(d, p + 24, 4);
    uint64_t nlen = Le(d, p + 28, 2), elen = Le(d, p + 30, 2), clen = Le(d, p + 32, 2);
    m.local_offset = Le(d, p + 42, 4);
    if (!Fits(d, p + 46, nlen + elen + clen)) return Bad(p, "an entry runs past the file");
    m.name.assign(d.substr(p + 46, nlen));
    ApplyZip64(d.substr(p + 46 + nlen, elen), &m);
    out->push_back(std::move(m));
    p += 46 + nlen + elen + clen;
  }
  return Status::OK();
}

Status ReadZipMember(std::string_view d, const ZipMember& m, uint64_t max_bytes,
                     std::string* storage, std::string_view* out) {
  uint64_t h = m.local_offset;
  if (!Fits(d, h, 30) || Le(d, h, 4) != 0x04034b50u) {
    return Bad(h, fmt::format("member {} has no local header", m.name));
  }
  uint64_t start = h + 30 + Le(d, h + 26, 2) + Le(d, h + 28, 2);
  if (!Fits(d, start, m.compressed)) return Bad(h, fmt::format("member {} runs past the file", m.name));
  std::string_view raw = d.substr(start, m.compressed);
  if (m.method == 0) {
    *out = raw;
    return Status::OK();
  }
  if (m.method != 8) {
    return Status::Incompatible(fmt::format("member {} uses compression method {}", m.name, m.method));
  }
  if (m.size > max_bytes) {
    return Status::Invalid(fmt::format("member {} inflates to {} bytes, over the bound", m.name, m.size));
  }
  storage->assign(m.size, '\0');
  z_stream z{};
  if (inflateInit2(&z, -15) != Z_OK) return Status::Io("zlib cannot start");
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(raw.data()));
  z.avail_in = static_cast<uInt>(std::min<uint64_t>(raw.size(), 0xFFFFFFFFu));
  z.next_out = reinterpret_cast<Bytef*>(storage->data());
  z.avail_out = static_cast<uInt>(std::min<uint64_t>(storage->size(), 0xFFFFFFFFu));
  int rc = inflate(&z, Z_FINISH);
  uint64_t produced = z.total_out;
  inflateEnd(&z);
  if (rc != Z_STREAM_END || produced != m.size) {
    return Bad(start, fmt::format("member {} does not inflate to its recorded size", m.name));
  }
  *out = *storage;
  return Status::OK();
}

}  // namespace inloop::audit
