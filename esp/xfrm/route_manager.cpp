#include "esp/xfrm/route_manager.hpp"

#include <linux/fib_rules.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <netlink/attr.h>
#include <netlink/msg.h>
#include <sys/socket.h>

#include <cstring>
#include <vector>

namespace postern::esp::xfrm {

namespace {

Message route_message(int type, int flags, const RouteOptions& o, const Prefix& dst) {
    Message m(nlmsg_alloc_simple(type, flags));
    rtmsg r{};
    r.rtm_family = static_cast<unsigned char>(af(dst.address));
    r.rtm_dst_len = dst.length;
    r.rtm_table = o.table < 256 ? static_cast<unsigned char>(o.table) : static_cast<unsigned char>(RT_TABLE_UNSPEC);
    r.rtm_protocol = o.protocol;
    // A delete matches any scope only with RT_SCOPE_NOWHERE.
    r.rtm_scope = type == RTM_DELROUTE ? RT_SCOPE_NOWHERE : RT_SCOPE_UNIVERSE;
    r.rtm_type = RTN_UNICAST;
    nlmsg_append(m.get(), &r, sizeof r, NLMSG_ALIGNTO);
    nla_put_u32(m.get(), RTA_TABLE, o.table);
    nla_put(m.get(), RTA_DST, static_cast<int>(dst.address.size()), dst.address.bytes().data());
    return m;
}

Message rule_message(int type, int flags, const RouteOptions& o, int family) {
    Message m(nlmsg_alloc_simple(type, flags));
    fib_rule_hdr h{};
    h.family = static_cast<std::uint8_t>(family);
    h.action = FR_ACT_TO_TBL;
    h.table = o.table < 256 ? static_cast<std::uint8_t>(o.table) : static_cast<std::uint8_t>(RT_TABLE_UNSPEC);
    nlmsg_append(m.get(), &h, sizeof h, NLMSG_ALIGNTO);
    nla_put_u32(m.get(), FRA_TABLE, o.table);
    nla_put_u32(m.get(), FRA_PRIORITY, o.rule_priority);
    return m;
}

std::optional<IpAddress> attr_address(nlattr* a) {
    if (!a) return std::nullopt;
    return IpAddress::from_bytes(
        ByteView(static_cast<const std::uint8_t*>(nla_data(a)), static_cast<std::size_t>(nla_len(a))));
}

}  // namespace

tl::expected<RouteManager, std::string> RouteManager::open(RouteOptions options) {
    auto s = NetlinkSocket::open(NETLINK_ROUTE);
    if (!s) return tl::unexpected(s.error());
    return RouteManager(std::move(*s), options);
}

tl::expected<NextHop, std::string> RouteManager::lookup(const IpAddress& peer) {
    Message m(nlmsg_alloc_simple(RTM_GETROUTE, 0));
    rtmsg r{};
    r.rtm_family = static_cast<unsigned char>(af(peer));
    r.rtm_dst_len = peer.is_v4() ? 32 : 128;
    nlmsg_append(m.get(), &r, sizeof r, NLMSG_ALIGNTO);
    nla_put(m.get(), RTA_DST, static_cast<int>(peer.size()), peer.bytes().data());
    NextHop hop;
    bool found = false;
    auto res = sock_.request(m, [&](const nlmsghdr* h) {
        if (h->nlmsg_type != RTM_NEWROUTE) return;
        nlattr* tb[RTA_MAX + 1] = {};
        if (nlmsg_parse(const_cast<nlmsghdr*>(h), sizeof(rtmsg), tb, RTA_MAX, nullptr) != 0)
            return;
        if (tb[RTA_OIF]) hop.ifindex = nla_get_u32(tb[RTA_OIF]);
        hop.gateway = attr_address(tb[RTA_GATEWAY]);
        hop.source = attr_address(tb[RTA_PREFSRC]);
        found = hop.ifindex != 0;
    });
    if (!res.ok()) return tl::unexpected("route lookup for " + peer.to_string() + ": " + res.text());
    if (!found) return tl::unexpected("route lookup for " + peer.to_string() + ": no interface");
    return hop;
}

tl::expected<void, std::string> RouteManager::ensure_rule(int family) {
    bool& have = family == AF_INET ? rule_v4_ : rule_v6_;
    if (have) return {};
    Message m = rule_message(RTM_NEWRULE, NLM_F_CREATE | NLM_F_EXCL, options_, family);
    auto r = sock_.transact(m);
    if (!r.ok() && r.error != -EEXIST)
        return tl::unexpected("add rule " + std::to_string(options_.rule_priority) + ": lookup " +
                              std::to_string(options_.table) + ": " + r.text());
    have = true;
    return {};
}

tl::expected<void, std::string> RouteManager::add(const Prefix& dst, const IpAddress& peer,
                                                  const std::optional<IpAddress>& source) {
    const std::string key = dst.to_string();
    if (auto it = routes_.find(key); it != routes_.end()) {
        ++it->second.refs;
        return {};
    }
    if (auto ok = ensure_rule(af(dst.address)); !ok) return ok;
    auto hop = lookup(peer);
    const std::string what = "add route " + key + " table " + std::to_string(options_.table);
    if (!hop) return tl::unexpected(what + ": " + hop.error());
    Message m = route_message(RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL, options_, dst);
    nla_put_u32(m.get(), RTA_OIF, hop->ifindex);
    const bool same_family = dst.address.family() == peer.family();
    if (same_family && hop->gateway)
        nla_put(m.get(), RTA_GATEWAY, static_cast<int>(hop->gateway->size()),
                hop->gateway->bytes().data());
    else  // the peer is on the link (or of the other family): a device route
        static_cast<rtmsg*>(nlmsg_data(m.header()))->rtm_scope = RT_SCOPE_LINK;
    if (source && source->family() == dst.address.family())
        nla_put(m.get(), RTA_PREFSRC, static_cast<int>(source->size()), source->bytes().data());
    auto r = sock_.transact(m);
    if (!r.ok()) {
        char name[IF_NAMESIZE] = "?";
        if_indextoname(hop->ifindex, name);
        return tl::unexpected(what + " dev " + name + ": " + r.text());
    }
    routes_[key].refs = 1;
    return {};
}

tl::expected<void, std::string> RouteManager::remove(const Prefix& dst) {
    const std::string key = dst.to_string();
    auto it = routes_.find(key);
    if (it == routes_.end()) return {};
    if (--it->second.refs > 0) return {};
    routes_.erase(it);
    Message m = route_message(RTM_DELROUTE, 0, options_, dst);
    auto r = sock_.transact(m);
    if (!r.ok() && r.error != -ESRCH)
        return tl::unexpected("delete route " + key + " table " + std::to_string(options_.table) +
                              ": " + r.text());
    return {};
}

std::size_t RouteManager::sweep() {
    std::size_t n = 0;
    std::vector<Prefix> stale;
    for (int family : {AF_INET, AF_INET6}) {
        Message m(nlmsg_alloc_simple(RTM_GETROUTE, NLM_F_DUMP));
        rtmsg r{};
        r.rtm_family = static_cast<unsigned char>(family);
        nlmsg_append(m.get(), &r, sizeof r, NLMSG_ALIGNTO);
        sock_.request(m, [&](const nlmsghdr* h) {
            if (h->nlmsg_type != RTM_NEWROUTE) return;
            const auto* rt = static_cast<const rtmsg*>(NLMSG_DATA(h));
            nlattr* tb[RTA_MAX + 1] = {};
            if (nlmsg_parse(const_cast<nlmsghdr*>(h), sizeof(rtmsg), tb, RTA_MAX, nullptr) != 0)
                return;
            const std::uint32_t table = tb[RTA_TABLE] ? nla_get_u32(tb[RTA_TABLE]) : rt->rtm_table;
            if (table != options_.table || rt->rtm_protocol != options_.protocol) return;
            auto dst = attr_address(tb[RTA_DST]);
            if (!dst) return;
            stale.push_back({*dst, rt->rtm_dst_len});
        });
    }
    for (const auto& p : stale) {
        Message m = route_message(RTM_DELROUTE, 0, options_, p);
        if (sock_.transact(m).ok()) ++n;
    }
    routes_.clear();
    for (int family : {AF_INET, AF_INET6}) {
        // Every copy of Postern's rule (a crash may have left one per start).
        for (int i = 0; i < 16; ++i) {
            Message m = rule_message(RTM_DELRULE, 0, options_, family);
            if (!sock_.transact(m).ok()) break;
            ++n;
        }
    }
    rule_v4_ = rule_v6_ = false;
    return n;
}

}  // namespace postern::esp::xfrm
