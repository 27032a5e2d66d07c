// ESP packet processing, tunnel mode (RFC 4303): encapsulation and decapsulation in place, in a
// buffer the caller owns, with per-worker cipher contexts.
//
//   0                   1                   2                   3
//   +---------------------------------------------------------------+  ^ ICV coverage (CBC)
//   |               Security Parameters Index (SPI)                 |  | AAD (AEAD):
//   |                      Sequence Number                          |  v SPI | [ESN hi] | seq
//   |              IV (AEAD: 8 octets, CBC: 16 octets)              |
//   |  inner IP packet ... | Padding 1,2,3... | Pad Len | Next Hdr  |  <- encrypted
//   |                  ICV (16 / 12 / 24 / 32 octets)               |
//   +---------------------------------------------------------------+
//
// Buffers. Encapsulation takes the inner packet at buf.offset and grows it in place: the ESP
// header and IV go into the headroom (kEncapHeadroom), padding, trailer and ICV into the
// tailroom (kEncapTailroom); the caller leaves more headroom for the outer IP/UDP headers.
// Decapsulation decrypts in place and returns the inner packet as a span of the same buffer.
// Neither allocates.
//
// Threads. An EspCipher belongs to one worker: its OpenSSL contexts hold the key schedule
// (set once, in create()), and each packet only re-initialises the nonce/IV. The EspSa is
// shared; encapsulate() may run on any number of workers at once for one SA, decapsulate() on
// the one worker that owns the SA's inbound direction (replay_window.hpp).
#pragma once

#include <openssl/evp.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include <tl/expected.hpp>

#include "esp/engine/esp_sa.hpp"
#include "postern/bytes.hpp"

namespace postern::esp {

inline constexpr std::size_t kEspHeaderSize = 8;  // SPI + Sequence Number
inline constexpr std::size_t kMaxIvSize = 16;
inline constexpr std::size_t kMaxIcvSize = 32;
// Room encapsulation needs before and after the inner packet, for every transform.
inline constexpr std::size_t kEncapHeadroom = kEspHeaderSize + kMaxIvSize;
inline constexpr std::size_t kEncapTailroom = 15 + 2 + kMaxIcvSize;  // padding, trailer, ICV

inline constexpr std::uint8_t kNextHeaderIpv4 = 4;
inline constexpr std::uint8_t kNextHeaderIpv6 = 41;
inline constexpr std::uint8_t kNextHeaderNone = 59;  // dummy packet (RFC 4303 §2.6)

// A packet at [offset, offset + length) of caller-owned storage.
struct PacketBuffer {
    MutableByteView storage;
    std::size_t offset = 0;
    std::size_t length = 0;

    MutableByteView packet() const { return storage.subspan(offset, length); }
    std::size_t headroom() const { return offset; }
    std::size_t tailroom() const { return storage.size() - offset - length; }
};

// Per-worker crypto state for one SA.
class EspCipher {
  public:
    static tl::expected<EspCipher, std::string> create(const EspSa& sa);

    // AEAD: nonce = salt | iv (RFC 4106 §4, RFC 7634 §2). In place; tag is 16 octets.
    bool aead_seal(ByteView iv, ByteView aad, MutableByteView text, std::uint8_t* tag);
    // False when the tag does not verify (OpenSSL compares it in constant time).
    bool aead_open(ByteView iv, ByteView aad, MutableByteView text, const std::uint8_t* tag);
    // CBC in the SA's direction, in place; text is a multiple of the block size.
    bool cbc(ByteView iv, MutableByteView text);
    // Untruncated HMAC of covered | extra into out (at least 64 octets); returns its length.
    std::size_t hmac(ByteView covered, ByteView extra, std::uint8_t* out);

    const EspSa* sa() const { return sa_; }

  private:
    struct CipherFree {
        void operator()(EVP_CIPHER_CTX* c) const { EVP_CIPHER_CTX_free(c); }
    };
    struct MacFree {
        void operator()(EVP_MAC_CTX* c) const { EVP_MAC_CTX_free(c); }
    };

    const EspSa* sa_ = nullptr;
    std::unique_ptr<EVP_CIPHER_CTX, CipherFree> ctx_;
    std::unique_ptr<EVP_MAC_CTX, MacFree> mac_;
    std::uint8_t nonce_[12] = {};  // salt | IV; the salt part is set once
};

// Encapsulates the inner IPv4/IPv6 packet in buf (outbound SA): picks the next sequence number
// and an IV (AEAD: the 64-bit sequence number, unique per key as RFC 4106 §3.1 requires; CBC:
// random, RFC 3602 §2.4), sets Next Header from the IP version. On success buf holds the ESP
// packet (SPI first). On failure buf is unchanged unless the reason is crypto_error.
DropReason encapsulate(EspSa& sa, EspCipher& cipher, PacketBuffer& buf);

// encapsulate() with the sequence number, IV and Next Header given: for known-answer tests and
// dummy packets. iv must have the transform's IV size. Counts like encapsulate().
DropReason encapsulate_with(EspSa& sa, EspCipher& cipher, PacketBuffer& buf, std::uint64_t seq,
                            ByteView iv, std::uint8_t next_header);

struct DecapResult {
    DropReason reason = DropReason::none;
    std::uint64_t seq = 0;  // full sequence number (with ESN high bits) once verified
    std::uint8_t next_header = 0;
    MutableByteView inner;  // the inner IP packet within buf, when reason == none

    bool ok() const { return reason == DropReason::none; }
};

// Decapsulates the ESP packet in buf (SPI first, no outer headers; inbound SA) in place. Order:
// length, SPI, replay check (before any crypto), ICV (constant time), decryption, replay window
// update (only now: RFC 4303 §3.4.3), padding, Next Header, inner packet, traffic selectors.
// On success buf is narrowed to the inner packet (TFC padding removed). On a drop buf is left
// as it was, but its bytes are unspecified (AEAD decrypts in place before the tag is checked).
DecapResult decapsulate(EspSa& sa, EspCipher& cipher, PacketBuffer& buf);

}  // namespace postern::esp
