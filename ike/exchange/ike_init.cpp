// IKE_SA_INIT (RFC 7296 §1.2):
//
//   HDR, SAi1, KEi, Ni, N(NAT_DETECTION_SOURCE_IP), N(NAT_DETECTION_DESTINATION_IP),
//        N(IKEV2_FRAGMENTATION_SUPPORTED), N(SIGNATURE_HASH_ALGORITHMS)  -->
//                <--  HDR, SAr1, KEr, Nr, N(NAT_D...), [CERTREQ], N(FRAG_SUP), N(HASH_ALG)
//
// or, instead of creating any state, one of (§2.6, §1.2, §3.4):
//                <--  HDR, N(COOKIE)               too many half-open SAs: prove your address
//                <--  HDR, N(INVALID_KE_PAYLOAD)   right proposal, wrong key share group
//                <--  HDR, N(NO_PROPOSAL_CHOSEN)

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "ike/crypto/auth.hpp"
#include "ike/crypto/natd.hpp"
#include "ike/crypto/x509.hpp"
#include "ike/exchange/context.hpp"
#include "ike/policy/proposal_select.hpp"
#include "ike/wire/describe.hpp"

namespace postern::ike::exchange {

namespace {

constexpr unsigned kMaxInitRetries = 3;  // COOKIE / INVALID_KE round trips per attempt

Bytes u16_bytes(std::uint16_t v) {
    return {static_cast<std::uint8_t>(v >> 8), static_cast<std::uint8_t>(v)};
}

// A response that creates no state: HDR(SPIi, 0), N(type, data).
void answer_stateless(const Ctx& ctx, const Datagram& in, const wire::Message& m, NotifyType type,
                      Bytes data) {
    wire::Header h = m.header;
    h.responder_spi = IkeSpi(0);
    h.response = true;
    h.initiator = false;
    h.version = false;
    wire::Message r{h, {wire::make_notify(type, std::move(data))}};
    ctx.out.send.push_back(Datagram{in.local, in.remote, wire::serialize(r)});
    ++ctx.stats.sent;
    // Cookies are counted (cookies_sent), not logged one by one: they answer floods.
    if (type != NotifyType::COOKIE)
        ctx.event(EventKind::Log, nullptr,
                  in.remote.to_string() + ": IKE_SA_INIT answered with " + to_string(type));
}

// RFC 7296 §2.6: Cookie = <VersionIDofSecret> | Hash(Ni | IPi | SPIi | <secret>). We use
// HMAC-SHA-256 keyed with the secret, and version 1.
Bytes make_cookie(ByteView secret, ByteView ni, const Endpoint& from, IkeSpi spi_i) {
    Bytes in(ni.begin(), ni.end());
    auto a = from.address.bytes();
    in.insert(in.end(), a.begin(), a.end());
    for (int s = 56; s >= 0; s -= 8)
        in.push_back(static_cast<std::uint8_t>(spi_i.value() >> s));
    Bytes out(1 + 32);
    out[0] = 1;
    unsigned int len = 0;
    HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()), in.data(), in.size(),
         out.data() + 1, &len);
    return out;
}

// NAT detection: does any of the peer's hashes of `what` match?
bool any_matches(const std::vector<wire::Payload>& payloads, NotifyType type, const Bytes& expect) {
    bool any = false;
    for (const auto& p : payloads) {
        const auto* n = p.get<wire::NotifyPayload>();
        if (n && n->type == type) {
            any = true;
            if (n->data == expect) return true;
        }
    }
    return !any;  // no hashes sent: assume no NAT (RFC 7296 §2.23 makes them optional)
}

// Records what the peer's IKE_SA_INIT says about NAT, fragmentation and signature hashes.
void read_init_notifies(sa::IkeSa& sa, const wire::Message& m, const Endpoint& from,
                        const Endpoint& to) {
    const std::uint64_t spi_r = m.header.response ? sa.spi_r.value() : 0;
    sa.nat_remote = !any_matches(m.payloads, NotifyType::NAT_DETECTION_SOURCE_IP,
                                 crypto::nat_detection_hash(sa.spi_i.value(), spi_r, from));
    sa.nat_local = !any_matches(m.payloads, NotifyType::NAT_DETECTION_DESTINATION_IP,
                                crypto::nat_detection_hash(sa.spi_i.value(), spi_r, to));
    sa.peer_fragmentation =
        wire::find_notify(m.payloads, NotifyType::IKEV2_FRAGMENTATION_SUPPORTED) != nullptr;
    if (const auto* n = wire::find_notify(m.payloads, NotifyType::SIGNATURE_HASH_ALGORITHMS)) {
        if (auto h = crypto::decode_hash_algorithms(n->data)) {
            sa.peer_hash_algorithms = true;
            sa.peer_hashes = *h;
        }
    }
}

void append_init_notifies(const Ctx& ctx, sa::IkeSa& sa, std::vector<wire::Payload>& out,
                          bool fragmentation) {
    const std::uint64_t spi_r = sa.role == sa::Role::Responder ? sa.spi_r.value() : 0;
    // `encap = true`: a source hash of random octets matches no address, so the peer believes
    // we are behind a NAT and encapsulates; we do too (IkeSa::nat_fake).
    Bytes source = crypto::nat_detection_hash(sa.spi_i.value(), spi_r, sa.local);
    if (sa.connection && sa.connection->force_encap) {
        source = ctx.random_bytes(source.size());
        sa.nat_fake = true;
    }
    out.push_back(wire::make_notify(NotifyType::NAT_DETECTION_SOURCE_IP, std::move(source)));
    out.push_back(
        wire::make_notify(NotifyType::NAT_DETECTION_DESTINATION_IP,
                          crypto::nat_detection_hash(sa.spi_i.value(), spi_r, sa.remote)));
    if (fragmentation) out.push_back(wire::make_notify(NotifyType::IKEV2_FRAGMENTATION_SUPPORTED));
    if (!ctx.config.signature_hash_algorithms) return;
    auto hashes = crypto::supported_hash_algorithms();
    out.push_back(wire::make_notify(NotifyType::SIGNATURE_HASH_ALGORITHMS,
                                    crypto::encode_hash_algorithms(hashes)));
}

// g^ir, SKEYSEED, SK_* and the two SK ciphers (§2.14).
bool derive_keys(const Ctx& ctx, sa::IkeSa& sa, ByteView peer_public) {
    auto shared = sa.ke->shared_secret(peer_public);
    if (!shared) {
        ctx.log(&sa, "key exchange failed: " + shared.error());
        return false;
    }
    auto seed = crypto::skeyseed(*sa.algorithms.prf, sa.nonce_i, sa.nonce_r, shared->view());
    if (!seed) {
        ctx.log(&sa, seed.error());
        return false;
    }
    return set_ike_keys(ctx, sa, *seed);
}

// The request an initiator sends (again, after COOKIE or INVALID_KE_PAYLOAD).
std::vector<wire::Payload> build_init_request(const Ctx& ctx, sa::IkeSa& sa) {
    std::vector<wire::Payload> p;
    if (!sa.cookie.empty()) p.push_back(wire::make_notify(NotifyType::COOKIE, sa.cookie));
    p.push_back({PayloadType::SA, false,
                 policy::build_sa_payload(sa.connection->ike_proposals, ProtocolId::IKE, {})});
    p.push_back({PayloadType::KE, false,
                 wire::KePayload{sa.ke->id(), Bytes(sa.ke->public_value().begin(),
                                                    sa.ke->public_value().end())}});
    p.push_back({PayloadType::NONCE, false, wire::NoncePayload{sa.nonce_i}});
    append_init_notifies(ctx, sa, p, sa.connection->fragmentation);
    for (auto n : sa.connection->emulate.init_notifies)
        p.push_back(wire::make_notify(n));
    for (const auto& v : sa.connection->emulate.vendor_ids)
        p.push_back({PayloadType::V, false, wire::VendorIdPayload{v}});
    return p;
}

void send_init_request(const Ctx& ctx, sa::IkeSa& sa, bool replace) {
    auto header = make_header(sa, ExchangeType::IKE_SA_INIT, false, MessageId(0));
    auto inner = build_init_request(ctx, sa);
    auto datagrams = encode(ctx, sa, header, inner);
    sa.init_request = datagrams.at(0);
    ctx.log(&sa, "sending " + wire::describe(header, inner));
    send_datagrams(ctx, sa, datagrams);
    if (replace)
        sa.tasks.replace_request(std::move(datagrams), ctx.now);
    else
        sa.tasks.start_request(std::move(datagrams), ctx.now);
}

}  // namespace

std::unique_ptr<sa::IkeSa> respond_ike_sa_init(const Ctx& ctx, std::uint64_t id, const Datagram& in,
                                               const wire::Message& m, bool require_cookie,
                                               ByteView cookie_secret) {
    const auto* sa_p = wire::find_payload(m.payloads, PayloadType::SA)->get<wire::SaPayload>();
    const auto* ke_p = wire::find_payload(m.payloads, PayloadType::KE)->get<wire::KePayload>();
    const auto* ni_p =
        wire::find_payload(m.payloads, PayloadType::NONCE)->get<wire::NoncePayload>();

    // §2.6: under load, state is only created for initiators that echo our cookie, which
    // must be the first payload of the retried request.
    if (require_cookie) {
        Bytes expect = make_cookie(cookie_secret, ni_p->data, in.remote, m.header.initiator_spi);
        const auto* first =
            m.payloads.empty() ? nullptr : m.payloads.front().get<wire::NotifyPayload>();
        if (!first || first->type != NotifyType::COOKIE || first->data != expect) {
            ++ctx.stats.cookies_sent;
            answer_stateless(ctx, in, m, NotifyType::COOKIE, std::move(expect));
            return nullptr;
        }
    }

    // The first connection (config order) with an acceptable proposal decides the IKE
    // algorithms; IKE_AUTH later picks the connection by identity.
    const ConnectionConfig* conn = nullptr;
    policy::Selected selected;
    std::string why;
    for (const auto& c : ctx.config.connections) {
        auto s = policy::select_proposal(c.ike_proposals, *sa_p, ProtocolId::IKE,
                                         ctx.config.algorithms, ctx.config.prefer_server_proposals);
        if (s) {
            conn = &c;
            selected = std::move(*s);
            break;
        }
        why = s.error();
    }
    if (!conn) {
        ++ctx.stats.no_proposal_chosen;
        ctx.event(EventKind::Log, nullptr, in.remote.to_string() + ": " + why);
        answer_stateless(ctx, in, m, NotifyType::NO_PROPOSAL_CHOSEN, {});
        return nullptr;
    }
    // §1.2: the KE payload must use a group of the selected proposal, else tell the
    // initiator which one.
    auto ke_decision = policy::match_ke(selected, ke_p->group);
    if (ke_decision.action != policy::KeDecision::Action::use) {
        ++ctx.stats.invalid_ke_sent;
        answer_stateless(ctx, in, m, NotifyType::INVALID_KE_PAYLOAD,
                         u16_bytes(static_cast<std::uint16_t>(ke_decision.group)));
        return nullptr;
    }

    auto sa = std::make_unique<sa::IkeSa>(
        id, sa::Role::Responder,
        sa::RetransmitPolicy{ctx.config.retransmit_timeout, ctx.config.retransmit_base,
                             ctx.config.retransmit_tries});
    sa->connection = conn;
    sa->spi_i = m.header.initiator_spi;
    sa->spi_r = random_ike_spi(ctx);
    sa->local = in.local;
    sa->remote = in.remote;
    sa->created = sa->last_heard = ctx.now;
    sa->algorithms = selected;
    sa->nonce_i = ni_p->data;
    sa->nonce_r = ctx.random_bytes(kNonceSize);
    sa->init_request = in.data;
    auto ke = crypto::KeyExchange::generate(*selected.ke);
    if (!ke) {
        ctx.log(sa.get(), "cannot generate key share: " + ke.error());
        return nullptr;
    }
    sa->ke = std::make_unique<crypto::KeyExchange>(std::move(*ke));
    if (!derive_keys(ctx, *sa, ke_p->data)) {
        // RFC 6989 / §2.21.1: an invalid public value is answered with INVALID_SYNTAX.
        answer_stateless(ctx, in, m, NotifyType::INVALID_SYNTAX, {});
        return nullptr;
    }
    read_init_notifies(*sa, m, in.remote, in.local);

    std::vector<wire::Payload> reply;
    wire::SaPayload chosen{{selected.proposal}};
    reply.push_back({PayloadType::SA, false, std::move(chosen)});
    reply.push_back({PayloadType::KE, false,
                     wire::KePayload{sa->ke->id(), Bytes(sa->ke->public_value().begin(),
                                                         sa->ke->public_value().end())}});
    reply.push_back({PayloadType::NONCE, false, wire::NoncePayload{sa->nonce_r}});
    append_init_notifies(ctx, *sa, reply, sa->peer_fragmentation);
    // §3.7: name the CAs we trust, so certificate-holding peers send their certificate
    // (strongSwan and Windows only send one when asked).
    bool certs_wanted = false;
    for (const auto& c : ctx.config.connections)
        certs_wanted |= c.remote_auth == AuthClass::PublicKey;
    if (certs_wanted && ctx.certreq) reply.push_back(*ctx.certreq);
    auto header = make_header(*sa, ExchangeType::IKE_SA_INIT, true, MessageId(0));
    auto datagrams = encode(ctx, *sa, header, reply);
    sa->init_response = datagrams.at(0);
    ctx.log(sa.get(),
            "received " + wire::describe(m) + ", sending " + wire::describe(header, reply));
    send_datagrams(ctx, *sa, datagrams);
    sa->tasks.store_response(MessageId(0), std::move(datagrams));
    sa->set_state(sa::IkeSaState::HalfOpen);
    if (sa->nat_remote || sa->nat_local)
        ctx.log(sa.get(), std::string("NAT detected: ") +
                              (sa->nat_local ? "we are behind one" : "") +
                              (sa->nat_local && sa->nat_remote ? ", " : "") +
                              (sa->nat_remote ? "the peer is behind one" : ""));
    return sa;
}

void start_ike_sa_init(const Ctx& ctx, sa::IkeSa& sa) {
    sa.spi_i = random_ike_spi(ctx);
    sa.nonce_i = ctx.random_bytes(kNonceSize);
    const auto& first = sa.connection->ike_proposals.front();
    auto ke = crypto::KeyExchange::generate(first.ke.front());
    if (!ke) {
        ctx.log(&sa, "cannot generate key share: " + ke.error());
        sa.set_state(sa::IkeSaState::Dead);
        return;
    }
    sa.ke = std::make_unique<crypto::KeyExchange>(std::move(*ke));
    sa.set_state(sa::IkeSaState::InitSent);
    send_init_request(ctx, sa, false);
}

bool handle_ike_sa_init_response(const Ctx& ctx, sa::IkeSa& sa, const Datagram& in,
                                 const wire::Message& m) {
    ctx.log(&sa, "received " + wire::describe(m));
    if (const auto* c = wire::find_notify(m.payloads, NotifyType::COOKIE)) {
        if (++sa.init_retries > kMaxInitRetries) return false;
        sa.cookie = c->data;
        send_init_request(ctx, sa, true);
        return true;
    }
    if (const auto* n = wire::find_notify(m.payloads, NotifyType::INVALID_KE_PAYLOAD)) {
        // §1.2: retry with the group the responder named, if we offered it.
        if (++sa.init_retries > kMaxInitRetries || n->data.size() != 2) return false;
        const auto group = static_cast<KeId>(n->data[0] << 8 | n->data[1]);
        bool offered = false;
        for (const auto& p : sa.connection->ike_proposals)
            for (auto g : p.ke)
                offered |= g == group;
        if (!offered) {
            ctx.log(&sa, "peer wants " + to_string(group) + ", which we did not offer");
            return false;
        }
        auto ke = crypto::KeyExchange::generate(group);
        if (!ke) return false;
        sa.ke = std::make_unique<crypto::KeyExchange>(std::move(*ke));
        send_init_request(ctx, sa, true);
        return true;
    }
    for (const auto& p : m.payloads) {
        const auto* n = p.get<wire::NotifyPayload>();
        if (n && is_error(n->type)) {
            ctx.log(&sa, "peer refused IKE_SA_INIT: " + to_string(n->type));
            return false;
        }
    }
    const auto* sa_p = wire::find_payload(m.payloads, PayloadType::SA);
    const auto* ke_p = wire::find_payload(m.payloads, PayloadType::KE);
    const auto* nr_p = wire::find_payload(m.payloads, PayloadType::NONCE);
    if (!sa_p || !ke_p || !nr_p || m.header.responder_spi.value() == 0) return false;
    auto sel = policy::check_response(*sa_p->get<wire::SaPayload>(), sa.connection->ike_proposals);
    if (!sel) {
        ctx.log(&sa, "unacceptable IKE_SA_INIT response: " + sel.error());
        return false;
    }
    const auto* ke = ke_p->get<wire::KePayload>();
    if (sel->ke != sa.ke->id() || ke->group != sa.ke->id() || !sel->prf) {
        ctx.log(&sa, "responder's key share does not match our group");
        return false;
    }
    sa.algorithms = *sel;
    sa.spi_r = m.header.responder_spi;
    sa.nonce_r = nr_p->get<wire::NoncePayload>()->data;
    sa.init_response = in.data;
    if (!derive_keys(ctx, sa, ke->data)) return false;
    read_init_notifies(sa, m, in.remote, in.local);
    sa.tasks.complete_request();
    // §2.23: with a NAT on the path, move to port 4500 for everything after IKE_SA_INIT.
    if (sa.udp_encap() && sa.remote.port == 500) {
        sa.remote.port = 4500;
        sa.local.port = 4500;
    }
    start_ike_auth(ctx, sa);
    return sa.state() != sa::IkeSaState::Dead;
}

}  // namespace postern::ike::exchange
