#include "daemon/tun_setup.hpp"

#include <algorithm>
#include <set>

#include "daemon/logging.hpp"
#include "esp/engine/worker.hpp"

namespace postern::daemon {

namespace {

void add_unique(std::vector<esp::IpPrefix>& list, const esp::IpPrefix& p) {
    if (std::find(list.begin(), list.end(), p) == list.end()) list.push_back(p);
}

}  // namespace

bool needs_forwarding(const Config& c, IpAddress::Family family) {
    const bool v4 = family == IpAddress::Family::V4;
    for (const auto& conn : c.connections) {
        for (const auto& ts : conn.local_ts)
            if (auto p = esp::IpPrefix::parse(ts); p && p->address.is_v4() == v4) return true;
        if (!conn.client_to_client) continue;
        for (const auto& name : conn.pools)
            for (const auto& pool : c.pools)
                if (pool.name == name && !(v4 ? pool.ipv4 : pool.ipv6).empty()) return true;
    }
    return false;
}

std::optional<IpAddress> pool_gateway_address(const std::string& cidr) {
    auto p = esp::IpPrefix::parse(cidr);
    if (!p || cidr.find('/') == std::string::npos) return std::nullopt;
    const unsigned bits = p->address.is_v4() ? 32 : 128;
    if (p->length >= bits) return std::nullopt;
    IpAddress a = p->address;
    std::uint8_t* b = a.data();
    for (unsigned i = p->length; i < bits; ++i)
        b[i / 8] |= static_cast<std::uint8_t>(0x80u >> (i % 8));
    // IPv4: below the broadcast address, except for /31 (RFC 3021: both addresses usable).
    // IPv6 has no broadcast: the all-ones host is usable.
    if (p->address.is_v4() && p->length <= 30) b[3] &= 0xfe;
    return a;
}

TunPlan plan_tun(const Config& c) {
    TunPlan plan;
    // Every pool, not only those a connection names: an authorizer (a Lua script) may hand out
    // any pool of the file.
    for (const auto& pool : c.pools) {
        for (const auto& cidr : {pool.ipv4, pool.ipv6}) {
            if (cidr.empty()) continue;
            auto prefix = esp::IpPrefix::parse(cidr);
            if (!prefix) continue;
            if (auto gw = pool_gateway_address(cidr))
                add_unique(plan.addresses,
                           esp::IpPrefix{*gw, static_cast<std::uint8_t>(gw->is_v4() ? 32 : 128)});
            add_unique(plan.routes, prefix->network());
        }
    }
    for (const auto& conn : c.connections)
        for (const auto& ts : conn.remote_ts) {
            auto prefix = esp::IpPrefix::parse(ts);
            if (!prefix || prefix->length == 0) continue;
            add_unique(plan.routes, prefix->network());
        }
    return plan;
}

tl::expected<esp::TunDevice, std::string> create_tun(const Config& c, unsigned queues) {
    esp::TunOptions options;
    options.name = "postern%d";
    options.queues = queues;
    // The virtio-net header and the offloads (checksum, TSO, USO): the workers segment what
    // the kernel hands over (esp/engine/packet_path.hpp). POSTERN_OFFLOADS=0 turns them off.
    options.vnet_hdr = esp::default_offloads();
    auto dev = esp::TunDevice::create(options);
    if (!dev) return tl::unexpected("cannot create the TUN device: " + dev.error());
    auto nl = esp::NetlinkConfig::open();
    if (!nl) return tl::unexpected("cannot configure " + dev->name() + ": " + nl.error());
    const std::string& name = dev->name();
    if (auto ok = nl->set_mtu(name, kTunMtu); !ok) return tl::unexpected(ok.error());
    const TunPlan plan = plan_tun(c);
    for (const auto& a : plan.addresses)
        if (auto ok = nl->add_address(name, a); !ok) return tl::unexpected(ok.error());
    if (auto ok = nl->set_up(name); !ok) return tl::unexpected(ok.error());
    auto& log = logger(Subsystem::Dp);
    for (const auto& r : plan.routes) {
        if (auto ok = nl->add_route(name, esp::RouteSpec{r, {}, {}}); !ok) {
            // The kernel already routes it (an address's prefix route, or another interface):
            // worth a line, not worth refusing to start.
            log.warn("{}; the route is left as it is", ok.error());
            continue;
        }
        log.info("route {} dev {}", r.to_string(), name);
    }
    std::string addrs;
    for (const auto& a : plan.addresses)
        addrs += (addrs.empty() ? "" : ", ") + a.to_string();
    log.info("TUN device {} up, MTU {}, addresses {}", name, kTunMtu,
             addrs.empty() ? "none" : addrs);
    enable_forwarding(c);
    return std::move(*dev);
}

void enable_forwarding(const Config& c) {
    auto& log = logger(Subsystem::Dp);
    // Forwarding, per family, only when a connection needs it: it exports networks of that
    // family (local_ts), or lets its clients reach each other (client_to_client) in a pool of
    // that family. Clients that only talk to the gateway need none, and a host's switch is not
    // flipped without a reason (docs/forwarding.md: IPv6 forwarding changes how the uplink
    // treats router advertisements).
    for (auto family : {IpAddress::Family::V4, IpAddress::Family::V6}) {
        const bool v4 = family == IpAddress::Family::V4;
        if (!needs_forwarding(c, family)) continue;
        auto on = esp::forwarding(family);
        if (!on || *on) continue;
        if (auto ok = esp::set_forwarding(family, true); !ok)
            log.warn("cannot turn {} forwarding on: {}", v4 ? "IPv4" : "IPv6", ok.error());
        else if (v4)
            log.info("IPv4 forwarding turned on (net.ipv4.ip_forward = 1)");
        else
            log.info(
                "IPv6 forwarding turned on (net.ipv6.conf.all.forwarding = 1); an uplink "
                "configured by router advertisements needs accept_ra = 2 from now on");
    }
}

}  // namespace postern::daemon
