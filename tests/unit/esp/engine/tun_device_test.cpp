// TunDevice against the real kernel. Each case runs in a forked child inside a fresh network
// namespace (namespaces are per thread, and a child is the simplest way to never touch the
// host's network); the child reports failed checks through a pipe and the parent turns them into
// Boost.Test errors. Without root, /dev/net/tun or namespaces the cases are skipped with a
// message saying so.
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <boost/test/unit_test.hpp>
#include <chrono>
#include <cstring>
#include <functional>
#include <iostream>
#include <string>
#include <vector>

#include "esp/engine/netlink_config.hpp"
#include "esp/engine/tun_device.hpp"
#include "netns.hpp"

namespace {

using namespace postern;
using namespace postern::esp;
using postern::test::needs_root_and_tun;
using postern::test::Report;
using postern::test::run_in_netns;

// ---- packets ------------------------------------------------------------------------------

std::uint16_t checksum(ByteView data, std::uint32_t sum = 0) {
    for (std::size_t i = 0; i + 1 < data.size(); i += 2)
        sum += std::uint32_t(data[i]) << 8 | data[i + 1];
    if (data.size() % 2) sum += std::uint32_t(data.back()) << 8;
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return static_cast<std::uint16_t>(~sum);
}

void put16(std::uint8_t* p, std::uint16_t v) {
    p[0] = static_cast<std::uint8_t>(v >> 8);
    p[1] = static_cast<std::uint8_t>(v);
}
std::uint16_t get16(const std::uint8_t* p) {
    return static_cast<std::uint16_t>(p[0] << 8 | p[1]);
}

const IpAddress kTunAddr = *IpAddress::parse("10.99.0.1");
const IpAddress kPeerAddr = *IpAddress::parse("10.99.0.2");
constexpr std::uint16_t kEchoId = 0x5053;

// An IPv4 ICMP echo request from the peer to the TUN's address, both checksums right.
Bytes echo_request(std::uint16_t seq) {
    Bytes p(20 + 8 + 32);
    p[0] = 0x45;
    put16(&p[2], static_cast<std::uint16_t>(p.size()));
    put16(&p[4], seq);  // IP ID
    p[8] = 64;          // TTL
    p[9] = IPPROTO_ICMP;
    std::memcpy(&p[12], kPeerAddr.bytes().data(), 4);
    std::memcpy(&p[16], kTunAddr.bytes().data(), 4);
    put16(&p[10], checksum(ByteView(p.data(), 20)));
    p[20] = 8;  // echo request
    put16(&p[24], kEchoId);
    put16(&p[26], seq);
    for (std::size_t i = 28; i < p.size(); ++i)
        p[i] = static_cast<std::uint8_t>(i);
    put16(&p[22], checksum(ByteView(p).subspan(20)));
    return p;
}

// Whether `p` is the kernel's echo reply to echo_request(seq), with valid checksums.
bool is_echo_reply(ByteView p, std::uint16_t seq) {
    if (p.size() != 60 || p[0] != 0x45 || p[9] != IPPROTO_ICMP) return false;
    if (std::memcmp(&p[12], kTunAddr.bytes().data(), 4) != 0 ||
        std::memcmp(&p[16], kPeerAddr.bytes().data(), 4) != 0)
        return false;
    if (checksum(p.subspan(0, 20)) != 0 || checksum(p.subspan(20)) != 0) return false;
    if (p[20] != 0 || get16(&p[24]) != kEchoId || get16(&p[26]) != seq) return false;
    Bytes req = echo_request(seq);
    return std::memcmp(&p[28], &req[28], 32) == 0;  // payload echoed unchanged
}

// The device up with 10.99.0.1/24 (so 10.99.0.2 is reached through it).
bool configure(const Report& r, const TunDevice& dev) {
    auto nl = NetlinkConfig::open();
    if (!NS_CHECK(r, nl.has_value(), nl ? "" : nl.error())) return false;
    auto addr = nl->add_address(dev.name(), *IpPrefix::parse("10.99.0.1/24"));
    if (!NS_CHECK(r, addr.has_value(), addr ? "" : addr.error())) return false;
    auto up = nl->set_up(dev.name());
    return NS_CHECK(r, up.has_value(), up ? "" : up.error());
}

// Polls every queue until a packet satisfying `match` arrives (true) or 3 s pass (false).
bool await_packet(const Report& r, const TunDevice& dev,
                  const std::function<bool(const TunPacket&)>& match) {
    std::vector<Bytes> storage(4, Bytes(65536));
    std::array<TunPacket, 4> batch;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(3);
    while (std::chrono::steady_clock::now() < deadline) {
        std::vector<pollfd> fds;
        for (std::size_t q = 0; q < dev.queue_count(); ++q)
            fds.push_back({dev.queue(q).fd(), POLLIN, 0});
        if (::poll(fds.data(), fds.size(), 100) <= 0) continue;
        for (std::size_t q = 0; q < dev.queue_count(); ++q) {
            for (std::size_t i = 0; i < batch.size(); ++i)
                batch[i] = TunPacket{storage[i]};
            auto got = dev.queue(q).read_batch(batch);
            if (!NS_CHECK(r, got.has_value(), got ? "" : got.error())) return false;
            for (std::size_t i = 0; i < *got; ++i)
                if (match(batch[i])) return true;
        }
    }
    return false;
}

// Writes an echo request on `queue` and waits for the reply on any queue.
void ping_through(const Report& r, const TunDevice& dev, std::size_t queue, std::uint16_t seq) {
    Bytes req = echo_request(seq);
    ByteView packets[] = {req};
    auto w = dev.queue(queue).write_batch(packets);
    if (!NS_CHECK(r, w.has_value(), w ? "" : w.error())) return;
    NS_CHECK(r, w->consumed == 1 && w->rejected == 0, "echo request not written");
    bool seen = await_packet(r, dev, [&](const TunPacket& p) {
        if (!is_echo_reply(ByteView(p.buffer.data(), p.size), seq)) return false;
        NS_CHECK(r, !p.vnet.is_gso() && !p.vnet.needs_csum(), "echo reply with offload flags");
        return true;
    });
    NS_CHECK(r, seen,
             "no echo reply for seq " + std::to_string(seq) + " written on queue " +
                 std::to_string(queue));
}

// The TCP checksum of an IPv4 packet `p` (IP header of 20 octets) with its field zeroed first.
std::uint16_t tcp4_checksum(MutableByteView p) {
    auto tcp = p.subspan(20);
    put16(&tcp[16], 0);
    std::uint32_t pseudo = IPPROTO_TCP + static_cast<std::uint32_t>(tcp.size());
    for (std::size_t i = 12; i < 20; i += 2)
        pseudo += get16(&p[i]);
    return checksum(tcp, pseudo);
}

short tun_flags(int fd) {
    ifreq ifr{};
    return ::ioctl(fd, TUNGETIFF, &ifr) == 0 ? ifr.ifr_flags : 0;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(tun_device_options)

BOOST_AUTO_TEST_CASE(bad_options_are_refused_before_any_syscall) {
    auto long_name = TunDevice::create({.name = "a-name-far-too-long0", .queues = 1});
    BOOST_REQUIRE(!long_name);
    BOOST_TEST(long_name.error().find("1 to 15 characters") != std::string::npos,
               long_name.error());
    auto no_queues = TunDevice::create({.name = "postern%d", .queues = 0});
    BOOST_REQUIRE(!no_queues);
    BOOST_TEST(no_queues.error() == "TUN device postern%d: 0 queues (1 to 256 allowed)");
    BOOST_TEST(!TunDevice::create({.name = "postern%d", .queues = 257}));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(tun_device, *boost::unit_test::precondition(needs_root_and_tun))

BOOST_AUTO_TEST_CASE(creates_a_nonblocking_device_that_goes_away_on_close) {
    run_in_netns([](const Report& r) {
        auto dev = TunDevice::create({});
        if (!NS_CHECK(r, dev.has_value(), dev ? "" : dev.error())) return;
        NS_CHECK(r, dev->name() == "postern0", "name " + dev->name());
        NS_CHECK(r, dev->ifindex() == ::if_nametoindex("postern0"), "ifindex");
        NS_CHECK(r, dev->queue_count() == 1 && !dev->multi_queue(), "one queue");
        int fd = dev->queue(0).fd();
        NS_CHECK(r, ::fcntl(fd, F_GETFL) & O_NONBLOCK, "fd not non-blocking");
        NS_CHECK(r, ::fcntl(fd, F_GETFD) & FD_CLOEXEC, "fd not close-on-exec");
        short flags = tun_flags(fd);
        NS_CHECK(r, (flags & (IFF_TUN | IFF_NO_PI)) == (IFF_TUN | IFF_NO_PI), "IFF_TUN|IFF_NO_PI");
        NS_CHECK(r, !(flags & IFF_VNET_HDR), "vnet header without asking");

        // Nothing waiting: a read returns no packets, not an error.
        Bytes buf(2048);
        TunPacket p{buf};
        auto got = dev->queue(0).read_batch(std::span(&p, 1));
        NS_CHECK(r, got && *got == 0, "empty read");

        // A second device gets the next number; an exact name is taken as given.
        auto second = TunDevice::create({});
        NS_CHECK(r, second && second->name() == "postern1", "second device postern1");
        auto exact = TunDevice::create({.name = "vpn-test"});
        NS_CHECK(r, exact && exact->name() == "vpn-test", "exact name");

        dev->close();
        dev->close();  // idempotent
        NS_CHECK(r, ::if_nametoindex("postern0") == 0, "postern0 still exists after close");
    });
}

BOOST_AUTO_TEST_CASE(multi_queue_with_two_queues) {
    run_in_netns([](const Report& r) {
        auto dev = TunDevice::create({.name = "postern%d", .queues = 2});
        if (!NS_CHECK(r, dev.has_value(), dev ? "" : dev.error())) return;
        NS_CHECK(r, dev->queue_count() == 2 && dev->multi_queue(), "two queues");
        int a = dev->queue(0).fd(), b = dev->queue(1).fd();
        NS_CHECK(r, a != b, "distinct fds");
        for (int fd : {a, b}) {
            ifreq ifr{};
            NS_CHECK(r, ::ioctl(fd, TUNGETIFF, &ifr) == 0, "TUNGETIFF");
            NS_CHECK(r, std::string(ifr.ifr_name) == dev->name(), "queue on another device");
            NS_CHECK(r, ifr.ifr_flags & IFF_MULTI_QUEUE, "IFF_MULTI_QUEUE not set");
        }
        if (!configure(r, *dev)) return;
        // Both queues carry packets into the kernel; replies come back on either.
        ping_through(r, *dev, 0, 1);
        ping_through(r, *dev, 1, 2);
    });
}

BOOST_AUTO_TEST_CASE(echo_request_round_trip) {
    run_in_netns([](const Report& r) {
        auto dev = TunDevice::create({});
        if (!NS_CHECK(r, dev.has_value(), dev ? "" : dev.error())) return;
        if (!configure(r, *dev)) return;
        for (std::uint16_t seq = 1; seq <= 3; ++seq)
            ping_through(r, *dev, 0, seq);

        // Something that is not an IP packet is refused by the kernel and skipped; the good
        // packet behind it still goes through.
        Bytes junk(40, 0x00), good = echo_request(9);
        ByteView packets[] = {junk, good};
        auto w = dev->queue(0).write_batch(packets);
        NS_CHECK(r, w && w->consumed == 2 && w->rejected == 1,
                 w ? "consumed " + std::to_string(w->consumed) + " rejected " +
                         std::to_string(w->rejected)
                   : w.error());
        NS_CHECK(r,
                 await_packet(r, *dev,
                              [](const TunPacket& p) {
                                  return is_echo_reply(ByteView(p.buffer.data(), p.size), 9);
                              }),
                 "no reply after a rejected packet");
    });
}

BOOST_AUTO_TEST_CASE(vnet_header_negotiated_and_checksum_offload_seen) {
    run_in_netns([](const Report& r) {
        auto features = TunDevice::features();
        if (!NS_CHECK(r, features.has_value(), features ? "" : features.error())) return;
        r.info(std::string("TUNGETFEATURES: vnet_hdr ") +
               (*features & IFF_VNET_HDR ? "yes" : "no") + ", multi_queue " +
               (*features & IFF_MULTI_QUEUE ? "yes" : "no") + ", napi " +
               (*features & IFF_NAPI ? "yes" : "no"));
        auto dev = TunDevice::create({.name = "postern%d", .queues = 2, .vnet_hdr = true});
        if (!NS_CHECK(r, dev.has_value(), dev ? "" : dev.error())) return;
        r.info("vnet_hdr " + std::string(dev->vnet_hdr() ? "granted" : "refused") +
               ", offloads: " + dev->offloads_text());
        if (!(*features & IFF_VNET_HDR)) {
            NS_CHECK(r, !dev->vnet_hdr(), "vnet_hdr granted without kernel support");
            return;
        }
        NS_CHECK(r, dev->vnet_hdr(), "vnet_hdr not granted");
        NS_CHECK(r, tun_flags(dev->queue(1).fd()) & IFF_VNET_HDR, "queue 1 without IFF_VNET_HDR");
        int size = 0;
        NS_CHECK(r, ::ioctl(dev->queue(0).fd(), TUNGETVNETHDRSZ, &size) == 0 && size == 10,
                 "vnet header size " + std::to_string(size));
        constexpr unsigned kTso = TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6;
        NS_CHECK(r, (dev->offloads() & kTso) == kTso, "offloads " + dev->offloads_text());
        if (!configure(r, *dev)) return;
        ping_through(r, *dev, 0, 7);  // headers written and read on both sides of the packet

        // With TUN_F_CSUM the kernel leaves a local UDP datagram's checksum to "the device":
        // it arrives with NEEDS_CSUM, the pseudo-header sum in place, csum_start at the UDP
        // header. Completing it must give a valid checksum: what the ESP worker will do.
        int s = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        sockaddr_in to{};
        to.sin_family = AF_INET;
        to.sin_port = htons(4242);
        std::memcpy(&to.sin_addr, kPeerAddr.bytes().data(), 4);
        const char payload[] = "checksum offload";
        NS_CHECK(r,
                 ::sendto(s, payload, sizeof payload, 0, reinterpret_cast<sockaddr*>(&to),
                          sizeof to) == static_cast<ssize_t>(sizeof payload),
                 "sendto");
        ::close(s);
        bool seen = await_packet(r, *dev, [&](const TunPacket& p) {
            if (p.size < 28 || p.buffer[9] != IPPROTO_UDP) return false;
            if (!NS_CHECK(r, p.vnet.needs_csum(), "UDP datagram without NEEDS_CSUM")) return true;
            NS_CHECK(r, p.vnet.csum_start == 20 && p.vnet.csum_offset == 6,
                     "csum_start " + std::to_string(p.vnet.csum_start) + " csum_offset " +
                         std::to_string(p.vnet.csum_offset));
            Bytes pkt(p.buffer.begin(), p.buffer.begin() + static_cast<long>(p.size));
            auto l4 = MutableByteView(pkt).subspan(p.vnet.csum_start);
            // The field holds the (uncomplemented) pseudo-header sum: fold the L4 data into it.
            std::uint16_t partial = get16(&l4[p.vnet.csum_offset]);
            put16(&l4[p.vnet.csum_offset], 0);
            std::uint16_t full = checksum(l4, partial);
            put16(&l4[p.vnet.csum_offset], full);
            std::uint32_t pseudo = 0;
            for (int i = 12; i < 20; i += 2)
                pseudo += get16(&pkt[static_cast<std::size_t>(i)]);
            pseudo += IPPROTO_UDP + static_cast<std::uint32_t>(l4.size());
            NS_CHECK(r, checksum(l4, pseudo) == 0, "completed UDP checksum does not verify");
            return true;
        });
        NS_CHECK(r, seen, "no UDP datagram read from the device");
    });
}

BOOST_AUTO_TEST_CASE(tso_hands_over_gso_super_packets) {
    run_in_netns([](const Report& r) {
        auto dev = TunDevice::create({.name = "postern%d", .queues = 1, .vnet_hdr = true});
        if (!NS_CHECK(r, dev.has_value(), dev ? "" : dev.error())) return;
        if (!(dev->offloads() & TUN_F_TSO4)) {
            r.info("TSO4 not offered by this kernel: GSO check skipped");
            return;
        }
        if (!configure(r, *dev)) return;
        // A local TCP client connects to the "peer" behind the TUN device; this test plays the
        // peer's side of the handshake by hand.
        int s = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        sockaddr_in to{};
        to.sin_family = AF_INET;
        to.sin_port = htons(5001);
        std::memcpy(&to.sin_addr, kPeerAddr.bytes().data(), 4);
        ::connect(s, reinterpret_cast<sockaddr*>(&to), sizeof to);  // EINPROGRESS
        Bytes syn;
        NS_CHECK(r,
                 await_packet(r, *dev,
                              [&](const TunPacket& p) {
                                  if (p.size < 40 || p.buffer[9] != IPPROTO_TCP ||
                                      !(p.buffer[33] & 0x02))
                                      return false;
                                  syn.assign(p.buffer.begin(), p.buffer.begin() + 40);
                                  return true;
                              }),
                 "no SYN");
        if (syn.empty()) {
            ::close(s);
            return;
        }
        // SYN-ACK: MSS 1400, window scale 7, so the client may send a lot at once.
        Bytes sa(20 + 28);
        sa[0] = 0x45;
        put16(&sa[2], static_cast<std::uint16_t>(sa.size()));
        sa[8] = 64;
        sa[9] = IPPROTO_TCP;
        std::memcpy(&sa[12], kPeerAddr.bytes().data(), 4);
        std::memcpy(&sa[16], kTunAddr.bytes().data(), 4);
        put16(&sa[10], checksum(ByteView(sa.data(), 20)));
        put16(&sa[20], 5001);
        put16(&sa[22], get16(&syn[20]));  // client's port
        std::uint32_t ack = (std::uint32_t(get16(&syn[24])) << 16 | get16(&syn[26])) + 1;
        put16(&sa[24], 0x1000);  // our ISN 0x10000000
        put16(&sa[28], static_cast<std::uint16_t>(ack >> 16));
        put16(&sa[30], static_cast<std::uint16_t>(ack));
        sa[32] = 7 << 4;  // data offset: 28 octets
        sa[33] = 0x12;    // SYN|ACK
        put16(&sa[34], 0xffff);
        const std::uint8_t options[] = {2, 4, 0x05, 0x78, 1, 3, 3, 7};
        std::memcpy(&sa[40], options, sizeof options);
        put16(&sa[36], tcp4_checksum(sa));
        ByteView packets[] = {sa};
        auto w = dev->queue(0).write_batch(packets);
        NS_CHECK(r, w && w->consumed == 1 && w->rejected == 0, "SYN-ACK not written");
        pollfd pfd{s, POLLOUT, 0};
        NS_CHECK(r, ::poll(&pfd, 1, 3000) == 1, "connect did not complete");
        Bytes data(60000, 0x5a);
        ssize_t sent = ::send(s, data.data(), data.size(), MSG_NOSIGNAL);
        NS_CHECK(r, sent > 2800, "send " + std::to_string(sent));
        bool gso = false;
        await_packet(r, *dev, [&](const TunPacket& p) {
            if (p.size < 40 || p.buffer[9] != IPPROTO_TCP || !p.vnet.is_gso()) return false;
            r.info("GSO packet: " + std::to_string(p.size) + " octets, gso_type " +
                   std::to_string(p.vnet.gso_type) + ", gso_size " +
                   std::to_string(p.vnet.gso_size) + ", hdr_len " + std::to_string(p.vnet.hdr_len));
            NS_CHECK(r, p.vnet.gso_type == VirtioNetHdr::kGsoTcpV4, "gso_type");
            NS_CHECK(r, p.vnet.gso_size == 1400, "gso_size " + std::to_string(p.vnet.gso_size));
            NS_CHECK(r, p.vnet.needs_csum() && p.vnet.csum_start == 20 && p.vnet.csum_offset == 16,
                     "TCP checksum left partial");
            NS_CHECK(r, p.size > 1500, "a GSO packet no larger than one segment");
            gso = true;
            return true;
        });
        NS_CHECK(r, gso, "no GSO packet with TSO4 on");
        ::close(s);
    });
}

BOOST_AUTO_TEST_SUITE_END()
