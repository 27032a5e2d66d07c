// The TUN side of posternd's userspace data plane: which addresses and routes the TUN device
// gets (derived from postern.toml), and creating and configuring it over rtnetlink.
//
//   address  for every pool a connection uses, the pool's last usable address as a host
//            address (/32, /128): 10.99.0.254 for 10.99.0.0/24, fd00:99::ffff for
//            fd00:99::/112. The pools never hand these out (daemon/address_pools.cpp).
//   routes   every such pool's prefix, and every connection's remote_ts subnet (site to site),
//            through the TUN device. 0.0.0.0/0 and ::/0 are skipped: they would take the
//            gateway's own default route into the tunnel.
//   MTU      1400.
//   forwarding on, per family (net.ipv4.ip_forward, net.ipv6.conf.all.forwarding), when a
//   connection exports subnets of that family (local_ts) or lets its clients reach each
//   other (client_to_client) in a pool of that family; never turned off (docs/forwarding.md).
#pragma once

#include <string>
#include <vector>

#include <tl/expected.hpp>

#include "daemon/config.hpp"
#include "esp/engine/netlink_config.hpp"
#include "esp/engine/tun_device.hpp"

namespace postern::daemon {

inline constexpr unsigned kTunMtu = 1400;

struct TunPlan {
    std::vector<esp::IpPrefix> addresses;  // host addresses of the gateway on the TUN link
    std::vector<esp::IpPrefix> routes;     // destinations routed through the TUN device
};

// What create_tun() configures for `c` (pure, for tests and for reserving the addresses).
TunPlan plan_tun(const Config& c);

// The gateway's address in one pool's prefix ("10.99.0.0/24" -> 10.99.0.254); nullopt for
// prefixes too small to spare one (/32, /128) or text that is no prefix.
std::optional<IpAddress> pool_gateway_address(const std::string& cidr);

// Whether create_tun() turns forwarding on for `family` (see above).
bool needs_forwarding(const Config& c, IpAddress::Family family);
// Turns forwarding on for each family that needs_forwarding() (create_tun() does; so does the
// kernel data plane); logs what it changed and what it could not.
void enable_forwarding(const Config& c);

// Creates "postern%d" with `queues` queues (one per data-plane worker; IFF_MULTI_QUEUE when
// more than one; no virtio-net header), sets MTU, addresses and link up, adds
// the routes and turns forwarding on where needed. A route that exists already is logged and skipped;
// anything else that fails is the error (naming the step), and the device is gone again.
tl::expected<esp::TunDevice, std::string> create_tun(const Config& c, unsigned queues = 1);

}  // namespace postern::daemon
