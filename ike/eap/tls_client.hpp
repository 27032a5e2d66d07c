// EAP-TLS on the peer side (RFC 5216, RFC 9190), for Postern's own initiator (tests, load
// generator). Answers the Identity Request, Naks other methods with TLS, runs the TLS client with
// our certificate and acknowledges every fragment with M; succeeds on EAP-Success only once
// the handshake is complete (TLS 1.3: and the server's commitment message arrived).
#pragma once

#include <optional>
#include <string>

#include "ike/eap/eap_method.hpp"
#include "ike/eap/tls_frame.hpp"
#include "ike/eap/tls_server.hpp"  // kTlsFragmentSize, eap_tls_msk
#include "ike/eap/tls_session.hpp"

namespace postern::ike::eap {

class EapTlsClient final : public PeerMethod {
  public:
    struct Config {
        std::string identity;  // EAP-Response/Identity; empty to behave like Android
        // Our certificate and key, the highest version, and check_peer: the server's chain
        // against our trust anchors and the name we expect.
        TlsSettings tls;
        std::size_t fragment_size = kTlsFragmentSize;
    };

    explicit EapTlsClient(Config config);

    std::string_view name() const override { return "EAP-TLS"; }
    EapStep process(ByteView eap_message) override;
    EapStatus status() const override { return status_; }
    const std::string& failure_detail() const override { return detail_; }
    const crypto::Secret& msk() const override;

    // Negotiated version once the handshake completed (kTls12, kTls13), else 0.
    std::uint16_t tls_version() const { return tls_ ? tls_->version() : 0; }

  private:
    EapStep fail(std::string detail, Bytes reply = {});
    EapStep respond(std::uint8_t id, Bytes type_data);
    EapStep on_tls(const EapPacket& p);
    EapStep on_flight(std::uint8_t id, Bytes flight);
    EapStep send(std::uint8_t id, Bytes flight);

    Config config_;
    std::optional<TlsSession> tls_;
    TlsReassembler in_;
    TlsFragmenter out_;
    EapStatus status_ = EapStatus::in_progress;
    std::string detail_;
    std::optional<std::uint8_t> last_identifier_;
    bool identity_sent_ = false;
    bool ready_ = false;  // handshake done (and TLS 1.3 commitment seen): EAP-Success may come
    crypto::Secret pending_msk_;
    crypto::Secret msk_;
};

}  // namespace postern::ike::eap
