#include "ike/eap/mschapv2_server.hpp"

#include <utility>

#include "ike/eap/mschapv2_packet.hpp"

namespace postern::ike::eap {

using std::to_string;

namespace {

constexpr std::size_t kMaxIdentity = 255;
constexpr std::string_view kSuccessMessage = "Welcome to Postern";
constexpr std::string_view kFailureMessage = "Authentication failed";

bool has_nul(std::string_view s) {
    return s.find('\0') != std::string_view::npos;
}

}  // namespace

std::string_view to_string(EapFailureReason r) {
    switch (r) {
        case EapFailureReason::unknown_user:
            return "unknown_user";
        case EapFailureReason::disabled:
            return "disabled";
        case EapFailureReason::bad_password:
            return "bad_password";
        case EapFailureReason::protocol_error:
            return "protocol_error";
        case EapFailureReason::internal_error:
            return "internal_error";
    }
    return "unknown";
}

MsChapV2Server::MsChapV2Server(Config config, UserLookup lookup, Random random)
    : config_(std::move(config)), lookup_(std::move(lookup)), random_(std::move(random)) {
    if (config_.server_name.size() > kMaxIdentity) config_.server_name.resize(kMaxIdentity);
}

const crypto::Secret& MsChapV2Server::msk() const {
    static const crypto::Secret kNone;
    return status_ == EapStatus::succeeded ? msk_ : kNone;
}

Bytes MsChapV2Server::start() {
    if (state_ != State::initial) return {};
    std::uint8_t id = 0;
    random_(MutableByteView(&id, 1));
    identifier_ = id;
    state_ = State::identity_sent;
    return build_eap_packet(eap_request(identifier_, EapType::IDENTITY));
}

EapStep MsChapV2Server::fail(EapFailureReason reason, std::string detail) {
    if (!reason_) {
        reason_ = reason;
        detail_ = std::move(detail);
    }
    state_ = State::done;
    status_ = EapStatus::failed;
    pending_msk_.wipe();
    return {build_eap_packet(eap_failure(identifier_)), status_};
}

EapStep MsChapV2Server::process(ByteView message) {
    if (state_ == State::done) return {{}, status_};
    if (state_ == State::initial)
        return fail(EapFailureReason::protocol_error, "EAP message before start()");
    auto parsed = parse_eap_packet(message);
    if (!parsed) return fail(EapFailureReason::protocol_error, parsed.error().reason);
    const EapPacket& p = *parsed;
    if (p.code != EapCode::RESPONSE) {
        return fail(EapFailureReason::protocol_error,
                    "expected an EAP Response, got " + ike::to_string(p.code));
    }
    if (p.identifier != identifier_) {
        return fail(
            EapFailureReason::protocol_error,
            "EAP Response identifier " + to_string(p.identifier) + " != " + to_string(identifier_));
    }
    if (*p.type == EapType::NAK) {
        std::string wanted;
        for (auto t : p.type_data)
            wanted += (wanted.empty() ? "" : ",") + to_string(static_cast<EapType>(t));
        return fail(EapFailureReason::protocol_error,
                    "peer refused the method: Nak (" + wanted + ")");
    }
    const EapType expected = state_ == State::identity_sent ? EapType::IDENTITY : EapType::MSCHAPV2;
    if (*p.type != expected) {
        return fail(EapFailureReason::protocol_error,
                    "expected " + to_string(expected) + ", got " + to_string(*p.type));
    }
    switch (state_) {
        case State::identity_sent:
            return on_identity(p);
        case State::challenge_sent:
            return on_response(p);
        case State::success_sent:
            return on_success_response(p);
        case State::failure_sent:
            return on_failure_response(p);
        default:
            break;
    }
    return fail(EapFailureReason::protocol_error, "unexpected state");
}

EapStep MsChapV2Server::on_identity(const EapPacket& p) {
    identity_.assign(p.type_data.begin(), p.type_data.end());
    // Android's native client answers with an empty identity: the IKE identity stands in.
    if (identity_.empty()) identity_ = config_.ike_identity;
    if (identity_.empty())
        return fail(EapFailureReason::protocol_error, "empty EAP identity and no IKE identity");
    if (identity_.size() > kMaxIdentity || has_nul(identity_)) {
        std::string what =
            has_nul(identity_) ? "a NUL octet" : to_string(identity_.size()) + " octets";
        identity_.clear();
        return fail(EapFailureReason::protocol_error, "EAP identity has " + what);
    }
    user_ = lookup_(identity_);
    if (user_.status == UserRecord::Status::ok && user_.nt_hash.size() != kNtHashSize) {
        return fail(EapFailureReason::internal_error,
                    "user store gave an NT hash of " + to_string(user_.nt_hash.size()) + " octets");
    }
    random_(challenge_);
    ms_id_ = next_identifier();  // strongSwan and Windows start MS-CHAPv2-ID at the EAP id
    state_ = State::challenge_sent;
    return {build_challenge_request(identifier_, ms_id_, challenge_, config_.server_name), status_};
}

EapStep MsChapV2Server::on_response(const EapPacket& p) {
    auto ms = parse_mschapv2(EapCode::RESPONSE, p.type_data);
    if (!ms) return fail(EapFailureReason::protocol_error, ms.error().reason);
    if (ms->opcode != MsChapOpCode::RESPONSE) {
        return fail(EapFailureReason::protocol_error,
                    "expected an MSCHAPv2 Response, got " + to_string(ms->opcode));
    }
    if (ms->ms_id != ms_id_) {
        return fail(EapFailureReason::protocol_error,
                    "MS-CHAPv2-ID " + to_string(*ms->ms_id) + " != " + to_string(ms_id_));
    }
    auto r = parse_response_data(ms->data);
    if (!r) return fail(EapFailureReason::protocol_error, r.error().reason);
    response_name_ = r->name;

    // Unknown and disabled users are checked against a random hash, so they cost the same.
    crypto::Secret hash = user_.nt_hash;
    if (user_.status != UserRecord::Status::ok) {
        hash = crypto::Secret(kNtHashSize);
        random_(hash.mutable_view());
    }
    // The peer hashed the Name it sent, without the domain (RFC 2759 §4 and §8.2); the
    // password is the looked-up user's, so another Name cannot authenticate as someone else.
    const std::string_view user = strip_domain(response_name_);
    auto expected = generate_nt_response(challenge_, r->peer_challenge, user, hash.view());
    if (!expected) return fail(EapFailureReason::internal_error, expected.error());
    const bool match = crypto::equal_ct(*expected, r->nt_response);

    if (user_.status == UserRecord::Status::unknown)
        return send_failure_request(EapFailureReason::unknown_user,
                                    "no user \"" + identity_ + "\"");
    if (user_.status == UserRecord::Status::disabled)
        return send_failure_request(EapFailureReason::disabled,
                                    "user \"" + identity_ + "\" is disabled");
    if (!match)
        return send_failure_request(EapFailureReason::bad_password,
                                    "NT-Response mismatch for \"" + identity_ + "\"");

    auto auth = generate_authenticator_response(hash.view(), r->nt_response, r->peer_challenge,
                                                challenge_, user);
    auto key = eap::msk(hash.view(), r->nt_response);
    if (!auth) return fail(EapFailureReason::internal_error, auth.error());
    if (!key) return fail(EapFailureReason::internal_error, key.error());
    pending_msk_ = std::move(*key);
    next_identifier();
    state_ = State::success_sent;
    const std::string text = *auth + " M=" + std::string(kSuccessMessage);
    return {build_success_request(identifier_, ms_id_, text), status_};
}

EapStep MsChapV2Server::send_failure_request(EapFailureReason reason, std::string detail) {
    reason_ = reason;
    detail_ = std::move(detail);
    // RFC 2759 §6: E=691 (authentication failure), no retry; C= is a fresh challenge as the
    // format requires, V=3 as Windows sends.
    Challenge c{};
    random_(c);
    const std::string text =
        "E=691 R=0 C=" + upper_hex(c) + " V=3 M=" + std::string(kFailureMessage);
    next_identifier();
    state_ = State::failure_sent;
    return {build_failure_request(identifier_, ms_id_, text), status_};
}

EapStep MsChapV2Server::on_success_response(const EapPacket& p) {
    auto ms = parse_mschapv2(EapCode::RESPONSE, p.type_data);
    if (!ms) return fail(EapFailureReason::protocol_error, ms.error().reason);
    if (ms->opcode != MsChapOpCode::SUCCESS) {
        // A Failure Response here means the peer rejected our authenticator response.
        return fail(EapFailureReason::protocol_error,
                    "expected an MSCHAPv2 Success Response, got " + to_string(ms->opcode));
    }
    msk_ = std::move(pending_msk_);
    state_ = State::done;
    status_ = EapStatus::succeeded;
    return {build_eap_packet(eap_success(identifier_)), status_};
}

EapStep MsChapV2Server::on_failure_response(const EapPacket& p) {
    // The outcome is already failure; a well-formed Failure Response is expected, but any
    // Response with the right identifier ends the conversation the same way.
    auto ms = parse_mschapv2(EapCode::RESPONSE, p.type_data);
    if (!ms || ms->opcode != MsChapOpCode::FAILURE)
        detail_ += "; then " +
                   (ms ? "an MSCHAPv2 " + to_string(ms->opcode) + " Response" : ms.error().reason);
    return fail(*reason_, {});
}

}  // namespace postern::ike::eap
