#include "ike/eap/mschapv2_client.hpp"

#include <utility>

#include <openssl/crypto.h>

#include "ike/eap/mschapv2_packet.hpp"

namespace postern::ike::eap {

using std::to_string;

Result<MsChapV2Client> MsChapV2Client::create(const Config& config, Random random) {
    auto hash = nt_password_hash(config.password);
    if (!hash) return tl::unexpected(hash.error());
    if (config.identity.size() > 255 || config.user_name.size() > 255)
        return tl::unexpected(std::string("identity and user name are at most 255 octets"));
    Config c = config;
    // The password is not needed any more; only its hash is kept (and wiped).
    OPENSSL_cleanse(c.password.data(), c.password.size());
    c.password.clear();
    return MsChapV2Client(std::move(c), std::move(*hash), std::move(random));
}

MsChapV2Client::MsChapV2Client(Config config, crypto::Secret nt_hash, Random random)
    : config_(std::move(config)), nt_hash_(std::move(nt_hash)), random_(std::move(random)) {}

const crypto::Secret& MsChapV2Client::msk() const {
    static const crypto::Secret kNone;
    return status_ == EapStatus::succeeded ? msk_ : kNone;
}

EapStep MsChapV2Client::fail(std::string detail) {
    if (detail_.empty()) detail_ = std::move(detail);
    state_ = State::done;
    status_ = EapStatus::failed;
    pending_msk_.wipe();
    return {{}, status_};
}

EapStep MsChapV2Client::process(ByteView message) {
    if (state_ == State::done) return {{}, status_};
    auto parsed = parse_eap_packet(message);
    if (!parsed) return fail(parsed.error().reason);
    const EapPacket& p = *parsed;
    switch (p.code) {
        case EapCode::SUCCESS:
            if (state_ != State::wait_eap_success)
                return fail("EAP-Success before the server proved it knows the password");
            msk_ = std::move(pending_msk_);
            state_ = State::done;
            status_ = EapStatus::succeeded;
            return {{}, status_};
        case EapCode::FAILURE:
            return fail(server_error_
                            ? "EAP-Failure after MSCHAPv2 error " + to_string(*server_error_)
                            : std::string("EAP-Failure"));
        case EapCode::RESPONSE:
            return fail("EAP Response sent to the peer");
        case EapCode::REQUEST:
            break;
    }
    // RFC 3748 §4.1: a new Request has a new identifier; over IKE there are no retransmissions
    // for EAP to absorb, so a repeated one is a protocol error.
    if (last_identifier_ && p.identifier == *last_identifier_)
        return fail("EAP Request repeats identifier " + to_string(p.identifier));
    last_identifier_ = p.identifier;
    switch (*p.type) {
        case EapType::NOTIFICATION:
            return {build_eap_packet(eap_response(p.identifier, EapType::NOTIFICATION)), status_};
        case EapType::IDENTITY: {
            if (state_ != State::wait_identity) return fail("unexpected EAP-Request/Identity");
            state_ = State::wait_challenge;
            Bytes id(config_.identity.begin(), config_.identity.end());
            return {build_eap_packet(eap_response(p.identifier, EapType::IDENTITY, id)), status_};
        }
        case EapType::MSCHAPV2:
            return on_mschapv2(p);
        default:
            // Name MSCHAPv2 instead (RFC 3748 §5.3.1): a server offering several methods then
            // proposes it. Only before MSCHAPv2 started.
            if (state_ != State::wait_identity && state_ != State::wait_challenge)
                return fail("server switched to EAP " + to_string(*p.type));
            return {build_eap_packet(eap_response(p.identifier, EapType::NAK,
                                                  {static_cast<std::uint8_t>(EapType::MSCHAPV2)})),
                    status_};
    }
}

EapStep MsChapV2Client::on_mschapv2(const EapPacket& p) {
    auto ms = parse_mschapv2(EapCode::REQUEST, p.type_data);
    if (!ms) return fail(ms.error().reason);
    switch (ms->opcode) {
        case MsChapOpCode::CHALLENGE: {
            // Windows skips the Identity round when it has one; so may we.
            if (state_ != State::wait_identity && state_ != State::wait_challenge)
                return fail("unexpected MSCHAPv2 Challenge");
            auto c = parse_challenge_data(ms->data);
            if (!c) return fail(c.error().reason);
            MsChapResponse r;
            random_(r.peer_challenge);
            r.name = config_.user_name;
            const std::string_view user = strip_domain(config_.user_name);
            auto nt = generate_nt_response(c->challenge, r.peer_challenge, user, nt_hash_.view());
            if (!nt) return fail(nt.error());
            r.nt_response = *nt;
            auto digest =
                authenticator_digest(nt_hash_.view(), *nt, r.peer_challenge, c->challenge, user);
            auto key = eap::msk(nt_hash_.view(), *nt);
            if (!digest) return fail(digest.error());
            if (!key) return fail(key.error());
            expected_auth_ = *digest;
            pending_msk_ = std::move(*key);
            state_ = State::wait_success;
            return {build_response(p.identifier, *ms->ms_id, r), status_};
        }
        case MsChapOpCode::SUCCESS: {
            if (state_ != State::wait_success) return fail("unexpected MSCHAPv2 Success");
            auto t = parse_success_text(ms->data);
            if (!t) return fail(t.error().reason);
            if (!check_authenticator_response(t->authenticator_response, expected_auth_))
                return fail("server's authenticator response is wrong (mutual authentication)");
            state_ = State::wait_eap_success;
            return {build_opcode_response(p.identifier, MsChapOpCode::SUCCESS), status_};
        }
        case MsChapOpCode::FAILURE: {
            if (state_ != State::wait_success) return fail("unexpected MSCHAPv2 Failure");
            auto t = parse_failure_text(ms->data);
            if (!t) return fail(t.error().reason);
            server_error_ = t->error;
            detail_ = "MSCHAPv2 error " + to_string(t->error) + ": " + t->message;
            pending_msk_.wipe();
            state_ = State::wait_eap_failure;
            return {build_opcode_response(p.identifier, MsChapOpCode::FAILURE), status_};
        }
        default:
            break;
    }
    return fail("unexpected MSCHAPv2 " + to_string(ms->opcode));
}

}  // namespace postern::ike::eap
