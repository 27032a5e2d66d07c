// The first CHILD_SA, carried in IKE_AUTH (RFC 7296 §1.2, §2.9, §2.17):
//
//   ... SAi2, TSi, TSr } -->             ESP proposals with the SPI the peer will receive on
//                        <-- ... SAr2, TSi, TSr }   one proposal, narrowed selectors, our SPI
//
// Keys: KEYMAT = prf+(SK_d, Ni | Nr), taken as encr_i | integ_i | encr_r | integ_r, where the
// _i keys protect traffic from the initiator to the responder.

#include "ike/crypto/keys.hpp"
#include "ike/exchange/context.hpp"

namespace postern::ike::exchange {

namespace {

EspSpi random_esp_spi(const Ctx& ctx) {
    // RFC 4303 §2.1: SPIs 1-255 are reserved; 0 is never used.
    for (;;) {
        Bytes b = ctx.random_bytes(4);
        std::uint32_t v =
            std::uint32_t{b[0]} << 24 | std::uint32_t{b[1]} << 16 | std::uint32_t{b[2]} << 8 | b[3];
        if (v > 255) return EspSpi(v);
    }
}

Bytes spi_bytes(EspSpi spi) {
    std::uint32_t v = spi.value();
    return {static_cast<std::uint8_t>(v >> 24), static_cast<std::uint8_t>(v >> 16),
            static_cast<std::uint8_t>(v >> 8), static_cast<std::uint8_t>(v)};
}

std::optional<EspSpi> spi_from(ByteView b) {
    if (b.size() != 4) return std::nullopt;
    return EspSpi(std::uint32_t{b[0]} << 24 | std::uint32_t{b[1]} << 16 | std::uint32_t{b[2]} << 8 |
                  b[3]);
}

std::vector<policy::TrafficSelector> any_ts() {
    return {policy::TrafficSelector::any_v4(), policy::TrafficSelector::any_v6()};
}

// Selectors of a TSi/TSr payload; types we do not handle (TS_FC_ADDR_RANGE) are skipped.
std::vector<policy::TrafficSelector> ts_of(const wire::Payload* p) {
    std::vector<policy::TrafficSelector> out;
    if (!p) return out;
    if (const auto* ts = p->get<wire::TsPayload>())
        for (const auto& s : ts->selectors)
            if (auto t = policy::TrafficSelector::from_wire(s)) out.push_back(*t);
    return out;
}

wire::Payload ts_payload(PayloadType type, const std::vector<policy::TrafficSelector>& ts) {
    return {type, false, policy::to_wire(ts)};
}

bool derive_child(const Ctx& ctx, sa::IkeSa& sa, sa::ChildSa& child) {
    const auto& a = child.algorithms;
    auto lengths =
        crypto::child_key_lengths(a.encr.id, a.encr.key_bits, a.integ.value_or(IntegId::AUTH_NONE));
    if (!lengths) {
        ctx.log(&sa, "CHILD_SA keys: " + lengths.error());
        return false;
    }
    auto keys = crypto::derive_child_keys(*sa.algorithms.prf, sa.keys.sk_d, {}, sa.nonce_i,
                                          sa.nonce_r, *lengths);
    if (!keys) {
        ctx.log(&sa, "CHILD_SA keys: " + keys.error());
        return false;
    }
    const bool init = sa.role == sa::Role::Initiator;
    child.encr_out = init ? keys->encr_i : keys->encr_r;
    child.integ_out = init ? keys->integ_i : keys->integ_r;
    child.encr_in = init ? keys->encr_r : keys->encr_i;
    child.integ_in = init ? keys->integ_r : keys->integ_i;
    return true;
}

std::vector<Selector> to_dataplane(const std::vector<policy::TrafficSelector>& ts) {
    std::vector<Selector> out;
    for (const auto& t : ts)
        out.push_back(Selector{t.start, t.end, t.ip_protocol, t.start_port, t.end_port});
    return out;
}

}  // namespace

void respond_child(const Ctx& ctx, sa::IkeSa& sa, const std::vector<wire::Payload>& request,
                   std::vector<wire::Payload>& reply) {
    const auto* sa_p = wire::find_payload(request, PayloadType::SA);
    const auto* tsi_p = wire::find_payload(request, PayloadType::TSi);
    const auto* tsr_p = wire::find_payload(request, PayloadType::TSr);
    if (!sa_p || !tsi_p || !tsr_p) return;  // childless IKE SA (RFC 6023)
    const ConnectionConfig& c = *sa.connection;

    // §1.2: the CHILD_SA of IKE_AUTH has no key exchange of its own; clients that offer KE
    // groups there (for later rekeys, e.g. iOS) get the proposal without it.
    auto sel = policy::select_proposal(c.esp_proposals, *sa_p->get<wire::SaPayload>(),
                                       ProtocolId::ESP, ctx.config.algorithms,
                                       ctx.config.prefer_server_proposals, /*ignore_ke=*/true);
    if (!sel) {
        ctx.log(&sa, "CHILD_SA: " + sel.error());
        ++ctx.stats.no_proposal_chosen;
        reply.push_back(wire::make_notify(NotifyType::NO_PROPOSAL_CHOSEN));
        return;
    }
    auto peer_spi = spi_from(sel->peer_spi);
    if (!peer_spi) {
        reply.push_back(wire::make_notify(NotifyType::INVALID_SYNTAX));
        return;
    }

    // §2.9: TSi is the peer's side. A peer with a virtual IP gets exactly that address.
    auto proposed_i = ts_of(tsi_p);
    auto proposed_r = ts_of(tsr_p);
    std::vector<policy::TrafficSelector> tsi;
    if (!sa.virtual_ips.empty()) {
        for (const auto& v : sa.virtual_ips) {
            auto n = policy::narrow_to_address(proposed_i, v.address);
            tsi.insert(tsi.end(), n.begin(), n.end());
        }
    } else {
        tsi = c.remote_ts.empty() ? proposed_i : policy::narrow(proposed_i, c.remote_ts);
    }
    auto tsr = policy::narrow(proposed_r, c.local_ts.empty() ? any_ts() : c.local_ts);
    if (tsi.empty() || tsr.empty()) {
        ctx.log(&sa, "CHILD_SA: traffic selectors unacceptable");
        reply.push_back(wire::make_notify(NotifyType::TS_UNACCEPTABLE));
        return;
    }

    sa::ChildSa child;
    child.reqid = ++sa.next_child_reqid;
    child.spi_in = random_esp_spi(ctx);
    child.spi_out = *peer_spi;
    child.algorithms = *sel;
    child.local_ts = tsr;
    child.remote_ts = tsi;
    if (!derive_child(ctx, sa, child)) {
        reply.push_back(wire::make_notify(NotifyType::NO_PROPOSAL_CHOSEN));
        return;
    }
    wire::Proposal chosen = sel->proposal;
    chosen.spi = spi_bytes(child.spi_in);
    reply.push_back({PayloadType::SA, false, wire::SaPayload{{chosen}}});
    reply.push_back(ts_payload(PayloadType::TSi, tsi));
    reply.push_back(ts_payload(PayloadType::TSr, tsr));
    sa.children.push_back(std::move(child));
}

void request_child(const Ctx& ctx, sa::IkeSa& sa, std::vector<wire::Payload>& request) {
    const ConnectionConfig& c = *sa.connection;
    sa::ChildSa child;
    child.reqid = ++sa.next_child_reqid;
    child.spi_in = random_esp_spi(ctx);
    child.local_ts = c.local_ts.empty() ? any_ts() : c.local_ts;
    child.remote_ts = c.remote_ts.empty() ? any_ts() : c.remote_ts;
    request.push_back({PayloadType::SA, false,
                       policy::build_sa_payload(policy::without_ke(c.esp_proposals),
                                                ProtocolId::ESP, spi_bytes(child.spi_in))});
    request.push_back(ts_payload(PayloadType::TSi, child.local_ts));
    request.push_back(ts_payload(PayloadType::TSr, child.remote_ts));
    sa.children.push_back(std::move(child));
}

bool handle_child_response(const Ctx& ctx, sa::IkeSa& sa,
                           const std::vector<wire::Payload>& response) {
    if (sa.children.empty()) return false;
    sa::ChildSa& child = sa.children.back();
    auto drop = [&](const std::string& why) {
        ctx.log(&sa, "CHILD_SA not established: " + why);
        sa.children.pop_back();
        return false;
    };
    const auto* sa_p = wire::find_payload(response, PayloadType::SA);
    const auto* tsi_p = wire::find_payload(response, PayloadType::TSi);
    const auto* tsr_p = wire::find_payload(response, PayloadType::TSr);
    if (!sa_p || !tsi_p || !tsr_p) {
        for (const auto& p : response)
            if (const auto* n = p.get<wire::NotifyPayload>(); n && is_error(n->type))
                return drop("peer answered " + to_string(n->type));
        return drop("no SA/TS in the response");
    }
    auto sel = policy::check_response(*sa_p->get<wire::SaPayload>(),
                                      policy::without_ke(sa.connection->esp_proposals));
    if (!sel) return drop(sel.error());
    auto peer_spi = spi_from(sel->peer_spi.empty() ? sel->proposal.spi : sel->peer_spi);
    if (!peer_spi) return drop("bad SPI");
    // The responder may only narrow what we proposed (§2.9).
    auto tsi = policy::narrow(ts_of(tsi_p), child.local_ts);
    auto tsr = policy::narrow(ts_of(tsr_p), child.remote_ts);
    if (tsi.empty() || tsr.empty()) return drop("responder widened the traffic selectors");
    child.spi_out = *peer_spi;
    child.algorithms = *sel;
    child.local_ts = tsi;
    child.remote_ts = tsr;
    if (!derive_child(ctx, sa, child)) return drop("key derivation failed");
    return true;
}

void install_children(const Ctx& ctx, sa::IkeSa& sa) {
    const bool encap = sa.udp_encap();
    for (auto& child : sa.children) {
        if (child.installed) continue;
        InstallChildSa op;
        op.ike_sa = sa.id;
        op.keys = std::make_shared<std::vector<crypto::Secret>>();
        op.keys->push_back(child.encr_in);
        op.keys->push_back(child.integ_in);
        op.keys->push_back(child.encr_out);
        op.keys->push_back(child.integ_out);
        auto fill = [&](EspSaSpec& s, bool inbound) {
            const auto& a = child.algorithms;
            s.inbound = inbound;
            s.spi = inbound ? child.spi_in : child.spi_out;
            s.src = inbound ? sa.remote : sa.local;
            s.dst = inbound ? sa.local : sa.remote;
            s.udp_encap = encap;
            s.encr_id = static_cast<std::uint16_t>(a.encr.id);
            s.encr_key_bits = a.encr.key_bits;
            s.integ_id = static_cast<std::uint16_t>(a.integ.value_or(IntegId::AUTH_NONE));
            s.encr_key = (*op.keys)[inbound ? 0 : 2].view();
            s.integ_key = (*op.keys)[inbound ? 1 : 3].view();
            s.esn = a.esn == EsnId::ESN;
            // Inbound, the data plane checks the inner destination against local_ts: leave
            // out what this connection's peers may not reach (client isolation).
            s.local_ts = to_dataplane(inbound && !sa.connection->isolated.empty()
                                          ? policy::subtract(child.local_ts,
                                                             sa.connection->isolated)
                                          : child.local_ts);
            s.remote_ts = to_dataplane(child.remote_ts);
            s.reqid = child.reqid;
            s.hard_seconds = static_cast<std::uint32_t>(sa.connection->child_lifetime.count());
            s.soft_seconds = s.hard_seconds - s.hard_seconds / 10;
        };
        fill(op.in, true);
        fill(op.out, false);
        child.installed = true;
        ctx.event(EventKind::ChildInstalled, &sa,
                  sa.name() + ": CHILD_SA " + std::to_string(child.reqid) + " SPIs in " +
                      to_hex(spi_bytes(child.spi_in)) + " out " + to_hex(spi_bytes(child.spi_out)) +
                      ", " + policy::to_string(child.local_ts) +
                      " === " + policy::to_string(child.remote_ts));
        ctx.out.install.push_back(std::move(op));
    }
}

void remove_children(const Ctx& ctx, sa::IkeSa& sa) {
    for (const auto& child : sa.children) {
        if (!child.installed) continue;
        ctx.out.remove.push_back(RemoveChildSa{sa.id, child.reqid, child.spi_in, child.spi_out});
        ctx.event(EventKind::ChildDeleted, &sa,
                  sa.name() + ": CHILD_SA " + std::to_string(child.reqid) + " removed");
    }
    sa.children.clear();
}

}  // namespace postern::ike::exchange
