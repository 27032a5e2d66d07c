// Inner packet inspection and the traffic selector check.
#include <boost/test/unit_test.hpp>

#include "esp/engine/ip_packet.hpp"

using namespace postern;
using namespace postern::esp;

namespace {

Bytes ipv4(std::uint8_t protocol, Bytes l4, const char* src = "10.1.0.9",
           const char* dst = "10.0.0.1", std::uint16_t frag = 0) {
    const std::size_t total = 20 + l4.size();
    Bytes p = {0x45,
               0,
               static_cast<std::uint8_t>(total >> 8),
               static_cast<std::uint8_t>(total),
               0,
               1,
               static_cast<std::uint8_t>(frag >> 8),
               static_cast<std::uint8_t>(frag),
               64,
               protocol,
               0,
               0};
    for (const char* a : {src, dst}) {
        const auto addr = *IpAddress::parse(a);
        p.insert(p.end(), addr.bytes().begin(), addr.bytes().end());
    }
    p.insert(p.end(), l4.begin(), l4.end());
    return p;
}

// IPv6 with the given chain after the fixed header (first_next = Next Header of the fixed
// header), e.g. extension headers followed by an upper-layer header.
Bytes ipv6(std::uint8_t first_next, Bytes rest, const char* src = "fd01::9",
           const char* dst = "fd00::1") {
    Bytes p = {0x60,
               0,
               0,
               0,
               static_cast<std::uint8_t>(rest.size() >> 8),
               static_cast<std::uint8_t>(rest.size()),
               first_next,
               64};
    for (const char* a : {src, dst}) {
        const auto addr = *IpAddress::parse(a);
        p.insert(p.end(), addr.bytes().begin(), addr.bytes().end());
    }
    p.insert(p.end(), rest.begin(), rest.end());
    return p;
}

const Bytes kUdp = {0x04, 0xd2, 0x00, 0x35, 0, 12, 0, 0, 'a', 'b', 'c', 'd'};  // 1234 -> 53
const Bytes kEcho = {8, 0, 0, 0, 0, 1, 0, 1};                                  // type 8 code 0

Selector sel(const char* from, const char* to, std::uint8_t proto = 0, std::uint16_t lo = 0,
             std::uint16_t hi = 0xffff) {
    Selector s;
    s.start = *IpAddress::parse(from);
    s.end = *IpAddress::parse(to);
    s.ip_protocol = proto;
    s.start_port = lo;
    s.end_port = hi;
    return s;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(ip_packet)

BOOST_AUTO_TEST_CASE(ipv4_fields) {
    const auto udp = parse_ip_packet(ipv4(kIpProtoUdp, kUdp));
    BOOST_REQUIRE(udp);
    BOOST_TEST(udp->version == 4);
    BOOST_TEST(udp->src.to_string() == "10.1.0.9");
    BOOST_TEST(udp->dst.to_string() == "10.0.0.1");
    BOOST_TEST(udp->protocol == kIpProtoUdp);
    BOOST_TEST(udp->ports_known);
    BOOST_TEST(udp->src_port == 1234);
    BOOST_TEST(udp->dst_port == 53);
    BOOST_TEST(udp->total_length == 32u);

    const auto icmp = parse_ip_packet(ipv4(kIpProtoIcmp, kEcho));
    BOOST_REQUIRE(icmp);
    BOOST_TEST(icmp->src_port == 0x0800);  // Type << 8 | Code (RFC 7296 §3.13.1)

    // Non-initial fragment: no ports (RFC 4301 §7). Initial fragment (MF set): ports.
    const auto tail = parse_ip_packet(ipv4(kIpProtoUdp, kUdp, "10.1.0.9", "10.0.0.1", 0x0010));
    BOOST_REQUIRE(tail);
    BOOST_TEST(!tail->ports_known);
    BOOST_TEST(
        parse_ip_packet(ipv4(kIpProtoUdp, kUdp, "10.1.0.9", "10.0.0.1", 0x2000))->ports_known);
    // Unknown protocol: no ports; a UDP header cut short: no ports.
    BOOST_TEST(!parse_ip_packet(ipv4(47, kUdp))->ports_known);
    BOOST_TEST(!parse_ip_packet(ipv4(kIpProtoUdp, {0x04, 0xd2}))->ports_known);
}

BOOST_AUTO_TEST_CASE(ipv4_malformed) {
    const Bytes good = ipv4(kIpProtoUdp, kUdp);
    for (std::size_t len = 0; len < good.size(); ++len)
        BOOST_TEST(!parse_ip_packet(ByteView(good).first(len)), "length " << len);
    Bytes longer = good;
    longer.push_back(0);  // trailing bytes (TFC padding) are allowed; total_length says where
    BOOST_TEST(parse_ip_packet(longer)->total_length == good.size());
    Bytes bad_ihl = good;
    bad_ihl[0] = 0x44;
    BOOST_TEST(!parse_ip_packet(bad_ihl));
    Bytes short_total = good;
    short_total[3] = 19;
    BOOST_TEST(!parse_ip_packet(short_total));
    Bytes ihl_past_total = good;
    ihl_past_total[0] = 0x49;  // 36-octet header in a 32-octet packet
    BOOST_TEST(!parse_ip_packet(ihl_past_total));
    BOOST_TEST(!parse_ip_packet(Bytes{0x55, 0, 0, 20}));
    BOOST_TEST(!parse_ip_packet(Bytes{}));
}

BOOST_AUTO_TEST_CASE(ipv6_fields_and_extension_headers) {
    const auto udp = parse_ip_packet(ipv6(kIpProtoUdp, kUdp));
    BOOST_REQUIRE(udp);
    BOOST_TEST(udp->version == 6);
    BOOST_TEST(udp->src.to_string() == "fd01::9");
    BOOST_TEST(udp->dst_port == 53);
    BOOST_TEST(udp->total_length == 40u + kUdp.size());

    // Hop-by-Hop (8 octets) -> Destination Options (16) -> Fragment (offset 0) -> UDP.
    Bytes chain = {60, 0, 1, 4, 0, 0, 0, 0};
    chain.insert(chain.end(), {44, 1, 1, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0});
    chain.insert(chain.end(), {kIpProtoUdp, 0, 0x00, 0x01, 0, 0, 0, 7});
    Bytes with_udp = chain;
    with_udp.insert(with_udp.end(), kUdp.begin(), kUdp.end());
    const auto ext = parse_ip_packet(ipv6(0, with_udp));
    BOOST_REQUIRE(ext);
    BOOST_TEST(ext->protocol == kIpProtoUdp);
    BOOST_TEST(ext->ports_known);
    BOOST_TEST(ext->src_port == 1234);

    // A later fragment (offset 1): ports unknown.
    Bytes later = with_udp;
    later[24 + 3] = 0x08;
    const auto frag = parse_ip_packet(ipv6(0, later));
    BOOST_REQUIRE(frag);
    BOOST_TEST(!frag->ports_known);

    // AH (RFC 4302 length units) then ICMPv6 echo.
    Bytes ah = {
        kIpProtoIcmpV6, 4, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
    ah.insert(ah.end(), {128, 0, 0, 0});
    const auto icmp = parse_ip_packet(ipv6(51, ah));
    BOOST_REQUIRE(icmp);
    BOOST_TEST(icmp->protocol == kIpProtoIcmpV6);
    BOOST_TEST(icmp->src_port == 0x8000);

    // Every truncation of the chain is refused or parsed without reading past the end.
    const Bytes full = ipv6(0, with_udp);
    for (std::size_t len = 0; len < full.size(); ++len)
        BOOST_TEST(!parse_ip_packet(ByteView(full).first(len)));
    // An extension header longer than the packet, and a chain of 9 headers, are refused.
    BOOST_TEST(!parse_ip_packet(ipv6(0, {kIpProtoUdp, 5, 0, 0, 0, 0, 0, 0})));
    Bytes nine;
    for (int i = 0; i < 9; ++i)
        nine.insert(nine.end(), {60, 0, 1, 4, 0, 0, 0, 0});
    nine.insert(nine.end(), kUdp.begin(), kUdp.end());
    BOOST_TEST(!parse_ip_packet(ipv6(60, nine)));
    // Payload Length 0 (jumbogram) is refused.
    BOOST_TEST(!parse_ip_packet(ipv6(59, {})));
}

BOOST_AUTO_TEST_CASE(selectors) {
    const auto udp = *parse_ip_packet(ipv4(kIpProtoUdp, kUdp));  // 10.1.0.9:1234 -> 10.0.0.1:53
    const std::vector<Selector> local = {sel("10.0.0.0", "10.0.0.255")};
    const std::vector<Selector> remote = {sel("10.1.0.0", "10.1.0.255")};
    BOOST_TEST(matches(local, remote, udp, TrafficDirection::inbound));
    BOOST_TEST(!matches(local, remote, udp, TrafficDirection::outbound));
    BOOST_TEST(matches(remote, local, udp, TrafficDirection::outbound));
    BOOST_TEST(!matches({}, remote, udp, TrafficDirection::inbound));
    BOOST_TEST(!matches(local, {sel("10.1.0.10", "10.1.0.20")}, udp, TrafficDirection::inbound));
    BOOST_TEST(!matches(local, {sel("fd01::", "fd01::ffff")}, udp, TrafficDirection::inbound));
    // Several selectors: any one may cover each side.
    BOOST_TEST(matches({sel("fd00::", "fd00::1"), sel("10.0.0.1", "10.0.0.1")},
                       {sel("10.2.0.0", "10.2.0.255"), sel("10.1.0.9", "10.1.0.9")}, udp,
                       TrafficDirection::inbound));

    // Protocol and ports.
    BOOST_TEST(matches({sel("10.0.0.1", "10.0.0.1", kIpProtoUdp, 53, 53)}, remote, udp,
                       TrafficDirection::inbound));
    BOOST_TEST(!matches({sel("10.0.0.1", "10.0.0.1", kIpProtoTcp)}, remote, udp,
                        TrafficDirection::inbound));
    BOOST_TEST(!matches({sel("10.0.0.1", "10.0.0.1", kIpProtoUdp, 54, 100)}, remote, udp,
                        TrafficDirection::inbound));
    BOOST_TEST(matches(local, {sel("10.1.0.0", "10.1.0.255", 0, 1024, 65535)}, udp,
                       TrafficDirection::inbound));

    // ICMP: Type/Code in the port ranges (echo request 8/0 = 0x0800).
    const auto echo = *parse_ip_packet(ipv4(kIpProtoIcmp, kEcho));
    BOOST_TEST(matches(local, {sel("10.1.0.9", "10.1.0.9", kIpProtoIcmp, 0x0800, 0x08ff)}, echo,
                       TrafficDirection::inbound));
    BOOST_TEST(!matches(local, {sel("10.1.0.9", "10.1.0.9", kIpProtoIcmp, 0, 0x00ff)}, echo,
                        TrafficDirection::inbound));

    // Non-initial fragments match only selectors with any port.
    const auto tail = *parse_ip_packet(ipv4(kIpProtoUdp, kUdp, "10.1.0.9", "10.0.0.1", 0x0010));
    BOOST_TEST(matches(local, remote, tail, TrafficDirection::inbound));
    BOOST_TEST(!matches({sel("10.0.0.1", "10.0.0.1", kIpProtoUdp, 53, 53)}, remote, tail,
                        TrafficDirection::inbound));
}

BOOST_AUTO_TEST_SUITE_END()
