// INFORMATIONAL (RFC 7296 §1.4):
//
//   HDR, SK { D(IKE) }  -->                          delete the IKE SA and all its children
//                        <--  HDR, SK { }
//   HDR, SK { D(ESP, spi...) }  -->                  delete CHILD_SAs (their inbound SPIs)
//                        <--  HDR, SK { D(ESP, our inbound SPIs of the same SAs) }
//   HDR, SK { }  -->                                 liveness check (dead peer detection)
//                        <--  HDR, SK { }
//
// Crossing Deletes (§1.4.1): a Delete for CHILD_SAs whose Delete we sent ourselves removes
// them, and the response leaves them out.

#include <algorithm>

#include "ike/exchange/context.hpp"

namespace postern::ike::exchange {

bool respond_informational(const Ctx& ctx, sa::IkeSa& sa, MessageId id,
                           const std::vector<wire::Payload>& inner) {
    std::vector<wire::Payload> reply;
    bool delete_ike = false;
    wire::DeletePayload our_deleted{ProtocolId::ESP, 4, {}};
    for (const auto& p : inner) {
        const auto* d = p.get<wire::DeletePayload>();
        if (!d) continue;
        if (d->protocol == ProtocolId::IKE) {
            delete_ike = true;
            continue;
        }
        if (d->protocol != ProtocolId::ESP) continue;
        // The peer lists the SPIs it receives on: our outbound SPIs.
        for (const auto& raw : d->spis) {
            auto spi = esp_spi_from(raw);
            sa::ChildSa* child = spi ? find_child(sa, *spi, /*inbound=*/false) : nullptr;
            if (!child) continue;
            const EspSpi ours = child->spi_in;
            if (child->state != sa::ChildState::Deleting) our_deleted.spis.push_back(spi_bytes(ours));
            remove_child(ctx, sa, ours, "deleted by the peer");
        }
    }
    if (delete_ike) {
        // §2.25.2: a Delete of the IKE SA we are rekeying ends our rekey; after a collision
        // the peer's new IKE SA, which we answered, takes over.
        if (sa.tasks.busy() && sa.request.kind == sa::OwnRequest::Kind::IkeRekey &&
            sa.request.collision) {
            if (sa::IkeSa* theirs = ctx.sas.find(sa.request.collision->ike)) {
                hand_over(ctx, sa, *theirs);
                sa.retired = true;
            }
        }
        // §1.4.1: the response to a Delete of the IKE SA is empty.
        send_response(ctx, sa, ExchangeType::INFORMATIONAL, id, {});
        ctx.log(&sa, sa.retired ? "peer deleted the replaced IKE SA" : "peer deleted the IKE SA");
        sa.set_state(sa::IkeSaState::Dead);
        return false;
    }
    if (!our_deleted.spis.empty()) reply.push_back({PayloadType::D, false, std::move(our_deleted)});
    // RFC 4555: NAT-D answered, a COOKIE2 (a return-routability check, §3.6) echoed.
    answer_natd(ctx, sa, inner, reply);
    append_cookie2(inner, reply);
    send_response(ctx, sa, ExchangeType::INFORMATIONAL, id, reply);
    return true;
}

void start_delete(const Ctx& ctx, sa::IkeSa& sa) {
    sa.set_state(sa::IkeSaState::Deleting);
    sa.request = {};
    send_request(ctx, sa, ExchangeType::INFORMATIONAL,
                 {{PayloadType::D, false, wire::DeletePayload{ProtocolId::IKE, 0, {}}}});
}

void start_liveness_check(const Ctx& ctx, sa::IkeSa& sa) {
    sa.request = {};
    send_request(ctx, sa, ExchangeType::INFORMATIONAL, {});
}

bool start_child_delete(const Ctx& ctx, sa::IkeSa& sa) {
    wire::DeletePayload d{ProtocolId::ESP, 4, {}};
    sa::OwnRequest r;
    r.kind = sa::OwnRequest::Kind::ChildDelete;
    for (EspSpi spi : sa.pending_child_deletes)
        d.spis.push_back(spi_bytes(spi));
    sa.pending_child_deletes.clear();
    for (auto& c : sa.children) {
        if (c.state != sa::ChildState::Rekeyed) continue;
        c.state = sa::ChildState::Deleting;
        d.spis.push_back(spi_bytes(c.spi_in));
        r.spis.push_back(c.spi_in);
    }
    if (d.spis.empty()) return false;
    send_request(ctx, sa, ExchangeType::INFORMATIONAL, {{PayloadType::D, false, std::move(d)}});
    sa.request = std::move(r);
    return true;
}

void handle_child_delete_response(const Ctx& ctx, sa::IkeSa& sa) {
    const sa::OwnRequest r = std::move(sa.request);
    sa.request = {};
    for (EspSpi spi : r.spis)
        remove_child(ctx, sa, spi, "deleted");
}

}  // namespace postern::ike::exchange
