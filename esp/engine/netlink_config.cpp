#include "esp/engine/netlink_config.hpp"

#include <fcntl.h>
#include <linux/if.h>
#include <linux/rtnetlink.h>
#include <netlink/errno.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/route.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <utility>

namespace postern::esp {

namespace {

// Owning handles for libnl objects, so every early return frees what it holds.
struct AddrPut {
    void operator()(nl_addr* a) const { nl_addr_put(a); }
};
struct LinkPut {
    void operator()(rtnl_link* l) const { rtnl_link_put(l); }
};
struct RtAddrPut {
    void operator()(rtnl_addr* a) const { rtnl_addr_put(a); }
};
struct RoutePut {
    void operator()(rtnl_route* r) const { rtnl_route_put(r); }
};
struct CachePut {
    void operator()(nl_cache* c) const { nl_cache_free(c); }
};
struct CbPut {
    void operator()(nl_cb* c) const { nl_cb_put(c); }
};
using AddrPtr = std::unique_ptr<nl_addr, AddrPut>;
using LinkPtr = std::unique_ptr<rtnl_link, LinkPut>;
using RtAddrPtr = std::unique_ptr<rtnl_addr, RtAddrPut>;
using RoutePtr = std::unique_ptr<rtnl_route, RoutePut>;
using CachePtr = std::unique_ptr<nl_cache, CachePut>;
using CbPtr = std::unique_ptr<nl_cb, CbPut>;

int af(IpAddress::Family f) {
    return f == IpAddress::Family::V4 ? AF_INET : AF_INET6;
}
int af(const IpAddress& a) {
    return af(a.family());
}

AddrPtr make_addr(const IpPrefix& p) {
    AddrPtr a(nl_addr_build(af(p.address), p.address.bytes().data(), p.address.size()));
    if (a) nl_addr_set_prefixlen(a.get(), p.length);
    return a;
}

std::optional<IpPrefix> from_nl_addr(nl_addr* a) {
    if (!a) return std::nullopt;
    auto ip = IpAddress::from_bytes(
        ByteView(static_cast<const std::uint8_t*>(nl_addr_get_binary_addr(a)), nl_addr_get_len(a)));
    if (!ip) return std::nullopt;
    return IpPrefix{*ip, static_cast<std::uint8_t>(nl_addr_get_prefixlen(a))};
}

std::string nl_text(int nl_error) {
    return nl_geterror(nl_error);
}

std::string route_text(const std::string& ifname, const RouteSpec& r) {
    std::string s = r.destination.network().to_string() + " dev " + ifname;
    if (r.table) s += " table " + std::to_string(*r.table);
    if (r.metric) s += " metric " + std::to_string(*r.metric);
    return s;
}

// How the kernel's acknowledgement of one request ended: the raw errno it sent, so errors read
// "File exists" as from `ip`, not libnl's own wording of the same code.
struct AckState {
    bool done = false;
    int error = 0;  // 0 or -errno
};

int on_error(sockaddr_nl*, nlmsgerr* e, void* arg) {
    auto* s = static_cast<AckState*>(arg);
    s->done = true;
    s->error = e->error;
    return NL_STOP;
}

int on_ack(nl_msg*, void* arg) {
    static_cast<AckState*>(arg)->done = true;
    return NL_STOP;
}

const char* forwarding_path(IpAddress::Family family) {
    return family == IpAddress::Family::V4 ? "/proc/sys/net/ipv4/ip_forward"
                                           : "/proc/sys/net/ipv6/conf/all/forwarding";
}

}  // namespace

// ---- IpPrefix -------------------------------------------------------------------------------

std::optional<IpPrefix> IpPrefix::parse(std::string_view text) {
    auto slash = text.find('/');
    auto ip = IpAddress::parse(text.substr(0, slash));
    if (!ip) return std::nullopt;
    unsigned max = ip->is_v4() ? 32 : 128;
    unsigned length = max;
    if (slash != std::string_view::npos) {
        auto digits = text.substr(slash + 1);
        auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), length);
        if (digits.empty() || ec != std::errc{} || end != digits.data() + digits.size() ||
            length > max)
            return std::nullopt;
    }
    return IpPrefix{*ip, static_cast<std::uint8_t>(length)};
}

std::string IpPrefix::to_string() const {
    return address.to_string() + "/" + std::to_string(length);
}

IpPrefix IpPrefix::network() const {
    std::array<std::uint8_t, 16> b{};
    auto src = address.bytes();
    for (std::size_t i = 0; i < src.size(); ++i) {
        unsigned first_bit = static_cast<unsigned>(i) * 8;
        std::uint8_t mask = length >= first_bit + 8 ? 0xff
                            : length <= first_bit
                                ? 0
                                : static_cast<std::uint8_t>(0xff << (8 - (length - first_bit)));
        b[i] = src[i] & mask;
    }
    return IpPrefix{*IpAddress::from_bytes(ByteView(b.data(), src.size())), length};
}

// ---- NetlinkConfig ----------------------------------------------------------------------------

tl::expected<NetlinkConfig, std::string> NetlinkConfig::open() {
    nl_sock* sock = nl_socket_alloc();
    if (!sock) return tl::unexpected(std::string("netlink: cannot allocate a socket"));
    if (int err = nl_connect(sock, NETLINK_ROUTE); err < 0) {
        nl_socket_free(sock);
        return tl::unexpected("netlink: connect NETLINK_ROUTE: " + nl_text(err));
    }
    // The control plane may fork helpers; they must not inherit the socket.
    ::fcntl(nl_socket_get_fd(sock), F_SETFD, FD_CLOEXEC);
    return NetlinkConfig(sock);
}

NetlinkConfig::NetlinkConfig(NetlinkConfig&& other) noexcept
    : sock_(std::exchange(other.sock_, nullptr)) {}

NetlinkConfig& NetlinkConfig::operator=(NetlinkConfig&& other) noexcept {
    if (this != &other) {
        if (sock_) nl_socket_free(sock_);
        sock_ = std::exchange(other.sock_, nullptr);
    }
    return *this;
}

NetlinkConfig::~NetlinkConfig() {
    if (sock_) nl_socket_free(sock_);  // closes the fd too
}

tl::expected<void, std::string> NetlinkConfig::transact(nl_msg* msg) {
    AckState state;
    nl_cb* socket_cb = nl_socket_get_cb(sock_);  // takes a reference
    CbPtr cb(nl_cb_clone(socket_cb));
    nl_cb_put(socket_cb);
    if (!cb) {
        nlmsg_free(msg);
        return tl::unexpected(std::string(std::strerror(ENOMEM)));
    }
    nl_cb_err(cb.get(), NL_CB_CUSTOM, on_error, &state);
    nl_cb_set(cb.get(), NL_CB_ACK, NL_CB_CUSTOM, on_ack, &state);
    int sent = nl_send_auto(sock_, msg);  // adds NLM_F_ACK: the socket has auto-ack on
    nlmsg_free(msg);
    if (sent < 0) return tl::unexpected("send: " + nl_text(sent));
    while (!state.done) {
        int rc = nl_recvmsgs(sock_, cb.get());
        if (rc < 0 && !state.done) return tl::unexpected("receive: " + nl_text(rc));
    }
    if (state.error < 0) return tl::unexpected(std::string(std::strerror(-state.error)));
    return {};
}

tl::expected<unsigned, std::string> NetlinkConfig::ifindex(const std::string& ifname,
                                                           const std::string& operation) {
    rtnl_link* raw = nullptr;
    int err = rtnl_link_get_kernel(sock_, 0, ifname.c_str(), &raw);
    LinkPtr link(raw);
    if (err < 0 || !link) return tl::unexpected(operation + ": " + nl_text(err ? err : NLE_NODEV));
    return static_cast<unsigned>(rtnl_link_get_ifindex(link.get()));
}

tl::expected<LinkState, std::string> NetlinkConfig::link(const std::string& ifname) {
    rtnl_link* raw = nullptr;
    int err = rtnl_link_get_kernel(sock_, 0, ifname.c_str(), &raw);
    LinkPtr link(raw);
    if (err < 0 || !link)
        return tl::unexpected("show link " + ifname + ": " + nl_text(err ? err : NLE_NODEV));
    LinkState s;
    s.ifindex = static_cast<unsigned>(rtnl_link_get_ifindex(link.get()));
    s.name = rtnl_link_get_name(link.get());
    s.mtu = rtnl_link_get_mtu(link.get());
    s.up = rtnl_link_get_flags(link.get()) & IFF_UP;
    return s;
}

tl::expected<void, std::string> NetlinkConfig::change_link(const std::string& ifname,
                                                           const std::string& operation, int mtu,
                                                           int up) {
    rtnl_link* raw = nullptr;
    int err = rtnl_link_get_kernel(sock_, 0, ifname.c_str(), &raw);
    LinkPtr orig(raw);
    if (err < 0 || !orig) return tl::unexpected(operation + ": " + nl_text(err ? err : NLE_NODEV));
    LinkPtr change(rtnl_link_alloc());
    if (!change) return tl::unexpected(operation + ": " + std::strerror(ENOMEM));
    if (mtu >= 0) rtnl_link_set_mtu(change.get(), static_cast<unsigned>(mtu));
    if (up == 1) rtnl_link_set_flags(change.get(), IFF_UP);
    if (up == 0) rtnl_link_unset_flags(change.get(), IFF_UP);
    nl_msg* msg = nullptr;
    if (int e = rtnl_link_build_change_request(orig.get(), change.get(), 0, &msg); e < 0)
        return tl::unexpected(operation + ": " + nl_text(e));
    if (auto r = transact(msg); !r) return tl::unexpected(operation + ": " + r.error());
    return {};
}

tl::expected<void, std::string> NetlinkConfig::set_up(const std::string& ifname, bool up) {
    return change_link(ifname, "set link " + ifname + (up ? " up" : " down"), -1, up ? 1 : 0);
}

tl::expected<void, std::string> NetlinkConfig::set_mtu(const std::string& ifname, unsigned mtu) {
    return change_link(ifname, "set link " + ifname + " mtu " + std::to_string(mtu),
                       static_cast<int>(mtu), -1);
}

tl::expected<void, std::string> NetlinkConfig::address_request(int type, const std::string& ifname,
                                                               const IpPrefix& address) {
    std::string operation = std::string(type == RTM_NEWADDR ? "add" : "delete") + " address " +
                            address.to_string() + " dev " + ifname;
    auto index = ifindex(ifname, operation);
    if (!index) return tl::unexpected(index.error());
    RtAddrPtr addr(rtnl_addr_alloc());
    AddrPtr local = make_addr(address);
    if (!addr || !local) return tl::unexpected(operation + ": " + std::strerror(ENOMEM));
    rtnl_addr_set_ifindex(addr.get(), static_cast<int>(*index));
    rtnl_addr_set_family(addr.get(), af(address.address));
    rtnl_addr_set_local(addr.get(), local.get());  // takes its own reference
    rtnl_addr_set_prefixlen(addr.get(), address.length);
    if (address.address.is_v6()) rtnl_addr_set_flags(addr.get(), IFA_F_NODAD);
    nl_msg* msg = nullptr;
    int e = type == RTM_NEWADDR ? rtnl_addr_build_add_request(addr.get(), NLM_F_EXCL, &msg)
                                : rtnl_addr_build_delete_request(addr.get(), 0, &msg);
    if (e < 0) return tl::unexpected(operation + ": " + nl_text(e));
    if (auto r = transact(msg); !r) return tl::unexpected(operation + ": " + r.error());
    return {};
}

tl::expected<void, std::string> NetlinkConfig::add_address(const std::string& ifname,
                                                           const IpPrefix& address) {
    return address_request(RTM_NEWADDR, ifname, address);
}

tl::expected<void, std::string> NetlinkConfig::delete_address(const std::string& ifname,
                                                              const IpPrefix& address) {
    return address_request(RTM_DELADDR, ifname, address);
}

tl::expected<std::vector<IpPrefix>, std::string> NetlinkConfig::addresses(
    const std::string& ifname) {
    std::string operation = "show addresses dev " + ifname;
    auto index = ifindex(ifname, operation);
    if (!index) return tl::unexpected(index.error());
    nl_cache* raw = nullptr;
    if (int e = rtnl_addr_alloc_cache(sock_, &raw); e < 0)
        return tl::unexpected(operation + ": " + nl_text(e));
    CachePtr cache(raw);
    std::vector<IpPrefix> out;
    for (nl_object* o = nl_cache_get_first(cache.get()); o; o = nl_cache_get_next(o)) {
        auto* a = reinterpret_cast<rtnl_addr*>(o);
        if (static_cast<unsigned>(rtnl_addr_get_ifindex(a)) != *index) continue;
        if (auto p = from_nl_addr(rtnl_addr_get_local(a))) {
            p->length = static_cast<std::uint8_t>(rtnl_addr_get_prefixlen(a));
            out.push_back(*p);
        }
    }
    return out;
}

tl::expected<void, std::string> NetlinkConfig::route_request(int type, const std::string& ifname,
                                                             const RouteSpec& spec) {
    std::string operation =
        std::string(type == RTM_NEWROUTE ? "add" : "delete") + " route " + route_text(ifname, spec);
    auto index = ifindex(ifname, operation);
    if (!index) return tl::unexpected(index.error());
    RoutePtr route(rtnl_route_alloc());
    // The kernel refuses a destination with host bits set ("Invalid argument"); a pool given as
    // its gateway address "10.99.0.1/24" means the subnet.
    AddrPtr dst = make_addr(spec.destination.network());
    rtnl_nexthop* nh = rtnl_route_nh_alloc();
    if (!route || !dst || !nh) {
        if (nh) rtnl_route_nh_free(nh);
        return tl::unexpected(operation + ": " + std::strerror(ENOMEM));
    }
    rtnl_route_set_family(route.get(), static_cast<std::uint8_t>(af(spec.destination.address)));
    rtnl_route_set_dst(route.get(), dst.get());  // takes its own reference
    rtnl_route_set_table(route.get(), spec.table.value_or(RT_TABLE_MAIN));
    rtnl_route_set_type(route.get(), RTN_UNICAST);
    rtnl_route_set_protocol(route.get(), RTPROT_STATIC);
    // No gateway on a point-to-point link: the destination is reached through the device.
    rtnl_route_set_scope(route.get(), RT_SCOPE_LINK);
    if (spec.metric) rtnl_route_set_priority(route.get(), *spec.metric);
    rtnl_route_nh_set_ifindex(nh, static_cast<int>(*index));
    rtnl_route_add_nexthop(route.get(), nh);  // the route owns nh now
    nl_msg* msg = nullptr;
    int e = type == RTM_NEWROUTE ? rtnl_route_build_add_request(route.get(), NLM_F_EXCL, &msg)
                                 : rtnl_route_build_del_request(route.get(), 0, &msg);
    if (e < 0) return tl::unexpected(operation + ": " + nl_text(e));
    if (auto r = transact(msg); !r) return tl::unexpected(operation + ": " + r.error());
    return {};
}

tl::expected<void, std::string> NetlinkConfig::add_route(const std::string& ifname,
                                                         const RouteSpec& route) {
    return route_request(RTM_NEWROUTE, ifname, route);
}

tl::expected<void, std::string> NetlinkConfig::delete_route(const std::string& ifname,
                                                            const RouteSpec& route) {
    return route_request(RTM_DELROUTE, ifname, route);
}

tl::expected<std::vector<RouteEntry>, std::string> NetlinkConfig::routes(const std::string& ifname,
                                                                         IpAddress::Family family) {
    std::string operation = std::string("show routes ") +
                            (family == IpAddress::Family::V4 ? "-4" : "-6") + " dev " + ifname;
    auto index = ifindex(ifname, operation);
    if (!index) return tl::unexpected(index.error());
    nl_cache* raw = nullptr;
    if (int e = rtnl_route_alloc_cache(sock_, af(family), 0, &raw); e < 0)
        return tl::unexpected(operation + ": " + nl_text(e));
    CachePtr cache(raw);
    std::vector<RouteEntry> out;
    for (nl_object* o = nl_cache_get_first(cache.get()); o; o = nl_cache_get_next(o)) {
        auto* r = reinterpret_cast<rtnl_route*>(o);
        if (rtnl_route_get_nnexthops(r) < 1) continue;
        rtnl_nexthop* nh = rtnl_route_nexthop_n(r, 0);
        if (static_cast<unsigned>(rtnl_route_nh_get_ifindex(nh)) != *index) continue;
        auto dst = from_nl_addr(rtnl_route_get_dst(r));
        if (!dst) continue;
        RouteEntry entry;
        entry.destination = *dst;
        entry.ifindex = *index;
        entry.metric = rtnl_route_get_priority(r);
        entry.table = rtnl_route_get_table(r);
        entry.protocol = rtnl_route_get_protocol(r);
        out.push_back(entry);
    }
    return out;
}

// ---- forwarding --------------------------------------------------------------------------------

tl::expected<void, std::string> set_forwarding(IpAddress::Family family, bool enabled) {
    const char* path = forwarding_path(family);
    std::string operation = std::string("set ") + path + " = " + (enabled ? "1" : "0");
    int fd = ::open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) return tl::unexpected(operation + ": " + std::strerror(errno));
    ssize_t n = ::write(fd, enabled ? "1\n" : "0\n", 2);
    int err = errno;
    ::close(fd);
    if (n != 2) return tl::unexpected(operation + ": " + std::strerror(n < 0 ? err : EIO));
    return {};
}

tl::expected<bool, std::string> forwarding(IpAddress::Family family) {
    const char* path = forwarding_path(family);
    int fd = ::open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return tl::unexpected(std::string("read ") + path + ": " + std::strerror(errno));
    char c = 0;
    ssize_t n = ::read(fd, &c, 1);
    int err = errno;
    ::close(fd);
    if (n != 1) return tl::unexpected(std::string("read ") + path + ": " + std::strerror(err));
    return c != '0';
}

}  // namespace postern::esp
