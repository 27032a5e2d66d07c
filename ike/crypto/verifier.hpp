// The plugin API's CertificateVerifier over a fixed set of trust anchors (CertificateValidator):
// what the engine uses when no plugin provides one, and what the x509 plugin registers.
#pragma once

#include <memory>
#include <vector>

#include "ike/crypto/cert_cache.hpp"
#include "ike/crypto/chain_cache.hpp"
#include "ike/crypto/x509.hpp"
#include "postern/plugin/x509.hpp"

namespace postern::ike::crypto {

// Caches a verifier keeps: the parsed certificates (by default the process's
// CertificateCache::shared()), and its own record of the chains it accepted.
struct VerifierCaches {
    CertificateCache* parsed = &CertificateCache::shared();  // not owned; never null
    std::size_t verified_capacity = VerifiedChainCache::kDefaultCapacity;
    std::size_t verified_shards = VerifiedChainCache::kDefaultShards;
};

class AnchorVerifier final : public plugin::CertificateVerifier {
  public:
    explicit AnchorVerifier(std::vector<Certificate> anchors, ValidationLimits limits = {},
                            VerifierCaches caches = {});

    // A chain this verifier accepted before, all of whose path is still valid at `now`, is
    // accepted again without parsing or X509_verify_cert (chain_cache.hpp). Otherwise the end
    // entity and intermediates are parsed (through the certificate cache), then validated by
    // CertificateValidator; an accepted chain is remembered. Safe from several threads.
    tl::expected<void, std::string> verify(std::span<const Bytes> chain,
                                           std::int64_t now) const override;
    std::span<const Bytes> anchors() const override { return anchor_der_; }

    VerifiedChainCache::Counters verified_counters() const { return verified_->counters(); }

  private:
    CertificateValidator validator_;
    std::vector<Bytes> anchor_der_;
    CertificateCache* parsed_;
    std::unique_ptr<VerifiedChainCache> verified_;  // internally synchronized
};

// DER certificates parsed (through `cache`); the error names the first one that is not.
tl::expected<std::vector<Certificate>, std::string> parse_chain(
    std::span<const Bytes> der, CertificateCache& cache = CertificateCache::shared());

}  // namespace postern::ike::crypto
