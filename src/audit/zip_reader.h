// Reads the member list of a ZIP archive (what torch.save writes since 1.6) from its central
// directory, ZIP64 included, and a member's bytes: stored members as a view into the archive,
// deflated ones inflated with zlib up to a bound. Every offset and length is checked against the
// archive's size; a damaged archive is an error with the byte offset, never a crash.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace inloop::audit {

struct ZipMember {
  std::string name;
  uint16_t method = 0;          // 0 stored, 8 deflate; others are not read
  uint64_t compressed = 0, size = 0;
  uint64_t local_offset = 0;    // of the member's local header
};

Status ListZip(std::string_view archive, std::vector<ZipMember>* out);

// The member's bytes: a view into `archive` when stored, else inflated into *storage (at most
// `max_bytes`, more is an error). `out` stays valid while `archive` and `storage` do.
Status ReadZipMember(std::string_view archive, const ZipMember& m, uint64_t max_bytes,
                     std::string* storage, std::string_view* out);

}  // namespace inloop::audit
