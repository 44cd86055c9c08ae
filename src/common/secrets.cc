// RandomHex (getrandom), Sha256Hex and ConstantTimeEqual (OpenSSL) of secrets.h.
#include "common/secrets.h"

#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <sys/random.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include <fmt/format.h>

namespace inloop {
namespace {

std::string Hex(const unsigned char* p, size_t n) {
  static const char kDigits[] = "0123456789abcdef";
  std::string out(2 * n, '0');
  for (size_t i = 0; i < n; ++i) {
    out[2 * i] = kDigits[p[i] >> 4];
    out[2 * i + 1] = kDigits[p[i] & 15];
  }
  return out;
}

}  // namespace

Status RandomHex(size_t bytes, std::string* out) {
  std::vector<unsigned char> buf(bytes);
  size_t got = 0;
  while (got < bytes) {
    ssize_t r = ::getrandom(buf.data() + got, bytes - got, 0);
    if (r < 0) {
      if (errno == EINTR) continue;
      return Status::Io(fmt::format("cannot draw a random token: getrandom: {}",
                                    std::strerror(errno)));
    }
    got += static_cast<size_t>(r);
  }
  *out = Hex(buf.data(), bytes);
  return Status::OK();
}

std::string Sha256Hex(std::string_view data) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest);
  return Hex(digest, sizeof digest);
}

bool ConstantTimeEqual(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  // OpenSSL's comparison is written so that the compiler cannot turn it into an early exit.
  return a.empty() || CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace inloop
