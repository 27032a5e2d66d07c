// UserspaceDataPlane: the DataPlane interface (install/remove/counters), the packet path with a
// fake EspSender and TunWriter and the test playing the peer with its own EspSa objects (the
// mirror SAs), drops by reason, lifetime events; and, as root in a fresh network namespace, a
// UDP datagram through a real TUN device out to the "peer" and its reply back to a socket.
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <cstring>
#include <functional>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "esp/engine/ip_packet.hpp"
#include "esp/engine/netlink_config.hpp"
#include "esp/engine/tun_device.hpp"
#include "esp/engine/userspace_dataplane.hpp"
#include "netns.hpp"

using namespace postern;
using namespace postern::esp;

namespace {

// ---- the SAs: we are the gateway 10.99.0.254 (LAN 10.99.0.0/24), the peer has 10.98.0.0/24 ----

const Endpoint kGatewayOuter{*IpAddress::parse("192.0.2.1"), 4500};
const Endpoint kPeerOuter{*IpAddress::parse("198.51.100.1"), 4500};
constexpr std::uint32_t kSpiToPeer = 0xc0de0001;    // gateway outbound, peer inbound
constexpr std::uint32_t kSpiFromPeer = 0xc0de0002;  // peer outbound, gateway inbound

Selector range(const char* from, const char* to) {
    Selector s;
    s.start = *IpAddress::parse(from);
    s.end = *IpAddress::parse(to);
    return s;
}
std::vector<Selector> gateway_ts() {
    return {range("10.99.0.0", "10.99.0.255")};
}
std::vector<Selector> peer_ts() {
    return {range("10.98.0.0", "10.98.0.255")};
}

const Bytes kKeyToPeer(36, 0x11);  // AES-GCM-256 key || salt
const Bytes kKeyFromPeer(36, 0x22);

// One direction as seen from `gateway` (true) or from the peer.
EspSaSpec spec(bool to_peer, bool gateway) {
    EspSaSpec s;
    s.spi = EspSpi(to_peer ? kSpiToPeer : kSpiFromPeer);
    s.inbound = to_peer != gateway;
    s.src = to_peer ? kGatewayOuter : kPeerOuter;
    s.dst = to_peer ? kPeerOuter : kGatewayOuter;
    s.udp_encap = true;
    s.encr_id = 20;  // ENCR_AES_GCM_16
    s.encr_key_bits = 256;
    s.encr_key = to_peer ? kKeyToPeer : kKeyFromPeer;
    s.local_ts = gateway ? gateway_ts() : peer_ts();
    s.remote_ts = gateway ? peer_ts() : gateway_ts();
    s.reqid = 42;
    return s;
}

// The peer's side: decapsulates what the gateway sends, encapsulates what it answers.
struct Peer {
    std::unique_ptr<EspSa> in, out;
    std::optional<EspCipher> in_cipher, out_cipher;

    static std::optional<Peer> create() {
        Peer p;
        auto in = EspSa::create(spec(true, false));
        auto out = EspSa::create(spec(false, false));
        if (!in || !out) return std::nullopt;
        p.in = std::move(*in);
        p.out = std::move(*out);
        auto ic = EspCipher::create(*p.in);
        auto oc = EspCipher::create(*p.out);
        if (!ic || !oc) return std::nullopt;
        p.in_cipher.emplace(std::move(*ic));
        p.out_cipher.emplace(std::move(*oc));
        return p;
    }

    Bytes encap(ByteView inner) {
        Bytes storage(kEncapHeadroom + inner.size() + kEncapTailroom);
        std::memcpy(storage.data() + kEncapHeadroom, inner.data(), inner.size());
        PacketBuffer buf{storage, kEncapHeadroom, inner.size()};
        if (encapsulate(*out, *out_cipher, buf) != DropReason::none) return {};
        auto p = buf.packet();
        return Bytes(p.begin(), p.end());
    }
    std::optional<Bytes> decap(ByteView esp) {
        Bytes storage(esp.begin(), esp.end());
        PacketBuffer buf{storage, 0, storage.size()};
        auto r = decapsulate(*in, *in_cipher, buf);
        if (!r.ok()) return std::nullopt;
        return Bytes(r.inner.begin(), r.inner.end());
    }
};

// ---- fakes ------------------------------------------------------------------------------------

struct CaptureSender : EspSender {
    struct Sent {
        Bytes packet;
        Endpoint src, dst;
        bool udp_encap;
    };
    std::vector<Sent> sent;
    bool send_esp(ByteView p, const Endpoint& src, const Endpoint& dst, bool udp) override {
        sent.push_back({Bytes(p.begin(), p.end()), src, dst, udp});
        return true;
    }
};

struct CaptureTun : TunWriter {
    std::vector<Bytes> written;
    bool write_packet(ByteView p) override {
        written.emplace_back(p.begin(), p.end());
        return true;
    }
};

// ---- packets ----------------------------------------------------------------------------------

std::uint32_t sum16(ByteView d, std::uint32_t sum = 0) {
    for (std::size_t i = 0; i + 1 < d.size(); i += 2)
        sum += std::uint32_t{d[i]} << 8 | d[i + 1];
    if (d.size() % 2) sum += std::uint32_t{d.back()} << 8;
    return sum;
}
std::uint16_t fold(std::uint32_t sum) {
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return static_cast<std::uint16_t>(~sum);
}
void put16(std::uint8_t* p, std::uint16_t v) {
    p[0] = static_cast<std::uint8_t>(v >> 8);
    p[1] = static_cast<std::uint8_t>(v);
}

// IPv4 + UDP with correct IP and UDP checksums.
Bytes udp4(const char* src, std::uint16_t sport, const char* dst, std::uint16_t dport,
           std::string_view payload) {
    const IpAddress s = *IpAddress::parse(src), d = *IpAddress::parse(dst);
    const std::size_t udp_len = 8 + payload.size();
    Bytes p(20 + udp_len);
    p[0] = 0x45;
    put16(&p[2], static_cast<std::uint16_t>(p.size()));
    p[6] = 0x40;  // DF
    p[8] = 64;
    p[9] = kIpProtoUdp;
    std::memcpy(&p[12], s.bytes().data(), 4);
    std::memcpy(&p[16], d.bytes().data(), 4);
    put16(&p[10], fold(sum16(ByteView(p).first(20))));
    put16(&p[20], sport);
    put16(&p[22], dport);
    put16(&p[24], static_cast<std::uint16_t>(udp_len));
    std::memcpy(&p[28], payload.data(), payload.size());
    std::uint32_t pseudo =
        sum16(ByteView(p).subspan(12, 8)) + kIpProtoUdp + static_cast<std::uint32_t>(udp_len);
    std::uint16_t c = fold(sum16(ByteView(p).subspan(20), pseudo));
    put16(&p[26], c ? c : 0xffff);
    return p;
}

std::string payload_of(ByteView udp4_packet) {
    if (udp4_packet.size() < 28) return {};
    return std::string(reinterpret_cast<const char*>(udp4_packet.data()) + 28,
                       udp4_packet.size() - 28);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(userspace_dataplane)

BOOST_AUTO_TEST_CASE(round_trip_drops_and_counters_with_fakes) {
    CaptureSender sender;
    CaptureTun tun;
    UserspaceDataPlane dp(sender, tun);
    BOOST_TEST(dp.name() == "userspace");
    std::string error;
    BOOST_REQUIRE_MESSAGE(dp.install(spec(true, true), error), error);
    BOOST_REQUIRE_MESSAGE(dp.install(spec(false, true), error), error);
    BOOST_TEST(!dp.install(spec(false, true), error));
    BOOST_TEST(error == "install inbound ESP SA 0xc0de0002: already installed");
    auto peer = Peer::create();
    BOOST_REQUIRE(peer);

    // Out: from the gateway's LAN to the peer's subnet.
    const Bytes request = udp4("10.99.0.5", 5000, "10.98.0.1", 9, "hello through the tunnel");
    BOOST_TEST(dp.outbound(request) == DropReason::none);
    BOOST_REQUIRE(sender.sent.size() == 1u);
    BOOST_TEST(sender.sent[0].src.to_string() == kGatewayOuter.to_string());
    BOOST_TEST(sender.sent[0].dst.to_string() == kPeerOuter.to_string());
    BOOST_TEST(sender.sent[0].udp_encap);
    auto inner = peer->decap(sender.sent[0].packet);
    BOOST_REQUIRE(inner);
    BOOST_TEST(*inner == request);

    // Back: the peer's reply is written to the TUN side.
    const Bytes reply = udp4("10.98.0.1", 9, "10.99.0.5", 5000, "reply");
    const Bytes esp = peer->encap(reply);
    BOOST_REQUIRE(!esp.empty());
    BOOST_TEST(dp.inbound(esp, kPeerOuter) == DropReason::none);
    BOOST_REQUIRE(tun.written.size() == 1u);
    BOOST_TEST(tun.written[0] == reply);

    // Replayed: dropped and counted, nothing written.
    BOOST_TEST(dp.inbound(esp, kPeerOuter) == DropReason::replay);
    // Unknown SPI.
    Bytes unknown = esp;
    unknown[3] ^= 0x7f;
    BOOST_TEST(dp.inbound(unknown, kPeerOuter) == DropReason::unknown_spi);
    // Too short to hold an SPI and sequence number.
    BOOST_TEST(dp.inbound(ByteView(esp).first(6), kPeerOuter) == DropReason::too_short);
    // Spoofed inner source (outside the peer's selectors).
    const Bytes spoofed = peer->encap(udp4("10.97.0.1", 9, "10.99.0.5", 5000, "spoof"));
    BOOST_TEST(dp.inbound(spoofed, kPeerOuter) == DropReason::selector_mismatch);
    // Tampered: ICV.
    Bytes tampered = peer->encap(reply);
    tampered[tampered.size() - 1] ^= 1;
    BOOST_TEST(dp.inbound(tampered, kPeerOuter) == DropReason::bad_icv);
    // Not an IP packet from the TUN side; no SA for the destination.
    const Bytes garbage(40, 0x00);
    BOOST_TEST(dp.outbound(garbage) == DropReason::bad_inner_packet);
    BOOST_TEST(dp.outbound(udp4("10.99.0.5", 5000, "10.97.0.1", 9, "x")) ==
               DropReason::unknown_spi);
    BOOST_TEST(tun.written.size() == 1u);
    BOOST_TEST(sender.sent.size() == 1u);

    auto s = dp.stats();
    BOOST_TEST(s.outbound_packets == 1u);
    BOOST_TEST(s.outbound_bytes == request.size());
    BOOST_TEST(s.inbound_packets == 1u);
    BOOST_TEST(s.inbound_bytes == reply.size());
    BOOST_TEST(s.dropped(DropReason::replay) == 1u);
    BOOST_TEST(s.dropped(DropReason::unknown_spi) == 1u);
    BOOST_TEST(s.dropped(DropReason::too_short) == 1u);
    BOOST_TEST(s.dropped(DropReason::selector_mismatch) == 1u);
    BOOST_TEST(s.dropped(DropReason::bad_icv) == 1u);
    BOOST_TEST(s.dropped(DropReason::bad_inner_packet) == 1u);
    BOOST_TEST(s.no_sa == 1u);

    SaCounters c;
    BOOST_REQUIRE(dp.counters(EspSpi(kSpiToPeer), false, c));
    BOOST_TEST(c.packets == 1u);
    BOOST_TEST(c.bytes == request.size());
    BOOST_TEST(c.last_used_seconds_ago <= 1u);
    BOOST_REQUIRE(dp.counters(EspSpi(kSpiFromPeer), true, c));
    BOOST_TEST(c.packets == 1u);
    BOOST_TEST(c.bytes == reply.size());
    BOOST_TEST(!dp.counters(EspSpi(kSpiFromPeer), false, c));

    // After remove() the outbound packet finds no SA.
    BOOST_TEST(dp.remove(EspSpi(kSpiToPeer), false, error));
    BOOST_TEST(dp.outbound(request) == DropReason::unknown_spi);
    BOOST_TEST(dp.stats().no_sa == 2u);
    BOOST_TEST(sender.sent.size() == 1u);
    BOOST_TEST(!dp.remove(EspSpi(kSpiToPeer), false, error));
    BOOST_TEST(error == "remove outbound ESP SA 0xc0de0001: not installed");
    BOOST_TEST(!dp.counters(EspSpi(kSpiToPeer), false, c));
    BOOST_TEST(dp.remove(EspSpi(kSpiFromPeer), true, error));
    BOOST_TEST(dp.inbound(peer->encap(reply), kPeerOuter) == DropReason::unknown_spi);
}

BOOST_AUTO_TEST_CASE(bad_spec_is_refused_with_the_sa_named) {
    CaptureSender sender;
    CaptureTun tun;
    UserspaceDataPlane dp(sender, tun);
    auto s = spec(true, true);
    s.encr_key_bits = 192;
    std::string error;
    BOOST_TEST(!dp.install(s, error));
    BOOST_TEST(error.rfind("install outbound ESP SA 0xc0de0001: ", 0) == 0u, error);
}

BOOST_AUTO_TEST_CASE(lifetime_events_reported_once_each) {
    CaptureSender sender;
    CaptureTun tun;
    UserspaceDataPlane dp(sender, tun);
    std::vector<SaLifetimeEvent> events;
    dp.set_event_callback([&](const SaLifetimeEvent& e) { events.push_back(e); });
    auto s = spec(true, true);
    s.soft_bytes = 100;
    s.hard_bytes = 300;
    std::string error;
    BOOST_REQUIRE_MESSAGE(dp.install(s, error), error);
    const Bytes p = udp4("10.99.0.5", 5000, "10.98.0.1", 9, std::string(100, 'x'));  // 128 octets

    BOOST_TEST(dp.outbound(p) == DropReason::none);  // 128: soft
    BOOST_REQUIRE(events.size() == 1u);
    BOOST_TEST(events[0].spi.value() == kSpiToPeer);
    BOOST_TEST(!events[0].inbound);
    BOOST_TEST(events[0].reqid == 42u);
    BOOST_TEST(events[0].events == kEventSoft);
    BOOST_TEST(dp.outbound(p) == DropReason::none);  // 256: nothing new
    BOOST_TEST(events.size() == 1u);
    BOOST_TEST(dp.outbound(p) == DropReason::none);  // 384: hard
    BOOST_REQUIRE(events.size() == 2u);
    BOOST_TEST(events[1].events == kEventHard);
    BOOST_TEST(dp.outbound(p) == DropReason::hard_expired);
    BOOST_TEST(events.size() == 2u);
    BOOST_TEST(dp.stats().dropped(DropReason::hard_expired) == 1u);
    BOOST_TEST(sender.sent.size() == 3u);
}

BOOST_AUTO_TEST_SUITE_END()

// ---- through a real TUN device, as root in a fresh network namespace ---------------------------

namespace {

// What the child tells the parent, one line each: "F <failed check>" or "I <information>".
// (The same scheme as tun_device_test.cpp.)
using postern::test::needs_root_and_tun;
using postern::test::Report;
using postern::test::run_in_netns;

sockaddr_in sockaddr4(const char* addr, std::uint16_t port) {
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(port);
    ::inet_pton(AF_INET, addr, &sa.sin_addr);
    return sa;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(userspace_dataplane_tun, *boost::unit_test::precondition(needs_root_and_tun))

BOOST_AUTO_TEST_CASE(udp_datagram_out_through_tun_and_reply_back) {
    run_in_netns([](const Report& r) {
        auto dev = TunDevice::create({.name = "postern0", .queues = 1, .vnet_hdr = false});
        if (!NS_CHECK(r, dev, dev ? "" : dev.error())) return;
        auto nl = NetlinkConfig::open();
        if (!NS_CHECK(r, nl, nl ? "" : nl.error())) return;
        auto a = nl->add_address("postern0", *IpPrefix::parse("10.99.0.254/24"));
        if (!NS_CHECK(r, a, a ? "" : a.error())) return;
        auto up = nl->set_up("postern0");
        if (!NS_CHECK(r, up, up ? "" : up.error())) return;
        RouteSpec route;
        route.destination = *IpPrefix::parse("10.98.0.0/24");
        auto rt = nl->add_route("postern0", route);
        if (!NS_CHECK(r, rt, rt ? "" : rt.error())) return;

        const TunQueue queue = dev->queue(0);
        TunQueueWriter writer(queue);
        CaptureSender sender;
        UserspaceDataPlane dp(sender, writer);
        std::string error;
        if (!NS_CHECK(r, dp.install(spec(true, true), error), error)) return;
        if (!NS_CHECK(r, dp.install(spec(false, true), error), error)) return;
        auto peer = Peer::create();
        if (!NS_CHECK(r, peer, "peer SAs")) return;

        const int sock = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        const auto local = sockaddr4("10.99.0.254", 5000);
        if (!NS_CHECK(r, ::bind(sock, reinterpret_cast<const sockaddr*>(&local), sizeof local) == 0,
                      std::string("bind: ") + std::strerror(errno)))
            return;
        const std::string hello = "hello through the tunnel";
        const auto to = sockaddr4("10.98.0.1", 9);
        NS_CHECK(
            r,
            ::sendto(sock, hello.data(), hello.size(), 0, reinterpret_cast<const sockaddr*>(&to),
                     sizeof to) == static_cast<ssize_t>(hello.size()),
            std::string("sendto: ") + std::strerror(errno));

        // The kernel routes it to postern0; the data plane encrypts it for the peer. Other
        // packets the kernel may emit on the link (IPv6 router solicitations) find no SA.
        for (int i = 0; i < 40 && sender.sent.empty(); ++i) {
            pollfd pfd{queue.fd(), POLLIN, 0};
            ::poll(&pfd, 1, 50);
            auto n = dp.run_tun_once(queue);
            NS_CHECK(r, n, n ? "" : n.error());
        }
        if (!NS_CHECK(r, sender.sent.size() == 1u, "one ESP packet sent")) return;
        NS_CHECK(r, sender.sent[0].dst == kPeerOuter && sender.sent[0].udp_encap,
                 "outer endpoint " + sender.sent[0].dst.to_string());
        auto inner = peer->decap(sender.sent[0].packet);
        if (!NS_CHECK(r, inner, "peer decapsulates")) return;
        auto info = parse_ip_packet(*inner);
        if (!NS_CHECK(r, info, "inner packet parses")) return;
        NS_CHECK(r, info->src == *IpAddress::parse("10.99.0.254"), "src " + info->src.to_string());
        NS_CHECK(r, info->dst == *IpAddress::parse("10.98.0.1"), "dst " + info->dst.to_string());
        NS_CHECK(r, info->protocol == kIpProtoUdp && info->src_port == 5000 && info->dst_port == 9,
                 "UDP 5000 -> 9");
        NS_CHECK(r, payload_of(*inner) == hello, "payload " + payload_of(*inner));

        // The peer answers; the data plane decrypts it into the TUN device and the kernel
        // delivers it to our socket.
        const Bytes reply = udp4("10.98.0.1", 9, "10.99.0.254", 5000, "reply from the peer");
        const Bytes esp = peer->encap(reply);
        const DropReason in = dp.inbound(esp, kPeerOuter);
        NS_CHECK(r, in == DropReason::none, std::string("inbound: ") + std::string(to_string(in)));
        pollfd spfd{sock, POLLIN, 0};
        NS_CHECK(r, ::poll(&spfd, 1, 2000) == 1, "reply reaches the socket");
        char buf[256] = {};
        sockaddr_in from{};
        socklen_t fromlen = sizeof from;
        const ssize_t got = ::recvfrom(sock, buf, sizeof buf, MSG_DONTWAIT,
                                       reinterpret_cast<sockaddr*>(&from), &fromlen);
        NS_CHECK(
            r, got > 0 && std::string(buf, static_cast<std::size_t>(got)) == "reply from the peer",
            "received " + std::to_string(got));
        NS_CHECK(r, ntohs(from.sin_port) == 9, "reply from port 9");

        // Replay and unknown SPI: counted and dropped.
        NS_CHECK(r, dp.inbound(esp, kPeerOuter) == DropReason::replay, "replay dropped");
        Bytes unknown = esp;
        unknown[0] ^= 0x10;
        NS_CHECK(r, dp.inbound(unknown, kPeerOuter) == DropReason::unknown_spi, "unknown SPI");
        const auto s = dp.stats();
        NS_CHECK(r, s.dropped(DropReason::replay) == 1 && s.dropped(DropReason::unknown_spi) == 1,
                 "drop counters");
        NS_CHECK(r, s.outbound_packets == 1 && s.inbound_packets == 1, "packet counters");
        SaCounters c;
        NS_CHECK(
            r,
            dp.counters(EspSpi(kSpiToPeer), false, c) && c.packets == 1 && c.bytes == inner->size(),
            "outbound SA counters");
        NS_CHECK(
            r,
            dp.counters(EspSpi(kSpiFromPeer), true, c) && c.packets == 1 && c.bytes == reply.size(),
            "inbound SA counters");

        // Without the outbound SA the next datagram is dropped for want of one.
        NS_CHECK(r, dp.remove(EspSpi(kSpiToPeer), false, error), error);
        const auto no_sa_before = dp.stats().no_sa;
        ::sendto(sock, hello.data(), hello.size(), 0, reinterpret_cast<const sockaddr*>(&to),
                 sizeof to);
        for (int i = 0; i < 40 && dp.stats().no_sa == no_sa_before; ++i) {
            pollfd pfd{queue.fd(), POLLIN, 0};
            ::poll(&pfd, 1, 50);
            (void)dp.run_tun_once(queue);
        }
        NS_CHECK(r, dp.stats().no_sa > no_sa_before, "dropped with no SA");
        NS_CHECK(r, sender.sent.size() == 1u, "nothing more sent");
        ::close(sock);
    });
}

BOOST_AUTO_TEST_SUITE_END()
