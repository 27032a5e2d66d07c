// Random octets for the handshake path: nonces, SPIs, IVs, cookie secrets.
#pragma once

#include "postern/bytes.hpp"

namespace postern::ike::crypto {

// Fills `out` from OpenSSL's DRBG (RAND_bytes), through a buffer of this thread's own.
//
// Why a buffer: in OpenSSL 3.0 every RAND_bytes call costs 2-3 us whatever its size (the
// thread's DRBG found, a fork check, and the CTR-DRBG's AES key schedule set up again for the
// state update), and a handshake draws a few short values (nonce, SPI, IVs). One call fills
// kRandomBuffer octets and the draws take from it. The octets handed out are wiped from the
// buffer; the ones not handed out yet reveal no more than the DRBG's own state in the same
// memory does. A forked child never uses its parent's buffer (pthread_atfork).
// Requests of more than kRandomDirect octets go to RAND_bytes directly. Aborts if the DRBG
// fails: nothing safe can follow.
void fill_random(MutableByteView out);

inline constexpr std::size_t kRandomBuffer = 4096;
inline constexpr std::size_t kRandomDirect = 256;

}  // namespace postern::ike::crypto
