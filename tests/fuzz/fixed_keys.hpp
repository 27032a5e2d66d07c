// Fixed SK ciphers for the IKE message fuzz target, shared with the seed generator so the seeds
// it writes open under them: AES-GCM-16-256 (AEAD path) and AES-CBC-256 + HMAC-SHA2-256-128
// (CBC + ICV path). Keys are arbitrary constant bytes.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstdlib>

#include "ike/crypto/secret.hpp"
#include "ike/crypto/sk.hpp"

namespace postern::fuzz {

inline ike::crypto::Secret pattern(std::size_t n, std::uint8_t seed) {
    ike::crypto::Secret s(n);
    for (std::size_t i = 0; i < n; ++i)
        s.data()[i] = static_cast<std::uint8_t>(seed + i * 7);
    return s;
}

inline const ike::crypto::SkCipher& gcm_cipher() {
    static const ike::crypto::SkCipher c = [] {
        auto r = ike::crypto::SkCipher::create(ike::EncrId::ENCR_AES_GCM_16, 256,
                                               ike::IntegId::AUTH_NONE, pattern(36, 1), {});
        if (!r) std::abort();
        return std::move(*r);
    }();
    return c;
}

inline const ike::crypto::SkCipher& cbc_cipher() {
    static const ike::crypto::SkCipher c = [] {
        auto r = ike::crypto::SkCipher::create(ike::EncrId::ENCR_AES_CBC, 256,
                                               ike::IntegId::AUTH_HMAC_SHA2_256_128, pattern(32, 2),
                                               pattern(32, 3));
        if (!r) std::abort();
        return std::move(*r);
    }();
    return c;
}

// Deterministic IV: fuzzing must be reproducible from the input alone.
inline void fixed_iv(MutableByteView iv) {
    std::fill(iv.begin(), iv.end(), 0x5a);
}

}  // namespace postern::fuzz
