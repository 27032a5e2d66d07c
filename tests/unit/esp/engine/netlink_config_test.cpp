// NetlinkConfig against the real kernel, on a TUN device in a fresh network namespace (a forked
// child: namespaces are per thread, and the host's network is never touched). The child reports
// failed checks through a pipe; the parent turns them into Boost.Test errors. Without root or
// /dev/net/tun the cases are skipped with a message saying so.
#include <fcntl.h>
#include <linux/rtnetlink.h>
#include <sched.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <boost/test/unit_test.hpp>
#include <cstring>
#include <functional>
#include <iostream>
#include <string>

#include "esp/engine/netlink_config.hpp"
#include "esp/engine/tun_device.hpp"
#include "netns.hpp"

namespace {

using namespace postern;
using namespace postern::esp;
using postern::test::needs_root_and_tun;
using postern::test::Report;
using postern::test::run_in_netns;

IpPrefix prefix(const char* text) {
    return *IpPrefix::parse(text);
}

template <typename T>
std::string error_of(const tl::expected<T, std::string>& e) {
    return e ? std::string("succeeded") : e.error();
}

// A TUN device and a netlink socket in the child's namespace, the device up.
struct Fixture {
    TunDevice dev;
    std::optional<NetlinkConfig> nl;
    bool ok = false;

    explicit Fixture(const Report& r) {
        auto d = TunDevice::create({});
        if (!NS_CHECK(r, d.has_value(), error_of(d))) return;
        dev = std::move(*d);
        auto n = NetlinkConfig::open();
        if (!NS_CHECK(r, n.has_value(), error_of(n))) return;
        nl.emplace(std::move(*n));
        auto up = nl->set_up(dev.name());
        ok = NS_CHECK(r, up.has_value(), error_of(up));
    }
};

bool has_route(const std::vector<RouteEntry>& routes, const char* dst, std::uint32_t table,
               std::uint32_t metric) {
    auto want = prefix(dst);
    return std::any_of(routes.begin(), routes.end(), [&](const RouteEntry& e) {
        return e.destination == want && e.table == table && e.metric == metric;
    });
}

bool has_destination(const std::vector<RouteEntry>& routes, const char* dst) {
    auto want = prefix(dst);
    return std::any_of(routes.begin(), routes.end(),
                       [&](const RouteEntry& e) { return e.destination == want; });
}

}  // namespace

BOOST_AUTO_TEST_SUITE(netlink_prefix)

BOOST_AUTO_TEST_CASE(parse_print_and_network) {
    BOOST_TEST(prefix("10.99.0.1/24").to_string() == "10.99.0.1/24");
    BOOST_TEST(prefix("10.99.0.1/24").network().to_string() == "10.99.0.0/24");
    BOOST_TEST(prefix("10.99.0.1").to_string() == "10.99.0.1/32");
    BOOST_TEST(prefix("fd00:99::1/64").network().to_string() == "fd00:99::/64");
    BOOST_TEST(prefix("fd00:99::1").length == 128);
    BOOST_TEST(prefix("172.31.255.255/12").network().to_string() == "172.16.0.0/12");
    BOOST_TEST(prefix("2001:db8:ffff::/33").network().to_string() == "2001:db8:8000::/33");
    BOOST_TEST(prefix("1.2.3.4/0").network().to_string() == "0.0.0.0/0");
    BOOST_TEST(!IpPrefix::parse("10.0.0.0/33"));
    BOOST_TEST(!IpPrefix::parse("fd00::/129"));
    BOOST_TEST(!IpPrefix::parse("10.0.0.0/"));
    BOOST_TEST(!IpPrefix::parse("10.0.0.0/2x"));
    BOOST_TEST(!IpPrefix::parse("10.0.0/24"));
    BOOST_TEST(!IpPrefix::parse(""));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(netlink_config, *boost::unit_test::precondition(needs_root_and_tun))

BOOST_AUTO_TEST_CASE(link_mtu_and_up) {
    run_in_netns([](const Report& r) {
        auto dev = TunDevice::create({});
        if (!NS_CHECK(r, dev.has_value(), error_of(dev))) return;
        auto nl = NetlinkConfig::open();
        if (!NS_CHECK(r, nl.has_value(), error_of(nl))) return;
        auto before = nl->link(dev->name());
        if (!NS_CHECK(r, before.has_value(), error_of(before))) return;
        NS_CHECK(r, !before->up && before->ifindex == dev->ifindex(), "fresh device state");
        NS_CHECK(r, before->name == dev->name(), "link name " + before->name);

        NS_CHECK(r, nl->set_mtu(dev->name(), 1400), "set mtu");
        NS_CHECK(r, nl->set_up(dev->name()), "set up");
        auto after = nl->link(dev->name());
        NS_CHECK(r, after && after->mtu == 1400 && after->up,
                 after ? "mtu " + std::to_string(after->mtu) : after.error());
        NS_CHECK(r, nl->set_up(dev->name(), false), "set down");
        auto down = nl->link(dev->name());
        NS_CHECK(r, down && !down->up, "still up");

        // Errors name the operation and the object.
        auto mtu = nl->set_mtu("nosuch0", 1400);
        NS_CHECK(r, !mtu && mtu.error().rfind("set link nosuch0 mtu 1400: ", 0) == 0,
                 error_of(mtu));
        auto tiny = nl->set_mtu(dev->name(), 20);  // below IPv4's minimum of 68
        NS_CHECK(r, !tiny && tiny.error() == "set link postern0 mtu 20: Invalid argument",
                 error_of(tiny));
        auto missing = nl->link("nosuch0");
        NS_CHECK(r, !missing && missing.error().rfind("show link nosuch0: ", 0) == 0,
                 error_of(missing));
    });
}

BOOST_AUTO_TEST_CASE(addresses_v4_and_v6) {
    run_in_netns([](const Report& r) {
        Fixture f(r);
        if (!f.ok) return;
        auto& nl = *f.nl;
        const std::string& dev = f.dev.name();
        NS_CHECK(r, nl.add_address(dev, prefix("10.99.0.1/24")), "add v4");
        auto v6 = nl.add_address(dev, prefix("fd00:99::1/64"));
        NS_CHECK(r, v6, error_of(v6));
        auto list = nl.addresses(dev);
        if (!NS_CHECK(r, list.has_value(), error_of(list))) return;
        auto has = [&](const char* p) {
            return std::find(list->begin(), list->end(), prefix(p)) != list->end();
        };
        NS_CHECK(r, has("10.99.0.1/24"), "10.99.0.1/24 missing");
        NS_CHECK(r, has("fd00:99::1/64"), "fd00:99::1/64 missing");

        // The kernel adds the connected routes for both.
        auto v4routes = nl.routes(dev, IpAddress::Family::V4);
        NS_CHECK(r, v4routes && has_route(*v4routes, "10.99.0.0/24", RT_TABLE_MAIN, 0),
                 "connected route 10.99.0.0/24");
        auto v6routes = nl.routes(dev, IpAddress::Family::V6);
        NS_CHECK(r, v6routes && has_destination(*v6routes, "fd00:99::/64"),
                 "connected route fd00:99::/64");

        auto dup = nl.add_address(dev, prefix("10.99.0.1/24"));
        NS_CHECK(r, !dup && dup.error() == "add address 10.99.0.1/24 dev postern0: File exists",
                 error_of(dup));

        NS_CHECK(r, nl.delete_address(dev, prefix("10.99.0.1/24")), "delete v4");
        NS_CHECK(r, nl.delete_address(dev, prefix("fd00:99::1/64")), "delete v6");
        list = nl.addresses(dev);
        NS_CHECK(r, list && !has("10.99.0.1/24") && !has("fd00:99::1/64"), "addresses remain");
        auto gone = nl.delete_address(dev, prefix("10.99.0.1/24"));
        NS_CHECK(r,
                 !gone && gone.error().rfind("delete address 10.99.0.1/24 dev postern0: ", 0) == 0,
                 error_of(gone));
    });
}

BOOST_AUTO_TEST_CASE(routes_add_and_delete) {
    run_in_netns([](const Report& r) {
        Fixture f(r);
        if (!f.ok) return;
        auto& nl = *f.nl;
        const std::string& dev = f.dev.name();
        // A pool, a remote subnet with a metric, one in another table, and IPv6.
        const RouteSpec pool{prefix("10.98.0.0/24"), {}, {}};
        const RouteSpec remote{prefix("192.168.50.0/24"), 100, {}};
        const RouteSpec other_table{prefix("172.16.0.0/16"), 10, 100};
        const RouteSpec pool6{prefix("fd00:98::/64"), {}, {}};
        const RouteSpec remote6{prefix("2001:db8:5::/48"), 300, 200};
        for (const RouteSpec* s : {&pool, &remote, &other_table, &pool6, &remote6}) {
            auto added = nl.add_route(dev, *s);
            NS_CHECK(r, added, error_of(added));
        }
        auto v4 = nl.routes(dev, IpAddress::Family::V4);
        if (!NS_CHECK(r, v4.has_value(), error_of(v4))) return;
        NS_CHECK(r, has_route(*v4, "10.98.0.0/24", RT_TABLE_MAIN, 0), "pool route");
        NS_CHECK(r, has_route(*v4, "192.168.50.0/24", RT_TABLE_MAIN, 100), "remote route");
        NS_CHECK(r, has_route(*v4, "172.16.0.0/16", 100, 10), "table 100 route");
        for (const auto& e : *v4)
            if (e.destination == prefix("10.98.0.0/24"))
                NS_CHECK(r, e.protocol == RTPROT_STATIC && e.ifindex == f.dev.ifindex(),
                         "protocol/ifindex");
        auto v6 = nl.routes(dev, IpAddress::Family::V6);
        if (!NS_CHECK(r, v6.has_value(), error_of(v6))) return;
        NS_CHECK(r, has_destination(*v6, "fd00:98::/64"), "v6 pool route");
        NS_CHECK(r, has_route(*v6, "2001:db8:5::/48", 200, 300), "v6 route in table 200");

        // Host bits in the destination mean the subnet.
        auto host_bits = nl.add_route(dev, {prefix("10.97.0.5/24"), {}, {}});
        NS_CHECK(r, host_bits, error_of(host_bits));
        v4 = nl.routes(dev, IpAddress::Family::V4);
        NS_CHECK(r, v4 && has_destination(*v4, "10.97.0.0/24"), "10.97.0.0/24");

        for (const RouteSpec* s : {&pool, &remote, &other_table, &pool6, &remote6}) {
            auto deleted = nl.delete_route(dev, *s);
            NS_CHECK(r, deleted, error_of(deleted));
        }
        v4 = nl.routes(dev, IpAddress::Family::V4);
        v6 = nl.routes(dev, IpAddress::Family::V6);
        NS_CHECK(r,
                 v4 && !has_destination(*v4, "10.98.0.0/24") &&
                     !has_destination(*v4, "192.168.50.0/24") &&
                     !has_destination(*v4, "172.16.0.0/16"),
                 "v4 routes remain");
        NS_CHECK(
            r,
            v6 && !has_destination(*v6, "fd00:98::/64") && !has_destination(*v6, "2001:db8:5::/48"),
            "v6 routes remain");
    });
}

BOOST_AUTO_TEST_CASE(route_errors_name_the_route) {
    run_in_netns([](const Report& r) {
        Fixture f(r);
        if (!f.ok) return;
        auto& nl = *f.nl;
        const RouteSpec pool{prefix("10.99.0.0/24"), {}, {}};
        NS_CHECK(r, nl.add_route("postern0", pool), "first add");
        auto dup = nl.add_route("postern0", pool);
        NS_CHECK(r, !dup && dup.error() == "add route 10.99.0.0/24 dev postern0: File exists",
                 error_of(dup));
        auto dup6 = nl.add_route("postern0", {prefix("fd00:99::/64"), 5, 100});
        dup6 = nl.add_route("postern0", {prefix("fd00:99::/64"), 5, 100});
        NS_CHECK(r,
                 !dup6 && dup6.error() ==
                              "add route fd00:99::/64 dev postern0 table 100 metric 5: File exists",
                 error_of(dup6));
        auto absent = nl.delete_route("postern0", {prefix("10.55.0.0/16"), {}, {}});
        NS_CHECK(
            r,
            !absent && absent.error() == "delete route 10.55.0.0/16 dev postern0: No such process",
            error_of(absent));
        auto no_dev = nl.add_route("nosuch0", pool);
        NS_CHECK(r, !no_dev && no_dev.error().rfind("add route 10.99.0.0/24 dev nosuch0: ", 0) == 0,
                 error_of(no_dev));
        // IPv4 refuses a device route through a link that is down.
        NS_CHECK(r, nl.set_up("postern0", false), "down");
        auto down = nl.add_route("postern0", {prefix("10.60.0.0/16"), {}, {}});
        NS_CHECK(r, !down && down.error() == "add route 10.60.0.0/16 dev postern0: Network is down",
                 error_of(down));
    });
}

BOOST_AUTO_TEST_CASE(forwarding_switches) {
    run_in_netns([](const Report& r) {
        for (auto family : {IpAddress::Family::V4, IpAddress::Family::V6}) {
            std::string name = family == IpAddress::Family::V4 ? "IPv4" : "IPv6";
            // No check of the initial value: a new namespace inherits IPv4's from the host
            // (net.core.devconf_inherit_init_net = 0).
            auto initial = forwarding(family);
            NS_CHECK(r, initial.has_value(), error_of(initial));
            NS_CHECK(r, set_forwarding(family, true), name + " enable");
            auto on = forwarding(family);
            NS_CHECK(r, on && *on, name + " forwarding not on");
            NS_CHECK(r, set_forwarding(family, false), name + " disable");
            auto off = forwarding(family);
            NS_CHECK(r, off && !*off, name + " forwarding not off");
        }
    });
}

BOOST_AUTO_TEST_SUITE_END()
