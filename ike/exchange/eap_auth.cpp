// IKE_AUTH with EAP (RFC 7296 §2.16): the initiator leaves AUTH out of its first IKE_AUTH
// request, the responder authenticates itself (certificate) and runs EAP (EAP-MSCHAPv2 or
// EAP-TLS, whichever the connection offers and the peer takes) over as many IKE_AUTH round trips
// as the method needs, and both sides finish with an AUTH computed like a PSK one but keyed
// with the EAP method's MSK (shown here for MSCHAPv2):
//
//   HDR, SK { IDi, [CERTREQ], [IDr], [N(EAP_ONLY)], [CP], SAi2, TSi, TSr }      -->
//                 <-- HDR, SK { IDr, [CERT, AUTH], EAP(Request/Identity) }
//   HDR, SK { EAP(Response/Identity) }                                         -->
//                 <-- HDR, SK { EAP(Request/MSCHAPv2 Challenge) }
//   HDR, SK { EAP(Response) }                                                  -->
//                 <-- HDR, SK { EAP(Request/MSCHAPv2 Success) }
//   HDR, SK { EAP(Response) }                                                  -->
//                 <-- HDR, SK { EAP(Success) }
//   HDR, SK { AUTH = prf(prf(MSK, "Key Pad for IKEv2"), InitiatorSignedOctets) } -->
//                 <-- HDR, SK { AUTH (MSK, ResponderSignedOctets), [CP], SAr2, TSi, TSr }
//
// The responder's [CERT, AUTH] is left out only under RFC 5998 (the peer sent
// EAP_ONLY_AUTHENTICATION and the connection allows it); then the MSK-bound AUTH alone shows
// who the responder is. A failed EAP method ends with EAP-Failure and AUTHENTICATION_FAILED in
// the same response. The conversation runs while the SA is half-open, so the half-open timeout
// and EngineConfig::eap_max_rounds bound the work an unauthenticated peer can cause.

#include <openssl/crypto.h>

#include <cctype>

#include "ike/crypto/auth.hpp"
#include "ike/eap/mschapv2_client.hpp"
#include "ike/eap/tls_client.hpp"
#include "ike/exchange/context.hpp"
#include "ike/exchange/eap_session.hpp"
#include "ike/wire/eap.hpp"

namespace postern::ike::exchange {

namespace {

Bytes eap_bytes(const wire::EapPayload& p) {
    Bytes b;
    wire::Writer w(b);
    wire::serialize_body(w, p);
    return b;
}

// An EAP message our own EAP code built, as a payload.
std::optional<wire::Payload> eap_payload(ByteView message) {
    wire::Reader r(message);
    auto p = wire::parse_eap(r);
    if (!p) return std::nullopt;
    return wire::Payload{PayloadType::EAP, false, std::move(*p)};
}

// prf(prf(MSK, "Key Pad for IKEv2"), octets) as an AUTH payload.
tl::expected<wire::Payload, std::string> msk_auth(const sa::IkeSa& sa, const crypto::Secret& msk,
                                                   ByteView octets) {
    auto mac = crypto::psk_auth(*sa.algorithms.prf, msk.view(), octets);
    if (!mac) return tl::unexpected(mac.error());
    return wire::Payload{
        PayloadType::AUTH, false,
        wire::AuthPayload{AuthMethod::SHARED_KEY_MIC, Bytes(mac->data(), mac->data() + mac->size())}};
}

tl::expected<void, std::string> verify_msk_auth(const sa::IkeSa& sa, const crypto::Secret& msk,
                                                const std::vector<wire::Payload>& in,
                                                ByteView octets) {
    const auto* p = wire::find_payload(in, PayloadType::AUTH);
    if (!p) return tl::unexpected(std::string("no AUTH after EAP-Success"));
    const auto* auth = p->get<wire::AuthPayload>();
    if (auth->method != AuthMethod::SHARED_KEY_MIC)
        return tl::unexpected("AUTH method " + to_string(auth->method) +
                              " after EAP, expected the shared key MIC");
    auto ok = crypto::verify_psk_auth(*sa.algorithms.prf, msk.view(), octets, auth->data);
    if (!ok) return tl::unexpected("AUTH with the EAP MSK: " + ok.error());
    return {};
}

tl::expected<Bytes, std::string> initiator_octets(const sa::IkeSa& sa,
                                                  const policy::Identity& idi) {
    return crypto::signed_octets(*sa.algorithms.prf, sa.init_request, sa.nonce_r, sa.keys.sk_pi,
                                 id_body(idi));
}

tl::expected<Bytes, std::string> responder_octets(const sa::IkeSa& sa,
                                                  const policy::Identity& idr) {
    return crypto::signed_octets(*sa.algorithms.prf, sa.init_response, sa.nonce_i, sa.keys.sk_pr,
                                 id_body(idr));
}

std::string first_error_notify(const std::vector<wire::Payload>& in) {
    for (const auto& p : in)
        if (const auto* n = p.get<wire::NotifyPayload>(); n && is_error(n->type))
            return to_string(n->type);
    return {};
}

// The methods a responder offers on connection `c`, in its order, from the factories the
// engine was given (the eap-* plugins'); a method no factory provides is left out.
std::vector<eap::EapServer::Method> server_methods(const Ctx& ctx, const ConnectionConfig& c) {
    eap::UserLookup lookup = ctx.config.eap_users ? ctx.config.eap_users
                                                  : eap::UserLookup([](std::string_view) {
                                                        return eap::UserRecord::unknown_user();
                                                    });
    std::vector<Bytes> chain;
    for (const auto& cert : c.local_chain)
        chain.push_back(cert.der());
    std::vector<eap::EapServer::Method> methods;
    for (auto m : c.eap_methods) {
        std::shared_ptr<plugin::EapMethodFactory> factory;
        // The first plugin (in load order) that provides the method, as for every other kind.
        for (const auto& f : ctx.config.eap_factories)
            if (f && f->type() == static_cast<std::uint8_t>(m)) {
                factory = f;
                break;
            }
        if (!factory) continue;
        methods.push_back(
            {static_cast<eap::EapType>(m),
             [factory, lookup, chain, key = c.local_key, verifier = ctx.verifier,
              now = ctx.wall_now, random = eap::Random(ctx.random)](const std::string& identity) {
                 plugin::EapContext x;
                 x.identity = identity;
                 x.users = lookup;
                 x.local_chain = chain;
                 x.local_key = key ? key->get() : nullptr;
                 x.verifier = verifier;
                 x.now = now;
                 x.random = random;
                 return factory->create(x);
             }});
    }
    return methods;
}

// "eap-mschapv2", "eap-tls": the method as authorizers and event sinks see it.
std::string auth_method_name(const eap::EapServer& server) {
    std::string name(server.method_name());  // "EAP-MSCHAPv2"
    for (auto& ch : name)
        ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    return name;
}

// " (TLSv1.2 ..., client CN=...)" after an EAP-TLS login, for the log.
std::string method_detail(const EapSession& s) {
    const std::string d = s.server->method() ? s.server->method()->description() : "";
    return d.empty() ? "" : " (" + d + ")";
}

// The peer side for an initiator with local_auth = Eap.
tl::expected<std::unique_ptr<eap::PeerMethod>, std::string> peer_method(
    const Ctx& ctx, const ConnectionConfig& c) {
    const EapMethod m = c.eap_methods.empty() ? EapMethod::mschapv2 : c.eap_methods.front();
    if (m == EapMethod::tls) {
        eap::EapTlsClient::Config tc;
        tc.identity = c.eap_identity;
        tc.tls.chain = c.local_chain;
        tc.tls.key = c.local_key;
        tc.tls.max_version = ctx.config.eap_tls_max_version;
        // The server's TLS certificate: trusted, and the one we expect when we know its name.
        tc.tls.check_peer = [verifier = ctx.verifier, now = ctx.wall_now,
                             expected = c.remote_id.exact()](
                                std::span<const crypto::Certificate> chain)
            -> tl::expected<void, std::string> {
            std::vector<Bytes> der;
            for (const auto& cert : chain)
                der.push_back(cert.der());
            if (auto ok = verifier->verify(der, now); !ok) return ok;
            if (expected && !policy::certificate_matches_identity(chain.front(), *expected))
                return tl::unexpected("server certificate does not name " +
                                      policy::to_string(*expected));
            return {};
        };
        return std::make_unique<eap::EapTlsClient>(std::move(tc));
    }
    std::string password(reinterpret_cast<const char*>(c.eap_password.view().data()),
                         c.eap_password.size());
    auto client = eap::MsChapV2Client::create(
        {c.eap_identity, c.eap_identity.empty() ? policy::to_string(c.local_id) : c.eap_identity,
         password},
        eap::Random(ctx.random));
    OPENSSL_cleanse(password.data(), password.size());
    if (!client) return tl::unexpected(client.error());
    return std::make_unique<eap::MsChapV2Client>(std::move(*client));
}

}  // namespace

// ---- responder ---------------------------------------------------------------------------

bool start_eap(const Ctx& ctx, sa::IkeSa& sa, MessageId id, const std::vector<wire::Payload>& in,
               const policy::Identity& peer) {
    const ConnectionConfig& c = *sa.connection;
    auto s = std::make_shared<EapSession>();
    s->peer = peer;
    s->first_request = in;
    s->eap_only = c.eap_only && wire::find_notify(in, NotifyType::EAP_ONLY_AUTHENTICATION);
    s->server.emplace(eap::EapServer::Config{policy::to_string(peer)}, server_methods(ctx, c),
                      eap::Random(ctx.random));

    std::vector<wire::Payload> reply;
    reply.push_back({PayloadType::IDr, false, id_payload(sa.local_identity)});
    if (!s->eap_only) {
        auto octets = responder_octets(sa, sa.local_identity);
        auto auth = octets ? build_auth(ctx, sa, *octets, peer)
                           : tl::expected<std::vector<wire::Payload>, std::string>(
                                 tl::unexpected(octets.error()));
        if (!auth) {
            fail_auth(ctx, sa, "cannot authenticate ourselves: " + auth.error(),
                      {policy::to_string(peer), "", "server_error"});
            send_response(ctx, sa, ExchangeType::IKE_AUTH, id,
                          {wire::make_notify(NotifyType::AUTHENTICATION_FAILED)});
            sa.set_state(sa::IkeSaState::Dead);
            return false;
        }
        reply.insert(reply.end(), auth->begin(), auth->end());
    }
    auto request = eap_payload(s->server->start());
    reply.push_back(*request);
    send_response(ctx, sa, ExchangeType::IKE_AUTH, id, reply);
    std::string offered;
    for (auto m : c.eap_methods)
        offered += std::string(offered.empty() ? "" : ", ") +
                   (m == EapMethod::tls ? "EAP-TLS" : "EAP-MSCHAPv2");
    ctx.log(&sa, "EAP (" + offered + ") with " + policy::to_string(peer) +
                     (s->eap_only ? " (EAP-only, RFC 5998: we do not sign)" : ""));
    sa.eap = std::move(s);
    return true;
}

bool continue_eap(const Ctx& ctx, sa::IkeSa& sa, MessageId id,
                  const std::vector<wire::Payload>& in) {
    EapSession& s = *sa.eap;
    const std::string presented = s.server->identity().empty() ? policy::to_string(s.peer)
                                                               : s.server->identity();
    auto refuse = [&](const std::string& reason, const std::string& why) {
        if (s.failure_reported) {
            if (!why.empty()) ctx.log(&sa, why);  // the login failure is reported already
        }
        else
            fail_auth(ctx, sa, why, {presented, "", reason});
        send_response(ctx, sa, ExchangeType::IKE_AUTH, id,
                      {wire::make_notify(NotifyType::AUTHENTICATION_FAILED)});
        sa.set_state(sa::IkeSaState::Dead);
        sa.eap.reset();
        return false;
    };
    if (++s.rounds > ctx.config.eap_max_rounds)
        return refuse("protocol_error", "EAP: more than " +
                                            std::to_string(ctx.config.eap_max_rounds) +
                                            " round trips");

    if (!s.succeeded) {
        const auto* p = wire::find_payload(in, PayloadType::EAP);
        if (!p) return refuse("protocol_error", "EAP: IKE_AUTH request without an EAP payload");
        auto step = s.server->process(eap_bytes(*p->get<wire::EapPayload>()));
        auto out = eap_payload(step.reply);
        if (!out) return refuse("server_error", "EAP: could not build our reply");
        std::vector<wire::Payload> reply{*out};
        // The outcome is known with the MSCHAPv2 Failure Request or the TLS alert, before
        // EAP-Failure: report it now, since a peer that gives up there (strongSwan sends
        // INFORMATIONAL AUTHENTICATION_FAILED instead of the Failure Response) never lets us
        // say it later.
        auto report_failure = [&] {
            if (s.failure_reported) return;
            s.failure_reported = true;
            const auto r =
                s.server->failure_reason().value_or(eap::EapFailureReason::protocol_error);
            const std::string reason(eap::to_string(r));
            // The account exists when the failure is about its password or its state.
            const bool known =
                r == eap::EapFailureReason::bad_password || r == eap::EapFailureReason::disabled;
            fail_auth(
                ctx, sa,
                std::string(s.server->method_name()) + " failed for '" + s.server->identity() +
                    "': " + reason +
                    (s.server->failure_detail().empty() ? ""
                                                        : " (" + s.server->failure_detail() + ")"),
                {presented, known ? s.server->identity() : "", reason});
        };
        switch (step.status) {
            case eap::EapStatus::in_progress:
                if (s.server->failure_reason()) report_failure();
                send_response(ctx, sa, ExchangeType::IKE_AUTH, id, reply);
                return true;
            case eap::EapStatus::succeeded:
                s.succeeded = true;
                s.msk = crypto::Secret(s.server->msk());
                sa.user = s.server->identity();
                send_response(ctx, sa, ExchangeType::IKE_AUTH, id, reply);
                ctx.log(&sa, std::string(s.server->method_name()) + " succeeded for " + sa.user +
                                 method_detail(s));
                return true;
            case eap::EapStatus::failed: {
                report_failure();
                reply.push_back(wire::make_notify(NotifyType::AUTHENTICATION_FAILED));
                send_response(ctx, sa, ExchangeType::IKE_AUTH, id, reply);
                sa.set_state(sa::IkeSaState::Dead);
                sa.eap.reset();
                return false;
            }
        }
        return refuse("server_error", "EAP: unknown status");
    }

    // EAP done: the peer's AUTH with the MSK, then ours, the CP and the CHILD_SA.
    auto octets = initiator_octets(sa, s.peer);
    if (!octets) return refuse("server_error", octets.error());
    if (auto ok = verify_msk_auth(sa, s.msk, in, *octets); !ok)
        return refuse("bad_auth", ok.error());
    sa.remote_identity = s.peer;
    sa.auth_method = auth_method_name(*s.server);
    if (auto denied = authorize(ctx, sa, presented)) {
        // The account authenticated: it is named in the audit row.
        fail_auth(ctx, sa, "denied by an authorizer: " + *denied,
                  {presented, s.server->identity(), "denied: " + *denied});
        s.failure_reported = true;
        return refuse("", "");
    }
    honor_initial_contact(ctx, sa, s.first_request,
                          sa.user.empty() ? policy::to_string(s.peer) : sa.user);
    if (auto over = sa_limit_reached(ctx, sa, sa.user)) {
        fail_auth(ctx, sa, *over, {presented, s.server->identity(), "sa_limit"});
        s.failure_reported = true;
        return refuse("", "");
    }
    auto my_octets = responder_octets(sa, sa.local_identity);
    if (!my_octets) return refuse("server_error", my_octets.error());
    auto auth = msk_auth(sa, s.msk, *my_octets);
    if (!auth) return refuse("server_error", auth.error());
    std::vector<wire::Payload> reply{*auth};
    if (!respond_config(ctx, sa, s.first_request, reply)) {
        // §3.15.4: the peer needs an address and we have none: no CHILD_SA, IKE SA stays.
        reply.push_back(wire::make_notify(NotifyType::INTERNAL_ADDRESS_FAILURE));
    } else {
        respond_child(ctx, sa, s.first_request, reply);
    }
    if (auto n = auth_lifetime(ctx, sa)) reply.push_back(std::move(*n));
    answer_mobike_supported(sa, reply);
    send_response(ctx, sa, ExchangeType::IKE_AUTH, id, reply);
    const std::string how = std::string(s.server->method_name()) + " as " + sa.user +
                            (s.eap_only ? " (EAP-only)" : "");
    sa.eap.reset();
    mark_established(ctx, sa, sa.remote_identity, how);
    install_children(ctx, sa);
    return true;
}

// ---- initiator ---------------------------------------------------------------------------

void start_eap_initiator(const Ctx& ctx, sa::IkeSa& sa) {
    const ConnectionConfig& c = *sa.connection;
    auto client = peer_method(ctx, c);
    if (!client) {
        ctx.log(&sa, "cannot start EAP: " + client.error());
        sa.set_state(sa::IkeSaState::Dead);
        return;
    }
    auto s = std::make_shared<EapSession>();
    s->client = std::move(*client);
    s->eap_only = c.eap_only;

    std::vector<wire::Payload> req;
    req.push_back({PayloadType::IDi, false, id_payload(c.local_id)});
    if (c.remote_auth == AuthClass::PublicKey && ctx.certreq && c.emulate.send_certreq)
        req.push_back(with_certreq_extra(*ctx.certreq, c.emulate.certreq_extra));
    if (auto exact = c.remote_id.exact())
        req.push_back({PayloadType::IDr, false, id_payload(*exact)});
    if (auto n = initial_contact(ctx, sa)) req.push_back(std::move(*n));
    for (auto n : c.emulate.auth_notifies)
        req.push_back(wire::make_notify(n));
    request_mobike_supported(sa, req);
    if (c.eap_only) req.push_back(wire::make_notify(NotifyType::EAP_ONLY_AUTHENTICATION));
    request_config(ctx, sa, req);
    request_child(ctx, sa, req);
    sa.eap = std::move(s);
    sa.set_state(sa::IkeSaState::AuthSent);
    send_request(ctx, sa, ExchangeType::IKE_AUTH, req);
}

bool handle_eap_response(const Ctx& ctx, sa::IkeSa& sa, const std::vector<wire::Payload>& in) {
    EapSession& s = *sa.eap;
    const ConnectionConfig& c = *sa.connection;
    auto fail = [&](const std::string& why) {
        fail_auth(ctx, sa, why, {});
        sa.eap.reset();
        return false;
    };
    if (auto n = first_error_notify(in); !n.empty())
        return fail((s.client->status() == eap::EapStatus::failed
                         ? std::string(s.client->name()) + " failed: " +
                               s.client->failure_detail() + "; "
                         : std::string()) +
                    "peer answered " + n);

    if (!s.responder_checked) {
        const auto* idr_p = wire::find_payload(in, PayloadType::IDr);
        if (!idr_p) return fail("no IDr in the first IKE_AUTH response");
        const auto* idr = idr_p->get<wire::IdPayload>();
        policy::Identity peer{idr->type, idr->data};
        if (auto ok = policy::check_received_identity(peer); !ok)
            return fail("bad IDr: " + ok.error());
        if (!c.remote_id.matches(peer))
            return fail("responder is " + policy::to_string(peer) + ", not what we expect");
        if (wire::find_payload(in, PayloadType::AUTH)) {
            auto octets = responder_octets(sa, peer);
            if (!octets) return fail(octets.error());
            if (auto ok = verify_peer(ctx, sa, c, in, peer, *octets); !ok) return fail(ok.error());
            s.eap_only = false;
        } else if (!c.eap_only) {
            return fail("responder did not authenticate and we did not ask for EAP-only");
        }
        s.peer = peer;
        s.responder_checked = true;
    }

    if (!s.succeeded) {
        const auto* p = wire::find_payload(in, PayloadType::EAP);
        if (!p) return fail("IKE_AUTH response without EAP or AUTH");
        auto step = s.client->process(eap_bytes(*p->get<wire::EapPayload>()));
        if (step.status == eap::EapStatus::failed && !step.reply.empty()) {
            // Our last word (a TLS alert, or the acknowledgement of the server's), so the
            // server can end the conversation with EAP-Failure instead of timing out.
            auto out = eap_payload(step.reply);
            if (!out) return fail("EAP: could not build our reply");
            ctx.log(&sa, std::string(s.client->name()) + " failed: " + s.client->failure_detail());
            send_request(ctx, sa, ExchangeType::IKE_AUTH, {*out});
            return true;
        }
        if (step.status == eap::EapStatus::failed || s.client->status() == eap::EapStatus::failed)
            return fail(std::string(s.client->name()) + " failed: " + s.client->failure_detail());
        if (step.status == eap::EapStatus::succeeded) {
            s.succeeded = true;
            s.msk = s.client->msk();
            auto octets = initiator_octets(sa, c.local_id);
            if (!octets) return fail(octets.error());
            auto auth = msk_auth(sa, s.msk, *octets);
            if (!auth) return fail(auth.error());
            send_request(ctx, sa, ExchangeType::IKE_AUTH, {*auth});
            return true;
        }
        auto out = eap_payload(step.reply);
        if (!out) return fail("EAP: nothing to answer");
        send_request(ctx, sa, ExchangeType::IKE_AUTH, {*out});
        return true;
    }

    // The responder's AUTH with the MSK, then the CP and the CHILD_SA.
    auto octets = responder_octets(sa, s.peer);
    if (!octets) return fail(octets.error());
    if (auto ok = verify_msk_auth(sa, s.msk, in, *octets); !ok) return fail(ok.error());
    sa.remote_identity = s.peer;
    const std::string how = std::string(s.eap_only ? "EAP-only (MSK)" : "its certificate") +
                            ", we with " + std::string(s.client->name());
    sa.eap.reset();
    mark_established(ctx, sa, sa.remote_identity, how);
    start_reauth_timer(ctx, sa, in);
    handle_config_reply(ctx, sa, in);
    if (handle_child_response(ctx, sa, in)) install_children(ctx, sa);
    return true;
}

}  // namespace postern::ike::exchange
