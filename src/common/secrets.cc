// RandomHex (getrandom), Sha256Hex and ConstantTimeEqual (OpenSSL) of secrets.h.
#include "common/secrets.h"

#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <sys/random.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include <fmt/format.h>

#include "common/hex.h"

namespace inloop {

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
  *out = LowerHex(buf.data(), bytes);
  return Status::OK();
}

std::string Sha256Hex(std::string_view data) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest);
  return LowerHex(digest, sizeof digest);
}

bool ConstantTimeEqual(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  // OpenSSL's comparison is written so that the compiler cannot turn it into an early exit.
  return a.empty() || CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace inloop
