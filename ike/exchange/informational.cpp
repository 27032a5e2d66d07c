// INFORMATIONAL (RFC 7296 §1.4):
//
//   HDR, SK { D(IKE) }  -->                          delete the IKE SA and all its children
//                        <--  HDR, SK { }
//   HDR, SK { D(ESP, spi...) }  -->                  delete CHILD_SAs (their inbound SPIs)
//                        <--  HDR, SK { D(ESP, our inbound SPIs of the same SAs) }
//   HDR, SK { }  -->                                 liveness check (dead peer detection)
//                        <--  HDR, SK { }

#include "ike/exchange/context.hpp"

namespace postern::ike::exchange {

namespace {

Bytes spi_bytes(EspSpi spi) {
    std::uint32_t v = spi.value();
    return {static_cast<std::uint8_t>(v >> 24), static_cast<std::uint8_t>(v >> 16),
            static_cast<std::uint8_t>(v >> 8), static_cast<std::uint8_t>(v)};
}

}  // namespace

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
            if (raw.size() != 4) continue;
            const EspSpi spi(std::uint32_t{raw[0]} << 24 | std::uint32_t{raw[1]} << 16 |
                             std::uint32_t{raw[2]} << 8 | raw[3]);
            for (auto it = sa.children.begin(); it != sa.children.end(); ++it) {
                if (it->spi_out != spi) continue;
                our_deleted.spis.push_back(spi_bytes(it->spi_in));
                if (it->installed)
                    ctx.out.remove.push_back(
                        RemoveChildSa{sa.id, it->reqid, it->spi_in, it->spi_out});
                ctx.event(
                    EventKind::ChildDeleted, &sa,
                    sa.name() + ": CHILD_SA " + std::to_string(it->reqid) + " deleted by the peer");
                sa.children.erase(it);
                break;
            }
        }
    }
    if (delete_ike) {
        // §1.4.1: the response to a Delete of the IKE SA is empty.
        send_response(ctx, sa, ExchangeType::INFORMATIONAL, id, {});
        ctx.log(&sa, "peer deleted the IKE SA");
        sa.set_state(sa::IkeSaState::Dead);
        return false;
    }
    if (!our_deleted.spis.empty()) reply.push_back({PayloadType::D, false, std::move(our_deleted)});
    send_response(ctx, sa, ExchangeType::INFORMATIONAL, id, reply);
    return true;
}

void refuse_exchange(const Ctx& ctx, sa::IkeSa& sa, ExchangeType exchange, MessageId id) {
    // CHILD_SA creation and rekeying arrive with issue 8; until then say so (§1.3).
    send_response(ctx, sa, exchange, id, {wire::make_notify(NotifyType::NO_ADDITIONAL_SAS)});
}

void start_delete(const Ctx& ctx, sa::IkeSa& sa) {
    sa.set_state(sa::IkeSaState::Deleting);
    send_request(ctx, sa, ExchangeType::INFORMATIONAL,
                 {{PayloadType::D, false, wire::DeletePayload{ProtocolId::IKE, 0, {}}}});
}

void start_liveness_check(const Ctx& ctx, sa::IkeSa& sa) {
    send_request(ctx, sa, ExchangeType::INFORMATIONAL, {});
}

void start_child_delete(const Ctx& ctx, sa::IkeSa& sa) {
    wire::DeletePayload d{ProtocolId::ESP, 4, {}};
    for (EspSpi spi : sa.pending_child_deletes)
        d.spis.push_back(spi_bytes(spi));
    sa.pending_child_deletes.clear();
    if (d.spis.empty()) return;
    send_request(ctx, sa, ExchangeType::INFORMATIONAL, {{PayloadType::D, false, std::move(d)}});
}

}  // namespace postern::ike::exchange
