// IKE_AUTH (RFC 7296 §1.2, §2.15), PSK and certificates (EAP: eap_auth.cpp):
//
//   HDR, SK { IDi, [CERT+], [CERTREQ], [IDr], AUTH, [CP(CFG_REQUEST)], SAi2, TSi, TSr } -->
//                       <-- HDR, SK { IDr, [CERT+], AUTH, [CP(CFG_REPLY)], SAr2, TSi, TSr }
//
// Each side signs (or MACs with the PSK) its own IKE_SA_INIT message, the peer's nonce and
// prf(SK_p, its ID payload). A failure to authenticate the peer ends the IKE SA with
// AUTHENTICATION_FAILED (§2.21.2); a failure to set up the CHILD_SA does not (§1.2).

#include "ike/crypto/auth.hpp"
#include "ike/crypto/cert_cache.hpp"
#include "ike/crypto/x509.hpp"
#include "ike/exchange/context.hpp"
#include "ike/wire/describe.hpp"

namespace postern::ike::exchange {

wire::IdPayload id_payload(const policy::Identity& id) {
    return wire::IdPayload{id.type, id.data};
}

Bytes id_body(const policy::Identity& id) {
    Bytes b;
    wire::Writer w(b);
    wire::serialize_body(w, wire::PayloadBody(id_payload(id)));
    return b;
}

namespace {

std::optional<crypto::SignatureScheme> pick_scheme(const sa::IkeSa& sa, crypto::KeyType key,
                                                   AuthMethod& method) {
    using crypto::KeyType;
    using crypto::SignatureScheme;
    auto peer_has = [&](HashAlgorithm h) {
        for (auto x : sa.peer_hashes)
            if (x == h) return true;
        return false;
    };
    if (sa.peer_hash_algorithms) {
        // RFC 7427: method 14 with a hash the peer announced.
        method = AuthMethod::DIGITAL_SIGNATURE;
        switch (key) {
            case KeyType::rsa:
                if (peer_has(HashAlgorithm::SHA2_256)) return SignatureScheme::rsa_pkcs1_sha256;
                if (peer_has(HashAlgorithm::SHA2_384)) return SignatureScheme::rsa_pkcs1_sha384;
                if (peer_has(HashAlgorithm::SHA2_512)) return SignatureScheme::rsa_pkcs1_sha512;
                break;
            case KeyType::ec_p256:
                return SignatureScheme::ecdsa_sha256;
            case KeyType::ec_p384:
                return SignatureScheme::ecdsa_sha384;
            case KeyType::ec_p521:
                return SignatureScheme::ecdsa_sha512;
            case KeyType::ed25519:
                if (peer_has(HashAlgorithm::IDENTITY)) return SignatureScheme::ed25519;
                break;
            default:
                break;
        }
    }
    // Classic methods for peers without RFC 7427 (Windows, iOS, macOS).
    switch (key) {
        case KeyType::rsa:
            method = AuthMethod::RSA_SIG;
            return SignatureScheme::rsa_pkcs1_sha1;
        case KeyType::ec_p256:
            method = AuthMethod::ECDSA_SHA256_P256;
            return SignatureScheme::ecdsa_sha256;
        case KeyType::ec_p384:
            method = AuthMethod::ECDSA_SHA384_P384;
            return SignatureScheme::ecdsa_sha384;
        case KeyType::ec_p521:
            method = AuthMethod::ECDSA_SHA512_P521;
            return SignatureScheme::ecdsa_sha512;
        default:
            return std::nullopt;
    }
}

}  // namespace

tl::expected<std::vector<wire::Payload>, std::string> build_auth(const Ctx& ctx,
                                                                 const sa::IkeSa& sa,
                                                                 ByteView octets,
                                                                 const policy::Identity& remote) {
    const ConnectionConfig& c = *sa.connection;
    std::vector<wire::Payload> out;
    if (c.local_auth == AuthClass::Psk) {
        auto psk = psk_for(ctx, sa, remote);
        if (!psk) return tl::unexpected("no PSK for " + policy::to_string(remote));
        auto mac = crypto::psk_auth(*sa.algorithms.prf, psk->view(), octets);
        if (!mac) return tl::unexpected(mac.error());
        out.push_back({PayloadType::AUTH, false,
                       wire::AuthPayload{AuthMethod::SHARED_KEY_MIC,
                                         Bytes(mac->data(), mac->data() + mac->size())}});
        return out;
    }
    if (!c.local_key || c.local_chain.empty())
        return tl::unexpected(std::string("no certificate and key configured"));
    for (const auto& cert : c.local_chain)
        out.push_back({PayloadType::CERT, false,
                       wire::CertPayload{CertEncoding::X509_SIGNATURE, cert.der()}});
    AuthMethod method{};
    auto scheme = pick_scheme(sa, c.local_key->type(), method);
    if (!scheme)
        return tl::unexpected(std::string("no signature scheme the peer accepts for our key"));
    auto sig = crypto::sign_auth(method, *scheme, *c.local_key, octets);
    if (!sig) return tl::unexpected(sig.error());
    out.push_back({PayloadType::AUTH, false, wire::AuthPayload{method, std::move(*sig)}});
    return out;
}

tl::expected<void, std::string> verify_peer(const Ctx& ctx, const sa::IkeSa& sa,
                                            const ConnectionConfig& c,
                                            const std::vector<wire::Payload>& in,
                                            const policy::Identity& peer, ByteView octets) {
    const auto* auth = wire::find_payload(in, PayloadType::AUTH)->get<wire::AuthPayload>();
    if (c.remote_auth == AuthClass::Psk) {
        if (auth->method != AuthMethod::SHARED_KEY_MIC)
            return tl::unexpected("peer used " + to_string(auth->method) + ", we expect a PSK");
        // The SA's connection (`c`) and the peer's identity pick the PSK.
        auto psk = psk_for(ctx, sa, peer);
        if (!psk) return tl::unexpected("no PSK for " + policy::to_string(peer));
        return crypto::verify_psk_auth(*sa.algorithms.prf, psk->view(), octets, auth->data);
    }
    // Bounded before any certificate is parsed or a chain verified.
    if (auto ok = check_cert_chain(ctx, in); !ok) return ok;
    // Parsed through the process's cache: a client reconnecting with the same certificates
    // costs no d2i_X509 (crypto/cert_cache.hpp). The AUTH signature below is per SA and always
    // checked.
    std::vector<std::shared_ptr<const crypto::Certificate>> certs;
    std::vector<Bytes> der;
    for (const auto& p : in) {
        const auto* cp = p.get<wire::CertPayload>();
        if (!cp) continue;
        if (cp->encoding != CertEncoding::X509_SIGNATURE) continue;  // §3.6: others optional
        auto cert = crypto::CertificateCache::shared().parse(cp->data);
        if (!cert) return tl::unexpected("bad certificate: " + cert.error());
        certs.push_back(std::move(*cert));
        der.push_back(cp->data);
    }
    if (certs.empty()) return tl::unexpected(std::string("peer sent no certificate"));
    auto valid = ctx.verifier->verify(der, ctx.wall_now);
    if (!valid) return tl::unexpected("certificate not trusted: " + valid.error());
    if (!policy::certificate_matches_identity(*certs.front(), peer))
        return tl::unexpected("certificate does not contain identity " + policy::to_string(peer));
    auto key = certs.front()->public_key();
    if (!key) return tl::unexpected("certificate key: " + key.error());
    auto checked = crypto::verify_auth(auth->method, *key, octets, auth->data);
    if (!checked) return tl::unexpected(checked.error());
    return {};
}

void mark_established(const Ctx& ctx, sa::IkeSa& sa, const policy::Identity& peer,
                      const std::string& how) {
    sa.set_state(sa::IkeSaState::Established);
    sa.established_at = ctx.now;
    settle_mobike(ctx, sa);
    start_ike_lifetime(ctx, sa);
    if (sa.user.empty()) sa.user = policy::to_string(peer);
    ++ctx.stats.established;
    Event e{EventKind::IkeEstablished, sa.id,
            sa.name() + ": IKE SA established with " + policy::to_string(peer) + " (" +
                sa.algorithms.to_string() + "), peer authenticated with " + how};
    e.peer = sa.remote;
    e.identity = sa.user;
    e.user = sa.user;
    e.connection = sa.connection ? sa.connection->name : "";
    e.auth_method = sa.auth_method;
    for (const auto& v : sa.virtual_ips)
        e.virtual_ips.push_back(v.address);
    ctx.out.events.push_back(std::move(e));
    if (sa.reauth_of) retire_reauthenticated(ctx, sa);
}

void retire_reauthenticated(const Ctx& ctx, sa::IkeSa& fresh) {
    sa::IkeSa* old = ctx.sas.by_id(fresh.reauth_of);
    fresh.reauth_of = 0;
    if (!old || !old->established()) return;
    // Make-before-break: the new IKE SA and its CHILD_SAs are up; the old one goes, quietly
    // (the peer stays connected).
    old->retired = true;
    old->reauth_at = TimePoint::max();
    ctx.log(old, "reauthenticated as IKE SA " + std::to_string(fresh.id) + ", deleting this one");
    if (!old->tasks.busy()) {
        start_delete(ctx, *old);
    } else {
        old->expire_at = ctx.now;  // deleted as soon as its timer runs
    }
    ctx.sas.touch(*old);
}

void fail_auth(const Ctx& ctx, sa::IkeSa& sa, const std::string& why, AuthFailure detail) {
    ++ctx.stats.auth_failed;
    Event e{EventKind::AuthFailed, sa.id, sa.name() + ": authentication failed: " + why};
    e.peer = sa.remote;
    e.identity = std::move(detail.identity);
    e.user = std::move(detail.user);
    e.reason = detail.reason.empty() ? why : std::move(detail.reason);
    e.connection = sa.connection ? sa.connection->name : "";
    ctx.out.events.push_back(std::move(e));
}

std::optional<wire::Payload> initial_contact(const Ctx& ctx, const sa::IkeSa& sa) {
    const ConnectionConfig& c = *sa.connection;
    if (!c.initial_contact || ctx.sas.has_contact(sa)) return std::nullopt;
    for (auto n : c.emulate.auth_notifies)
        if (n == NotifyType::INITIAL_CONTACT) return std::nullopt;
    return wire::make_notify(NotifyType::INITIAL_CONTACT);
}

void honor_initial_contact(const Ctx& ctx, sa::IkeSa& sa, const std::vector<wire::Payload>& request,
                           const std::string& user) {
    if (!wire::find_notify(request, NotifyType::INITIAL_CONTACT)) return;
    if (std::size_t n = ctx.sas.end_duplicates(ctx, sa, user))
        ctx.log(&sa, "INITIAL_CONTACT: " + std::to_string(n) + " earlier IKE SA" +
                         (n == 1 ? "" : "s") + " of " + user + " ended");
}

wire::Payload with_certreq_extra(const wire::Payload& certreq, const Bytes& extra) {
    wire::Payload p = certreq;
    if (auto* cr = p.get<wire::CertReqPayload>())
        cr->data.insert(cr->data.end(), extra.begin(), extra.end());
    return p;
}

namespace {

// Whether the peer may name us `wanted` (its IDr) on connection `c` although our local_id is
// another identity: our certificate holds it (a dNSName or iPAddress subjectAltName, ...).
bool holds_identity(const ConnectionConfig& c, const policy::Identity& wanted) {
    return c.local_auth == AuthClass::PublicKey && !c.local_chain.empty() &&
           policy::certificate_matches_identity(c.local_chain.front(), wanted);
}

std::string auth_method_text(const std::vector<wire::Payload>& in) {
    const auto* auth = wire::find_payload(in, PayloadType::AUTH)->get<wire::AuthPayload>();
    return to_string(auth->method);
}

}  // namespace

bool respond_ike_auth(const Ctx& ctx, sa::IkeSa& sa, MessageId id,
                      const std::vector<wire::Payload>& in) {
    if (sa.eap) return continue_eap(ctx, sa, id, in);
    std::string presented;  // IDi as text, once parsed, for the audit log
    auto refuse = [&](NotifyType n, const std::string& why) {
        fail_auth(ctx, sa, why, {presented, "", ""});
        send_response(ctx, sa, ExchangeType::IKE_AUTH, id, {wire::make_notify(n)});
        sa.set_state(sa::IkeSaState::Dead);
        return false;
    };
    const auto* idi_p = wire::find_payload(in, PayloadType::IDi);
    // Without AUTH the initiator wants EAP (RFC 7296 §2.16).
    const auto* auth_p = wire::find_payload(in, PayloadType::AUTH);
    if (!idi_p) return refuse(NotifyType::INVALID_SYNTAX, "no IDi");
    const auto* idi = idi_p->get<wire::IdPayload>();
    policy::Identity peer{idi->type, idi->data};
    presented = policy::to_string(peer);
    if (auto ok = policy::check_received_identity(peer); !ok)
        return refuse(NotifyType::AUTHENTICATION_FAILED, "bad IDi: " + ok.error());
    std::optional<policy::Identity> wanted;
    if (const auto* idr_p = wire::find_payload(in, PayloadType::IDr)) {
        const auto* idr = idr_p->get<wire::IdPayload>();
        wanted = policy::Identity{idr->type, idr->data};
        if (auto ok = policy::check_received_identity(*wanted); !ok)
            return refuse(NotifyType::AUTHENTICATION_FAILED, "bad IDr: " + ok.error());
    }

    // The most specific connection whose remote identity matches IDi, that authenticates the
    // peer the way it asks for (EAP when it sent no AUTH) and, if the peer named us with IDr,
    // whose local identity is that one.
    const ConnectionConfig* best = nullptr;
    int best_score = -1;
    for (const auto& c : ctx.config.connections) {
        if (!c.remote_id.matches(peer)) continue;
        if ((c.remote_auth == AuthClass::Eap) != (auth_p == nullptr)) continue;
        if (wanted && !policy::same_identity(c.local_id, *wanted) && !holds_identity(c, *wanted))
            continue;
        int score = c.remote_id.specificity();
        if (score > best_score) {
            best = &c;
            best_score = score;
        }
    }
    if (!best)
        return refuse(NotifyType::AUTHENTICATION_FAILED,
                      "no connection for " + policy::to_string(peer) +
                          (wanted ? " -> " + policy::to_string(*wanted) : "") +
                          (auth_p ? "" : " with EAP"));
    sa.connection = best;
    sa.local_identity =
        wanted && !policy::same_identity(best->local_id, *wanted) ? *wanted : best->local_id;
    if (!auth_p) return start_eap(ctx, sa, id, in, peer);

    auto octets = crypto::signed_octets(*sa.algorithms.prf, sa.init_request, sa.nonce_r,
                                        sa.keys.sk_pi, id_body(peer));
    if (!octets) return refuse(NotifyType::AUTHENTICATION_FAILED, octets.error());
    auto verified = verify_peer(ctx, sa, *best, in, peer, *octets);
    if (!verified) return refuse(NotifyType::AUTHENTICATION_FAILED, verified.error());
    sa.remote_identity = peer;
    sa.auth_method = best->remote_auth == AuthClass::Psk ? "psk" : "pubkey";
    if (auto denied = authorize(ctx, sa, presented)) {
        fail_auth(ctx, sa, "denied by an authorizer: " + *denied, {presented, "", "denied: " + *denied});
        send_response(ctx, sa, ExchangeType::IKE_AUTH, id,
                      {wire::make_notify(NotifyType::AUTHENTICATION_FAILED)});
        sa.set_state(sa::IkeSaState::Dead);
        return false;
    }

    // Before the configuration payload, so a returning peer's old lease is free again, and
    // before the per-identity cap, which the SAs it ends no longer count against.
    honor_initial_contact(ctx, sa, in, sa.user.empty() ? presented : sa.user);
    if (auto over = sa_limit_reached(ctx, sa, presented)) {
        fail_auth(ctx, sa, *over, {presented, presented, "sa_limit"});
        send_response(ctx, sa, ExchangeType::IKE_AUTH, id,
                      {wire::make_notify(NotifyType::AUTHENTICATION_FAILED)});
        sa.set_state(sa::IkeSaState::Dead);
        return false;
    }

    // Our side.
    std::vector<wire::Payload> reply;
    reply.push_back({PayloadType::IDr, false, id_payload(sa.local_identity)});
    auto my_octets = crypto::signed_octets(*sa.algorithms.prf, sa.init_response, sa.nonce_i,
                                           sa.keys.sk_pr, id_body(sa.local_identity));
    if (!my_octets) return refuse(NotifyType::AUTHENTICATION_FAILED, my_octets.error());
    auto auth = build_auth(ctx, sa, *my_octets, peer);
    if (!auth)
        return refuse(NotifyType::AUTHENTICATION_FAILED,
                      "cannot authenticate ourselves: " + auth.error());
    reply.insert(reply.end(), auth->begin(), auth->end());

    if (!respond_config(ctx, sa, in, reply)) {
        // §3.15.4: the peer needs an address and we have none: no CHILD_SA, IKE SA stays.
        reply.push_back(wire::make_notify(NotifyType::INTERNAL_ADDRESS_FAILURE));
    } else {
        respond_child(ctx, sa, in, reply);
    }
    if (auto n = auth_lifetime(ctx, sa)) reply.push_back(std::move(*n));
    answer_mobike_supported(sa, reply);
    send_response(ctx, sa, ExchangeType::IKE_AUTH, id, reply);
    mark_established(ctx, sa, peer, auth_method_text(in));
    install_children(ctx, sa);
    return true;
}

void start_ike_auth(const Ctx& ctx, sa::IkeSa& sa) {
    const ConnectionConfig& c = *sa.connection;
    if (c.local_auth == AuthClass::Eap) return start_eap_initiator(ctx, sa);
    std::vector<wire::Payload> req;
    req.push_back({PayloadType::IDi, false, id_payload(c.local_id)});
    if (auto exact = c.remote_id.exact())
        req.push_back({PayloadType::IDr, false, id_payload(*exact)});
    auto octets = crypto::signed_octets(*sa.algorithms.prf, sa.init_request, sa.nonce_r,
                                        sa.keys.sk_pi, id_body(c.local_id));
    auto auth =
        octets
            ? build_auth(ctx, sa, *octets, c.remote_id.exact().value_or(policy::Identity{}))
            : tl::expected<std::vector<wire::Payload>, std::string>(tl::unexpected(octets.error()));
    if (!auth) {
        ctx.log(&sa, "cannot authenticate ourselves: " + auth.error());
        sa.set_state(sa::IkeSaState::Dead);
        return;
    }
    // RFC 7296 §1.2 order: IDi, [CERT+], [CERTREQ], [IDr], AUTH. build_auth gives CERTs then
    // AUTH; IDr was appended after IDi, so put everything before it in order.
    std::vector<wire::Payload> ordered{req.front()};
    for (const auto& p : *auth)
        if (p.type == PayloadType::CERT) ordered.push_back(p);
    if (c.remote_auth == AuthClass::PublicKey && ctx.certreq && c.emulate.send_certreq)
        ordered.push_back(with_certreq_extra(*ctx.certreq, c.emulate.certreq_extra));
    for (std::size_t i = 1; i < req.size(); ++i)
        ordered.push_back(req[i]);  // IDr
    for (const auto& p : *auth)
        if (p.type == PayloadType::AUTH) ordered.push_back(p);
    if (auto n = initial_contact(ctx, sa)) ordered.push_back(std::move(*n));
    for (auto n : c.emulate.auth_notifies)
        ordered.push_back(wire::make_notify(n));
    request_mobike_supported(sa, ordered);
    req = std::move(ordered);
    request_config(ctx, sa, req);
    request_child(ctx, sa, req);
    sa.set_state(sa::IkeSaState::AuthSent);
    send_request(ctx, sa, ExchangeType::IKE_AUTH, req);
}

bool handle_ike_auth_response(const Ctx& ctx, sa::IkeSa& sa, const std::vector<wire::Payload>& in) {
    if (sa.eap) return handle_eap_response(ctx, sa, in);
    const auto* idr_p = wire::find_payload(in, PayloadType::IDr);
    const auto* auth_p = wire::find_payload(in, PayloadType::AUTH);
    if (!idr_p || !auth_p) {
        std::string why = "no IDr/AUTH in the response";
        for (const auto& p : in)
            if (const auto* n = p.get<wire::NotifyPayload>(); n && is_error(n->type))
                why = "peer answered " + to_string(n->type);
        fail_auth(ctx, sa, why, {});
        return false;
    }
    const auto* idr = idr_p->get<wire::IdPayload>();
    policy::Identity peer{idr->type, idr->data};
    if (auto ok = policy::check_received_identity(peer); !ok) {
        fail_auth(ctx, sa, "bad IDr: " + ok.error(), {});
        return false;
    }
    const ConnectionConfig& c = *sa.connection;
    if (!c.remote_id.matches(peer)) {
        fail_auth(ctx, sa, "responder is " + policy::to_string(peer) + ", not what we expect", {});
        return false;
    }
    auto octets = crypto::signed_octets(*sa.algorithms.prf, sa.init_response, sa.nonce_i,
                                        sa.keys.sk_pr, id_body(peer));
    if (!octets) return false;
    auto verified = verify_peer(ctx, sa, c, in, peer, *octets);
    if (!verified) {
        fail_auth(ctx, sa, verified.error(), {});
        return false;
    }
    sa.remote_identity = peer;
    mark_established(ctx, sa, peer, auth_method_text(in));
    start_reauth_timer(ctx, sa, in);
    handle_config_reply(ctx, sa, in);
    if (handle_child_response(ctx, sa, in)) install_children(ctx, sa);
    return true;
}

}  // namespace postern::ike::exchange
