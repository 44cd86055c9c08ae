// Secrets: random tokens from the kernel's CSPRNG (getrandom(2)), their SHA-256 digests (what a
// store keeps instead of a secret), and comparison in constant time. No other module draws
// secrets or compares them on its own.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "common/status.h"

namespace inloop {

// `bytes` random bytes from getrandom(2) (blocking until the pool is seeded), as lower-case hex
// (2 * bytes characters). Io when the kernel refuses.
Status RandomHex(size_t bytes, std::string* out);

// SHA-256 of `data` as 64 lower-case hex characters.
std::string Sha256Hex(std::string_view data);

// Whether a == b, looking at every byte (no early exit on the first difference). The length is
// not secret: different lengths return false at once.
bool ConstantTimeEqual(std::string_view a, std::string_view b);

}  // namespace inloop
