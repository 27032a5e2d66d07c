#include "ike/eap/tls_client.hpp"

#include <utility>

namespace postern::ike::eap {

using std::to_string;

EapTlsClient::EapTlsClient(Config config)
    : config_(std::move(config)), out_(config_.fragment_size) {}

const crypto::Secret& EapTlsClient::msk() const {
    static const crypto::Secret kNone;
    return status_ == EapStatus::succeeded ? msk_ : kNone;
}

EapStep EapTlsClient::fail(std::string detail, Bytes reply) {
    if (detail_.empty()) detail_ = std::move(detail);
    status_ = EapStatus::failed;
    pending_msk_.wipe();
    return {std::move(reply), status_};
}

EapStep EapTlsClient::respond(std::uint8_t id, Bytes type_data) {
    return {build_eap_packet(eap_response(id, EapType::TLS, std::move(type_data))), status_};
}

EapStep EapTlsClient::process(ByteView message) {
    if (status_ != EapStatus::in_progress) return {{}, status_};
    auto parsed = parse_eap_packet(message);
    if (!parsed) return fail(parsed.error().reason);
    const EapPacket& p = *parsed;
    switch (p.code) {
        case EapCode::SUCCESS:
            if (!ready_) return fail("EAP-Success before the TLS handshake completed");
            msk_ = std::move(pending_msk_);
            status_ = EapStatus::succeeded;
            return {{}, status_};
        case EapCode::FAILURE:
            return fail(detail_.empty() ? std::string("EAP-Failure") : detail_);
        case EapCode::RESPONSE:
            return fail("EAP Response sent to the peer");
        case EapCode::REQUEST:
            break;
    }
    if (last_identifier_ && p.identifier == *last_identifier_)
        return fail("EAP Request repeats identifier " + to_string(p.identifier));
    last_identifier_ = p.identifier;
    switch (*p.type) {
        case EapType::NOTIFICATION:
            return {build_eap_packet(eap_response(p.identifier, EapType::NOTIFICATION)), status_};
        case EapType::IDENTITY: {
            if (identity_sent_ || tls_) return fail("unexpected EAP-Request/Identity");
            identity_sent_ = true;
            Bytes id(config_.identity.begin(), config_.identity.end());
            return {build_eap_packet(eap_response(p.identifier, EapType::IDENTITY, id)), status_};
        }
        case EapType::TLS:
            return on_tls(p);
        default:
            // RFC 3748 §5.3.1: name the method we do have; only before TLS started.
            if (tls_) return fail("server switched to EAP " + to_string(*p.type));
            return {build_eap_packet(eap_response(p.identifier, EapType::NAK,
                                                  {static_cast<std::uint8_t>(EapType::TLS)})),
                    status_};
    }
}

EapStep EapTlsClient::send(std::uint8_t id, Bytes flight) {
    out_.load(std::move(flight));
    return respond(id, out_.next());
}

EapStep EapTlsClient::on_tls(const EapPacket& p) {
    auto frame = parse_tls_frame(p.type_data);
    if (!frame) return fail(frame.error().reason);
    if (frame->start()) {
        if (tls_) return fail("a second EAP-TLS Start");
        auto tls = TlsSession::create(TlsSession::Role::client, config_.tls);
        if (!tls) return fail("TLS: " + tls.error());
        tls_.emplace(std::move(*tls));
        Bytes hello;
        tls_->advance({}, hello);
        if (hello.empty()) return fail("TLS: no ClientHello");
        return send(p.identifier, std::move(hello));
    }
    if (!tls_) return fail("EAP-TLS data before Start");
    if (out_.pending()) {
        if (!frame->is_ack()) return fail("expected an acknowledgement of our fragment");
        return respond(p.identifier, out_.next());
    }
    auto complete = in_.add(*frame);
    if (!complete) return fail(complete.error());
    if (!*complete) return respond(p.identifier, tls_ack_frame());
    return on_flight(p.identifier, in_.take());
}

EapStep EapTlsClient::on_flight(std::uint8_t id, Bytes flight) {
    if (flight.empty()) return fail("empty EAP-TLS Request where TLS data was due");
    Bytes out;
    const bool was_established = tls_->state() == TlsSession::State::established;
    auto state = tls_->advance(flight, out);
    if (state == TlsSession::State::failed) {
        // Our alert goes to the server, or we acknowledge its alert (RFC 5216 §2.1.3);
        // EAP-Failure follows.
        const std::string why = "TLS: " + tls_->error();
        if (out.empty()) return fail(why, build_eap_packet(eap_response(id, EapType::TLS, tls_ack_frame())));
        detail_ = why;
        return send(id, std::move(out));
    }
    if (state == TlsSession::State::handshaking) {
        if (out.empty()) return fail("the server's TLS flight left the handshake stuck");
        return send(id, std::move(out));
    }
    // Established. TLS 1.3 finishes on our side before the server saw our Finished: wait for
    // its commitment (RFC 9190 §2.1.1). TLS 1.2 is complete with the server's Finished.
    if (tls_->version() >= kTls13) {
        if (was_established) {
            const Bytes data = tls_->read();
            if (tls_->state() == TlsSession::State::failed)  // the server refused us: its alert
                return fail("TLS: " + tls_->error(),
                            build_eap_packet(eap_response(id, EapType::TLS, tls_ack_frame())));
            if (!data.empty() && data != Bytes{0x00})
                return fail("TLS 1.3 application data other than the commitment message");
            if (!data.empty()) ready_ = true;
        }
    } else {
        ready_ = true;
    }
    if (ready_ && pending_msk_.empty()) {
        auto key = eap_tls_msk(*tls_);
        if (!key) return fail(key.error());
        pending_msk_ = std::move(*key);
    }
    if (!out.empty()) return send(id, std::move(out));
    return respond(id, tls_ack_frame());
}

}  // namespace postern::ike::eap
