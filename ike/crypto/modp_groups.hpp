// MODP Diffie-Hellman group primes (RFC 2409 §6.2, RFC 3526). The generator is 2 for all.
#pragma once

#include <string_view>

#include "ike/wire/constants.hpp"

namespace postern::ike::crypto {

// Upper-case hex of the prime modulus, or empty for a group that is not MODP or not supported.
std::string_view modp_prime_hex(KeId id);

inline constexpr unsigned kModpGenerator = 2;

}  // namespace postern::ike::crypto
