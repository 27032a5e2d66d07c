// The plugin API's CertificateVerifier over a fixed set of trust anchors (CertificateValidator):
// what the engine uses when no plugin provides one, and what the x509 plugin registers.
#pragma once

#include <vector>

#include "ike/crypto/x509.hpp"
#include "postern/plugin/x509.hpp"

namespace postern::ike::crypto {

class AnchorVerifier final : public plugin::CertificateVerifier {
  public:
    explicit AnchorVerifier(std::vector<Certificate> anchors, ValidationLimits limits = {});

    // The end entity and intermediates parsed, then CertificateValidator::validate.
    tl::expected<void, std::string> verify(std::span<const Bytes> chain,
                                           std::int64_t now) const override;
    std::span<const Bytes> anchors() const override { return anchor_der_; }

  private:
    CertificateValidator validator_;
    std::vector<Bytes> anchor_der_;
};

// DER certificates parsed; the error names the first one that is not.
tl::expected<std::vector<Certificate>, std::string> parse_chain(std::span<const Bytes> der);

}  // namespace postern::ike::crypto
