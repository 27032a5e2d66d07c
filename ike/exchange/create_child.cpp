// CREATE_CHILD_SA for CHILD_SAs (RFC 7296 §1.3.1, §1.3.3, §2.8), both roles:
//
//   HDR, SK { [N(REKEY_SA)], SA, Ni, [KEi], TSi, TSr }  -->
//                                   <--  HDR, SK { SA, Nr, [KEr], TSi, TSr }
//
// N(REKEY_SA) names the CHILD_SA being replaced by the SPI its sender receives on; without it
// the request makes an additional CHILD_SA. KEi/KEr when the proposal has a KE method (PFS).
//
// Make-before-break: the rekey initiator installs the new SA both ways when the response
// arrives, then deletes the old one (its inbound SA stays until the Delete is answered). The
// responder installs the new inbound SA at once and its outbound SA once the old SA is deleted.
//
// Collisions (§2.8.1, §2.25.1): both ends rekeying the same CHILD_SA each answer the other's
// request normally; once both exchanges are done, the SA made by the exchange holding the
// lowest of the four nonces is deleted by its initiator, and the other initiator deletes the
// old SA. A rekey of a CHILD_SA we are deleting is answered TEMPORARY_FAILURE, one of a
// CHILD_SA we do not have CHILD_SA_NOT_FOUND.

#include <algorithm>

#include "ike/exchange/context.hpp"

namespace postern::ike::exchange {

namespace {

Bytes u16_bytes(std::uint16_t v) {
    return {static_cast<std::uint8_t>(v >> 8), static_cast<std::uint8_t>(v)};
}

wire::Payload ke_payload(const crypto::KeyExchange& ke) {
    return {PayloadType::KE, false,
            wire::KePayload{ke.id(), Bytes(ke.public_value().begin(), ke.public_value().end())}};
}

// The group we offer when rekeying a CHILD_SA: the one it has (PFS before), else the first of
// our proposals that has one; nullopt: no PFS.
std::optional<KeId> rekey_group(const ConnectionConfig& c, const sa::ChildSa& child) {
    if (child.algorithms.ke) return child.algorithms.ke;
    for (const auto& p : c.esp_proposals)
        if (!p.ke.empty()) return p.ke.front();
    return std::nullopt;
}

void send_rekey_request(const Ctx& ctx, sa::IkeSa& sa, const sa::OwnRequest& r) {
    const ConnectionConfig& c = *sa.connection;
    std::vector<wire::Payload> p;
    p.push_back(wire::make_notify(NotifyType::REKEY_SA, {}, ProtocolId::ESP, spi_bytes(r.rekeyed)));
    p.push_back({PayloadType::SA, false,
                 policy::build_sa_payload(c.esp_proposals, ProtocolId::ESP,
                                          spi_bytes(r.child->spi_in))});
    p.push_back({PayloadType::NONCE, false, wire::NoncePayload{r.nonce}});
    if (r.ke) p.push_back(ke_payload(*r.ke));
    p.push_back(ts_payload(PayloadType::TSi, r.child->local_ts));
    p.push_back(ts_payload(PayloadType::TSr, r.child->remote_ts));
    send_request(ctx, sa, ExchangeType::CREATE_CHILD_SA, p);
}

std::optional<KeId> notified_group(const wire::NotifyPayload& n) {
    if (n.data.size() != 2) return std::nullopt;
    return static_cast<KeId>(n.data[0] << 8 | n.data[1]);
}

bool offered_group(const ConnectionConfig& c, KeId group) {
    for (const auto& p : c.esp_proposals)
        if (std::find(p.ke.begin(), p.ke.end(), group) != p.ke.end()) return true;
    return false;
}

}  // namespace

bool lowest_nonce_is_ours(ByteView our_ni, ByteView our_nr, ByteView their_ni,
                          ByteView their_nr) {
    // std::lexicographical_compare is exactly §2.8.1's rule: octet by octet, and a nonce that
    // ends first is the lower.
    auto lower = [](ByteView a, ByteView b) {
        return std::lexicographical_compare(a.begin(), a.end(), b.begin(), b.end());
    };
    const ByteView ours = lower(our_ni, our_nr) ? our_ni : our_nr;
    const ByteView theirs = lower(their_ni, their_nr) ? their_ni : their_nr;
    return lower(ours, theirs);
}

void respond_create_child(const Ctx& ctx, sa::IkeSa& sa, MessageId id,
                          const std::vector<wire::Payload>& in) {
    const auto* sa_p = wire::find_payload(in, PayloadType::SA)->get<wire::SaPayload>();
    if (!sa_p->proposals.empty() && sa_p->proposals.front().protocol == ProtocolId::IKE)
        return respond_ike_rekey(ctx, sa, id, in);

    auto refuse = [&](NotifyType type, Bytes data = {}, ProtocolId protocol = ProtocolId::NONE,
                      Bytes spi = {}) {
        send_response(ctx, sa, ExchangeType::CREATE_CHILD_SA, id,
                      {wire::make_notify(type, std::move(data), protocol, std::move(spi))});
    };
    // §2.25.2: no new or rekeyed CHILD_SAs on an IKE SA that is going away or being rekeyed.
    if (!sa.established() || sa.provisional ||
        (sa.tasks.busy() && sa.request.kind == sa::OwnRequest::Kind::IkeRekey)) {
        ctx.log(&sa, "CREATE_CHILD_SA refused for now: the IKE SA is being rekeyed or deleted");
        return refuse(NotifyType::TEMPORARY_FAILURE);
    }
    if (!wire::find_payload(in, PayloadType::TSi)) {
        ctx.log(&sa, "CREATE_CHILD_SA for ESP without traffic selectors");
        return refuse(NotifyType::INVALID_SYNTAX);
    }

    sa::ChildSa* old = nullptr;
    if (const auto* n = wire::find_notify(in, NotifyType::REKEY_SA)) {
        // The peer names the SA by the SPI it receives on: our outbound SPI.
        auto spi = esp_spi_from(n->spi);
        old = spi ? find_child(sa, *spi, /*inbound=*/false) : nullptr;
        if (!old) {
            ctx.log(&sa, "peer rekeys CHILD_SA " + to_hex(n->spi) + ", which we do not have");
            return refuse(NotifyType::CHILD_SA_NOT_FOUND, {}, ProtocolId::ESP, n->spi);
        }
        if (old->state == sa::ChildState::Rekeyed || old->state == sa::ChildState::Deleting) {
            ctx.log(&sa, describe_child(*old) + ": peer's rekey refused, we are closing it");
            return refuse(NotifyType::TEMPORARY_FAILURE);
        }
    }

    std::vector<wire::Payload> reply;
    auto child = negotiate_child(ctx, sa, in, /*ignore_ke=*/false, reply);
    if (!child) {
        send_response(ctx, sa, ExchangeType::CREATE_CHILD_SA, id, reply);
        return;
    }
    const auto* ke_p = wire::find_payload(in, PayloadType::KE);
    const auto* kei = ke_p ? ke_p->get<wire::KePayload>() : nullptr;
    auto decision = policy::match_ke(child->algorithms,
                                     kei ? std::optional<KeId>(kei->group) : std::nullopt);
    std::unique_ptr<crypto::KeyExchange> ke;
    crypto::Secret g_ir;
    switch (decision.action) {
        case policy::KeDecision::Action::invalid_ke:
            ++ctx.stats.invalid_ke_sent;
            ctx.log(&sa, "CREATE_CHILD_SA: asking for key exchange " + to_string(decision.group));
            return refuse(NotifyType::INVALID_KE_PAYLOAD,
                          u16_bytes(static_cast<std::uint16_t>(decision.group)));
        case policy::KeDecision::Action::use: {
            auto k = crypto::KeyExchange::generate(decision.group);
            if (!k) return refuse(NotifyType::NO_PROPOSAL_CHOSEN);
            ke = std::make_unique<crypto::KeyExchange>(std::move(*k));
            auto shared = ke->shared_secret(kei->data);
            if (!shared) {
                ctx.log(&sa, "CREATE_CHILD_SA: " + shared.error());
                return refuse(NotifyType::INVALID_SYNTAX);
            }
            g_ir = std::move(*shared);
            break;
        }
        case policy::KeDecision::Action::none:
        case policy::KeDecision::Action::ignore:
            break;
    }
    const Bytes& ni = wire::find_payload(in, PayloadType::NONCE)->get<wire::NoncePayload>()->data;
    const Bytes nr = ctx.random_bytes(kNonceSize);
    if (!derive_child(ctx, sa, *child, g_ir.view(), ni, nr, /*we_initiated=*/false))
        return refuse(NotifyType::NO_PROPOSAL_CHOSEN);

    answer_child(*child, reply);  // SA, TSi, TSr
    std::vector<wire::Payload> ordered{reply.front(),
                                       {PayloadType::NONCE, false, wire::NoncePayload{nr}}};
    if (ke) ordered.push_back(ke_payload(*ke));
    ordered.insert(ordered.end(), reply.begin() + 1, reply.end());

    if (old) {
        child->reqid = old->reqid;  // the data plane's policies stay tied to it
        child->replaces = old->spi_in;
        child->outbound_deferred = true;
        ++ctx.stats.child_rekeyed;
        ctx.log(&sa, describe_child(*old) + " rekeyed by the peer: " + describe_child(*child));
        if (old->state == sa::ChildState::Rekeying && sa.tasks.busy() &&
            sa.request.kind == sa::OwnRequest::Kind::ChildRekey &&
            sa.request.rekeyed == old->spi_in) {
            // Both ends rekey it (§2.8.1): decided when our own exchange is done.
            ++ctx.stats.rekey_collisions;
            sa.request.collision = sa::OwnRequest::Collision{ni, nr, child->spi_in, {}};
            ctx.log(&sa, describe_child(*old) + ": rekey collision, the nonces decide");
        }
    } else {
        child->reqid = ++sa.next_child_reqid;
        ++ctx.stats.child_created;
    }
    sa.children.push_back(std::move(*child));
    install_children(ctx, sa);
    send_response(ctx, sa, ExchangeType::CREATE_CHILD_SA, id, ordered);
}

void start_child_rekey(const Ctx& ctx, sa::IkeSa& sa, EspSpi spi_in) {
    sa::ChildSa* old = find_child(sa, spi_in, /*inbound=*/true);
    if (!old || old->state != sa::ChildState::Installed || sa.tasks.busy()) return;
    sa::OwnRequest r;
    r.kind = sa::OwnRequest::Kind::ChildRekey;
    r.rekeyed = spi_in;
    r.child = std::make_unique<sa::ChildSa>();
    r.child->reqid = old->reqid;
    r.child->spi_in = random_esp_spi(ctx);
    r.child->local_ts = old->local_ts;
    r.child->remote_ts = old->remote_ts;
    r.nonce = ctx.random_bytes(kNonceSize);
    if (auto group = rekey_group(*sa.connection, *old)) {
        auto ke = crypto::KeyExchange::generate(*group);
        if (!ke) {
            ctx.log(&sa, describe_child(*old) + ": cannot rekey: " + ke.error());
            old->rekey_at = retry_time(ctx);
            return;
        }
        r.ke = std::make_unique<crypto::KeyExchange>(std::move(*ke));
    }
    ctx.log(&sa, "rekeying " + describe_child(*old));
    old->state = sa::ChildState::Rekeying;
    send_rekey_request(ctx, sa, r);
    sa.request = std::move(r);
}

void handle_create_child_response(const Ctx& ctx, sa::IkeSa& sa,
                                  const std::vector<wire::Payload>& in) {
    sa::OwnRequest r = std::move(sa.request);
    sa.request = {};
    if (r.kind != sa::OwnRequest::Kind::ChildRekey) return;  // we make no other CHILD_SAs yet
    const ConnectionConfig& c = *sa.connection;
    // The SA being rekeyed; gone when the peer deleted it meanwhile (§2.25.1: it then forgets
    // our rekey, and so do we, but a CHILD_SA it made is kept).
    sa::ChildSa* old = find_child(sa, r.rekeyed, /*inbound=*/true);
    auto give_up = [&](const std::string& why) {
        ctx.log(&sa, "CHILD_SA rekey failed: " + why);
        if (old && old->state == sa::ChildState::Rekeying) {
            old->state = sa::ChildState::Installed;
            // After a collision the peer's rekey made the new SA, and the peer deletes this
            // one; otherwise we try again (until its hard lifetime ends it).
            old->rekey_at = r.collision ? sa::TimePoint::max() : retry_time(ctx);
        }
    };

    for (const auto& p : in) {
        const auto* n = p.get<wire::NotifyPayload>();
        if (!n || !is_error(n->type)) continue;
        if (n->type == NotifyType::INVALID_KE_PAYLOAD) {
            auto group = notified_group(*n);
            if (group && r.ke && offered_group(c, *group) && ++r.invalid_ke <= 2 && old) {
                auto ke = crypto::KeyExchange::generate(*group);
                if (ke) {
                    ctx.log(&sa, "CHILD_SA rekey: peer asks for " + to_string(*group));
                    r.ke = std::make_unique<crypto::KeyExchange>(std::move(*ke));
                    send_rekey_request(ctx, sa, r);
                    sa.request = std::move(r);
                    return;
                }
            }
        }
        if (n->type == NotifyType::CHILD_SA_NOT_FOUND && old) {
            remove_child(ctx, sa, old->spi_in, "gone: the peer does not have it");
            return;
        }
        return give_up("peer answered " + to_string(n->type));
    }

    if (!r.child) return give_up("no CHILD_SA was being made");
    sa::ChildSa fresh = std::move(*r.child);
    if (auto why = accept_child(fresh, in, c.esp_proposals)) return give_up(*why);
    const auto* nr_p = wire::find_payload(in, PayloadType::NONCE);
    if (!nr_p) return give_up("no nonce in the response");
    const Bytes& nr = nr_p->get<wire::NoncePayload>()->data;
    const auto* ke_p = wire::find_payload(in, PayloadType::KE);
    crypto::Secret g_ir;
    if (fresh.algorithms.ke) {
        const auto* ker = ke_p ? ke_p->get<wire::KePayload>() : nullptr;
        if (!r.ke || !ker || ker->group != r.ke->id() || *fresh.algorithms.ke != r.ke->id())
            return give_up("the responder's key exchange does not match ours");
        auto shared = r.ke->shared_secret(ker->data);
        if (!shared) return give_up(shared.error());
        g_ir = std::move(*shared);
    } else if (ke_p) {
        return give_up("a KE payload for a proposal without key exchange");
    }
    if (!derive_child(ctx, sa, fresh, g_ir.view(), r.nonce, nr, /*we_initiated=*/true))
        return give_up("key derivation failed");
    fresh.replaces = r.rekeyed;
    ++ctx.stats.child_rekeyed;

    bool ours_redundant = false;
    if (r.collision) {
        ours_redundant = lowest_nonce_is_ours(r.nonce, nr, r.collision->nonce_i,
                                              r.collision->nonce_r);
        sa::ChildSa* theirs = find_child(sa, r.collision->child, /*inbound=*/true);
        ctx.log(&sa, std::string("CHILD_SA rekey collision: ") +
                         (ours_redundant ? "the peer's new SA stays, ours goes"
                                         : "our new SA stays, the peer's goes"));
        if (ours_redundant) {
            // Ours goes (we delete it); the old one is the peer's to delete, after which the
            // peer's new SA sends.
            fresh.outbound_deferred = true;
            fresh.replaces = EspSpi();
            fresh.state = sa::ChildState::Rekeyed;
            if (old) {
                old->state = sa::ChildState::Installed;
                old->rekey_at = sa::TimePoint::max();
            }
        } else if (theirs) {
            // The peer deletes its new SA: it must never send.
            theirs->replaces = EspSpi();
        }
    }
    if (!ours_redundant && old) old->state = sa::ChildState::Rekeyed;  // our Delete follows
    ctx.log(&sa, (old ? describe_child(*old) + " rekeyed: " : std::string("CHILD_SA made: ")) +
                     describe_child(fresh));
    sa.children.push_back(std::move(fresh));
    install_children(ctx, sa);
}

}  // namespace postern::ike::exchange
