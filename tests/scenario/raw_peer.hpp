// A hand-driven IKEv2 initiator for tests that need to send what a well-behaved engine never
// would: it runs IKE_SA_INIT against a responder Engine with Postern's own codec and crypto,
// keeps the keys, and then seals any payload chain (or raw plaintext) as a protected request.
//
//   RawInitiator --- HDR, SAi1, KEi, Ni -->  Engine
//                <-- HDR, SAr1, KEr, Nr ---
//   then: request(exchange, id, payloads) / request_plaintext(...) -> decrypted response
#pragma once

#include <optional>
#include <stdexcept>
#include <vector>

#include "harness.hpp"
#include "ike/crypto/auth.hpp"
#include "ike/crypto/ke.hpp"
#include "ike/crypto/keys.hpp"
#include "ike/crypto/natd.hpp"
#include "ike/policy/proposal_select.hpp"
#include "ike/sa/protection.hpp"

namespace postern::scenario {

class RawInitiator {
  public:
    RawInitiator(ike::Engine& responder, Endpoint me, Endpoint them, ike::TimePoint now)
        : engine_(responder), me_(me), them_(them), now_(now) {}

    // IKE_SA_INIT with AES-GCM-256 / PRF-SHA256 / X25519. Throws if the responder refuses.
    void init() {
        namespace c = ike::crypto;
        const auto prop = proposal("aes256gcm16-prfsha256-x25519", ike::ProtocolId::IKE);
        ke_ = std::make_unique<c::KeyExchange>(*c::KeyExchange::generate(ike::KeId::CURVE25519));
        ni_ = Bytes(32, 0x11);
        spi_i_ = IkeSpi(0x0102030405060708ULL);
        ike::wire::Message m;
        m.header.initiator_spi = spi_i_;
        m.header.exchange = ike::ExchangeType::IKE_SA_INIT;
        m.header.initiator = true;
        m.payloads.push_back(
            {ike::PayloadType::SA, false,
             ike::policy::build_sa_payload(std::vector{prop}, ike::ProtocolId::IKE, {})});
        m.payloads.push_back(
            {ike::PayloadType::KE, false,
             ike::wire::KePayload{ike::KeId::CURVE25519,
                                  Bytes(ke_->public_value().begin(), ke_->public_value().end())}});
        m.payloads.push_back({ike::PayloadType::NONCE, false, ike::wire::NoncePayload{ni_}});
        init_request_ = ike::wire::serialize(m);
        auto resp = exchange(init_request_);
        if (resp.size() != 1) throw std::runtime_error("no IKE_SA_INIT response");
        init_response_ = resp[0];
        auto r = ike::wire::parse_message(init_response_);
        if (!r) throw std::runtime_error(r.error().reason);
        spi_r_ = r->header.responder_spi;
        nr_ = ike::wire::find_payload(r->payloads, ike::PayloadType::NONCE)
                  ->get<ike::wire::NoncePayload>()
                  ->data;
        const auto* ker =
            ike::wire::find_payload(r->payloads, ike::PayloadType::KE)->get<ike::wire::KePayload>();
        auto shared = ke_->shared_secret(ker->data);
        const c::IkeTransforms t{ike::PrfId::PRF_HMAC_SHA2_256, ike::EncrId::ENCR_AES_GCM_16, 256,
                                 ike::IntegId::AUTH_NONE};
        auto seed = c::skeyseed(t.prf, ni_, nr_, shared->view());
        keys_ = std::move(*c::derive_ike_keys(t, *seed, ni_, nr_, spi_i_.value(), spi_r_.value()));
        out_.emplace(*c::SkCipher::create(t.encr, 256, t.integ, keys_.sk_ei, {}));
        in_.emplace(*c::SkCipher::create(t.encr, 256, t.integ, keys_.sk_er, {}));
    }

    // AUTH data for IDi with a PSK (RFC 7296 §2.15).
    Bytes psk_auth(const ike::policy::Identity& idi, const std::string& psk) const {
        Bytes body;
        ike::wire::Writer w(body);
        ike::wire::serialize_body(w, ike::wire::PayloadBody(idi.to_payload()));
        auto oct = ike::crypto::signed_octets(ike::PrfId::PRF_HMAC_SHA2_256, init_request_, nr_,
                                              keys_.sk_pi, body);
        auto mac = ike::crypto::psk_auth(ike::PrfId::PRF_HMAC_SHA2_256, as_bytes(psk), *oct);
        return Bytes(mac->data(), mac->data() + mac->size());
    }

    // Sends `inner` as request `id` of `exchange`; returns the decrypted response payloads, or
    // nullopt when the responder sent nothing.
    std::optional<std::vector<ike::wire::Payload>> request(
        ike::ExchangeType exchange, std::uint32_t id,
        const std::vector<ike::wire::Payload>& inner) {
        auto sealed = ike::sa::seal_message(header(exchange, id), {}, inner, *out_);
        return open(this->exchange(*sealed));
    }

    // Same, with raw bytes as the SK plaintext (malformed chains).
    std::optional<std::vector<ike::wire::Payload>> request_plaintext(ike::ExchangeType exchange,
                                                                     std::uint32_t id,
                                                                     ike::PayloadType first,
                                                                     ByteView plaintext) {
        Bytes msg = ike::wire::build_sk_prefix(header(exchange, id), {}, first,
                                               out_->body_length(plaintext.size()));
        auto body = out_->seal(msg, plaintext);
        msg.insert(msg.end(), body->begin(), body->end());
        return open(this->exchange(msg));
    }

    IkeSpi spi_r() const { return spi_r_; }

  private:
    ike::wire::Header header(ike::ExchangeType exchange, std::uint32_t id) const {
        ike::wire::Header h;
        h.initiator_spi = spi_i_;
        h.responder_spi = spi_r_;
        h.exchange = exchange;
        h.initiator = true;
        h.message_id = MessageId(id);
        return h;
    }
    std::vector<Bytes> exchange(const Bytes& datagram) {
        ike::Actions out;
        engine_.on_datagram(ike::Datagram{them_, me_, datagram}, now_, out);
        std::vector<Bytes> r;
        for (auto& d : out.send)
            r.push_back(d.data);
        return r;
    }
    std::optional<std::vector<ike::wire::Payload>> open(const std::vector<Bytes>& resp) {
        if (resp.empty()) return std::nullopt;
        auto m = ike::wire::parse_message(resp[0]);
        if (!m) throw std::runtime_error(m.error().reason);
        auto inner = ike::sa::open_message(*m, resp[0], *in_);
        if (!inner) throw std::runtime_error(inner.error().reason);
        return *inner;
    }

    ike::Engine& engine_;
    Endpoint me_, them_;
    ike::TimePoint now_;
    std::unique_ptr<ike::crypto::KeyExchange> ke_;
    Bytes ni_, nr_, init_request_, init_response_;
    IkeSpi spi_i_, spi_r_;
    ike::crypto::IkeKeys keys_;
    std::optional<ike::crypto::SkCipher> out_, in_;
};

}  // namespace postern::scenario
