// MinHash + LSH. The permutations are fixed (SplitMix64 from a constant seed), so signatures are
// stable across runs and machines.
#include "data/minhash.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "data/hash64.h"

namespace inloop::data {
namespace {

struct Perms {
  uint32_t a[kMinHashPerms] = {}, b[kMinHashPerms] = {};
  constexpr Perms() {
    uint64_t s = 0x5eed5eed12345678ULL;
    for (int i = 0; i < kMinHashPerms; ++i) {
      s += 0x9e3779b97f4a7c15ULL;
      uint64_t z = s;
      z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
      z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
      z ^= z >> 31;
      a[i] = static_cast<uint32_t>(z) | 1u;
      b[i] = static_cast<uint32_t>(z >> 32);
    }
  }
};
constexpr Perms kPerms;

// Letters, digits and UTF-8 bytes make words (a table: isalnum is a locale-aware libc call).
struct WordBytes {
  bool is[256] = {};
  constexpr WordBytes() {
    for (int c = 0; c < 256; ++c) {
      is[c] = c >= 0x80 || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    }
  }
};
constexpr WordBytes kWordBytes;
inline bool WordByte(unsigned char c) { return kWordBytes.is[c]; }

inline void Fold(uint32_t x, uint32_t* __restrict sig) {
  for (int i = 0; i < kMinHashPerms; ++i) {
    uint32_t v = kPerms.a[i] * x + kPerms.b[i];
    sig[i] = v < sig[i] ? v : sig[i];
  }
}

int64_t Root(std::vector<int64_t>& parent, int64_t x) {
  while (parent[x] != x) {
    parent[x] = parent[parent[x]];
    x = parent[x];
  }
  return x;
}

}  // namespace

// The per-shingle loop vectorises; AVX2 has the 32-bit multiply SSE2 lacks.
__attribute__((target_clones("avx2", "default")))
void ComputeMinHash(std::string_view text, MinHashSignature* out) {
  uint32_t sig[kMinHashPerms];
  std::fill(std::begin(sig), std::end(sig), UINT32_MAX);
  uint64_t w[3] = {0, 0, 0};
  int words = 0;
  size_t i = 0, n = text.size();
  char buf[64];
  while (i < n) {
    while (i < n && !WordByte(static_cast<unsigned char>(text[i]))) ++i;
    if (i >= n) break;
    size_t len = 0;
    uint64_t h = 0x84222325cbf29ce4ULL;
    while (i < n && WordByte(static_cast<unsigned char>(text[i]))) {
      char c = text[i++];
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
      buf[len++] = c;
      if (len == sizeof(buf)) {
        h = Hash64(buf, len, h);
        len = 0;
      }
    }
    h = Hash64(buf, len, h);
    w[0] = w[1];
    w[1] = w[2];
    w[2] = h;
    if (++words >= 3) {
      uint64_t s = Mix64(w[0] ^ 0x9e3779b97f4a7c15ULL, Mix64(w[1], 0xc2b2ae3d27d4eb4fULL) ^ w[2]);
      Fold(static_cast<uint32_t>(s ^ (s >> 32)), sig);
    }
  }
  if (words > 0 && words < 3) {
    uint64_t s = Mix64(w[0] ^ 0x9e3779b97f4a7c15ULL, Mix64(w[1], 0xc2b2ae3d27d4eb4fULL) ^ w[2]);
    Fold(static_cast<uint32_t>(s ^ (s >> 32)), sig);
  }
  std::copy(std::begin(sig), std::end(sig), out->begin());
}

double EstimatedJaccard(const MinHashSignature& a, const MinHashSignature& b) {
  int eq = 0;
  for (int i = 0; i < kMinHashPerms; ++i) eq += a[i] == b[i];
  return static_cast<double>(eq) / kMinHashPerms;
}

void NearDuplicateIndex::Add(std::string_view text) {
  sigs_.emplace_back();
  ComputeMinHash(text, &sigs_.back());
}

NearDuplicateGroups NearDuplicateIndex::Find(double threshold, std::vector<int64_t>* group_of) const {
  NearDuplicateGroups g;
  const int64_t n = size();
  g.records = n;
  std::vector<int64_t> parent(n);
  std::iota(parent.begin(), parent.end(), 0);
  // Recall first: an estimate has SD sqrt(t(1-t)/perms) (0.04 at 0.7), so a true pair at the
  // threshold would be missed half the time; pairs are accepted down to 2 SDs below it.
  const double accept = threshold - 2 * std::sqrt(threshold * (1 - threshold) / kMinHashPerms);
  std::vector<std::pair<uint64_t, int64_t>> keys(n);
  for (int band = 0; band < kLshBands; ++band) {
    for (int64_t r = 0; r < n; ++r) {
      keys[r] = {Hash64(&sigs_[r][band * kLshRows], sizeof(uint32_t) * kLshRows, band), r};
    }
    std::sort(keys.begin(), keys.end());
    for (int64_t i = 0; i < n;) {
      int64_t j = i + 1;
      while (j < n && keys[j].first == keys[i].first) ++j;
      // Compare each band-mate with the bucket's first record, and with the previous one, so a
      // chain of near copies joins even when the first differs more.
      for (int64_t k = i + 1; k < j; ++k) {
        for (int64_t other : {keys[i].second, keys[k - 1].second}) {
          int64_t a = Root(parent, keys[k].second), b = Root(parent, other);
          if (a == b) continue;
          if (EstimatedJaccard(sigs_[keys[k].second], sigs_[other]) >= accept) {
            parent[std::max(a, b)] = std::min(a, b);
          }
        }
      }
      i = j;
    }
  }
  std::vector<int64_t> size(n, 0);
  for (int64_t r = 0; r < n; ++r) ++size[Root(parent, r)];
  for (int64_t r = 0; r < n; ++r) {
    if (parent[r] == r && size[r] > 1) {
      ++g.groups;
      g.duplicate_records += size[r] - 1;
      if (g.examples.size() < 5) g.examples.push_back({r});
    }
  }
  if (group_of) {
    group_of->resize(n);
    for (int64_t r = 0; r < n; ++r) (*group_of)[r] = Root(parent, r);
  }
  for (auto& ex : g.examples) {
    int64_t root = ex[0];
    for (int64_t r = root + 1; r < n && ex.size() < 10; ++r) {
      if (Root(parent, r) == root) ex.push_back(r);
    }
  }
  return g;
}

}  // namespace inloop::data
