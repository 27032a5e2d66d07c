// Rekeying the IKE SA (RFC 7296 §1.3.2, §2.8, §2.18), both roles:
//
//   HDR, SK { SA, Ni, KEi }  -->        SA: IKE proposals carrying the initiator's new SPI
//                       <--  HDR, SK { SA, Nr, KEr }
//   HDR, SK { D(IKE) }  -->             the initiator deletes the old IKE SA
//                       <--  HDR, SK { }
//
// The new IKE SA's initiator is whoever started the rekey; its keys come from
// SKEYSEED = prf(SK_d (old), g^ir (new) | Ni | Nr) with the old SA's PRF, its message IDs start
// at zero, and the CHILD_SAs and virtual IPs move to it (the data plane sees nothing). The
// old SA answers until the Delete; a responder that hears nothing deletes it itself after a
// while.
//
// Collisions (§2.8.2, §2.25.2): both ends rekeying at once each answer the other's request;
// the new SA made by the exchange with the lowest of the four nonces is deleted by its
// initiator, and the initiator of the surviving one deletes the old SA. A rekey of an IKE SA
// we are deleting, or while our CHILD_SA rekey is out, is answered TEMPORARY_FAILURE.

#include "ike/exchange/context.hpp"

namespace postern::ike::exchange {

namespace {

// How long a replaced IKE SA waits for the peer's Delete before deleting itself.
constexpr std::chrono::seconds kRekeyedLinger{60};

Bytes u16_bytes(std::uint16_t v) {
    return {static_cast<std::uint8_t>(v >> 8), static_cast<std::uint8_t>(v)};
}

// A new IKE SA taking over from `old`: same connection, peer, identities and login; fresh
// lifetimes. Keys, SPIs and children are the caller's.
std::unique_ptr<sa::IkeSa> successor(const Ctx& ctx, const sa::IkeSa& old, sa::Role role) {
    auto n = std::make_unique<sa::IkeSa>(
        old.id, role,
        sa::RetransmitPolicy{ctx.config.retransmit_timeout, ctx.config.retransmit_base,
                             ctx.config.retransmit_tries});
    n->connection = old.connection;
    n->local = old.local;
    n->remote = old.remote;
    n->peer_fragmentation = old.peer_fragmentation;
    n->peer_hash_algorithms = old.peer_hash_algorithms;
    n->peer_hashes = old.peer_hashes;
    n->nat_local = old.nat_local;
    n->nat_remote = old.nat_remote;
    n->nat_fake = old.nat_fake;
    n->peer_mobike = old.peer_mobike;  // RFC 4555: MOBIKE carries over to the rekeyed IKE SA
    n->mobike = old.mobike;
    n->remote_identity = old.remote_identity;
    n->local_identity = old.local_identity;
    n->user = old.user;
    n->auth_method = old.auth_method;
    n->authorization = old.authorization;
    n->next_child_reqid = old.next_child_reqid;
    n->established_at = old.established_at;
    n->reauth_at = old.reauth_at;
    n->created = n->last_heard = ctx.now;
    n->last_keepalive = old.last_keepalive;
    n->set_state(sa::IkeSaState::Established);
    start_ike_lifetime(ctx, *n);
    return n;
}

// The group we offer: the IKE SA's own if our proposals still have it, else our first.
KeId rekey_group(const sa::IkeSa& sa) {
    const auto& props = sa.connection->ike_proposals;
    if (sa.algorithms.ke)
        for (const auto& p : props)
            for (auto g : p.ke)
                if (g == *sa.algorithms.ke) return g;
    return props.front().ke.front();
}

void send_rekey_request(const Ctx& ctx, sa::IkeSa& sa, const sa::OwnRequest& r) {
    std::vector<wire::Payload> p;
    p.push_back({PayloadType::SA, false,
                 policy::build_sa_payload(sa.connection->ike_proposals, ProtocolId::IKE,
                                          spi_bytes(r.ike_spi))});
    p.push_back({PayloadType::NONCE, false, wire::NoncePayload{r.nonce}});
    p.push_back({PayloadType::KE, false,
                 wire::KePayload{r.ke->id(), Bytes(r.ke->public_value().begin(),
                                                   r.ke->public_value().end())}});
    send_request(ctx, sa, ExchangeType::CREATE_CHILD_SA, p);
}

// Keys of the new SA (§2.18): SKEYSEED with the old SA's PRF and SK_d.
bool rekeyed_keys(const Ctx& ctx, const sa::IkeSa& old, sa::IkeSa& fresh, ByteView g_ir) {
    auto seed = crypto::rekey_skeyseed(*old.algorithms.prf, old.keys.sk_d, g_ir, fresh.nonce_i,
                                       fresh.nonce_r);
    if (!seed) {
        ctx.log(&old, "IKE SA rekey: " + seed.error());
        return false;
    }
    return set_ike_keys(ctx, fresh, *seed);
}

// The replaced SA waits for the peer's Delete.
void retire(const Ctx& ctx, sa::IkeSa& old) {
    old.retired = true;
    old.set_state(sa::IkeSaState::Rekeyed);
    old.linger_until = ctx.now + kRekeyedLinger;
}

std::string spis(const sa::IkeSa& sa) {
    return to_hex(spi_bytes(sa.spi_i)) + "_i " + to_hex(spi_bytes(sa.spi_r)) + "_r";
}

}  // namespace

bool set_ike_keys(const Ctx& ctx, sa::IkeSa& sa, const crypto::Secret& skeyseed) {
    const auto& a = sa.algorithms;
    crypto::IkeTransforms t{*a.prf, a.encr.id, a.encr.key_bits,
                            a.integ.value_or(IntegId::AUTH_NONE)};
    auto keys = crypto::derive_ike_keys(t, skeyseed, sa.nonce_i, sa.nonce_r, sa.spi_i.value(),
                                        sa.spi_r.value());
    if (!keys) {
        ctx.log(&sa, keys.error());
        return false;
    }
    sa.keys = std::move(*keys);
    const bool init = sa.role == sa::Role::Initiator;
    auto out = crypto::SkCipher::create(t.encr, t.encr_key_bits, t.integ,
                                        init ? sa.keys.sk_ei : sa.keys.sk_er,
                                        init ? sa.keys.sk_ai : sa.keys.sk_ar);
    auto in = crypto::SkCipher::create(t.encr, t.encr_key_bits, t.integ,
                                       init ? sa.keys.sk_er : sa.keys.sk_ei,
                                       init ? sa.keys.sk_ar : sa.keys.sk_ai);
    if (!out || !in) {
        ctx.log(&sa, "cannot set up SK cipher: " + (out ? in.error() : out.error()));
        return false;
    }
    sa.cipher_out.emplace(std::move(*out));
    sa.cipher_in.emplace(std::move(*in));
    return true;
}

void hand_over(const Ctx& ctx, sa::IkeSa& from, sa::IkeSa& to) {
    to.children = std::move(from.children);
    from.children.clear();
    to.virtual_ips = std::move(from.virtual_ips);
    from.virtual_ips.clear();
    to.assigned = std::move(from.assigned);
    from.assigned.clear();
    to.pending_child_deletes = std::move(from.pending_child_deletes);
    from.pending_child_deletes.clear();
    to.next_child_reqid = std::max(to.next_child_reqid, from.next_child_reqid);
    to.provisional = false;
    ctx.sas.touch(to);
    ++ctx.stats.ike_rekeyed;
    ctx.log(&to, "IKE SA rekeyed: SPIs " + spis(from) + " -> " + spis(to) + ", " +
                     std::to_string(to.children.size()) + " CHILD_SA(s) moved");
}

void respond_ike_rekey(const Ctx& ctx, sa::IkeSa& sa, MessageId id,
                       const std::vector<wire::Payload>& in) {
    auto refuse = [&](NotifyType type, Bytes data = {}) {
        send_response(ctx, sa, ExchangeType::CREATE_CHILD_SA, id,
                      {wire::make_notify(type, std::move(data))});
    };
    using Kind = sa::OwnRequest::Kind;
    const bool ours_out = sa.tasks.busy() && sa.request.kind == Kind::IkeRekey;
    // §2.25.2: not while we close it, nor while CHILD_SA exchanges of ours are out (their
    // answers would arrive on an SA that no longer has the children).
    if (!sa.established() || sa.provisional ||
        (sa.tasks.busy() && sa.request.kind != Kind::IkeRekey && sa.request.kind != Kind::Other)) {
        ctx.log(&sa, "IKE SA rekey refused for now (" + std::string(to_string(sa.state())) +
                         (sa.tasks.busy() ? ", a request of ours is out" : "") + ")");
        return refuse(NotifyType::TEMPORARY_FAILURE);
    }
    const auto* sa_p = wire::find_payload(in, PayloadType::SA)->get<wire::SaPayload>();
    const auto* ke_p = wire::find_payload(in, PayloadType::KE);
    auto sel = policy::select_proposal(sa.connection->ike_proposals, *sa_p, ProtocolId::IKE,
                                       ctx.config.algorithms, ctx.config.prefer_server_proposals);
    if (!sel) {
        ++ctx.stats.no_proposal_chosen;
        ctx.log(&sa, "IKE SA rekey: " + sel.error());
        return refuse(NotifyType::NO_PROPOSAL_CHOSEN);
    }
    auto peer_spi = ike_spi_from(sel->peer_spi);
    if (!peer_spi || !ke_p) return refuse(NotifyType::INVALID_SYNTAX);
    const auto* kei = ke_p->get<wire::KePayload>();
    auto decision = policy::match_ke(*sel, kei->group);
    if (decision.action != policy::KeDecision::Action::use) {
        ++ctx.stats.invalid_ke_sent;
        return refuse(NotifyType::INVALID_KE_PAYLOAD,
                      u16_bytes(static_cast<std::uint16_t>(decision.group)));
    }
    auto ke = crypto::KeyExchange::generate(decision.group);
    if (!ke) return refuse(NotifyType::NO_PROPOSAL_CHOSEN);
    auto shared = ke->shared_secret(kei->data);
    if (!shared) {
        ctx.log(&sa, "IKE SA rekey: " + shared.error());
        return refuse(NotifyType::INVALID_SYNTAX);
    }

    auto fresh = successor(ctx, sa, sa::Role::Responder);
    fresh->spi_i = *peer_spi;
    fresh->spi_r = random_ike_spi(ctx);
    fresh->algorithms = *sel;
    fresh->nonce_i = wire::find_payload(in, PayloadType::NONCE)->get<wire::NoncePayload>()->data;
    fresh->nonce_r = ctx.random_bytes(kNonceSize);
    if (!rekeyed_keys(ctx, sa, *fresh, shared->view()))
        return refuse(NotifyType::NO_PROPOSAL_CHOSEN);

    wire::Proposal chosen = sel->proposal;
    chosen.spi = spi_bytes(fresh->spi_r);
    send_response(ctx, sa, ExchangeType::CREATE_CHILD_SA, id,
                  {{PayloadType::SA, false, wire::SaPayload{{chosen}}},
                   {PayloadType::NONCE, false, wire::NoncePayload{fresh->nonce_r}},
                   {PayloadType::KE, false,
                    wire::KePayload{ke->id(), Bytes(ke->public_value().begin(),
                                                    ke->public_value().end())}}});
    if (ours_out) {
        // Both ends rekey (§2.8.2): the new SA takes over only if it wins, decided when our
        // own exchange is done.
        ++ctx.stats.rekey_collisions;
        fresh->provisional = true;
        sa.request.collision =
            sa::OwnRequest::Collision{fresh->nonce_i, fresh->nonce_r, {}, fresh->spi_r};
        ctx.log(&sa, "IKE SA rekey collision, the nonces decide");
        ctx.sas.adopt(std::move(fresh));
        return;
    }
    sa::IkeSa& next = ctx.sas.adopt(std::move(fresh));
    hand_over(ctx, sa, next);
    retire(ctx, sa);
}

void start_ike_rekey(const Ctx& ctx, sa::IkeSa& sa) {
    if (!sa.established() || sa.tasks.busy()) return;
    sa::OwnRequest r;
    r.kind = sa::OwnRequest::Kind::IkeRekey;
    r.ike_spi = random_ike_spi(ctx);
    r.nonce = ctx.random_bytes(kNonceSize);
    auto ke = crypto::KeyExchange::generate(rekey_group(sa));
    if (!ke) {
        ctx.log(&sa, "cannot rekey the IKE SA: " + ke.error());
        sa.rekey_at = retry_time(ctx);
        return;
    }
    r.ke = std::make_unique<crypto::KeyExchange>(std::move(*ke));
    ctx.log(&sa, "rekeying the IKE SA");
    send_rekey_request(ctx, sa, r);
    sa.request = std::move(r);
}

void handle_ike_rekey_response(const Ctx& ctx, sa::IkeSa& sa,
                               const std::vector<wire::Payload>& in) {
    sa::OwnRequest r = std::move(sa.request);
    sa.request = {};
    sa::IkeSa* theirs = r.collision ? ctx.sas.find(r.collision->ike) : nullptr;
    auto give_up = [&](const std::string& why) {
        ctx.log(&sa, "IKE SA rekey failed: " + why);
        if (theirs && sa.established()) {
            // The peer's rekey, which we answered, stands; it deletes this SA.
            hand_over(ctx, sa, *theirs);
            retire(ctx, sa);
            return;
        }
        sa.rekey_at = retry_time(ctx);
    };
    if (!sa.established()) return;  // deleted meanwhile

    for (const auto& p : in) {
        const auto* n = p.get<wire::NotifyPayload>();
        if (!n || !is_error(n->type)) continue;
        if (n->type == NotifyType::INVALID_KE_PAYLOAD && n->data.size() == 2 &&
            ++r.invalid_ke <= 2) {
            const auto group = static_cast<KeId>(n->data[0] << 8 | n->data[1]);
            bool offered = false;
            for (const auto& prop : sa.connection->ike_proposals)
                for (auto g : prop.ke)
                    offered |= g == group;
            auto ke = offered ? crypto::KeyExchange::generate(group)
                              : tl::expected<crypto::KeyExchange, std::string>(
                                    tl::unexpect, "not offered");
            if (ke) {
                ctx.log(&sa, "IKE SA rekey: peer asks for " + to_string(group));
                r.ke = std::make_unique<crypto::KeyExchange>(std::move(*ke));
                send_rekey_request(ctx, sa, r);
                sa.request = std::move(r);
                return;
            }
        }
        return give_up("peer answered " + to_string(n->type));
    }
    const auto* sa_p = wire::find_payload(in, PayloadType::SA);
    const auto* nr_p = wire::find_payload(in, PayloadType::NONCE);
    const auto* ke_p = wire::find_payload(in, PayloadType::KE);
    if (!sa_p || !nr_p || !ke_p) return give_up("SA, Nr or KEr missing");
    auto sel = policy::check_response(*sa_p->get<wire::SaPayload>(),
                                      sa.connection->ike_proposals);
    if (!sel) return give_up(sel.error());
    auto peer_spi = ike_spi_from(sel->peer_spi.empty() ? sel->proposal.spi : sel->peer_spi);
    const auto* ker = ke_p->get<wire::KePayload>();
    if (!peer_spi) return give_up("no SPI for the new IKE SA");
    if (!sel->prf || sel->ke != r.ke->id() || ker->group != r.ke->id())
        return give_up("the responder's key exchange does not match ours");
    auto shared = r.ke->shared_secret(ker->data);
    if (!shared) return give_up(shared.error());

    auto fresh = successor(ctx, sa, sa::Role::Initiator);
    fresh->spi_i = r.ike_spi;
    fresh->spi_r = *peer_spi;
    fresh->algorithms = *sel;
    fresh->nonce_i = r.nonce;
    fresh->nonce_r = nr_p->get<wire::NoncePayload>()->data;
    if (!rekeyed_keys(ctx, sa, *fresh, shared->view())) return give_up("key derivation failed");

    if (r.collision && lowest_nonce_is_ours(fresh->nonce_i, fresh->nonce_r,
                                            r.collision->nonce_i, r.collision->nonce_r)) {
        // Ours is redundant: we delete it; the peer's takes over and the peer deletes the
        // old SA.
        ctx.log(&sa, "IKE SA rekey collision: the peer's new SA stays, ours goes");
        fresh->retired = true;
        sa::IkeSa& redundant = ctx.sas.adopt(std::move(fresh));
        start_delete(ctx, redundant);
        if (theirs) hand_over(ctx, sa, *theirs);
        retire(ctx, sa);
        return;
    }
    sa::IkeSa& next = ctx.sas.adopt(std::move(fresh));
    if (theirs) {
        // Ours stays; the peer deletes its own new SA, which never gets anything.
        ctx.log(&sa, "IKE SA rekey collision: our new SA stays, the peer's goes");
        theirs->provisional = false;
        retire(ctx, *theirs);
    }
    hand_over(ctx, sa, next);
    sa.retired = true;
    start_delete(ctx, sa);
}

}  // namespace postern::ike::exchange
