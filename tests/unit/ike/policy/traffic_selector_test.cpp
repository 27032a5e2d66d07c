// Traffic selectors (RFC 7296 §3.13.1) and narrowing (§2.9).
#include <boost/test/unit_test.hpp>

#include <string>
#include <vector>

#include "ike/policy/traffic_selector.hpp"
#include "ike/wire/reader.hpp"
#include "ike/wire/writer.hpp"

using namespace postern;
using namespace postern::ike;
using policy::TrafficSelector;

namespace {

TrafficSelector ts(const char* cidr, std::uint8_t proto = 0, std::uint16_t from = 0,
                   std::uint16_t to = 65535) {
    auto t = TrafficSelector::from_cidr(cidr);
    if (!t) throw std::invalid_argument(t.error());
    t->ip_protocol = proto;
    t->start_port = from;
    t->end_port = to;
    return *t;
}

TrafficSelector range(const char* a, const char* b) {
    TrafficSelector t = ts(a);
    t.start = *IpAddress::parse(a);
    t.end = *IpAddress::parse(b);
    return t;
}

std::string narrowed(std::vector<TrafficSelector> proposed,
                     std::vector<TrafficSelector> configured) {
    const auto r = policy::narrow(proposed, configured);
    return r.empty() ? "TS_UNACCEPTABLE" : policy::to_string(r);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(traffic_selector)

BOOST_AUTO_TEST_CASE(cidr_parsing_and_printing) {
    BOOST_TEST(ts("10.0.0.0/24").to_string() == "10.0.0.0/24");
    BOOST_TEST(ts("10.0.0.0/24").start.to_string() == "10.0.0.0");
    BOOST_TEST(ts("10.0.0.0/24").end.to_string() == "10.0.0.255");
    BOOST_TEST(ts("10.0.0.7").to_string() == "10.0.0.7/32");
    BOOST_TEST(ts("fd00::/64").end.to_string() == "fd00::ffff:ffff:ffff:ffff");
    BOOST_TEST(ts("fd00::/64").to_string() == "fd00::/64");
    BOOST_TEST(TrafficSelector::any_v4().to_string() == "0.0.0.0/0");
    BOOST_TEST(TrafficSelector::any_v4().end.to_string() == "255.255.255.255");
    BOOST_TEST(TrafficSelector::any_v6().to_string() == "::/0");
    BOOST_TEST(range("10.0.0.1", "10.0.0.9").to_string() == "10.0.0.1-10.0.0.9");
    // Prefixes found from the octets: boundaries inside an octet and between octets, and
    // ranges that are almost a prefix.
    BOOST_TEST(ts("10.0.0.128/25").to_string() == "10.0.0.128/25");
    BOOST_TEST(ts("10.0.0.0/23").to_string() == "10.0.0.0/23");
    BOOST_TEST(ts("10.0.0.0/8").to_string() == "10.0.0.0/8");
    BOOST_TEST(ts("128.0.0.0/1").to_string() == "128.0.0.0/1");
    BOOST_TEST(ts("fd00::/125").to_string() == "fd00::/125");
    BOOST_TEST(ts("fd00::1").to_string() == "fd00::1/128");
    BOOST_TEST(range("10.0.0.0", "10.0.0.6").to_string() == "10.0.0.0-10.0.0.6");
    BOOST_TEST(range("10.0.0.1", "10.0.0.2").to_string() == "10.0.0.1-10.0.0.2");
    BOOST_TEST(range("10.0.0.0", "10.0.1.254").to_string() == "10.0.0.0-10.0.1.254");
    BOOST_TEST(range("10.0.0.0", "10.0.2.255").to_string() == "10.0.0.0-10.0.2.255");
    BOOST_TEST(range("10.0.0.9", "10.0.0.1").to_string() == "10.0.0.9-10.0.0.1");
    BOOST_TEST(ts("10.0.0.0/24", 6, 80, 80).to_string() == "10.0.0.0/24[tcp/80]");
    BOOST_TEST(ts("10.0.0.0/24", 17).to_string() == "10.0.0.0/24[udp]");
    BOOST_TEST(ts("10.0.0.0/24", 17, 1000, 2000).to_string() == "10.0.0.0/24[udp/1000-2000]");
    BOOST_TEST(ts("10.0.0.0/24", 0, 53, 53).to_string() == "10.0.0.0/24[0/53]");
    BOOST_TEST(ts("10.0.0.0/24", 47).to_string() == "10.0.0.0/24[47]");
    BOOST_TEST(ts("10.0.0.0/24", 6, 65535, 0).to_string() == "10.0.0.0/24[tcp/OPAQUE]");

    const auto bad = [](const char* text) {
        auto r = policy::parse_cidr(text);
        return r ? std::string("ok") : r.error();
    };
    BOOST_TEST(bad("10.0.0.1/24") == "'10.0.0.1/24': host bits set (the network is 10.0.0.0/24)");
    BOOST_TEST(bad("10.0.0.0/33") == "'10.0.0.0/33': prefix length 33 > 32");
    BOOST_TEST(bad("10.0.0.0/") == "'10.0.0.0/': bad prefix length");
    BOOST_TEST(bad("10.0.0.0/x") == "'10.0.0.0/x': bad prefix length");
    BOOST_TEST(bad("vpn.example.com/24") == "'vpn.example.com/24': not an IP address");
    BOOST_TEST(bad("fd00::/129") == "'fd00::/129': prefix length 129 > 128");
    BOOST_TEST(policy::parse_cidr("fd00::/8")->prefix == 8);
}

BOOST_AUTO_TEST_CASE(narrowing_table) {
    struct Case {
        const char* what;
        std::vector<TrafficSelector> proposed, configured;
        const char* expected;
    };
    const std::vector<Case> cases = {
        {"subset", {ts("10.0.1.0/24")}, {ts("10.0.0.0/16")}, "10.0.1.0/24"},
        {"superset", {ts("0.0.0.0/0")}, {ts("10.0.0.0/16")}, "10.0.0.0/16"},
        {"equal", {ts("10.0.0.0/16")}, {ts("10.0.0.0/16")}, "10.0.0.0/16"},
        {"disjoint", {ts("192.168.0.0/24")}, {ts("10.0.0.0/16")}, "TS_UNACCEPTABLE"},
        {"partial overlap",
         {range("10.0.0.100", "10.0.1.50")},
         {ts("10.0.1.0/24")},
         "10.0.1.0-10.0.1.50"},
        {"several configured (split tunnel)",
         {ts("0.0.0.0/0")},
         {ts("10.0.0.0/8"), ts("192.168.10.0/24")},
         "10.0.0.0/8, 192.168.10.0/24"},
        {"protocol narrows any", {ts("10.0.0.0/24")}, {ts("10.0.0.0/16", 6)}, "10.0.0.0/24[tcp]"},
        {"any narrows to proposed protocol",
         {ts("10.0.0.0/24", 17, 53, 53)},
         {ts("10.0.0.0/16")},
         "10.0.0.0/24[udp/53]"},
        {"protocols differ", {ts("10.0.0.0/24", 17)}, {ts("10.0.0.0/16", 6)}, "TS_UNACCEPTABLE"},
        {"port ranges intersect",
         {ts("10.0.0.0/24", 6, 1000, 3000)},
         {ts("10.0.0.0/24", 6, 2000, 4000)},
         "10.0.0.0/24[tcp/2000-3000]"},
        {"port ranges disjoint",
         {ts("10.0.0.0/24", 6, 80, 80)},
         {ts("10.0.0.0/24", 6, 443, 443)},
         "TS_UNACCEPTABLE"},
        {"opaque meets any port",
         {ts("10.0.0.0/24", 6, 65535, 0)},
         {ts("10.0.0.0/24", 6)},
         "10.0.0.0/24[tcp/OPAQUE]"},
        {"opaque vs a port range",
         {ts("10.0.0.0/24", 6, 65535, 0)},
         {ts("10.0.0.0/24", 6, 80, 80)},
         "TS_UNACCEPTABLE"},
        {"v4 vs v6 never intersect", {ts("0.0.0.0/0")}, {ts("::/0")}, "TS_UNACCEPTABLE"},
        {"v4 and v6 each with its own",
         {ts("0.0.0.0/0"), ts("::/0")},
         {ts("fd00::/64"), ts("10.0.0.0/8")},
         "10.0.0.0/8, fd00::/64"},
        // §2.9: the first selector may be the packet that triggered the request; a wider
        // result that contains it makes it redundant.
        {"specific packet selector then range",
         {ts("10.0.0.5", 6, 80, 80), ts("10.0.0.0/8")},
         {ts("10.0.0.0/24")},
         "10.0.0.0/24"},
        {"specific packet outside the allowed range",
         {ts("10.9.0.5", 6, 80, 80), ts("10.0.0.0/8")},
         {ts("10.0.0.0/24")},
         "10.0.0.0/24"},
        {"duplicates merged",
         {ts("10.0.0.0/24"), ts("10.0.0.0/24")},
         {ts("0.0.0.0/0"), ts("10.0.0.0/16")},
         "10.0.0.0/24"},
    };
    for (const auto& c : cases) {
        BOOST_TEST_CONTEXT(c.what) {
            BOOST_TEST(narrowed(c.proposed, c.configured) == c.expected);
        }
    }
}

BOOST_AUTO_TEST_CASE(virtual_ip) {
    // Clients propose TSi 0.0.0.0/0 (and ::/0); the responder narrows to the assigned address.
    const auto vip = *IpAddress::parse("10.10.0.2");
    const std::vector<TrafficSelector> tsi = {TrafficSelector::any_v4(), TrafficSelector::any_v6()};
    auto r = policy::narrow_to_address(tsi, vip);
    BOOST_TEST(policy::to_string(r) == "10.10.0.2/32");
    BOOST_TEST(r.size() == 1u);
    BOOST_TEST((r[0].start == vip && r[0].end == vip));

    const std::vector<IpAddress> both = {vip, *IpAddress::parse("fd00:10::2")};
    BOOST_TEST(policy::to_string(policy::narrow_to_address(tsi, both)) ==
               "10.10.0.2/32, fd00:10::2/128");
    // The initiator's protocol and ports are kept.
    const std::vector<TrafficSelector> tcp = {ts("0.0.0.0/0", 6)};
    BOOST_TEST(policy::to_string(policy::narrow_to_address(tcp, vip)) == "10.10.0.2/32[tcp]");
    // A TSi that does not contain the virtual IP (the client's physical address).
    const std::vector<TrafficSelector> physical = {ts("192.0.2.10")};
    BOOST_TEST(policy::narrow_to_address(physical, vip).empty());
}

BOOST_AUTO_TEST_CASE(within_and_intersect) {
    BOOST_TEST(ts("10.0.0.0/24").within(ts("10.0.0.0/16")));
    BOOST_TEST(!ts("10.0.0.0/16").within(ts("10.0.0.0/24")));
    BOOST_TEST(ts("10.0.0.0/24", 6).within(ts("10.0.0.0/24")));
    BOOST_TEST(!ts("10.0.0.0/24").within(ts("10.0.0.0/24", 6)));
    BOOST_TEST(!policy::intersect(ts("10.0.0.0/24"), ts("::/0")).has_value());
    BOOST_TEST(policy::intersect(ts("10.0.0.0/24"), ts("10.0.0.255"))->to_string() ==
               "10.0.0.255/32");
}

BOOST_AUTO_TEST_CASE(wire_round_trip) {
    const std::vector<TrafficSelector> selectors = {ts("10.0.0.0/24"), ts("fd00::/64", 6, 443, 443),
                                                    range("192.0.2.1", "192.0.2.9"),
                                                    ts("10.1.0.0/16", 1, 0x0800, 0x08ff)};
    const wire::TsPayload payload = policy::to_wire(selectors);
    BOOST_TEST(payload.selectors[0].start_address == (Bytes{10, 0, 0, 0}));
    BOOST_TEST(payload.selectors[0].end_address == (Bytes{10, 0, 0, 255}));
    BOOST_TEST(payload.selectors[1].start_address.size() == 16u);
    BOOST_TEST((payload.selectors[1].type == TsType::TS_IPV6_ADDR_RANGE));

    Bytes buf;
    wire::Writer w(buf);
    wire::serialize_body(w, payload);
    wire::Reader r(buf);
    auto parsed = wire::parse_ts(r);
    BOOST_REQUIRE(parsed);
    auto back = policy::from_wire(*parsed);
    BOOST_REQUIRE(back);
    BOOST_TEST((*back == selectors));

    // Non-IP selector types are skipped; malformed ranges are refused with the entry number.
    wire::TsPayload mixed = payload;
    wire::TrafficSelector fc;
    fc.type = TsType::TS_FC_ADDR_RANGE;
    fc.opaque = {1, 2, 3, 4};
    mixed.selectors.insert(mixed.selectors.begin(), fc);
    BOOST_TEST(policy::from_wire(mixed)->size() == 4u);
    BOOST_TEST(!TrafficSelector::from_wire(fc));

    wire::TsPayload reversed = payload;
    std::swap(reversed.selectors[2].start_address, reversed.selectors[2].end_address);
    auto e = policy::from_wire(reversed);
    BOOST_REQUIRE(!e);
    BOOST_TEST(e.error() ==
               "TS 3: traffic selector 192.0.2.9-192.0.2.1: start address after end address");
    wire::TsPayload ports = payload;
    ports.selectors[1].start_port = 500;
    ports.selectors[1].end_port = 400;
    BOOST_TEST(!policy::from_wire(ports));
    ports.selectors[1].start_port = 65535;  // OPAQUE
    ports.selectors[1].end_port = 0;
    BOOST_TEST(policy::from_wire(ports).has_value());
}

BOOST_AUTO_TEST_CASE(subtract_cuts_holes_as_a_table) {
    // Results as "start-end" plus the protocol/port suffix of to_string() when there is one.
    auto text = [](const std::vector<TrafficSelector>& list) {
        std::string s;
        for (const auto& t : list) {
            const std::string full = t.to_string();
            const auto bracket = full.find('[');
            s += (s.empty() ? "" : ", ") + t.start.to_string() + "-" + t.end.to_string() +
                 (bracket == std::string::npos ? "" : full.substr(bracket));
        }
        return s;
    };
    struct Case {
        TrafficSelector from, removed;
        const char* expect;
    };
    const Case cases[] = {
        // A hole in the middle splits the range in two.
        {ts("10.0.0.0/8"), ts("10.99.0.0/24"), "10.0.0.0-10.98.255.255, 10.99.1.0-10.255.255.255"},
        // At either edge only one part remains; covering everything leaves nothing.
        {ts("10.99.0.0/24"), range("10.99.0.0", "10.99.0.9"), "10.99.0.10-10.99.0.255"},
        {ts("10.99.0.0/24"), range("10.99.0.250", "10.99.0.255"), "10.99.0.0-10.99.0.249"},
        {ts("10.99.0.0/24"), ts("10.0.0.0/8"), ""},
        // Disjoint, or another family: unchanged, protocol and ports kept.
        {ts("192.168.0.0/16", 6, 80, 80), ts("10.0.0.0/8"), "192.168.0.0-192.168.255.255[tcp/80]"},
        {ts("fd00::/64"), ts("10.0.0.0/8"), "fd00::-fd00::ffff:ffff:ffff:ffff"},
        {ts("fd00::/64", 17), ts("fd00::1/128"),
         "fd00::-fd00::[udp], fd00::2-fd00::ffff:ffff:ffff:ffff[udp]"},
        // The whole address space: no wrap-around at either end.
        {ts("0.0.0.0/0"), range("0.0.0.0", "0.0.0.0"), "0.0.0.1-255.255.255.255"},
        {ts("0.0.0.0/0"), range("255.255.255.255", "255.255.255.255"), "0.0.0.0-255.255.255.254"},
    };
    for (const auto& c : cases) {
        const std::vector<TrafficSelector> from{c.from};
        BOOST_TEST(text(policy::subtract(from, c.removed)) == c.expect,
                   c.from.to_string() << " minus " << c.removed.to_string());
    }
    // Several holes in turn.
    const std::vector<TrafficSelector> holes{range("10.0.0.0", "10.0.0.9"),
                                             range("10.0.0.20", "10.0.0.29")};
    const std::vector<TrafficSelector> from{ts("10.0.0.0/24")};
    BOOST_TEST(text(policy::subtract(from, holes)) == "10.0.0.10-10.0.0.19, 10.0.0.30-10.0.0.255");
}

BOOST_AUTO_TEST_SUITE_END()
