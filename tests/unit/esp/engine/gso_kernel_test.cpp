// esp/engine/gso against the real kernel, each case in a fresh network namespace (netns.hpp):
//
//   USO    a UDP_SEGMENT send routed into a TUN device with USO4 on: the TUN hands over one
//          UDP_L4 super-packet, which GsoSegmenter cuts back into the datagrams sent.
//   TSO    a local TCP connection to a peer "behind" the TUN (this test answers the handshake):
//          the kernel's TSO4 super-packet is segmented; the segments carry the bytes sent.
//   GRO    this test plays a TCP client behind the TUN towards a local listening socket; its
//          data segments are coalesced by TcpCoalescer and written as one GSO packet: the
//          kernel accepts the header and the server reads every byte.
//
//   local stack 10.2.0.2/8 ── TUN (vnet_hdr, offloads) ── this test, as 10.1.0.1
#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "esp/engine/gso.hpp"
#include "esp/engine/netlink_config.hpp"
#include "esp/engine/tun_device.hpp"
#include "esp/engine/udp_offload.hpp"
#include "gso_packets.hpp"
#include "netns.hpp"

namespace {

using namespace postern;
using namespace postern::esp;
using namespace postern::test::gso;
using postern::test::needs_root_and_tun;
using postern::test::Report;
using postern::test::run_in_netns;

// Linux 6.2+ (older uapi headers lack them).
constexpr unsigned kTunFUso4 = 0x20;
constexpr unsigned kTunFUso6 = 0x40;

const char* const kLocal = "10.2.0.2";
const char* const kPeer = "10.1.0.1";

// The TUN device with offloads, 10.2.0.2/8 on it, up. Extra TUN_F_* bits are asked for with
// TUNSETOFFLOAD on top of what TunDevice granted; false (with a message) if refused.
bool make_tun(const Report& r, TunDevice& dev, unsigned extra_offloads) {
    auto d = TunDevice::create({.name = "gso%d", .queues = 1, .vnet_hdr = true});
    if (!NS_CHECK(r, d.has_value(), d ? "" : d.error())) return false;
    dev = std::move(*d);
    if (!dev.vnet_hdr()) {
        r.info("vnet_hdr refused by this kernel: offload case skipped");
        return false;
    }
    if (extra_offloads &&
        ::ioctl(dev.queue(0).fd(), TUNSETOFFLOAD, dev.offloads() | extra_offloads) != 0) {
        r.info(std::string("TUNSETOFFLOAD refused (") + std::strerror(errno) +
               "): kernel without these offloads, case skipped");
        return false;
    }
    auto nl = NetlinkConfig::open();
    if (!NS_CHECK(r, nl.has_value(), nl ? "" : nl.error())) return false;
    auto a = nl->add_address(dev.name(), *IpPrefix::parse(std::string(kLocal) + "/8"));
    if (!NS_CHECK(r, a.has_value(), a ? "" : a.error())) return false;
    auto up = nl->set_up(dev.name());
    return NS_CHECK(r, up.has_value(), up ? "" : up.error());
}

// Reads packets from the TUN until `match` takes one or 3 s pass.
bool await(const Report& r, const TunDevice& dev,
           const std::function<bool(ByteView, const VirtioNetHdr&)>& match) {
    Bytes storage(65536);
    for (int tries = 0; tries < 30; ++tries) {
        pollfd pfd{dev.queue(0).fd(), POLLIN, 0};
        if (::poll(&pfd, 1, 100) <= 0) continue;
        for (;;) {
            TunPacket one[1] = {TunPacket{storage}};
            auto got = dev.queue(0).read_batch(one);
            if (!NS_CHECK(r, got.has_value(), got ? "" : got.error())) return false;
            if (*got == 0) break;
            if (match(ByteView(storage.data(), one[0].size), one[0].vnet)) return true;
        }
    }
    return false;
}

bool write_plain(const Report& r, const TunDevice& dev, const Bytes& p) {
    const ByteView one[1] = {p};
    auto w = dev.queue(0).write_batch(one);
    return NS_CHECK(r, w && w->consumed == 1 && w->rejected == 0, "TUN write refused");
}

sockaddr_in sockaddr_of(const char* addr, std::uint16_t port) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    ::inet_pton(AF_INET, addr, &a.sin_addr);
    return a;
}

// Checks the segments of a super-packet and appends their payloads to `data`.
std::size_t segment_into(const Report& r, const VirtioNetHdr& hdr, ByteView super, Bytes& data) {
    GsoSegmenter seg(hdr, super);
    if (!NS_CHECK(r, seg.error() == GsoError::none,
                  std::string("segmenter: ") + to_string(seg.error())))
        return 0;
    Bytes buf(seg.max_segment_size());
    std::size_t len = 0, n = 0;
    while (seg.next(buf, &len)) {
        std::string why;
        NS_CHECK(r, checksums_ok(ByteView(buf.data(), len), &why),
                 "segment " + std::to_string(n) + ": " + why);
        NS_CHECK(r, len <= seg.header_size() + hdr.gso_size, "segment larger than gso_size");
        data.insert(data.end(), buf.begin() + static_cast<long>(seg.header_size()),
                    buf.begin() + static_cast<long>(len));
        ++n;
    }
    return n;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(gso_kernel, *boost::unit_test::precondition(needs_root_and_tun))

BOOST_AUTO_TEST_CASE(uso_super_packet_from_tun_segments_into_the_datagrams_sent) {
    run_in_netns([](const Report& r) {
        TunDevice dev;
        if (!make_tun(r, dev, kTunFUso4 | kTunFUso6)) return;
        int s = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (!probe_udp_offloads(s, false).gso) {
            r.info("UDP_SEGMENT not supported: case skipped");
            ::close(s);
            return;
        }
        // 4 datagrams of 1200 and one of 333 in one send.
        Bytes payload(4 * 1200 + 333);
        for (std::size_t i = 0; i < payload.size(); ++i)
            payload[i] = payload_byte(i);
        auto to = sockaddr_of(kPeer, 9999);
        iovec iov{payload.data(), payload.size()};
        alignas(cmsghdr) unsigned char control[kUdpSegmentCmsgSpace];
        msghdr msg{};
        msg.msg_name = &to;
        msg.msg_namelen = sizeof to;
        msg.msg_iov = &iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control;
        NS_CHECK(r, append_udp_segment_cmsg(msg, sizeof control, 1200), "cmsg");
        const ssize_t sent = ::sendmsg(s, &msg, 0);
        NS_CHECK(r, sent == static_cast<ssize_t>(payload.size()),
                 "sendmsg: " + std::string(sent < 0 ? std::strerror(errno) : "short"));
        ::close(s);
        Bytes data;
        std::size_t segments = 0;
        bool gso = false;
        const bool seen = await(r, dev, [&](ByteView p, const VirtioNetHdr& h) {
            if (p.size() < 28 || p[9] != 17 || get16(&p[22]) != 9999) return false;
            r.info("UDP from the kernel: " + std::to_string(p.size()) + " octets, gso_type " +
                   std::to_string(h.gso_type) + ", gso_size " + std::to_string(h.gso_size));
            if (!h.is_gso()) return false;  // segmented before the TUN: keep collecting
            gso = true;
            NS_CHECK(r, h.gso_type == VirtioNetHdr::kGsoUdpL4, "gso_type not UDP_L4");
            NS_CHECK(r, h.gso_size == 1200, "gso_size " + std::to_string(h.gso_size));
            segments = segment_into(r, h, p, data);
            return true;
        });
        if (!NS_CHECK(r, seen && gso, "no USO super-packet read from the TUN")) return;
        NS_CHECK(r, segments == 5, "segments " + std::to_string(segments));
        NS_CHECK(r, data == payload, "segment payloads differ from the datagrams sent");
    });
}

BOOST_AUTO_TEST_CASE(tso_super_packet_from_tun_segments_into_the_stream_sent) {
    run_in_netns([](const Report& r) {
        TunDevice dev;
        if (!make_tun(r, dev, 0)) return;
        if (!(dev.offloads() & TUN_F_TSO4)) {
            r.info("TSO4 not granted: case skipped");
            return;
        }
        int s = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        auto to = sockaddr_of(kPeer, 5001);
        ::connect(s, reinterpret_cast<sockaddr*>(&to), sizeof to);  // EINPROGRESS
        Bytes syn;
        NS_CHECK(r,
                 await(r, dev,
                       [&](ByteView p, const VirtioNetHdr&) {
                           if (p.size() < 40 || p[9] != 6 || !(p[33] & kSyn)) return false;
                           syn.assign(p.begin(), p.end());
                           return true;
                       }),
                 "no SYN");
        if (syn.empty()) {
            ::close(s);
            return;
        }
        // SYN-ACK from the peer: MSS 1400, window scale 7, so the client sends a lot at once.
        const std::uint32_t client_isn = get32(&syn[24]);
        VirtioNetHdr unused;
        Bytes sa = build({.payload = 0,
                          .tcp_options = 8,
                          .flags = kSyn | kAck,
                          .seq = 0x20000000,
                          .ack = client_isn + 1,
                          .window = 0xffff,
                          .sport = 5001,
                          .dport = get16(&syn[20]),
                          .partial = false,
                          .src4 = kPeer,
                          .dst4 = kLocal},
                         unused);
        const std::uint8_t options[] = {2, 4, 0x05, 0x78, 1, 3, 3, 7};
        std::memcpy(&sa[40], options, sizeof options);
        fix_checksums(sa);
        if (!write_plain(r, dev, sa)) return;
        pollfd pfd{s, POLLOUT, 0};
        NS_CHECK(r, ::poll(&pfd, 1, 3000) == 1, "connect did not complete");
        Bytes stream(60000);
        for (std::size_t i = 0; i < stream.size(); ++i)
            stream[i] = payload_byte(i);
        const ssize_t sent = ::send(s, stream.data(), stream.size(), MSG_NOSIGNAL);
        NS_CHECK(r, sent > 2800, "send " + std::to_string(sent));
        Bytes data;
        std::size_t segments = 0;
        std::uint32_t seq = 0;
        const bool seen = await(r, dev, [&](ByteView p, const VirtioNetHdr& h) {
            if (p.size() < 40 || p[9] != 6 || !h.is_gso()) return false;
            r.info("TSO packet: " + std::to_string(p.size()) + " octets, gso_size " +
                   std::to_string(h.gso_size) + ", hdr_len " + std::to_string(h.hdr_len));
            NS_CHECK(r, h.gso_type == VirtioNetHdr::kGsoTcpV4, "gso_type");
            seq = get32(&p[24]);
            segments = segment_into(r, h, p, data);
            return true;
        });
        ::close(s);
        if (!NS_CHECK(r, seen, "no TSO super-packet read from the TUN")) return;
        NS_CHECK(r, segments >= 2, "segments " + std::to_string(segments));
        // The super-packet's payload is a run of the stream starting at its sequence number.
        const std::size_t offset = seq - (client_isn + 1);
        NS_CHECK(
            r,
            offset + data.size() <= stream.size() &&
                std::equal(data.begin(), data.end(), stream.begin() + static_cast<long>(offset)),
            "segment payloads differ from the stream sent");
    });
}

BOOST_AUTO_TEST_CASE(coalesced_tcp_written_to_tun_is_received_whole) {
    run_in_netns([](const Report& r) {
        TunDevice dev;
        if (!make_tun(r, dev, 0)) return;
        int lst = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        const int one = 1;
        ::setsockopt(lst, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        auto at = sockaddr_of(kLocal, 443);
        if (!NS_CHECK(r,
                      ::bind(lst, reinterpret_cast<sockaddr*>(&at), sizeof at) == 0 &&
                          ::listen(lst, 1) == 0,
                      std::string("bind/listen: ") + std::strerror(errno)))
            return;
        // The handshake, played from 10.1.0.1:40000.
        constexpr std::uint32_t kIsn = 0x30000000;
        VirtioNetHdr unused;
        Bytes syn = build({.payload = 0,
                           .tcp_options = 0,
                           .flags = kSyn,
                           .seq = kIsn,
                           .ack = 0,
                           .window = 0xffff,
                           .partial = false},
                          unused);
        if (!write_plain(r, dev, syn)) return;
        std::uint32_t server_seq = 0;
        bool synack = await(r, dev, [&](ByteView p, const VirtioNetHdr&) {
            if (p.size() < 40 || p[9] != 6 || (p[33] & (kSyn | kAck)) != (kSyn | kAck))
                return false;
            server_seq = get32(&p[24]) + 1;
            NS_CHECK(r, get32(&p[28]) == kIsn + 1, "SYN-ACK acknowledges another ISN");
            return true;
        });
        if (!NS_CHECK(r, synack, "no SYN-ACK")) return;
        Bytes ack = build({.payload = 0,
                           .tcp_options = 0,
                           .flags = kAck,
                           .seq = kIsn + 1,
                           .ack = server_seq,
                           .window = 0xffff,
                           .partial = false},
                          unused);
        if (!write_plain(r, dev, ack)) return;

        // 20 data segments of 1000 octets, the last with PSH, coalesced into one write.
        constexpr std::size_t kSegments = 20, kMss = 1000;
        std::vector<Bytes> segs;
        Bytes expected;
        for (std::size_t i = 0; i < kSegments; ++i) {
            Bytes p =
                build({.payload = kMss,
                       .tcp_options = 0,
                       .flags = static_cast<std::uint8_t>(kAck | (i + 1 == kSegments ? kPsh : 0)),
                       .seq = static_cast<std::uint32_t>(kIsn + 1 + i * kMss),
                       .id = static_cast<std::uint16_t>(100 + i),
                       .ack = server_seq,
                       .window = 0xffff,
                       .partial = false},
                      unused);
            for (std::size_t k = 0; k < kMss; ++k)  // distinct bytes in every segment
                p[40 + k] = payload_byte(i * kMss + k);
            fix_checksums(p);
            expected.insert(expected.end(), p.begin() + 40, p.end());
            segs.push_back(std::move(p));
        }
        TcpCoalescer c;
        for (const Bytes& p : segs)
            NS_CHECK(r, c.add(p) == CoalesceResult::merged, "segment not merged");
        const CoalescedPacket out = c.flush();
        NS_CHECK(r, out.segments == kSegments && out.hdr.gso_size == kMss, "coalesced run");
        auto w = dev.queue(0).write(out.hdr, out.packet);
        if (!NS_CHECK(r, w.has_value(), w ? "" : w.error())) return;

        pollfd pl{lst, POLLIN, 0};
        if (!NS_CHECK(r, ::poll(&pl, 1, 3000) == 1, "no connection to accept")) return;
        int conn = ::accept4(lst, nullptr, nullptr, SOCK_CLOEXEC);
        Bytes got;
        Bytes buf(65536);
        while (got.size() < expected.size()) {
            pollfd pc{conn, POLLIN, 0};
            if (::poll(&pc, 1, 3000) != 1) break;
            const ssize_t n = ::recv(conn, buf.data(), buf.size(), 0);
            if (n <= 0) break;
            got.insert(got.end(), buf.begin(), buf.begin() + n);
        }
        NS_CHECK(r, got == expected,
                 "server read " + std::to_string(got.size()) + " of " +
                     std::to_string(expected.size()) + " octets, or other bytes");
        ::close(conn);
        ::close(lst);
    });
}

BOOST_AUTO_TEST_SUITE_END()
