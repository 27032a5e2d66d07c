#include "ike/crypto/verifier.hpp"

namespace postern::ike::crypto {

AnchorVerifier::AnchorVerifier(std::vector<Certificate> anchors, ValidationLimits limits)
    : validator_(anchors, limits) {
    for (const auto& a : anchors)
        anchor_der_.push_back(a.der());
}

tl::expected<std::vector<Certificate>, std::string> parse_chain(std::span<const Bytes> der) {
    std::vector<Certificate> out;
    for (std::size_t i = 0; i < der.size(); ++i) {
        auto c = Certificate::from_der(der[i]);
        if (!c) return tl::unexpected("certificate " + std::to_string(i) + ": " + c.error());
        out.push_back(std::move(*c));
    }
    return out;
}

tl::expected<void, std::string> AnchorVerifier::verify(std::span<const Bytes> chain,
                                                       std::int64_t now) const {
    if (chain.empty()) return tl::unexpected(std::string("no certificate"));
    auto certs = parse_chain(chain);
    if (!certs) return tl::unexpected(certs.error());
    return validator_.validate(certs->front(), std::span(*certs).subspan(1),
                               static_cast<std::time_t>(now));
}

}  // namespace postern::ike::crypto
