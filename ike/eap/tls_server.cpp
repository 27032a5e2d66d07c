#include "ike/eap/tls_server.hpp"

#include <algorithm>
#include <cctype>
#include <utility>

#include "ike/eap/mschapv2.hpp"  // kMskSize

namespace postern::ike::eap {

namespace {

constexpr std::size_t kKeyMaterial = 128;  // MSK and EMSK

bool iequals(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return std::tolower(static_cast<unsigned char>(x)) ==
                      std::tolower(static_cast<unsigned char>(y));
           });
}

}  // namespace

Result<crypto::Secret> eap_tls_msk(const TlsSession& tls) {
    static constexpr std::uint8_t kTypeCode = static_cast<std::uint8_t>(EapType::TLS);
    auto km = tls.version() >= kTls13
                  ? tls.export_key("EXPORTER_EAP_TLS_Key_Material", ByteView(&kTypeCode, 1),
                                   kKeyMaterial)
                  : tls.export_key("client EAP encryption", std::nullopt, kKeyMaterial);
    if (!km) return tl::unexpected(km.error());
    return km->slice(0, kMskSize);
}

bool certificate_names_account(const crypto::Certificate& cert, std::string_view account) {
    if (account.empty()) return false;
    auto any = [&](const std::vector<std::string>& names) {
        return std::any_of(names.begin(), names.end(),
                           [&](const std::string& n) { return iequals(n, account); });
    };
    return any(cert.rfc822_names()) || any(cert.dns_names()) || iequals(cert.common_name(), account);
}

EapTlsServer::EapTlsServer(Config config, std::string identity, UserLookup lookup)
    : config_(std::move(config)),
      identity_(std::move(identity)),
      lookup_(std::move(lookup)),
      out_(config_.fragment_size) {}

ByteView EapTlsServer::msk() const {
    return state_ == State::done && !reason_ ? msk_.view() : ByteView();
}

ServerMethod::Step EapTlsServer::fail(EapFailureReason reason, std::string detail) {
    if (!reason_) {
        reason_ = reason;
        detail_ = std::move(detail);
    }
    state_ = State::done;
    pending_msk_.wipe();
    return Step::failure();
}

tl::expected<void, std::string> EapTlsServer::check_client(
    std::span<const crypto::Certificate> chain) {
    auto refuse = [&](EapFailureReason r, std::string why) {
        check_reason_ = r;
        return tl::unexpected(std::move(why));
    };
    const crypto::Certificate& ee = chain.front();
    if (!config_.chain_check) return refuse(EapFailureReason::internal_error, "no trust anchors");
    if (auto ok = config_.chain_check(chain); !ok)
        return refuse(EapFailureReason::bad_certificate,
                      "client certificate \"" + ee.subject_text() + "\": " + ok.error());
    if (!certificate_names_account(ee, identity_))
        return refuse(EapFailureReason::bad_certificate,
                      "client certificate \"" + ee.subject_text() + "\" does not name \"" +
                          identity_ + "\"");
    const UserRecord user = lookup_ ? lookup_(identity_) : UserRecord::unknown_user();
    if (user.status == UserRecord::Status::unknown)
        return refuse(EapFailureReason::unknown_user, "no user \"" + identity_ + "\"");
    if (user.status == UserRecord::Status::disabled)
        return refuse(EapFailureReason::disabled, "user \"" + identity_ + "\" is disabled");
    return {};
}

ServerMethod::Step EapTlsServer::begin(std::uint8_t) {
    if (state_ != State::initial) return fail(EapFailureReason::protocol_error, "begun twice");
    TlsSettings settings = config_.tls;
    settings.check_peer = [this](std::span<const crypto::Certificate> chain) {
        return check_client(chain);
    };
    auto tls = TlsSession::create(TlsSession::Role::server, settings);
    if (!tls) return fail(EapFailureReason::internal_error, "TLS: " + tls.error());
    tls_.emplace(std::move(*tls));
    state_ = State::exchanging;
    return Step::request(tls_start_frame());
}

ServerMethod::Step EapTlsServer::send(Bytes flight, State then) {
    out_.load(std::move(flight));
    state_ = then;
    return Step::request(out_.next());
}

ServerMethod::Step EapTlsServer::process(ByteView type_data, std::uint8_t) {
    if (state_ == State::initial || state_ == State::done)
        return fail(EapFailureReason::protocol_error, "unexpected EAP-TLS Response");
    auto frame = parse_tls_frame(type_data);
    if (!frame) return fail(EapFailureReason::protocol_error, frame.error().reason);

    // The rest of a fragmented flight of ours: the peer acknowledges each piece.
    if (out_.pending()) {
        if (!frame->is_ack())
            return fail(EapFailureReason::protocol_error,
                        "expected an acknowledgement of our fragment, got " +
                            std::to_string(frame->data.size()) + " octets");
        return Step::request(out_.next());
    }
    switch (state_) {
        case State::final_sent:
            if (!frame->is_ack())
                return fail(EapFailureReason::protocol_error,
                            "the client answered our Finished with TLS data, not an "
                            "acknowledgement (it refused the handshake)");
            msk_ = std::move(pending_msk_);
            state_ = State::done;
            return Step::success();
        case State::alert_sent:
            // reason_ is set already; whatever the client says, the conversation is over.
            state_ = State::done;
            return Step::failure();
        default:
            break;
    }

    if (frame->start())
        return fail(EapFailureReason::protocol_error, "EAP-TLS Start flag in a Response");
    auto complete = in_.add(*frame);
    if (!complete) return fail(EapFailureReason::protocol_error, complete.error());
    if (!*complete) return Step::request(tls_ack_frame());
    return on_flight(in_.take());
}

ServerMethod::Step EapTlsServer::on_flight(Bytes flight) {
    if (flight.empty())
        return fail(EapFailureReason::protocol_error, "empty EAP-TLS Response where TLS data was due");
    Bytes out;
    switch (tls_->advance(flight, out)) {
        case TlsSession::State::handshaking:
            if (out.empty())
                return fail(EapFailureReason::protocol_error,
                            "the client's TLS flight left the handshake stuck");
            return send(std::move(out), State::exchanging);
        case TlsSession::State::failed: {
            const EapFailureReason r =
                check_reason_                         ? *check_reason_
                : tls_->missing_peer_certificate()   ? EapFailureReason::bad_certificate
                                                      : EapFailureReason::protocol_error;
            std::string why = tls_->missing_peer_certificate()
                                  ? "the client sent no certificate"
                                  : tls_->error();
            if (r == EapFailureReason::protocol_error && tls_->peer_refused())
                why = "the client refused the TLS handshake: " + why;
            if (out.empty()) return fail(r, std::move(why));
            // RFC 5216 §2.1.3: the alert goes out in a Request, the peer acknowledges it,
            // then EAP-Failure.
            reason_ = r;
            detail_ = std::move(why);
            return send(std::move(out), State::alert_sent);
        }
        case TlsSession::State::established:
            break;
    }
    // RFC 9190 §2.1.1: a TLS 1.3 server commits to sending no more handshake messages.
    if (tls_->version() >= kTls13) {
        static constexpr std::uint8_t kCommitment = 0x00;
        if (!tls_->write(ByteView(&kCommitment, 1), out))
            return fail(EapFailureReason::internal_error, "TLS: cannot write the commitment");
    }
    auto key = eap_tls_msk(*tls_);
    if (!key) return fail(EapFailureReason::internal_error, key.error());
    pending_msk_ = std::move(*key);
    const auto peer = tls_->peer_certificate();
    description_ = tls_->description() + (peer ? ", client " + peer->subject_text() : "");
    if (out.empty())
        return fail(EapFailureReason::internal_error, "TLS established with nothing to send");
    return send(std::move(out), State::final_sent);
}

ServerMethodFactory eap_tls_server_method(EapTlsServer::Config config, UserLookup lookup) {
    return [config = std::move(config), lookup = std::move(lookup)](const std::string& identity) {
        return std::make_unique<EapTlsServer>(config, identity, lookup);
    };
}

}  // namespace postern::ike::eap
