// The EAP peer for EAP-MSCHAPv2, sans-I/O: Postern's own initiator (tests, load generator).
//
//   Request/Identity            --> Response/Identity (config.identity, may be empty)
//   Request/MSCHAPv2 Challenge  --> Response: Peer-Challenge (random), NT-Response, Name
//   Request/MSCHAPv2 Success    --> checks S= (mutual authentication), Success Response
//   EAP-Success                     succeeded, msk() available
//   Request/MSCHAPv2 Failure    --> Failure Response; then EAP-Failure: failed
//   Request/Notification        --> Response/Notification (RFC 3748 §5.2)
//   Request/<another method>    --> Response/Nak [MSCHAPv2] (before MSCHAPv2 started)
//
// EAP-Success before a verified authenticator response, a wrong S=, a repeated or unexpected
// Request, or anything malformed fails the conversation (no reply).
#pragma once

#include <optional>
#include <string>

#include "ike/crypto/secret.hpp"
#include "ike/eap/eap_packet.hpp"
#include "ike/eap/mschapv2.hpp"
#include "ike/eap/eap_method.hpp"
#include "postern/bytes.hpp"

namespace postern::ike::eap {

class MsChapV2Client final : public PeerMethod {
  public:
    struct Config {
        std::string identity;   // EAP-Response/Identity; empty to behave like Android
        std::string user_name;  // MSCHAPv2 Name ("DOMAIN\user" allowed)
        std::string password;   // UTF-8
    };

    // Fails when the password is not valid UTF-8, too long, or MD4 is unavailable.
    static Result<MsChapV2Client> create(const Config& config, Random random = system_random());

    std::string_view name() const override { return "EAP-MSCHAPv2"; }
    EapStep process(ByteView eap_message) override;

    EapStatus status() const override { return status_; }
    const std::string& failure_detail() const override { return detail_; }
    // The server's MSCHAPv2 error code (691, ...) after a Failure Request.
    std::optional<unsigned> server_error() const { return server_error_; }
    // kMskSize octets once status() is succeeded; empty otherwise.
    const crypto::Secret& msk() const override;

  private:
    enum class State {
        wait_identity,
        wait_challenge,
        wait_success,
        wait_eap_success,
        wait_eap_failure,
        done
    };

    MsChapV2Client(Config config, crypto::Secret nt_hash, Random random);
    EapStep fail(std::string detail);
    EapStep on_mschapv2(const EapPacket& p);

    Config config_;
    crypto::Secret nt_hash_;
    Random random_;
    State state_ = State::wait_identity;
    EapStatus status_ = EapStatus::in_progress;
    std::string detail_;
    std::optional<unsigned> server_error_;
    std::optional<std::uint8_t> last_identifier_;
    AuthenticatorDigest expected_auth_{};
    crypto::Secret pending_msk_;
    crypto::Secret msk_;
};

}  // namespace postern::ike::eap
