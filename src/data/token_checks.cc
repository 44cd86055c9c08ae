// Token shards (format "tokens"): a raw little-endian array of uint16 or uint32 token ids with
// no header, as nanoGPT's prepare.py writes train.bin/val.bin. Checks: the size is a whole
// number of tokens and every id is below vocab_size ("tokens"), the token count ("rows"), and
// repeated 32-grams ("repeated_ngrams": a 1-in-16 hash-sampled set of 32-token windows; the
// share of sampled windows seen before). The token histogram is the "token" drift category.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include <fmt/format.h>

#include "data/hash64.h"
#include "data/validate.h"

namespace inloop::data {
namespace {

constexpr int kNgram = 32;

// Open addressing over non-zero 64-bit keys.
class FlatSet {
 public:
  FlatSet() : slots_(1 << 16, 0) {}
  // True when the key was already present.
  bool Insert(uint64_t k) {
    if (k == 0) k = 1;
    if ((size_ + 1) * 2 > slots_.size()) Grow();
    size_t mask = slots_.size() - 1;
    for (size_t i = k & mask;; i = (i + 1) & mask) {
      if (slots_[i] == k) return true;
      if (slots_[i] == 0) {
        slots_[i] = k;
        ++size_;
        return false;
      }
    }
  }

 private:
  void Grow() {
    std::vector<uint64_t> old(slots_.size() * 2, 0);
    old.swap(slots_);
    size_ = 0;
    for (uint64_t k : old) {
      if (k) Insert(k);
    }
  }
  std::vector<uint64_t> slots_;
  size_t size_ = 0;
};

}  // namespace

Status ScanTokens(const std::string& path, const ValidationSpec& spec, std::vector<CheckResult>* out,
                  Profile* profile) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Status::NotFound(fmt::format("{}: cannot open the output to validate", path));
  const size_t width = spec.dtype == "uint32" ? 4 : 2;
  std::vector<unsigned char> buf(8 << 20);
  size_t have = 0;
  int64_t tokens = 0, oov = 0, sampled = 0, repeated = 0, bytes = 0;
  uint64_t max_id = 0;
  std::vector<int64_t> oov_at, repeat_at;
  std::vector<int64_t> hist(spec.dtype == "uint32" ? 0 : 65536, 0);
  std::map<uint32_t, int64_t> hist32;
  const bool want_hist = spec.drift.enabled &&
                         std::count(spec.drift.categorical.begin(), spec.drift.categorical.end(), "token");
  uint32_t window[kNgram] = {};
  uint64_t h = 0, pow = 1;
  constexpr uint64_t kBase = 0x100000001b3ULL;
  for (int i = 0; i < kNgram; ++i) pow *= kBase;
  FlatSet seen;
  for (;;) {
    ssize_t n = ::read(fd, buf.data() + have, buf.size() - have);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      ::close(fd);
      return Status::Io(fmt::format("{}: read failed", path));
    }
    if (n == 0) break;
    bytes += n;
    size_t end = have + static_cast<size_t>(n);
    size_t whole = end / width * width;
    for (size_t off = 0; off < whole; off += width) {
      uint32_t id;
      if (width == 2) {
        uint16_t v;
        std::memcpy(&v, buf.data() + off, 2);
        id = v;
        if (want_hist) ++hist[v];
      } else {
        std::memcpy(&id, buf.data() + off, 4);
        if (want_hist) ++hist32[id];
      }
      max_id = std::max<uint64_t>(max_id, id);
      if (spec.vocab_size > 0 && id >= spec.vocab_size) {
        ++oov;
        if (oov_at.size() < 5) oov_at.push_back(tokens);
      }
      uint32_t old = window[tokens % kNgram];
      window[tokens % kNgram] = id;
      h = h * kBase + (id + 1) - (tokens >= kNgram ? (old + 1) * pow : 0);
      ++tokens;
      if (spec.repeated_ngrams.enabled && tokens >= kNgram) {
        uint64_t m = Mix64(h, 0x9e3779b97f4a7c15ULL);
        if ((m & 15) == 0) {
          ++sampled;
          if (seen.Insert(m)) {
            ++repeated;
            if (repeat_at.size() < 5) repeat_at.push_back(tokens - kNgram);
          }
        }
      }
    }
    std::memmove(buf.data(), buf.data() + whole, end - whole);
    have = end - whole;
  }
  ::close(fd);
  auto offsets = [](const std::vector<int64_t>& v) {
    std::vector<std::string> s;
    for (int64_t x : v) s.push_back(fmt::format("token {}", x));
    return s;
  };
  {
    CheckResult r;
    r.output = spec.output;
    r.check = "tokens";
    r.severity = spec.severity;
    r.value = double(oov);
    r.has_limit = true;
    r.passed = oov == 0 && have == 0;
    r.numbers = {{"tokens", double(tokens)}, {"bytes", double(bytes)}, {"max_id", double(max_id)},
                 {"vocab_size", double(spec.vocab_size)}, {"out_of_vocab", double(oov)}};
    r.examples = offsets(oov_at);
    r.message = have != 0 ? fmt::format("{} bytes is not a whole number of {} tokens", bytes, spec.dtype)
                : oov > 0 ? fmt::format("{} of {} tokens are >= vocab_size {} (max id {})", oov, tokens,
                                        spec.vocab_size, max_id)
                          : fmt::format("{} {} tokens, max id {}", tokens, spec.dtype, max_id);
    out->push_back(std::move(r));
  }
  if (spec.rows.enabled) {
    CheckResult r;
    r.output = spec.output;
    r.check = "rows";
    r.severity = spec.rows.severity;
    r.value = double(tokens);
    r.passed = !(spec.rows.min && tokens < *spec.rows.min) && !(spec.rows.max && tokens > *spec.rows.max);
    r.message = fmt::format("{} tokens{}", tokens, r.passed ? "" : " (outside the declared bounds)");
    out->push_back(std::move(r));
  }
  if (spec.repeated_ngrams.enabled) {
    CheckResult r;
    r.output = spec.output;
    r.check = "repeated_ngrams";
    r.severity = spec.repeated_ngrams.severity;
    r.value = sampled > 0 ? double(repeated) / double(sampled) : 0;
    r.has_limit = true;
    r.limit = spec.repeated_ngrams.max_rate.value_or(0.05);
    r.passed = r.value <= r.limit;
    r.numbers = {{"sampled", double(sampled)}, {"repeated", double(repeated)}, {"n", kNgram}};
    r.examples = offsets(repeat_at);
    r.message = fmt::format("{:.2f}% of sampled {}-token windows occur earlier in the shard",
                            100 * r.value, kNgram);
    out->push_back(std::move(r));
  }
  profile->rows = tokens;
  if (want_hist) {
    std::vector<std::pair<int64_t, uint32_t>> top;
    for (size_t i = 0; i < hist.size(); ++i) {
      if (hist[i]) top.emplace_back(hist[i], static_cast<uint32_t>(i));
    }
    for (auto& [id, c] : hist32) top.emplace_back(c, id);
    std::sort(top.rbegin(), top.rend());
    auto& cats = profile->categorical["token"];
    for (size_t i = 0; i < top.size(); ++i) {
      if (i < kMaxCategories) {
        cats[fmt::format("{}", top[i].second)] = top[i].first;
      } else {
        cats["(other)"] += top[i].first;
      }
    }
  }
  return Status::OK();
}

}  // namespace inloop::data
