// The EAP server (RFC 3748) IKE_AUTH runs on the responder, sans-I/O: whole EAP messages in and
// out. It does what every method shares and hands the rest to a ServerMethod:
//
//   server                                             peer
//   start()          EAP-Request/Identity (id n)    -->
//                <-- EAP-Response/Identity (id n)       empty: the caller's IKE IDi stands in
//                    Request/<first method> (n+1)   -->
//                <-- Response/Nak [13]  (n+1)           only to a method's first Request
//                    Request/<method the peer named> (n+2)
//                <-- ... the method's rounds ...
//                    EAP-Success / EAP-Failure          repeating the last Request's identifier
//
// Identifiers follow RFC 3748 §4.1: each Request has a new one (the first is random), a
// Response must carry the outstanding Request's. A Nak (§5.3.1) may name any of the methods
// the server offers (in its own order of preference), each tried at most once; a Nak naming
// none of them, a Response of another type, or anything malformed ends the conversation with
// EAP-Failure and reason protocol_error.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "ike/eap/eap_method.hpp"

namespace postern::ike::eap {

class EapServer {
  public:
    struct Config {
        // The peer's IKE identity as text (IDi), used when the EAP identity is empty (Android).
        std::string ike_identity;
    };
    struct Method {
        EapType type;
        ServerMethodFactory make;
    };

    // `methods` in order of preference: the first is proposed, the others only on a Nak.
    EapServer(Config config, std::vector<Method> methods, Random random = system_random());

    // EAP-Request/Identity. Call once, first.
    Bytes start();
    // Feeds one EAP message from the peer.
    EapStep process(ByteView eap_message);

    EapStatus status() const { return status_; }
    // Known as soon as the outcome is (MSCHAPv2: with its Failure Request, before EAP-Failure).
    std::optional<EapFailureReason> failure_reason() const;
    // Human-readable detail for the log ("identifier 7 != 8", "NT-Response mismatch").
    const std::string& failure_detail() const;
    // The account name (EAP identity or the IDi fallback); empty before the Identity round.
    const std::string& identity() const { return identity_; }
    // The running (or last) method; null before the Identity round.
    const ServerMethod* method() const { return method_.get(); }
    // "EAP-MSCHAPv2", "EAP-TLS", or "EAP" before a method runs.
    std::string_view method_name() const;
    // kMskSize octets once status() is succeeded (the method's own buffer); empty otherwise.
    ByteView msk() const;

  private:
    enum class State { initial, identity_sent, method_running, done };

    EapStep on_identity(const EapPacket& p);
    EapStep on_nak(const EapPacket& p);
    EapStep start_method(const Method& m);
    EapStep apply(ServerMethod::Step step);
    EapStep fail(EapFailureReason reason, std::string detail);
    std::uint8_t next_identifier() { return ++identifier_; }

    Config config_;
    std::vector<Method> methods_;
    std::vector<bool> tried_;
    Random random_;
    State state_ = State::initial;
    EapStatus status_ = EapStatus::in_progress;
    std::optional<EapFailureReason> reason_;
    std::string detail_;
    std::uint8_t identifier_ = 0;  // of the outstanding Request
    std::string identity_;
    std::unique_ptr<ServerMethod> method_;
    bool method_answered_ = false;  // a Response of the method's type came (no Nak any more)
};

}  // namespace postern::ike::eap
