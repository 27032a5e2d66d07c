// Configuring the TUN link over rtnetlink with libnl-route-3 (DESIGN.md: libnl, never a shell
// out to `ip`): link up and MTU, addresses, routes for address pools and remote subnets, and
// reading them back. Plus the forwarding switches in /proc/sys, which the daemon turns on when a
// connection exports networks or lets clients reach each other (see docs/forwarding.md).
//
// Every error names the operation and the object the way `ip` would print it, followed by the
// kernel's errno text: "add route 10.99.0.0/24 dev postern0: File exists".
//
// A NetlinkConfig talks to the network namespace its thread was in when open() ran. It is not
// thread-safe: one per thread, or a lock around it (the control plane owns one).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <tl/expected.hpp>

#include "postern/net.hpp"

struct nl_sock;
struct nl_msg;

namespace postern::esp {

// An address with a prefix length: "10.99.0.1/24" (an interface address) or "10.99.0.0/24" (a
// route destination).
struct IpPrefix {
    IpAddress address;
    std::uint8_t length = 0;

    // "10.0.0.0/8", "fd00::/64"; a bare address means /32 or /128. Host bits may be set.
    static std::optional<IpPrefix> parse(std::string_view text);
    std::string to_string() const;
    // The same prefix with the host bits cleared ("10.99.0.1/24" -> "10.99.0.0/24").
    IpPrefix network() const;

    bool operator==(const IpPrefix&) const = default;
};

struct LinkState {
    unsigned ifindex = 0;
    std::string name;
    unsigned mtu = 0;
    bool up = false;  // IFF_UP (administratively up)
};

// A route through a device.
struct RouteSpec {
    IpPrefix destination;  // network(): host bits are cleared before it goes to the kernel
    std::optional<std::uint32_t> metric;  // RTA_PRIORITY; the kernel's default (0) if unset
    std::optional<std::uint32_t> table;   // RT_TABLE_MAIN (254) if unset
};

// A route as read back from the kernel.
struct RouteEntry {
    IpPrefix destination;
    unsigned ifindex = 0;  // of the first next hop; 0 when it has none
    std::uint32_t metric = 0;
    std::uint32_t table = 0;
    std::uint8_t protocol = 0;  // RTPROT_*: ours are RTPROT_STATIC, the kernel's RTPROT_KERNEL
};

class NetlinkConfig {
  public:
    // Opens and connects a NETLINK_ROUTE socket.
    static tl::expected<NetlinkConfig, std::string> open();

    NetlinkConfig(NetlinkConfig&&) noexcept;
    NetlinkConfig& operator=(NetlinkConfig&&) noexcept;
    ~NetlinkConfig();

    tl::expected<LinkState, std::string> link(const std::string& ifname);
    tl::expected<void, std::string> set_up(const std::string& ifname, bool up = true);
    tl::expected<void, std::string> set_mtu(const std::string& ifname, unsigned mtu);

    // IPv6 addresses are added with IFA_F_NODAD: the TUN link has no neighbours to collide with,
    // and duplicate address detection would leave the address unusable ("tentative") for a
    // second after the link comes up.
    tl::expected<void, std::string> add_address(const std::string& ifname, const IpPrefix& address);
    tl::expected<void, std::string> delete_address(const std::string& ifname,
                                                   const IpPrefix& address);
    tl::expected<std::vector<IpPrefix>, std::string> addresses(const std::string& ifname);

    // A device route (scope link, no gateway: TUN is point-to-point), protocol static. Adding
    // an existing route fails with "File exists" (NLM_F_EXCL): a second connection exporting
    // the same subnet is a configuration conflict the caller should hear about. Deleting
    // matches on destination, device, table and metric.
    tl::expected<void, std::string> add_route(const std::string& ifname, const RouteSpec& route);
    tl::expected<void, std::string> delete_route(const std::string& ifname, const RouteSpec& route);
    // Routes whose first next hop is `ifname`, of one family, in every table (local and
    // multicast routes the kernel adds are included; filter on table/protocol as needed).
    tl::expected<std::vector<RouteEntry>, std::string> routes(const std::string& ifname,
                                                              IpAddress::Family family);

  private:
    explicit NetlinkConfig(nl_sock* sock) : sock_(sock) {}
    tl::expected<unsigned, std::string> ifindex(const std::string& ifname,
                                                const std::string& operation);
    tl::expected<void, std::string> change_link(const std::string& ifname,
                                                const std::string& operation, int mtu, int up);
    tl::expected<void, std::string> address_request(int type, const std::string& ifname,
                                                    const IpPrefix& address);
    tl::expected<void, std::string> route_request(int type, const std::string& ifname,
                                                  const RouteSpec& route);
    // Sends `msg` (taking it) and waits for the kernel's acknowledgement; the error is the
    // kernel's errno text.
    tl::expected<void, std::string> transact(nl_msg* msg);

    nl_sock* sock_ = nullptr;
};

// Forwarding between interfaces, in the calling thread's network namespace:
// /proc/sys/net/ipv4/ip_forward and /proc/sys/net/ipv6/conf/all/forwarding. Writing the IPv6
// switch also makes every interface a router (it stops accepting router advertisements unless
// accept_ra is 2), which is why the daemon, not this library, decides when to call it.
tl::expected<void, std::string> set_forwarding(IpAddress::Family family, bool enabled);
tl::expected<bool, std::string> forwarding(IpAddress::Family family);

}  // namespace postern::esp
