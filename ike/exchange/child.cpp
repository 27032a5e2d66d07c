// The first CHILD_SA, carried in IKE_AUTH (RFC 7296 §1.2, §2.9, §2.17), and what every
// CHILD_SA shares (traffic selectors, keys, the data plane):
//
//   ... SAi2, TSi, TSr } -->             ESP proposals with the SPI the peer will receive on
//                        <-- ... SAr2, TSi, TSr }   one proposal, narrowed selectors, our SPI
//
// Keys: KEYMAT = prf+(SK_d, [g^ir (new) |] Ni | Nr), taken as encr_i | integ_i | encr_r |
// integ_r, where the _i keys protect traffic from the initiator to the responder. The nonces
// are IKE_SA_INIT's for this CHILD_SA, the CREATE_CHILD_SA exchange's for later ones.

#include <algorithm>

#include "ike/crypto/keys.hpp"
#include "ike/exchange/context.hpp"

namespace postern::ike::exchange {

namespace {

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

std::vector<Selector> to_dataplane(const std::vector<policy::TrafficSelector>& ts) {
    std::vector<Selector> out;
    for (const auto& t : ts)
        out.push_back(Selector{t.start, t.end, t.ip_protocol, t.start_port, t.end_port});
    return out;
}

// One direction of a CHILD_SA for the data plane; key views point into `keys`.
EspSaSpec spec_of(const sa::IkeSa& sa, const sa::ChildSa& child, bool inbound,
                  const std::vector<crypto::Secret>& keys) {
    const auto& a = child.algorithms;
    const auto& life = sa.connection->child_life;
    EspSaSpec s;
    s.inbound = inbound;
    s.spi = inbound ? child.spi_in : child.spi_out;
    s.src = inbound ? sa.remote : sa.local;
    s.dst = inbound ? sa.local : sa.remote;
    s.udp_encap = sa.udp_encap();
    s.encr_id = static_cast<std::uint16_t>(a.encr.id);
    s.encr_key_bits = a.encr.key_bits;
    s.integ_id = static_cast<std::uint16_t>(a.integ.value_or(IntegId::AUTH_NONE));
    s.encr_key = keys[inbound ? 0 : 2].view();
    s.integ_key = keys[inbound ? 1 : 3].view();
    s.esn = a.esn == EsnId::ESN;
    // Inbound, the data plane checks the inner destination against local_ts: leave out what
    // this connection's peers may not reach (client isolation).
    s.local_ts = to_dataplane(inbound && !sa.connection->isolated.empty()
                                  ? policy::subtract(child.local_ts, sa.connection->isolated)
                                  : child.local_ts);
    s.remote_ts = to_dataplane(child.remote_ts);
    s.reqid = child.reqid;
    // The engine rekeys on time itself; the data plane counts volume (its soft event asks
    // for the rekey) and keeps the hard time as a backstop.
    s.soft_bytes = life.rekey_bytes;
    s.hard_bytes = life.life_bytes;
    s.soft_packets = life.rekey_packets;
    s.hard_packets = life.life_packets;
    s.hard_seconds = static_cast<std::uint32_t>(life.life.count());
    return s;
}

InstallChildSa install_op(const sa::IkeSa& sa, const sa::ChildSa& child, bool in, bool out) {
    InstallChildSa op;
    op.ike_sa = sa.id;
    op.keys = std::make_shared<std::vector<crypto::Secret>>();
    op.keys->push_back(child.encr_in);
    op.keys->push_back(child.integ_in);
    op.keys->push_back(child.encr_out);
    op.keys->push_back(child.integ_out);
    op.in = spec_of(sa, child, true, *op.keys);
    op.out = spec_of(sa, child, false, *op.keys);
    op.install_in = in;
    op.install_out = out;
    return op;
}

}  // namespace

wire::Payload ts_payload(PayloadType type, const std::vector<policy::TrafficSelector>& ts) {
    return {type, false, policy::to_wire(ts)};
}

std::string describe_child(const sa::ChildSa& child) {
    return "CHILD_SA " + std::to_string(child.reqid) + " SPIs in " +
           to_hex(spi_bytes(child.spi_in)) + " out " + to_hex(spi_bytes(child.spi_out));
}

std::optional<sa::ChildSa> negotiate_child(const Ctx& ctx, sa::IkeSa& sa,
                                           const std::vector<wire::Payload>& request,
                                           bool ignore_ke, std::vector<wire::Payload>& reply) {
    const auto* sa_p = wire::find_payload(request, PayloadType::SA);
    const auto* tsi_p = wire::find_payload(request, PayloadType::TSi);
    const auto* tsr_p = wire::find_payload(request, PayloadType::TSr);
    const ConnectionConfig& c = *sa.connection;
    auto sel = policy::select_proposal(c.esp_proposals, *sa_p->get<wire::SaPayload>(),
                                       ProtocolId::ESP, ctx.config.algorithms,
                                       ctx.config.prefer_server_proposals, ignore_ke);
    if (!sel) {
        ctx.log(&sa, "CHILD_SA: " + sel.error());
        ++ctx.stats.no_proposal_chosen;
        reply.push_back(wire::make_notify(NotifyType::NO_PROPOSAL_CHOSEN));
        return std::nullopt;
    }
    auto peer_spi = esp_spi_from(sel->peer_spi);
    if (!peer_spi) {
        reply.push_back(wire::make_notify(NotifyType::INVALID_SYNTAX));
        return std::nullopt;
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
        return std::nullopt;
    }
    sa::ChildSa child;
    child.spi_in = random_esp_spi(ctx);
    child.spi_out = *peer_spi;
    child.algorithms = *sel;
    child.local_ts = tsr;
    child.remote_ts = tsi;
    return child;
}

void answer_child(const sa::ChildSa& child, std::vector<wire::Payload>& reply) {
    wire::Proposal chosen = child.algorithms.proposal;
    chosen.spi = spi_bytes(child.spi_in);
    reply.push_back({PayloadType::SA, false, wire::SaPayload{{chosen}}});
    reply.push_back(ts_payload(PayloadType::TSi, child.remote_ts));
    reply.push_back(ts_payload(PayloadType::TSr, child.local_ts));
}

std::optional<std::string> accept_child(sa::ChildSa& child,
                                        const std::vector<wire::Payload>& response,
                                        std::span<const crypto::Proposal> offered) {
    const auto* sa_p = wire::find_payload(response, PayloadType::SA);
    const auto* tsi_p = wire::find_payload(response, PayloadType::TSi);
    const auto* tsr_p = wire::find_payload(response, PayloadType::TSr);
    if (!sa_p || !tsi_p || !tsr_p) {
        for (const auto& p : response)
            if (const auto* n = p.get<wire::NotifyPayload>(); n && is_error(n->type))
                return "peer answered " + to_string(n->type);
        return std::string("no SA/TS in the response");
    }
    auto sel = policy::check_response(*sa_p->get<wire::SaPayload>(), offered);
    if (!sel) return sel.error();
    auto peer_spi = esp_spi_from(sel->peer_spi.empty() ? sel->proposal.spi : sel->peer_spi);
    if (!peer_spi) return std::string("bad SPI");
    // The responder may only narrow what we proposed (§2.9).
    auto tsi = policy::narrow(ts_of(tsi_p), child.local_ts);
    auto tsr = policy::narrow(ts_of(tsr_p), child.remote_ts);
    if (tsi.empty() || tsr.empty()) return std::string("responder widened the traffic selectors");
    child.spi_out = *peer_spi;
    child.algorithms = *sel;
    child.local_ts = tsi;
    child.remote_ts = tsr;
    return std::nullopt;
}

bool derive_child(const Ctx& ctx, const sa::IkeSa& sa, sa::ChildSa& child, ByteView g_ir,
                  ByteView ni, ByteView nr, bool we_initiated) {
    const auto& a = child.algorithms;
    auto lengths =
        crypto::child_key_lengths(a.encr.id, a.encr.key_bits, a.integ.value_or(IntegId::AUTH_NONE));
    if (!lengths) {
        ctx.log(&sa, "CHILD_SA keys: " + lengths.error());
        return false;
    }
    auto keys = crypto::derive_child_keys(*sa.algorithms.prf, sa.keys.sk_d, g_ir, ni, nr, *lengths);
    if (!keys) {
        ctx.log(&sa, "CHILD_SA keys: " + keys.error());
        return false;
    }
    child.encr_out = we_initiated ? keys->encr_i : keys->encr_r;
    child.integ_out = we_initiated ? keys->integ_i : keys->integ_r;
    child.encr_in = we_initiated ? keys->encr_r : keys->encr_i;
    child.integ_in = we_initiated ? keys->integ_r : keys->integ_i;
    return true;
}

void respond_child(const Ctx& ctx, sa::IkeSa& sa, const std::vector<wire::Payload>& request,
                   std::vector<wire::Payload>& reply) {
    if (!wire::find_payload(request, PayloadType::SA)) return;  // childless (RFC 6023)
    // §1.2: the CHILD_SA of IKE_AUTH has no key exchange of its own; clients that offer KE
    // groups there (for later rekeys, e.g. iOS) get the proposal without it.
    auto child = negotiate_child(ctx, sa, request, /*ignore_ke=*/true, reply);
    if (!child) return;
    child->reqid = ++sa.next_child_reqid;
    if (!derive_child(ctx, sa, *child, {}, sa.nonce_i, sa.nonce_r,
                      sa.role == sa::Role::Initiator)) {
        reply.push_back(wire::make_notify(NotifyType::NO_PROPOSAL_CHOSEN));
        return;
    }
    answer_child(*child, reply);
    sa.children.push_back(std::move(*child));
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
    if (auto why =
            accept_child(child, response, policy::without_ke(sa.connection->esp_proposals)))
        return drop(*why);
    if (!derive_child(ctx, sa, child, {}, sa.nonce_i, sa.nonce_r, sa.role == sa::Role::Initiator))
        return drop("key derivation failed");
    return true;
}

void install_children(const Ctx& ctx, sa::IkeSa& sa) {
    for (auto& child : sa.children) {
        if (child.installed) continue;
        child.installed = true;
        start_child_lifetime(ctx, sa, child);
        ctx.event(EventKind::ChildInstalled, &sa,
                  sa.name() + ": " + describe_child(child) + ", " +
                      policy::to_string(child.local_ts) + " === " +
                      policy::to_string(child.remote_ts) +
                      (child.outbound_deferred ? " (outbound once the old SA is gone)" : ""));
        ctx.out.install.push_back(install_op(sa, child, true, !child.outbound_deferred));
    }
}

void install_outbound(const Ctx& ctx, sa::IkeSa& sa, sa::ChildSa& child) {
    if (!child.installed || !child.outbound_deferred) return;
    child.outbound_deferred = false;
    ctx.log(&sa, describe_child(child) + ": outbound SA installed");
    ctx.out.install.push_back(install_op(sa, child, false, true));
}

void remove_child(const Ctx& ctx, sa::IkeSa& sa, EspSpi spi_in, const std::string& why) {
    auto it = std::find_if(sa.children.begin(), sa.children.end(),
                           [&](const sa::ChildSa& c) { return c.spi_in == spi_in; });
    if (it == sa.children.end()) return;
    if (it->installed)
        ctx.out.remove.push_back(RemoveChildSa{sa.id, it->reqid, it->spi_in, it->spi_out,
                                               !it->outbound_deferred});
    ctx.event(EventKind::ChildDeleted, &sa,
              sa.name() + ": " + describe_child(*it) + " " + why);
    sa.children.erase(it);
    // A CHILD_SA waiting for this one to go sends from now on.
    for (auto& c : sa.children)
        if (c.replaces == spi_in) install_outbound(ctx, sa, c);
}

void remove_children(const Ctx& ctx, sa::IkeSa& sa) {
    for (const auto& child : sa.children) {
        if (!child.installed) continue;
        ctx.out.remove.push_back(RemoveChildSa{sa.id, child.reqid, child.spi_in, child.spi_out,
                                               !child.outbound_deferred});
        ctx.event(EventKind::ChildDeleted, &sa,
                  sa.name() + ": CHILD_SA " + std::to_string(child.reqid) + " removed");
    }
    sa.children.clear();
}

sa::ChildSa* find_child(sa::IkeSa& sa, EspSpi spi, bool inbound) {
    for (auto& c : sa.children)
        if ((inbound ? c.spi_in : c.spi_out) == spi) return &c;
    return nullptr;
}

}  // namespace postern::ike::exchange
