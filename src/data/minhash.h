// Near-duplicate text detection: MinHash signatures of word 3-shingles and LSH banding.
// Signatures are 128 x 32-bit minima (a*x+b mod 2^32 per shingle hash); 32 bands of 4 rows make
// pairs with Jaccard >= 0.7 candidates with probability > 0.999. Candidates are verified by the
// signatures' agreement (estimated Jaccard, SD ~0.04 at 0.7), recall first: accepted down to two
// SDs below the threshold, so true pairs at the threshold are kept (and pairs a little below it
// may be grouped too), and grouped with union-find. Memory: 512 bytes per record. Not thread-safe; Add does not allocate once
// the index has grown.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>
#include <vector>

namespace inloop::data {

inline constexpr int kMinHashPerms = 128;
inline constexpr int kLshBands = 32;
inline constexpr int kLshRows = kMinHashPerms / kLshBands;

using MinHashSignature = std::array<uint32_t, kMinHashPerms>;

// The signature of `text` (ASCII case folded, split on whitespace and punctuation). Text with
// fewer than 3 words is one shingle of what it has; empty text has the all-ones signature.
void ComputeMinHash(std::string_view text, MinHashSignature* sig);

// The estimated Jaccard similarity: the share of equal minima.
double EstimatedJaccard(const MinHashSignature& a, const MinHashSignature& b);

struct NearDuplicateGroups {
  int64_t records = 0;
  int64_t duplicate_records = 0;  // records in a group beyond its first
  int64_t groups = 0;             // groups with 2 or more records
  std::vector<std::vector<int64_t>> examples;  // up to 5 groups' record numbers (0-based)
};

class NearDuplicateIndex {
 public:
  void Add(std::string_view text);
  // Groups the records whose estimated Jaccard with a band-mate is >= threshold. With group_of,
  // also each record's group: the number of its group's first record.
  NearDuplicateGroups Find(double threshold, std::vector<int64_t>* group_of = nullptr) const;
  int64_t size() const { return static_cast<int64_t>(sigs_.size()); }

 private:
  std::vector<MinHashSignature> sigs_;
};

}  // namespace inloop::data
