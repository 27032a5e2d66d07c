// EAP-TLS on the server side (RFC 5216; TLS 1.3 per RFC 9190), a ServerMethod that EapServer
// runs after the Identity round. The client proves who it is with its certificate; the server
// with its own (the connection's), inside TLS.
//
//   server                                             peer
//   begin()          Request/TLS Start (S)          -->
//                <-- Response/TLS ClientHello
//                    Request/TLS ServerHello ... (fragmented: L+M, M, ..., last)
//                <-- Response/TLS (empty: an acknowledgement per fragment with M)
//                <-- Response/TLS Certificate, ..., Finished (fragmented likewise; we ack)
//   client checked   chain against the trust anchors, the certificate names the account
//                    (subjectAltName e-mail or DNS name, or the commonName), account enabled
//     TLS 1.2:       Request/TLS ChangeCipherSpec, Finished
//     TLS 1.3:       Request/TLS commitment (application data 0x00, RFC 9190 §2.1.1)
//                <-- Response/TLS (empty)
//                    success: EAP-Success; MSK = the first 64 octets of
//                      TLS 1.2: TLS-PRF(master secret, "client EAP encryption", randoms)
//                      TLS 1.3: TLS-Exporter("EXPORTER_EAP_TLS_Key_Material", 0x0D, 128)
//     refused:       Request/TLS alert  -->  <-- Response/TLS (empty)  -->  EAP-Failure
//
// The account is the EAP identity; the certificate must name it, so one user's certificate
// cannot log in as another. An unknown or disabled account is refused the same way as a bad
// certificate on the wire (an alert); the reason is for the audit log.
#pragma once

#include <cstddef>
#include <optional>
#include <string>

#include "ike/eap/eap_method.hpp"
#include "ike/eap/tls_frame.hpp"
#include "ike/eap/tls_session.hpp"

namespace postern::ike::eap {

// EAP-TLS Type-Data carried per EAP message (strongSwan's default too): with the EAP, SK and
// IKE headers an IKE message stays under the 1280-octet IPv6 minimum MTU.
inline constexpr std::size_t kTlsFragmentSize = 1024;

// The MSK of an established EAP-TLS session (RFC 5216 §2.3, RFC 9190 §2.3).
Result<crypto::Secret> eap_tls_msk(const TlsSession& tls);

// Whether `cert` names `account`: an e-mail or DNS subjectAltName, or the commonName, equal to
// it (ASCII case ignored).
bool certificate_names_account(const crypto::Certificate& cert, std::string_view account);

class EapTlsServer final : public ServerMethod {
  public:
    struct Config {
        // Our chain and key, the CAs to name in CertificateRequest, the highest version.
        // check_peer is ours to set; chain_check judges the client's chain (trust anchors,
        // validity at the engine's clock).
        TlsSettings tls;
        PeerCheck chain_check;
        std::size_t fragment_size = kTlsFragmentSize;
    };

    EapTlsServer(Config config, std::string identity, UserLookup lookup);

    std::uint8_t type() const override { return static_cast<std::uint8_t>(EapType::TLS); }
    std::string_view name() const override { return "EAP-TLS"; }
    Step begin(std::uint8_t id) override;
    Step process(ByteView type_data, std::uint8_t next_id) override;
    std::optional<EapFailureReason> failure_reason() const override { return reason_; }
    const std::string& failure_detail() const override { return detail_; }
    ByteView msk() const override;
    // "TLSv1.2 ECDHE-RSA-AES256-GCM-SHA384, client CN=alice", once established.
    std::string description() const override { return description_; }

  private:
    enum class State { initial, exchanging, final_sent, alert_sent, done };

    tl::expected<void, std::string> check_client(std::span<const crypto::Certificate> chain);
    Step on_flight(Bytes flight);
    Step send(Bytes flight, State then);
    Step fail(EapFailureReason reason, std::string detail);

    Config config_;
    std::string identity_;
    UserLookup lookup_;
    std::optional<TlsSession> tls_;
    State state_ = State::initial;
    TlsReassembler in_;
    TlsFragmenter out_;
    // Set by check_client when it refuses (the TLS error then is only "certificate rejected").
    std::optional<EapFailureReason> check_reason_;
    std::optional<EapFailureReason> reason_;
    std::string detail_;
    std::string description_;
    crypto::Secret pending_msk_;
    crypto::Secret msk_;
};

// The method factory EapServer takes.
ServerMethodFactory eap_tls_server_method(EapTlsServer::Config config, UserLookup lookup);

}  // namespace postern::ike::eap
