// Chains a verifier accepted, so that a peer reconnecting with the same chain skips
// X509_verify_cert (chain building and the issuers' signatures) — strongSwan keeps a cache of
// verified issuer -> subject signatures for the same reason.
//
// What is kept: for the SHA-256 over the exact chain as the peer sent it (the number of
// certificates, then each one's length and DER, in order), the window in which every
// certificate of the path OpenSSL built (end entity to trust anchor) is valid: the latest
// notBefore and the earliest notAfter. Nothing else a verification depends on varies: the
// anchors, limits and flags are fixed for the lifetime of a verifier (AnchorVerifier), and each
// verifier has a cache of its own, so another anchor set — a reload builds a new verifier —
// never sees these entries.
//
// A hit still checks the time: it counts only while notBefore <= now < notAfter holds for the
// whole path (X509_verify_cert's own test); outside the window the chain is verified in full
// again, which gives exactly the uncached answer (an expired chain is refused with its
// reason). Failures are never kept: the uncached path reports why, every time.
//
// Revocation: the validator checks no CRL or OCSP (x509.hpp). Whoever adds CRLs must clear()
// this cache whenever a CRL is loaded or replaced (or build a new validator), or a revoked
// certificate would stay accepted until evicted.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <ctime>
#include <span>

#include "ike/crypto/digest_lru.hpp"
#include "postern/bytes.hpp"

namespace postern::ike::crypto {

class VerifiedChainCache {
  public:
    // 100 octets or so each.
    static constexpr std::size_t kDefaultCapacity = 8192;
    static constexpr std::size_t kDefaultShards = 16;

    explicit VerifiedChainCache(std::size_t capacity = kDefaultCapacity,
                                std::size_t shards = kDefaultShards);

    // The key of a chain: SHA-256 over its count, then each certificate's length and DER.
    static Sha256Digest key(std::span<const Bytes> chain);

    // When every certificate of the verified path is valid.
    struct Window {
        std::time_t not_before = 0;  // the latest notBefore
        std::time_t not_after = 0;   // the earliest notAfter
        bool contains(std::time_t now) const { return not_before <= now && now < not_after; }
    };

    // Whether the chain under `key` was verified and its window contains `now`.
    bool verified_at(const Sha256Digest& key, std::time_t now);
    // Records a successful verification, replacing an older window (an empty one is not kept).
    void remember(const Sha256Digest& key, Window window);

    struct Counters {
        std::uint64_t hits = 0;
        std::uint64_t misses = 0;
        std::uint64_t outside_window = 0;  // found, but not valid at `now`: verified again
        std::uint64_t evictions = 0;
        std::size_t size = 0;
        std::size_t capacity = 0;
    };
    Counters counters() const;

    void clear();

  private:
    DigestLru<Window> entries_;
    std::atomic<std::uint64_t> hits_{0};
    std::atomic<std::uint64_t> misses_{0};
    std::atomic<std::uint64_t> outside_window_{0};
};

}  // namespace postern::ike::crypto
