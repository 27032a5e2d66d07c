// Parsed certificates by the SHA-256 of their DER, so that a peer reconnecting with the same
// certificates (every client does, again and again) costs no d2i_X509: OpenSSL 3's decoders
// were ~40 % of an ECDSA handshake's CPU in issue 9's profile. IKE_AUTH parses the peer's CERT
// payloads through it, and AnchorVerifier the chain it is asked to check.
//
// A Certificate is immutable once parsed (from_der caches its extensions), so one parsed object
// is shared by every handshake and thread that sees the same DER. A hit compares the DER too:
// the digest only picks the entry. Certificates that fail to parse are not kept (a peer could
// otherwise fill the cache with garbage at no cost to itself; with valid DER it can still push
// other entries out, which costs a parse later, never a wrong answer).
//
// One cache per process image: a plugin that links this library statically (the x509 plugin)
// has its own shared() instance. Either way a certificate is parsed at most once per image
// while it stays cached.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include <tl/expected.hpp>

#include "ike/crypto/digest_lru.hpp"
#include "ike/crypto/x509.hpp"
#include "postern/bytes.hpp"

namespace postern::ike::crypto {

// SHA-256 of `data`.
Sha256Digest sha256(ByteView data);

class CertificateCache {
  public:
    // About 7 KB each (OpenSSL's X509 with its decoded extensions and key, and the DER, for
    // the P-256 and RSA-2048 test certificates): under 30 MB when full. Enough for a reconnect
    // storm of a few thousand distinct clients to parse nothing.
    static constexpr std::size_t kDefaultCapacity = 4096;
    static constexpr std::size_t kDefaultShards = 16;

    explicit CertificateCache(std::size_t capacity = kDefaultCapacity,
                              std::size_t shards = kDefaultShards);

    // The process-wide cache (never destroyed: certificates must not be freed after OpenSSL's
    // own atexit clean-up).
    static CertificateCache& shared();

    // As Certificate::from_der, from the cache when this DER was parsed before.
    tl::expected<std::shared_ptr<const Certificate>, std::string> parse(ByteView der);

    struct Counters {
        std::uint64_t hits = 0;
        std::uint64_t misses = 0;  // parsed (successfully or not)
        std::uint64_t evictions = 0;
        std::size_t size = 0;
        std::size_t capacity = 0;
    };
    Counters counters() const;

    void clear();

  private:
    DigestLru<std::shared_ptr<const Certificate>> entries_;
    std::atomic<std::uint64_t> hits_{0};
    std::atomic<std::uint64_t> misses_{0};
};

}  // namespace postern::ike::crypto
