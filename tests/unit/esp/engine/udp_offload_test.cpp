// esp/engine/udp_offload: the UDP_SEGMENT cmsg builder, the UDP_GRO cmsg parser and the
// datagram splitter as tables; then, in a fresh network namespace, one UDP_SEGMENT sendmsg of
// 11 datagrams over loopback received with UDP_GRO (one buffer, split back) and without it
// (11 datagrams).
#include <netinet/in.h>
#include <netinet/udp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <cstring>
#include <string>
#include <vector>

#include "esp/engine/netlink_config.hpp"
#include "esp/engine/udp_offload.hpp"
#include "netns.hpp"

namespace {

using namespace postern;
using namespace postern::esp;
using postern::test::needs_root_and_tun;
using postern::test::Report;
using postern::test::run_in_netns;

// A control buffer aligned for cmsghdr, with room for a few cmsgs.
struct Control {
    alignas(cmsghdr) unsigned char data[256] = {};
};

// Writes a cmsg by hand (level, type, payload) at the end of msg's used control area.
void put_cmsg(msghdr& msg, int level, int type, const void* payload, std::size_t len) {
    auto* c = reinterpret_cast<cmsghdr*>(static_cast<unsigned char*>(msg.msg_control) +
                                         msg.msg_controllen);
    c->cmsg_level = level;
    c->cmsg_type = type;
    c->cmsg_len = CMSG_LEN(len);
    std::memcpy(CMSG_DATA(c), payload, len);
    msg.msg_controllen += CMSG_SPACE(len);
}

std::uint8_t pattern(std::size_t datagram, std::size_t i) {
    return static_cast<std::uint8_t>(datagram * 31 + i * 7);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(udp_offload_cmsg)

BOOST_AUTO_TEST_CASE(segment_cmsg_is_written_and_parses) {
    Control ctl;
    msghdr msg{};
    msg.msg_control = ctl.data;
    BOOST_TEST(append_udp_segment_cmsg(msg, sizeof ctl.data, 1400));
    BOOST_TEST(msg.msg_controllen == kUdpSegmentCmsgSpace);
    const cmsghdr* c = CMSG_FIRSTHDR(&msg);
    BOOST_TEST_REQUIRE(c != nullptr);
    BOOST_TEST(c->cmsg_level == SOL_UDP);
    BOOST_TEST(c->cmsg_type == UDP_SEGMENT);
    BOOST_TEST(c->cmsg_len == CMSG_LEN(sizeof(std::uint16_t)));
    std::uint16_t v = 0;
    std::memcpy(&v, CMSG_DATA(c), sizeof v);
    BOOST_TEST(v == 1400);
    BOOST_TEST(CMSG_NXTHDR(&msg, const_cast<cmsghdr*>(c)) == nullptr);
}

BOOST_AUTO_TEST_CASE(segment_cmsg_is_appended_after_another) {
    Control ctl;
    msghdr msg{};
    msg.msg_control = ctl.data;
    in_pktinfo info{};
    info.ipi_ifindex = 7;
    put_cmsg(msg, IPPROTO_IP, IP_PKTINFO, &info, sizeof info);
    BOOST_TEST(append_udp_segment_cmsg(msg, sizeof ctl.data, 1232));
    BOOST_TEST(msg.msg_controllen == CMSG_SPACE(sizeof info) + kUdpSegmentCmsgSpace);
    int seen = 0;
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
            in_pktinfo got;
            std::memcpy(&got, CMSG_DATA(c), sizeof got);
            BOOST_TEST(got.ipi_ifindex == 7);
            seen |= 1;
        }
        if (c->cmsg_level == SOL_UDP && c->cmsg_type == UDP_SEGMENT) {
            std::uint16_t v;
            std::memcpy(&v, CMSG_DATA(c), sizeof v);
            BOOST_TEST(v == 1232);
            seen |= 2;
        }
    }
    BOOST_TEST(seen == 3);
}

BOOST_AUTO_TEST_CASE(segment_cmsg_refusals_leave_msg_unchanged) {
    Control ctl;
    msghdr msg{};
    msg.msg_control = ctl.data;
    BOOST_TEST(!append_udp_segment_cmsg(msg, kUdpSegmentCmsgSpace - 1, 1400));  // too small
    BOOST_TEST(!append_udp_segment_cmsg(msg, sizeof ctl.data, 0));              // size 0
    msg.msg_controllen = 3;  // not at a cmsg boundary
    BOOST_TEST(!append_udp_segment_cmsg(msg, sizeof ctl.data, 1400));
    BOOST_TEST(msg.msg_controllen == 3u);
    msg.msg_controllen = sizeof ctl.data;  // full
    BOOST_TEST(!append_udp_segment_cmsg(msg, sizeof ctl.data, 1400));
    msg.msg_controllen = 0;
    msg.msg_control = ctl.data + 1;  // misaligned
    BOOST_TEST(!append_udp_segment_cmsg(msg, sizeof ctl.data - 1, 1400));
    msg.msg_control = nullptr;
    BOOST_TEST(!append_udp_segment_cmsg(msg, 64, 1400));
    BOOST_TEST(msg.msg_controllen == 0u);
}

BOOST_AUTO_TEST_CASE(gro_cmsg_is_found_and_checked) {
    {
        Control ctl;
        msghdr msg{};
        msg.msg_control = ctl.data;
        const int size = 1400;
        put_cmsg(msg, SOL_UDP, UDP_GRO, &size, sizeof size);
        BOOST_TEST(udp_gro_segment_size(msg) == 1400);
    }
    {  // after another cmsg
        Control ctl;
        msghdr msg{};
        msg.msg_control = ctl.data;
        const int tos = 0;
        put_cmsg(msg, IPPROTO_IP, IP_TOS, &tos, 1);
        const int size = 1232;
        put_cmsg(msg, SOL_UDP, UDP_GRO, &size, sizeof size);
        BOOST_TEST(udp_gro_segment_size(msg) == 1232);
    }
    {  // a 16-bit value
        Control ctl;
        msghdr msg{};
        msg.msg_control = ctl.data;
        const std::uint16_t size = 999;
        put_cmsg(msg, SOL_UDP, UDP_GRO, &size, sizeof size);
        BOOST_TEST(udp_gro_segment_size(msg) == 999);
    }
    {  // none, negative, too large, cut by msg_controllen, no buffer
        Control ctl;
        msghdr msg{};
        BOOST_TEST(udp_gro_segment_size(msg) == 0);
        msg.msg_control = ctl.data;
        BOOST_TEST(udp_gro_segment_size(msg) == 0);
        const int neg = -5;
        put_cmsg(msg, SOL_UDP, UDP_GRO, &neg, sizeof neg);
        BOOST_TEST(udp_gro_segment_size(msg) == 0);
        msg.msg_controllen = 0;
        const int big = 70000;
        put_cmsg(msg, SOL_UDP, UDP_GRO, &big, sizeof big);
        BOOST_TEST(udp_gro_segment_size(msg) == 0);
        msg.msg_controllen = 0;
        const int ok = 1400;
        put_cmsg(msg, SOL_UDP, UDP_GRO, &ok, sizeof ok);
        msg.msg_controllen = CMSG_LEN(sizeof ok) - 1;  // the value lies beyond the buffer
        BOOST_TEST(udp_gro_segment_size(msg) == 0);
        msg.msg_controllen = sizeof(cmsghdr) - 1;
        BOOST_TEST(udp_gro_segment_size(msg) == 0);
    }
}

BOOST_AUTO_TEST_CASE(splitter_table) {
    struct Case {
        std::size_t size;
        std::uint16_t segment;
        std::vector<std::size_t> datagrams;
    };
    const Bytes buf(5000, 0xab);
    for (const Case& c :
         {Case{0, 0, {0}}, Case{10, 0, {10}}, Case{0, 100, {}},
          Case{3000, 1000, {1000, 1000, 1000}}, Case{3001, 1000, {1000, 1000, 1000, 1}},
          Case{999, 1000, {999}}, Case{5000, 1, std::vector<std::size_t>(5000, 1)}}) {
        BOOST_TEST_CONTEXT("size " << c.size << " segment " << c.segment) {
            UdpGroSplitter split(ByteView(buf).first(c.size), c.segment);
            BOOST_TEST(split.count() == c.datagrams.size());
            std::vector<std::size_t> sizes;
            const std::uint8_t* expect = buf.data();
            for (ByteView d; split.next(d);) {
                sizes.push_back(d.size());
                BOOST_TEST((d.data() == expect));
                expect += d.size();
            }
            BOOST_TEST(sizes == c.datagrams, boost::test_tools::per_element());
            BOOST_TEST(split.count() == c.datagrams.size());
            ByteView d;
            BOOST_TEST(!split.next(d));
        }
    }
}

BOOST_AUTO_TEST_CASE(probe_on_a_non_udp_fd_says_no) {
    int fds[2];
    BOOST_REQUIRE(::pipe(fds) == 0);
    const UdpOffloads o = probe_udp_offloads(fds[0], true);
    BOOST_TEST(!o.gso);
    BOOST_TEST(!o.gro);
    ::close(fds[0]);
    ::close(fds[1]);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(udp_offload_kernel, *boost::unit_test::precondition(needs_root_and_tun))

// One UDP_SEGMENT send of 10 x 1000 + 300 octets over loopback; the receiver collects the
// datagrams (splitting GRO buffers) and reports how many recvmsg calls it took.
void send_and_receive(const Report& r, bool gro) {
    auto nl = NetlinkConfig::open();
    if (!NS_CHECK(r, nl.has_value(), nl ? "" : nl.error())) return;
    auto up = nl->set_up("lo");
    if (!NS_CHECK(r, up.has_value(), up ? "" : up.error())) return;
    int rx = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    int tx = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_in at{};
    at.sin_family = AF_INET;
    at.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof at;
    NS_CHECK(r,
             ::bind(rx, reinterpret_cast<sockaddr*>(&at), sizeof at) == 0 &&
                 ::getsockname(rx, reinterpret_cast<sockaddr*>(&at), &len) == 0,
             "bind");
    const UdpOffloads rx_o = probe_udp_offloads(rx, gro);
    const UdpOffloads tx_o = probe_udp_offloads(tx, false);
    r.info(std::string("UDP offloads: gso ") + (tx_o.gso ? "yes" : "no") + ", gro " +
           (rx_o.gro ? "yes" : "no"));
    NS_CHECK(r, !tx_o.gro, "GRO reported without being asked for");
    if (!tx_o.gso || (gro && !rx_o.gro)) {
        r.info("kernel without UDP_SEGMENT/UDP_GRO: case skipped");
        ::close(rx);
        ::close(tx);
        return;
    }
    constexpr std::size_t kCount = 11, kSize = 1000, kLast = 300;
    Bytes payload((kCount - 1) * kSize + kLast);
    for (std::size_t i = 0; i < payload.size(); ++i)
        payload[i] = pattern(i / kSize, i % kSize);
    iovec iov{payload.data(), payload.size()};
    Control ctl;
    msghdr msg{};
    msg.msg_name = &at;
    msg.msg_namelen = sizeof at;
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = ctl.data;
    NS_CHECK(r, append_udp_segment_cmsg(msg, sizeof ctl.data, kSize), "cmsg");
    const ssize_t sent = ::sendmsg(tx, &msg, 0);
    NS_CHECK(r, sent == static_cast<ssize_t>(payload.size()),
             "sendmsg: " + std::string(sent < 0 ? std::strerror(errno) : "short"));

    std::vector<std::size_t> sizes;
    std::size_t calls = 0, coalesced_calls = 0;
    Bytes buf(65536);
    while (sizes.size() < kCount) {
        pollfd p{rx, POLLIN, 0};
        if (::poll(&p, 1, 3000) != 1) break;
        iovec riov{buf.data(), buf.size()};
        Control rctl;
        msghdr rmsg{};
        rmsg.msg_iov = &riov;
        rmsg.msg_iovlen = 1;
        rmsg.msg_control = rctl.data;
        rmsg.msg_controllen = sizeof rctl.data;
        const ssize_t n = ::recvmsg(rx, &rmsg, 0);
        if (!NS_CHECK(r, n >= 0, std::string("recvmsg: ") + std::strerror(errno))) break;
        ++calls;
        const std::uint16_t seg = udp_gro_segment_size(rmsg);
        if (seg) {
            ++coalesced_calls;
            NS_CHECK(r, seg == kSize, "GRO segment size " + std::to_string(seg));
        }
        UdpGroSplitter split(ByteView(buf.data(), static_cast<std::size_t>(n)), seg);
        for (ByteView d; split.next(d);) {
            const std::size_t k = sizes.size();
            sizes.push_back(d.size());
            bool same = d.size() == (k + 1 == kCount ? kLast : kSize);
            for (std::size_t i = 0; same && i < d.size(); ++i)
                same = d[i] == pattern(k, i);
            NS_CHECK(r, same, "datagram " + std::to_string(k) + " differs");
        }
    }
    r.info(std::to_string(sizes.size()) + " datagrams in " + std::to_string(calls) +
           " recvmsg calls, " + std::to_string(coalesced_calls) + " coalesced");
    NS_CHECK(r, sizes.size() == kCount, "received " + std::to_string(sizes.size()) + " datagrams");
    if (gro)
        NS_CHECK(r, coalesced_calls >= 1, "UDP_GRO on but no buffer held several datagrams");
    else
        NS_CHECK(r, coalesced_calls == 0 && calls == kCount, "GRO cmsg without UDP_GRO");
    ::close(rx);
    ::close(tx);
}

BOOST_AUTO_TEST_CASE(udp_segment_send_received_with_gro) {
    run_in_netns([](const Report& r) { send_and_receive(r, true); });
}

BOOST_AUTO_TEST_CASE(udp_segment_send_received_without_gro) {
    run_in_netns([](const Report& r) { send_and_receive(r, false); });
}

BOOST_AUTO_TEST_SUITE_END()
