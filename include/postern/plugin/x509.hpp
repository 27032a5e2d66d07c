// Plugin API: whether a peer's certificate chain is trusted.
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include <tl/expected.hpp>

#include "postern/bytes.hpp"

namespace postern::plugin {

class CertificateVerifier {
  public:
    virtual ~CertificateVerifier() = default;
    // `chain`: DER certificates as the peer sent them, end entity first. `now`: Unix seconds
    // (the engine's clock). An error says why the chain is refused. Called from several IKE
    // threads at once (posternd shards its IKE SAs over threads), without a lock: it must be
    // safe for that.
    virtual tl::expected<void, std::string> verify(std::span<const Bytes> chain,
                                                   std::int64_t now) const = 0;
    // The trust anchors, DER certificates: CERTREQ names them (by public key hash), and the
    // TLS CertificateRequest of EAP-TLS (by subject).
    virtual std::span<const Bytes> anchors() const = 0;
};

}  // namespace postern::plugin
