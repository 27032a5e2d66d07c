#include "ike/eap/mschapv2_server.hpp"

#include <utility>

#include "ike/eap/mschapv2_packet.hpp"

namespace postern::ike::eap {

using std::to_string;

namespace {

constexpr std::size_t kMaxName = 255;
constexpr std::string_view kSuccessMessage = "Welcome to Postern";
constexpr std::string_view kFailureMessage = "Authentication failed";

}  // namespace

MsChapV2Server::MsChapV2Server(Config config, std::string identity, const UserLookup& lookup,
                               Random random)
    : config_(std::move(config)), identity_(std::move(identity)), random_(std::move(random)) {
    if (config_.server_name.size() > kMaxName) config_.server_name.resize(kMaxName);
    user_ = lookup ? lookup(identity_) : UserRecord::unknown_user();
    // An account without a password (one that logs in with a certificate) cannot use
    // MSCHAPv2: the same answer as an unknown user.
    if (user_.status == UserRecord::Status::ok && user_.nt_hash.empty())
        user_ = UserRecord::unknown_user();
}

ByteView MsChapV2Server::msk() const {
    return succeeded_ ? msk_.view() : ByteView();
}

ServerMethod::Step MsChapV2Server::fail(EapFailureReason reason, std::string detail) {
    if (!reason_) {
        reason_ = reason;
        detail_ = std::move(detail);
    }
    state_ = State::done;
    pending_msk_.wipe();
    return Step::failure();
}

ServerMethod::Step MsChapV2Server::begin(std::uint8_t id) {
    if (state_ != State::initial) return fail(EapFailureReason::protocol_error, "begun twice");
    if (user_.status == UserRecord::Status::ok && user_.nt_hash.size() != kNtHashSize)
        return fail(EapFailureReason::internal_error,
                    "user store gave an NT hash of " + to_string(user_.nt_hash.size()) + " octets");
    random_(challenge_);
    ms_id_ = id;  // strongSwan and Windows start MS-CHAPv2-ID at the EAP identifier
    state_ = State::challenge_sent;
    return Step::request(challenge_type_data(ms_id_, challenge_, config_.server_name));
}

ServerMethod::Step MsChapV2Server::process(ByteView type_data, std::uint8_t) {
    switch (state_) {
        case State::challenge_sent:
            return on_response(type_data);
        case State::success_sent:
            return on_success_response(type_data);
        case State::failure_sent:
            return on_failure_response(type_data);
        case State::initial:
        case State::done:
            break;
    }
    return fail(EapFailureReason::protocol_error, "unexpected MSCHAPv2 Response");
}

ServerMethod::Step MsChapV2Server::on_response(ByteView type_data) {
    auto ms = parse_mschapv2(EapCode::RESPONSE, type_data);
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
    crypto::Secret hash(user_.nt_hash.view());
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
    state_ = State::success_sent;
    const std::string text = *auth + " M=" + std::string(kSuccessMessage);
    return Step::request(success_type_data(ms_id_, text));
}

ServerMethod::Step MsChapV2Server::send_failure_request(EapFailureReason reason,
                                                        std::string detail) {
    reason_ = reason;
    detail_ = std::move(detail);
    // RFC 2759 §6: E=691 (authentication failure), no retry; C= is a fresh challenge as the
    // format requires, V=3 as Windows sends.
    Challenge c{};
    random_(c);
    const std::string text =
        "E=691 R=0 C=" + upper_hex(c) + " V=3 M=" + std::string(kFailureMessage);
    state_ = State::failure_sent;
    return Step::request(failure_type_data(ms_id_, text));
}

ServerMethod::Step MsChapV2Server::on_success_response(ByteView type_data) {
    auto ms = parse_mschapv2(EapCode::RESPONSE, type_data);
    if (!ms) return fail(EapFailureReason::protocol_error, ms.error().reason);
    if (ms->opcode != MsChapOpCode::SUCCESS) {
        // A Failure Response here means the peer rejected our authenticator response.
        return fail(EapFailureReason::protocol_error,
                    "expected an MSCHAPv2 Success Response, got " + to_string(ms->opcode));
    }
    msk_ = std::move(pending_msk_);
    succeeded_ = true;
    state_ = State::done;
    return Step::success();
}

ServerMethod::Step MsChapV2Server::on_failure_response(ByteView type_data) {
    // The outcome is already failure; a well-formed Failure Response is expected, but any
    // Response with the right identifier ends the conversation the same way.
    auto ms = parse_mschapv2(EapCode::RESPONSE, type_data);
    if (!ms || ms->opcode != MsChapOpCode::FAILURE)
        detail_ += "; then " +
                   (ms ? "an MSCHAPv2 " + to_string(ms->opcode) + " Response" : ms.error().reason);
    state_ = State::done;
    return Step::failure();
}

ServerMethodFactory mschapv2_server_method(MsChapV2Server::Config config, UserLookup lookup,
                                           Random random) {
    return [config = std::move(config), lookup = std::move(lookup),
            random = std::move(random)](const std::string& identity) {
        return std::make_unique<MsChapV2Server>(config, identity, lookup, random);
    };
}

}  // namespace postern::ike::eap
