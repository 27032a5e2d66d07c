// Routes for the kernel data plane. With XFRM, a packet for a client's virtual IP (or a remote
// subnet) must first be routable at all: the out policy is looked up after the route. Like
// strongSwan's kernel-netlink (its table 220), Postern puts one route per remote prefix into a
// table of its own, towards the peer's next hop (the interface and gateway the kernel uses to
// reach the peer's outer address), with the local outer address as the preferred source when it
// is inside the local traffic selectors; one rule per family sends every lookup through that
// table before the main one:
//
//   ip rule:   4500: from all lookup 4500
//   table 4500: 10.99.0.1 via 192.0.2.2 dev veth0 proto 80 src 192.0.2.1
//
// Postern's routes carry protocol 80 (RTPROT number of its own), so the start-up and shutdown
// sweeps remove only those, and only from Postern's table. Routes are counted: two SAs towards
// the same prefix (a rekey, a reconnect) share one.
//
// Not thread-safe (the IKE thread owns it).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include <tl/expected.hpp>

#include "esp/xfrm/netlink_socket.hpp"
#include "esp/xfrm/selectors.hpp"

namespace postern::esp::xfrm {

struct RouteOptions {
    std::uint32_t table = 4500;
    std::uint32_t rule_priority = 4500;
    std::uint8_t protocol = 80;
};

// The kernel's way to `peer`: interface, gateway (unset on a directly connected network).
struct NextHop {
    unsigned ifindex = 0;
    std::optional<IpAddress> gateway;
    std::optional<IpAddress> source;
};

class RouteManager {
  public:
    static tl::expected<RouteManager, std::string> open(RouteOptions options = {});

    // Routes `dst` towards `peer` (taking a reference when it is routed already). The error
    // names the operation and the route ("add route 10.99.0.1/32 table 4500: ...").
    tl::expected<void, std::string> add(const Prefix& dst, const IpAddress& peer,
                                        const std::optional<IpAddress>& source);
    // Drops one reference; the route goes with the last one.
    tl::expected<void, std::string> remove(const Prefix& dst);

    tl::expected<NextHop, std::string> lookup(const IpAddress& peer);

    // Deletes every route of Postern's protocol in Postern's table and Postern's rules (the
    // start-up sweep after a crash, and the last step of a shutdown). Returns how many went.
    std::size_t sweep();
    std::size_t routes() const { return routes_.size(); }
    const RouteOptions& options() const { return options_; }

  private:
    RouteManager(NetlinkSocket sock, RouteOptions o) : sock_(std::move(sock)), options_(o) {}
    tl::expected<void, std::string> ensure_rule(int family);

    struct Installed {
        int refs = 0;
    };
    NetlinkSocket sock_;
    RouteOptions options_;
    std::map<std::string, Installed> routes_;  // by Prefix::to_string()
    bool rule_v4_ = false, rule_v6_ = false;
};

}  // namespace postern::esp::xfrm
