// MOBIKE (RFC 4555): an IKE SA and its CHILD_SAs move to new addresses without a rekey.
//
// Negotiation, in IKE_AUTH (both ends must announce it; the connection's `mobike` allows it):
//   HDR, SK { IDi, ..., N(MOBIKE_SUPPORTED), ... }  -->
//                      <--  HDR, SK { IDr, ..., N(MOBIKE_SUPPORTED), ... }
//
// Address update, always started by the initiator of the IKE SA (§3.5), from its new address:
//   HDR, SK { N(UPDATE_SA_ADDRESSES), N(NAT_DETECTION_SOURCE_IP),
//             N(NAT_DETECTION_DESTINATION_IP), [N(COOKIE2)], [N(NO_NATS_ALLOWED)] }  -->
//                      <--  HDR, SK { N(NAT_DETECTION_SOURCE_IP),
//                                     N(NAT_DETECTION_DESTINATION_IP), [N(COOKIE2)] }
// The request is protected, so the addresses it came from and to are the IKE SA's new ones;
// the NAT-D hashes in it (with both SPIs) say whether a NAT sits between the new addresses,
// and so whether the CHILD_SAs are ESP-in-UDP from now on. COOKIE2 (§3.6, 8 to 64 octets) is
// echoed in the response, a return-routability check of the initiator's. The CHILD_SAs move
// in the data plane (MoveChildSa): SPIs, keys, sequence numbers and virtual IPs stay.
//
// With MOBIKE in use the addresses change only through UPDATE_SA_ADDRESSES: RFC 7296 §2.23's
// following of NAT mappings on every message is off (§3.8). ADDITIONAL_IP4/6_ADDRESS and
// NO_ADDITIONAL_ADDRESSES (the peer's other addresses) are accepted and not used: we never
// start an update ourselves as responder, so we have no use for the peer's address list.

#include <algorithm>

#include "ike/crypto/natd.hpp"
#include "ike/exchange/context.hpp"

namespace postern::ike::exchange {

namespace {

// RFC 4555 §3.6: COOKIE2 data is 8 to 64 octets.
constexpr std::size_t kCookie2Min = 8, kCookie2Max = 64, kCookie2Size = 16;

bool wants_mobike(const sa::IkeSa& sa) {
    return sa.connection && sa.connection->mobike && sa.peer_mobike;
}

// What the peer's NAT-D notifies of `type` say about `endpoint`: nullopt when it sent none,
// else whether one of them is its hash.
std::optional<bool> natd_matches(const sa::IkeSa& sa, const std::vector<wire::Payload>& in,
                                 NotifyType type, const Endpoint& endpoint) {
    const Bytes expect =
        crypto::nat_detection_hash(sa.spi_i.value(), sa.spi_r.value(), endpoint);
    bool any = false;
    for (const auto& p : in) {
        const auto* n = p.get<wire::NotifyPayload>();
        if (!n || n->type != type) continue;
        any = true;
        if (n->data == expect) return true;
    }
    if (!any) return std::nullopt;
    return false;
}

// Our NAT-D notifies for the SA's current addresses (a random source hash with
// `encap = true`, so the peer keeps seeing a NAT).
void append_natd(const Ctx& ctx, const sa::IkeSa& sa, std::vector<wire::Payload>& out) {
    Bytes source = crypto::nat_detection_hash(sa.spi_i.value(), sa.spi_r.value(), sa.local);
    if (sa.nat_fake) source = ctx.random_bytes(source.size());
    out.push_back(wire::make_notify(NotifyType::NAT_DETECTION_SOURCE_IP, std::move(source)));
    out.push_back(wire::make_notify(
        NotifyType::NAT_DETECTION_DESTINATION_IP,
        crypto::nat_detection_hash(sa.spi_i.value(), sa.spi_r.value(), sa.remote)));
}

std::string nat_text(const sa::IkeSa& sa) {
    if (!sa.nat_local && !sa.nat_remote) return "no NAT";
    std::string s;
    if (sa.nat_local) s = "we are behind a NAT";
    if (sa.nat_remote) s += std::string(s.empty() ? "" : ", ") + "the peer is behind a NAT";
    return s;
}

}  // namespace

void note_mobike_supported(sa::IkeSa& sa, const std::vector<wire::Payload>& in) {
    if (wire::find_notify(in, NotifyType::MOBIKE_SUPPORTED)) sa.peer_mobike = true;
}

void answer_mobike_supported(sa::IkeSa& sa, std::vector<wire::Payload>& reply) {
    if (!wants_mobike(sa)) return;
    reply.push_back(wire::make_notify(NotifyType::MOBIKE_SUPPORTED));
}

void request_mobike_supported(const sa::IkeSa& sa, std::vector<wire::Payload>& request) {
    if (!sa.connection || !sa.connection->mobike) return;
    for (const auto& p : request)
        if (const auto* n = p.get<wire::NotifyPayload>();
            n && n->type == NotifyType::MOBIKE_SUPPORTED)
            return;  // emulate.auth_notifies has it already
    request.push_back(wire::make_notify(NotifyType::MOBIKE_SUPPORTED));
}

void settle_mobike(const Ctx& ctx, sa::IkeSa& sa) {
    sa.mobike = wants_mobike(sa);
    if (sa.mobike) ctx.log(&sa, "MOBIKE negotiated");
}

void append_cookie2(const std::vector<wire::Payload>& request, std::vector<wire::Payload>& reply) {
    const auto* c = wire::find_notify(request, NotifyType::COOKIE2);
    if (!c || c->data.size() < kCookie2Min || c->data.size() > kCookie2Max) return;
    reply.push_back(wire::make_notify(NotifyType::COOKIE2, c->data));
}

void answer_natd(const Ctx& ctx, const sa::IkeSa& sa, const std::vector<wire::Payload>& request,
                 std::vector<wire::Payload>& reply) {
    if (!sa.mobike || !wire::find_notify(request, NotifyType::NAT_DETECTION_SOURCE_IP)) return;
    // The addresses this request came by (the SA's are not updated implicitly, §3.8): the
    // initiator compares them with its own to see whether its NAT mapping changed.
    const Endpoint local = sa.request_path ? sa.request_path->local : sa.local;
    const Endpoint remote = sa.request_path ? sa.request_path->remote : sa.remote;
    Bytes source = crypto::nat_detection_hash(sa.spi_i.value(), sa.spi_r.value(), local);
    if (sa.nat_fake) source = ctx.random_bytes(source.size());
    reply.push_back(wire::make_notify(NotifyType::NAT_DETECTION_SOURCE_IP, std::move(source)));
    reply.push_back(
        wire::make_notify(NotifyType::NAT_DETECTION_DESTINATION_IP,
                          crypto::nat_detection_hash(sa.spi_i.value(), sa.spi_r.value(), remote)));
}

bool is_update_addresses(const std::vector<wire::Payload>& in) {
    return wire::find_notify(in, NotifyType::UPDATE_SA_ADDRESSES) != nullptr;
}

void move_children(const Ctx& ctx, sa::IkeSa& sa) {
    for (const auto& c : sa.children) {
        if (!c.installed) continue;
        ctx.out.move.push_back(MoveChildSa{sa.id, c.reqid, c.spi_in, c.spi_out, sa.local,
                                           sa.remote, sa.udp_encap(), !c.outbound_deferred});
    }
}

void respond_update_addresses(const Ctx& ctx, sa::IkeSa& sa, MessageId id,
                              const std::vector<wire::Payload>& in, const Datagram& from) {
    auto refuse = [&](NotifyType n, const std::string& why) {
        ++ctx.stats.mobike_refused;
        ctx.log(&sa, "UPDATE_SA_ADDRESSES from " + from.remote.to_string() + " refused: " + why);
        std::vector<wire::Payload> reply{wire::make_notify(n)};
        append_cookie2(in, reply);
        send_response_to(ctx, sa, ExchangeType::INFORMATIONAL, id, reply, from.local,
                         from.remote);
    };
    if (!sa.mobike) return refuse(NotifyType::UNACCEPTABLE_ADDRESSES, "MOBIKE not negotiated");
    if (sa.role != sa::Role::Responder)
        return refuse(NotifyType::UNACCEPTABLE_ADDRESSES, "only the initiator may update (§3.5)");
    if (const auto* c = wire::find_notify(in, NotifyType::COOKIE2);
        c && (c->data.size() < kCookie2Min || c->data.size() > kCookie2Max))
        return refuse(NotifyType::INVALID_SYNTAX,
                      "COOKIE2 of " + std::to_string(c->data.size()) + " octets");

    // The addresses of the request itself are the new ones (§3.5).
    const auto src_ok = natd_matches(sa, in, NotifyType::NAT_DETECTION_SOURCE_IP, from.remote);
    const auto dst_ok =
        natd_matches(sa, in, NotifyType::NAT_DETECTION_DESTINATION_IP, from.local);
    const bool nat_remote = src_ok ? !*src_ok : sa.nat_remote;
    const bool nat_local = dst_ok ? !*dst_ok : sa.nat_local;
    if ((nat_remote || nat_local) && wire::find_notify(in, NotifyType::NO_NATS_ALLOWED))
        return refuse(NotifyType::UNEXPECTED_NAT_DETECTED, "NAT on the path, NO_NATS_ALLOWED");

    const Endpoint old_remote = sa.remote, old_local = sa.local;
    const bool old_encap = sa.udp_encap();
    sa.remote = from.remote;
    sa.local = from.local;
    sa.nat_remote = nat_remote;
    sa.nat_local = nat_local;

    std::vector<wire::Payload> reply;
    append_natd(ctx, sa, reply);
    append_cookie2(in, reply);
    send_response(ctx, sa, ExchangeType::INFORMATIONAL, id, reply);  // to the new address

    if (sa.remote == old_remote && sa.local == old_local && sa.udp_encap() == old_encap) {
        ctx.log(&sa, "UPDATE_SA_ADDRESSES: addresses unchanged (" + nat_text(sa) + ")");
        return;
    }
    ++ctx.stats.mobike_updates;
    ctx.log(&sa, "MOBIKE: peer moved from " + old_remote.to_string() + " to " +
                     sa.remote.to_string() + " (we are " + sa.local.to_string() + ", " +
                     nat_text(sa) + (sa.udp_encap() ? ", ESP in UDP" : ", plain ESP") + ")");
    move_children(ctx, sa);
}

void start_update_addresses(const Ctx& ctx, sa::IkeSa& sa) {
    sa.update_addresses_due = false;
    // MOBIKE runs on port 4500 (a NAT may turn up on the new path; RFC 4555 §3.8).
    if (sa.remote.port == 500) {
        sa.remote.port = 4500;
        if (sa.local.port == 500) sa.local.port = 4500;
    }
    sa::OwnRequest r;
    r.kind = sa::OwnRequest::Kind::UpdateAddresses;
    std::vector<wire::Payload> req{wire::make_notify(NotifyType::UPDATE_SA_ADDRESSES)};
    append_natd(ctx, sa, req);
    if (!(sa.connection && sa.connection->emulate.mobike_no_cookie2)) {
        r.cookie2 = ctx.random_bytes(kCookie2Size);
        req.push_back(wire::make_notify(NotifyType::COOKIE2, r.cookie2));
    }
    if (sa.connection)
        for (const auto& [type, data] : sa.connection->emulate.mobike_update_notifies)
            req.push_back(wire::make_notify(type, data));
    send_request(ctx, sa, ExchangeType::INFORMATIONAL, req);
    sa.request = std::move(r);
}

void handle_update_addresses_response(const Ctx& ctx, sa::IkeSa& sa,
                                      const std::vector<wire::Payload>& in) {
    const sa::OwnRequest r = std::move(sa.request);
    sa.request = {};
    for (const auto& p : in)
        if (const auto* n = p.get<wire::NotifyPayload>(); n && is_error(n->type)) {
            ctx.log(&sa, "peer refused UPDATE_SA_ADDRESSES: " + to_string(n->type));
            return;
        }
    if (!r.cookie2.empty()) {
        const auto* c = wire::find_notify(in, NotifyType::COOKIE2);
        if (!c || c->data != r.cookie2) {
            // §3.6: not the answer to our check; the addresses stay as they were.
            ctx.log(&sa, c ? "COOKIE2 in the response differs from ours, update ignored"
                           : "no COOKIE2 in the response, update ignored");
            return;
        }
    }
    // The responder's hashes: its own address (source) and ours as it saw it (destination).
    if (auto ok = natd_matches(sa, in, NotifyType::NAT_DETECTION_SOURCE_IP, sa.remote))
        sa.nat_remote = !*ok;
    if (auto ok = natd_matches(sa, in, NotifyType::NAT_DETECTION_DESTINATION_IP, sa.local))
        sa.nat_local = !*ok;
    // §2.23: with a NAT on the path, IKE and ESP go to port 4500.
    if (sa.udp_encap() && sa.remote.port == 500) {
        sa.remote.port = 4500;
        sa.local.port = 4500;
    }
    ++ctx.stats.mobike_updates;
    ctx.log(&sa, "MOBIKE: moved to " + sa.local.to_string() + " -> " + sa.remote.to_string() +
                     " (" + nat_text(sa) + (sa.udp_encap() ? ", ESP in UDP" : ", plain ESP") +
                     (r.cookie2.empty() ? "" : ", COOKIE2 matched") + ")");
    move_children(ctx, sa);
}

}  // namespace postern::ike::exchange
