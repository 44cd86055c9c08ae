// ResponseCache: answers of deterministic model requests, bounded by bytes (LRU). Every entry
// carries a CRC-32C of its bytes and the model version that produced it; a lookup that finds a
// corrupt entry or one from another version evicts it, counts the cause and reports a miss, so a
// damaged or stale answer is never served. Thread-safe (one mutex). Owns no I/O.
#pragma once

#include <cstdint>
#include <list>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

namespace inloop::gateway {

// Why an entry left the cache (the label of the evictions counter).
inline constexpr const char* kEvictCorrupt = "corrupt";              // checksum mismatch on read
inline constexpr const char* kEvictStaleVersion = "stale_version";   // produced by another version
inline constexpr const char* kEvictMismatch = "mismatch";            // re-verification differed
inline constexpr const char* kEvictCapacity = "capacity";            // LRU, to stay under max bytes

// The cache key: SHA-256 of method, path, model version and the canonical JSON body, each
// length-prefixed so no two different tuples share the bytes that are hashed. 32 raw bytes.
std::string CacheKey(std::string_view method, std::string_view path, std::string_view version,
                     std::string_view canonical_body);

struct CachedAnswer {
  std::string content_type;
  std::string body;
};

enum class CacheLookup { kHit, kMiss, kCorrupt, kStaleVersion };

struct CacheStats {
  int64_t hits = 0;
  int64_t misses = 0;  // includes the corrupt and stale lookups
  int64_t inserts = 0;
  std::map<std::string, int64_t> evictions;  // cause -> count
  int64_t entries = 0;
  int64_t bytes = 0;
};

class ResponseCache {
 public:
  explicit ResponseCache(int64_t max_bytes) : max_bytes_(max_bytes) {}

  // kHit fills *out. kCorrupt / kStaleVersion: the entry was evicted (and counted); treat as a
  // miss and fetch a fresh answer.
  CacheLookup Lookup(const std::string& key, std::string_view version, CachedAnswer* out);
  // Stores (or replaces) the answer; evicts least recently used entries to stay under the bound.
  // An answer bigger than the bound is not stored.
  void Insert(const std::string& key, std::string_view version, const CachedAnswer& answer);
  // Evicts `key` with `cause` (e.g. kEvictMismatch); false when it is not cached.
  bool Evict(const std::string& key, const char* cause);
  // Evicts every entry whose version is not `version` (counted as stale_version); returns how
  // many. Called when the serving version changes.
  int64_t EvictOtherVersions(std::string_view version);
  // Test hook: flips one byte of up to `n` entries' bodies without updating their checksums.
  // Returns how many were damaged. Only reachable through the deploy's test-only admin endpoint.
  int64_t CorruptForTest(int64_t n);

  CacheStats Stats() const;
  int64_t max_bytes() const { return max_bytes_; }

 private:
  struct Entry {
    std::string key;
    std::string version;
    CachedAnswer answer;
    uint32_t crc = 0;
    int64_t bytes = 0;
  };
  using List = std::list<Entry>;
  static uint32_t Checksum(const Entry& e);
  void EraseLocked(List::iterator it, const char* cause);

  const int64_t max_bytes_;
  mutable std::mutex mu_;
  List lru_;  // front: most recently used
  std::unordered_map<std::string, List::iterator> index_;
  CacheStats stats_;
};

}  // namespace inloop::gateway
