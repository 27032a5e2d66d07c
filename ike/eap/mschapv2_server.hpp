// The EAP server for EAP-MSCHAPv2, sans-I/O: bytes of EAP messages in, EAP messages out. The
// IKE_AUTH exchange carries each message in an EAP payload and, once the result is a success,
// binds msk() into the final AUTH (RFC 7296 §2.16).
//
//   server                                             peer
//   start()          EAP-Request/Identity (id n)    -->
//                <-- EAP-Response/Identity (id n)       empty: the caller's IKE IDi is used
//   UserLookup(identity)
//                    Request/MSCHAPv2 Challenge (n+1)   16 random octets, Name = server name
//                <-- Response/MSCHAPv2 Response (n+1)   Peer-Challenge, NT-Response, Name
//   NT-Response checked in constant time
//     good:          Request/MSCHAPv2 Success (n+2)     "S=<authenticator response> M=..."
//                <-- Response/MSCHAPv2 Success (n+2)
//                    EAP-Success (n+2)                  status succeeded, msk() available
//     bad:           Request/MSCHAPv2 Failure (n+2)     "E=691 R=0 C=... V=3 M=..."
//                <-- Response/MSCHAPv2 Failure (n+2)    (or anything else)
//                    EAP-Failure (n+2)                  status failed
//
// Unknown and disabled users get the same messages as a wrong password (a Challenge, then
// E=691), so the wire never tells which it was; the reason is for the audit log only. No
// retries (R=0): one Response per conversation, so the state machine has four steps at most.
// Identifiers follow RFC 3748 §4.1: each Request has a new one (the first is random), a
// Response must carry the outstanding Request's, Success/Failure repeat it. Any unexpected or
// malformed message ends the conversation with EAP-Failure and reason protocol_error.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "ike/crypto/secret.hpp"
#include "ike/eap/eap_packet.hpp"
#include "ike/eap/mschapv2.hpp"
#include "postern/bytes.hpp"

namespace postern::ike::eap {

// What a user store says about an identity.
struct UserRecord {
    enum class Status { ok, unknown, disabled };
    Status status = Status::unknown;
    crypto::Secret nt_hash;  // 16 octets when ok

    static UserRecord found(crypto::Secret nt_hash) { return {Status::ok, std::move(nt_hash)}; }
    static UserRecord unknown_user() { return {Status::unknown, {}}; }
    static UserRecord disabled_user() { return {Status::disabled, {}}; }
};
// Called once, synchronously, with the EAP identity (or the IDi fallback).
using UserLookup = std::function<UserRecord(std::string_view identity)>;

enum class EapStatus { in_progress, succeeded, failed };

enum class EapFailureReason {
    unknown_user,
    disabled,
    bad_password,
    protocol_error,
    internal_error,  // e.g. OpenSSL's legacy provider missing
};
std::string_view to_string(EapFailureReason r);

// One step: the EAP message to send (empty when there is nothing to send) and the status after
// it. When the status turns succeeded or failed, reply is the final EAP-Success/Failure.
struct EapStep {
    Bytes reply;
    EapStatus status = EapStatus::in_progress;
};

class MsChapV2Server {
  public:
    struct Config {
        // Name field of the Challenge (RFC 2759 §3), at most 255 octets.
        std::string server_name = "postern";
        // The peer's IKE identity as text (IDi), used when the EAP identity is empty (Android).
        std::string ike_identity;
    };

    MsChapV2Server(Config config, UserLookup lookup, Random random = system_random());

    // EAP-Request/Identity. Call once, first.
    Bytes start();
    // Feeds one EAP message from the peer.
    EapStep process(ByteView eap_message);

    EapStatus status() const { return status_; }
    // Known as soon as the outcome is (with the Failure Request, before EAP-Failure).
    std::optional<EapFailureReason> failure_reason() const { return reason_; }
    // Human-readable detail for the log ("identifier 7 != 8", "NT-Response mismatch").
    const std::string& failure_detail() const { return detail_; }
    // The identity looked up (EAP identity or the IDi fallback); empty before the Identity.
    const std::string& identity() const { return identity_; }
    // The Name the peer put in its MSCHAPv2 Response.
    const std::string& response_name() const { return response_name_; }
    // kMskSize octets once status() is succeeded; empty otherwise.
    const crypto::Secret& msk() const;

  private:
    enum class State { initial, identity_sent, challenge_sent, success_sent, failure_sent, done };

    EapStep on_identity(const EapPacket& p);
    EapStep on_response(const EapPacket& p);
    EapStep on_success_response(const EapPacket& p);
    EapStep on_failure_response(const EapPacket& p);
    EapStep fail(EapFailureReason reason, std::string detail);
    EapStep send_failure_request(EapFailureReason reason, std::string detail);
    std::uint8_t next_identifier() { return ++identifier_; }

    Config config_;
    UserLookup lookup_;
    Random random_;
    State state_ = State::initial;
    EapStatus status_ = EapStatus::in_progress;
    std::optional<EapFailureReason> reason_;
    std::string detail_;
    std::uint8_t identifier_ = 0;  // of the outstanding Request
    std::uint8_t ms_id_ = 0;
    std::string identity_;
    std::string response_name_;
    UserRecord user_;
    Challenge challenge_{};
    crypto::Secret msk_;
    crypto::Secret pending_msk_;
};

}  // namespace postern::ike::eap
