#include "ike/crypto/verifier.hpp"

#include <algorithm>

namespace postern::ike::crypto {

AnchorVerifier::AnchorVerifier(std::vector<Certificate> anchors, ValidationLimits limits,
                               VerifierCaches caches)
    : validator_(anchors, limits),
      parsed_(caches.parsed),
      verified_(
          std::make_unique<VerifiedChainCache>(caches.verified_capacity, caches.verified_shards)) {
    for (const auto& a : anchors)
        anchor_der_.push_back(a.der());
}

tl::expected<std::vector<Certificate>, std::string> parse_chain(std::span<const Bytes> der,
                                                                CertificateCache& cache) {
    std::vector<Certificate> out;
    out.reserve(der.size());
    for (std::size_t i = 0; i < der.size(); ++i) {
        auto c = cache.parse(der[i]);
        if (!c) return tl::unexpected("certificate " + std::to_string(i) + ": " + c.error());
        out.push_back(**c);
    }
    return out;
}

tl::expected<void, std::string> AnchorVerifier::verify(std::span<const Bytes> chain,
                                                       std::int64_t now) const {
    if (chain.empty()) return tl::unexpected(std::string("no certificate"));
    const auto when = static_cast<std::time_t>(now);
    const Sha256Digest key = VerifiedChainCache::key(chain);
    if (verified_->verified_at(key, when)) return {};

    auto certs = parse_chain(chain, *parsed_);
    if (!certs) return tl::unexpected(certs.error());
    auto path = validator_.verified_chain(certs->front(), std::span(*certs).subspan(1), when);
    if (!path) return tl::unexpected(path.error());
    // X509_verify_cert checked every certificate of the path it built against `now`; the
    // same path stays valid exactly while all of them are.
    VerifiedChainCache::Window window{path->front().not_before(), path->front().not_after()};
    for (const auto& c : *path) {
        window.not_before = std::max(window.not_before, c.not_before());
        window.not_after = std::min(window.not_after, c.not_after());
    }
    verified_->remember(key, window);
    return {};
}

}  // namespace postern::ike::crypto
