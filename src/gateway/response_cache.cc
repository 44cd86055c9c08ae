// ResponseCache: LRU by bytes with a CRC-32C and a version per entry (see the header). No I/O.
#include "gateway/response_cache.h"

#include <openssl/sha.h>

#include "common/crc32c.h"

namespace inloop::gateway {
namespace {

void AddField(std::string* buf, std::string_view s) {
  uint64_t n = s.size();
  buf->append(reinterpret_cast<const char*>(&n), sizeof n);
  buf->append(s);
}

// Bookkeeping bytes per entry beyond its strings, so many tiny entries still count.
constexpr int64_t kEntryOverhead = 128;

}  // namespace

std::string CacheKey(std::string_view method, std::string_view path, std::string_view version,
                     std::string_view canonical_body) {
  std::string buf;
  buf.reserve(method.size() + path.size() + version.size() + canonical_body.size() + 32);
  AddField(&buf, method);
  AddField(&buf, path);
  AddField(&buf, version);
  AddField(&buf, canonical_body);
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(buf.data()), buf.size(), digest);
  return std::string(reinterpret_cast<const char*>(digest), sizeof digest);
}

uint32_t ResponseCache::Checksum(const Entry& e) {
  uint32_t crc = crc32c::Value(e.version);
  crc = crc32c::Extend(crc, e.answer.content_type.data(), e.answer.content_type.size());
  return crc32c::Extend(crc, e.answer.body.data(), e.answer.body.size());
}

void ResponseCache::EraseLocked(List::iterator it, const char* cause) {
  stats_.bytes -= it->bytes;
  stats_.entries -= 1;
  stats_.evictions[cause] += 1;
  index_.erase(it->key);
  lru_.erase(it);
}

CacheLookup ResponseCache::Lookup(const std::string& key, std::string_view version,
                                  CachedAnswer* out) {
  std::lock_guard lock(mu_);
  auto found = index_.find(key);
  if (found == index_.end()) {
    stats_.misses += 1;
    return CacheLookup::kMiss;
  }
  auto it = found->second;
  if (Checksum(*it) != it->crc) {
    EraseLocked(it, kEvictCorrupt);
    stats_.misses += 1;
    return CacheLookup::kCorrupt;
  }
  if (it->version != version) {
    EraseLocked(it, kEvictStaleVersion);
    stats_.misses += 1;
    return CacheLookup::kStaleVersion;
  }
  lru_.splice(lru_.begin(), lru_, it);
  stats_.hits += 1;
  *out = it->answer;
  return CacheLookup::kHit;
}

void ResponseCache::Insert(const std::string& key, std::string_view version,
                           const CachedAnswer& answer) {
  int64_t bytes = static_cast<int64_t>(key.size() + version.size() + answer.content_type.size() +
                                       answer.body.size()) + kEntryOverhead;
  std::lock_guard lock(mu_);
  auto found = index_.find(key);
  if (found != index_.end()) {
    stats_.bytes -= found->second->bytes;
    stats_.entries -= 1;
    lru_.erase(found->second);
    index_.erase(found);
  }
  if (bytes > max_bytes_) return;
  while (stats_.bytes + bytes > max_bytes_ && !lru_.empty()) {
    EraseLocked(std::prev(lru_.end()), kEvictCapacity);
  }
  Entry e;
  e.key = key;
  e.version = std::string(version);
  e.answer = answer;
  e.bytes = bytes;
  e.crc = Checksum(e);
  lru_.push_front(std::move(e));
  index_[key] = lru_.begin();
  stats_.bytes += bytes;
  stats_.entries += 1;
  stats_.inserts += 1;
}

bool ResponseCache::Evict(const std::string& key, const char* cause) {
  std::lock_guard lock(mu_);
  auto found = index_.find(key);
  if (found == index_.end()) return false;
  EraseLocked(found->second, cause);
  return true;
}

int64_t ResponseCache::EvictOtherVersions(std::string_view version) {
  std::lock_guard lock(mu_);
  int64_t n = 0;
  for (auto it = lru_.begin(); it != lru_.end();) {
    auto next = std::next(it);
    if (it->version != version) {
      EraseLocked(it, kEvictStaleVersion);
      ++n;
    }
    it = next;
  }
  return n;
}

int64_t ResponseCache::CorruptForTest(int64_t n) {
  std::lock_guard lock(mu_);
  int64_t done = 0;
  for (auto& e : lru_) {
    if (done >= n) break;
    if (e.answer.body.empty()) continue;
    e.answer.body[e.answer.body.size() / 2] ^= 0x20;
    ++done;
  }
  return done;
}

CacheStats ResponseCache::Stats() const {
  std::lock_guard lock(mu_);
  return stats_;
}

}  // namespace inloop::gateway
