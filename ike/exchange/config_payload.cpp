// The configuration payload (RFC 7296 §3.15, §2.19) in IKE_AUTH:
//
//   ... CP(CFG_REQUEST) { INTERNAL_IP4_ADDRESS, INTERNAL_IP4_DNS, ... } -->
//       <-- ... CP(CFG_REPLY) { INTERNAL_IP4_ADDRESS 10.99.0.7, INTERNAL_IP4_DNS 10.99.0.1, ...}
//
// Requests we cannot serve (NBNS, DHCP, APPLICATION_VERSION, Microsoft's 23456/23457) are
// ignored, never failed (native-clients.md §2 item 15). A missing address family is not an
// error either: the peer gets what exists.

#include <algorithm>

#include "ike/exchange/context.hpp"

namespace postern::ike::exchange {

namespace {

Bytes prefix_mask_v4(unsigned bits) {
    std::uint32_t m = bits == 0 ? 0 : ~std::uint32_t{0} << (32 - bits);
    return {static_cast<std::uint8_t>(m >> 24), static_cast<std::uint8_t>(m >> 16),
            static_cast<std::uint8_t>(m >> 8), static_cast<std::uint8_t>(m)};
}

wire::CfgAttributeValue attr(CfgAttribute type, ByteView value) {
    return wire::CfgAttributeValue{type, Bytes(value.begin(), value.end())};
}

const wire::CpPayload* find_cp(const std::vector<wire::Payload>& ps, CfgType type) {
    for (const auto& p : ps)
        if (const auto* cp = p.get<wire::CpPayload>(); cp && cp->type == type) return cp;
    return nullptr;
}

}  // namespace

bool respond_config(const Ctx& ctx, sa::IkeSa& sa, const std::vector<wire::Payload>& request,
                    std::vector<wire::Payload>& reply) {
    const auto* cp = find_cp(request, CfgType::CFG_REQUEST);
    if (!cp) return true;
    const ConnectionConfig& c = *sa.connection;
    bool want4 = false, want6 = false, asked_mask = false;
    std::optional<IpAddress> req4, req6;
    for (const auto& a : cp->attributes) {
        if (a.type == CfgAttribute::INTERNAL_IP4_ADDRESS) {
            want4 = true;
            if (a.value.size() == 4) req4 = IpAddress::from_bytes(a.value);
        } else if (a.type == CfgAttribute::INTERNAL_IP6_ADDRESS) {
            want6 = true;
            if (a.value.size() == 17) req6 = IpAddress::from_bytes(ByteView(a.value).first(16));
        } else if (a.type == CfgAttribute::INTERNAL_IP4_NETMASK) {
            asked_mask = true;
        }
    }
    if (req4 && req4->is_unspecified()) req4.reset();
    if (req6 && req6->is_unspecified()) req6.reset();
    // An authorizer may have picked the pool, a fixed address, DNS servers and routes.
    static const sa::Authorization kNone;
    const sa::Authorization& authz = sa.authorization ? *sa.authorization : kNone;
    if (authz.ipv4) req4 = authz.ipv4;
    if (authz.ipv6) req6 = authz.ipv6;
    const std::vector<std::string> pools =
        authz.pool ? std::vector<std::string>{*authz.pool} : c.pools;

    wire::CpPayload out{CfgType::CFG_REPLY, {}};
    // Leases are sticky per account: the EAP identity with EAP, else the IKE identity.
    const std::string who = sa.user.empty() ? policy::to_string(sa.remote_identity) : sa.user;
    auto give = [&](IpAddress::Family fam, const sa::VirtualIp& v) {
        sa.virtual_ips.push_back(v);
        if (fam == IpAddress::Family::V4) {
            out.attributes.push_back(attr(CfgAttribute::INTERNAL_IP4_ADDRESS, v.address.bytes()));
            if (asked_mask)
                out.attributes.push_back(
                    attr(CfgAttribute::INTERNAL_IP4_NETMASK, prefix_mask_v4(32)));
        } else {
            Bytes b(v.address.bytes().begin(), v.address.bytes().end());
            b.push_back(128);  // §3.15.1: address | prefix length
            out.attributes.push_back(attr(CfgAttribute::INTERNAL_IP6_ADDRESS, b));
        }
    };
    auto assign = [&](IpAddress::Family fam, std::optional<IpAddress> requested) -> bool {
        if (!ctx.pools) return false;
        // Reauthentication (§2.8.3): the address the peer's older IKE SA holds moves here.
        if (requested)
            if (auto kept = ctx.sas.take_virtual_ip(sa, who, *requested)) {
                if (std::find(pools.begin(), pools.end(), kept->pool) != pools.end()) {
                    give(fam, *kept);
                    ctx.log(&sa, "virtual IP " + kept->address.to_string() +
                                     " taken over from the peer's earlier IKE SA");
                    return true;
                }
                // Not this pool: let it go.
                if (ctx.sas.let_go_virtual_ip(*kept)) ctx.pools->release(kept->pool, kept->address);
            }
        for (const auto& pool : pools) {
            auto a = ctx.pools->acquire(pool, who, fam, requested);
            if (!a) continue;
            give(fam, sa::VirtualIp{pool, *a});
            ctx.sas.held_virtual_ip(sa, who, sa.virtual_ips.back());
            ctx.log(&sa, "assigned virtual IP " + a->to_string() + " from pool " + pool);
            return true;
        }
        return false;
    };
    bool got4 = want4 && assign(IpAddress::Family::V4, req4);
    bool got6 = want6 && assign(IpAddress::Family::V6, req6);
    if ((want4 || want6) && !got4 && !got6) {
        ctx.log(&sa, "no virtual IP available in pools for " + who);
        return false;
    }
    // DNS: the authorizer's, else the chosen pool's, else the connection's pools'.
    const std::vector<IpAddress>* dns = &c.dns;
    if (authz.dns) {
        dns = &*authz.dns;
    } else if (authz.pool) {
        if (auto it = ctx.config.pool_dns.find(*authz.pool); it != ctx.config.pool_dns.end())
            dns = &it->second;
    }
    for (const auto& d : *dns) {
        if (d.is_v4())
            out.attributes.push_back(attr(CfgAttribute::INTERNAL_IP4_DNS, d.bytes()));
        else
            out.attributes.push_back(attr(CfgAttribute::INTERNAL_IP6_DNS, d.bytes()));
    }
    for (const auto& s : authz.routes ? *authz.routes : c.split_include) {
        Bytes v(s.network.bytes().begin(), s.network.bytes().end());
        if (s.network.is_v4()) {
            auto m = prefix_mask_v4(s.prefix);
            v.insert(v.end(), m.begin(), m.end());
            out.attributes.push_back(attr(CfgAttribute::INTERNAL_IP4_SUBNET, v));
        } else {
            v.push_back(s.prefix);  // §3.15.1: address | prefix length
            out.attributes.push_back(attr(CfgAttribute::INTERNAL_IP6_SUBNET, v));
        }
    }
    for (const auto& d : c.dns_domains)
        out.attributes.push_back(attr(CfgAttribute::INTERNAL_DNS_DOMAIN, as_bytes(d)));
    if (!out.attributes.empty()) reply.push_back({PayloadType::CP, false, std::move(out)});
    return true;
}

void request_config(const Ctx& ctx, const sa::IkeSa& sa, std::vector<wire::Payload>& request) {
    (void)ctx;
    if (!sa.connection->request_virtual_ip) return;
    wire::CpPayload cp{CfgType::CFG_REQUEST,
                       {wire::CfgAttributeValue{CfgAttribute::INTERNAL_IP4_ADDRESS, {}},
                        wire::CfgAttributeValue{CfgAttribute::INTERNAL_IP4_DNS, {}}}};
    if (const auto& emulated = sa.connection->emulate.cp_attributes; !emulated.empty()) {
        cp.attributes.clear();
        for (auto t : emulated)
            cp.attributes.push_back({static_cast<CfgAttribute>(t), {}});
    }
    // Reauthenticating: ask for the addresses the replaced IKE SA has (§3.15.1).
    for (const auto& a : sa.reauth_addresses) {
        if (!a.is_v4()) continue;
        for (auto& attr_value : cp.attributes)
            if (attr_value.type == CfgAttribute::INTERNAL_IP4_ADDRESS)
                attr_value.value.assign(a.bytes().begin(), a.bytes().end());
    }
    request.push_back({PayloadType::CP, false, std::move(cp)});
}

void handle_config_reply(const Ctx& ctx, sa::IkeSa& sa,
                         const std::vector<wire::Payload>& response) {
    const auto* cp = find_cp(response, CfgType::CFG_REPLY);
    if (!cp) return;
    for (const auto& a : cp->attributes) {
        std::optional<IpAddress> addr;
        if (a.type == CfgAttribute::INTERNAL_IP4_ADDRESS) addr = IpAddress::from_bytes(a.value);
        if (a.type == CfgAttribute::INTERNAL_IP6_ADDRESS && a.value.size() == 17)
            addr = IpAddress::from_bytes(ByteView(a.value).first(16));
        if (addr) {
            sa.assigned.push_back(*addr);
            ctx.log(&sa, "peer assigned us " + addr->to_string());
        }
        if ((a.type == CfgAttribute::INTERNAL_IP4_DNS && a.value.size() == 4) ||
            (a.type == CfgAttribute::INTERNAL_IP6_DNS && a.value.size() == 16))
            ctx.log(&sa, "peer's DNS server " + IpAddress::from_bytes(a.value)->to_string());
    }
    // Our side of the CHILD_SA is the assigned address, not 0.0.0.0/0.
    if (!sa.assigned.empty() && !sa.children.empty()) {
        std::vector<policy::TrafficSelector> mine;
        for (const auto& a : sa.assigned) {
            auto n = policy::narrow_to_address(sa.children.back().local_ts, a);
            mine.insert(mine.end(), n.begin(), n.end());
        }
        sa.children.back().local_ts = mine;
    }
}

void release_virtual_ip(const Ctx& ctx, sa::IkeSa& sa) {
    if (ctx.pools)
        for (const auto& v : sa.virtual_ips)
            if (ctx.sas.let_go_virtual_ip(v)) ctx.pools->release(v.pool, v.address);
    sa.virtual_ips.clear();
}

}  // namespace postern::ike::exchange
