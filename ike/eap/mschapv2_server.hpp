// EAP-MSCHAPv2 on the server side (RFC 2759 with the EAP framing Windows and strongSwan use),
// a ServerMethod that EapServer runs after the Identity round:
//
//   server                                             peer
//   begin()          Request/MSCHAPv2 Challenge (n)     16 random octets, Name = server name
//                <-- Response/MSCHAPv2 Response (n)     Peer-Challenge, NT-Response, Name
//   NT-Response checked in constant time
//     good:          Request/MSCHAPv2 Success (n+1)     "S=<authenticator response> M=..."
//                <-- Response/MSCHAPv2 Success (n+1)
//                    success: EAP-Success, msk() available
//     bad:           Request/MSCHAPv2 Failure (n+1)     "E=691 R=0 C=... V=3 M=..."
//                <-- Response/MSCHAPv2 Failure (n+1)    (or anything else)
//                    failure: EAP-Failure
//
// The account is looked up once, when the method starts. Unknown and disabled users get the
// same messages as a wrong password (a Challenge, then E=691), so the wire never tells which it
// was; the reason is for the audit log only. No retries (R=0): one Response per conversation.
// The MS-CHAPv2-ID repeats the EAP identifier of the Challenge, as strongSwan and Windows do.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "ike/crypto/secret.hpp"
#include "ike/eap/eap_method.hpp"
#include "ike/eap/mschapv2.hpp"

namespace postern::ike::eap {

class MsChapV2Server final : public ServerMethod {
  public:
    struct Config {
        // Name field of the Challenge (RFC 2759 §3), at most 255 octets.
        std::string server_name = "postern";
    };

    // `identity`: the account the Identity round named, looked up now.
    MsChapV2Server(Config config, std::string identity, const UserLookup& lookup,
                   Random random = system_random());

    std::uint8_t type() const override { return static_cast<std::uint8_t>(EapType::MSCHAPV2); }
    std::string_view name() const override { return "EAP-MSCHAPv2"; }
    Step begin(std::uint8_t id) override;
    Step process(ByteView type_data, std::uint8_t next_id) override;
    std::optional<EapFailureReason> failure_reason() const override { return reason_; }
    const std::string& failure_detail() const override { return detail_; }
    ByteView msk() const override;

    // The Name the peer put in its MSCHAPv2 Response.
    const std::string& response_name() const { return response_name_; }

  private:
    enum class State { initial, challenge_sent, success_sent, failure_sent, done };

    Step on_response(ByteView type_data);
    Step on_success_response(ByteView type_data);
    Step on_failure_response(ByteView type_data);
    Step fail(EapFailureReason reason, std::string detail);
    Step send_failure_request(EapFailureReason reason, std::string detail);

    Config config_;
    std::string identity_;
    Random random_;
    State state_ = State::initial;
    bool succeeded_ = false;
    std::optional<EapFailureReason> reason_;
    std::string detail_;
    std::uint8_t ms_id_ = 0;
    std::string response_name_;
    UserRecord user_;
    Challenge challenge_{};
    crypto::Secret msk_;
    crypto::Secret pending_msk_;
};

// The method factory EapServer takes (server name, user store, randomness bound in).
ServerMethodFactory mschapv2_server_method(MsChapV2Server::Config config, UserLookup lookup,
                                           Random random = system_random());

}  // namespace postern::ike::eap
