// Data-plane workers: SPI ownership on the packet path (no root), and as root in a fresh
// network namespace:
//   - UDP 4500 steering: an "IKE socket" bound first and N workers' sockets in one reuseport
//     group; IKE datagrams and keepalives land on the IKE socket, ESP with SPI s on worker
//     s % N (this is also the check that the group's order is the bind order on this kernel);
//   - raw ESP sockets receive protocol-50 packets (the host kernel has no ESP handler) and each
//     worker's filter keeps its SPIs;
//   - round trips between two data planes A (127.0.0.1) and B (127.0.0.2), each with two
//     workers, over ESP-in-UDP and over plain ESP: inner packets written into A's "TUN queue"
//     come out of B's, in bursts (batching), with both of B's workers carrying traffic;
//   - offloads: TCP (TSO) and UDP (USO) super-packets with a virtio-net header written into A's
//     queue are segmented and encrypted, cross as UDP_SEGMENT trains, are split out of UDP_GRO
//     buffers at B and come out of B's queue coalesced (TCP) or one by one (UDP), every byte
//     intact and every checksum right; the same with the offloads forced off; a malformed
//     super-packet is dropped and counted, never sent;
//   - start/stop.
// The TUN queues are AF_UNIX datagram socket pairs: they keep packet boundaries like a TUN fd,
// and the test reads and writes the other end.
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <algorithm>
#include <cstring>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "esp/engine/esp_socket.hpp"
#include "esp/engine/netlink_config.hpp"
#include "esp/engine/packet_path.hpp"
#include "esp/engine/steering.hpp"
#include "esp/engine/worker.hpp"
#include "gso_packets.hpp"
#include "netns.hpp"

using namespace postern;
using namespace postern::esp;
using postern::test::needs_root_and_tun;
using postern::test::Report;
using postern::test::run_in_netns;

namespace {

UserspaceDataPlaneOptions options(unsigned workers, bool udp_on_ike_thread = false) {
    UserspaceDataPlaneOptions o;
    o.workers = workers;
    o.udp_on_ike_thread = udp_on_ike_thread;
    return o;
}

Selector range(const char* from, const char* to) {
    Selector s;
    s.start = *IpAddress::parse(from);
    s.end = *IpAddress::parse(to);
    return s;
}

// One direction between A (inner 10.1.0.0/24) and B (inner 10.2.0.0/24), as seen by `side_a`.
EspSaSpec spec(std::uint32_t spi, bool a_to_b, bool side_a, bool udp, const char* a_outer,
               const char* b_outer) {
    EspSaSpec s;
    s.spi = EspSpi(spi);
    s.inbound = a_to_b != side_a;
    const Endpoint a{*IpAddress::parse(a_outer), std::uint16_t(udp ? 4500 : 0)};
    const Endpoint b{*IpAddress::parse(b_outer), std::uint16_t(udp ? 4500 : 0)};
    s.src = a_to_b ? a : b;
    s.dst = a_to_b ? b : a;
    s.udp_encap = udp;
    s.encr_id = 20;  // ENCR_AES_GCM_16
    s.encr_key_bits = 128;
    static const Bytes key(20, 0x5a);
    s.encr_key = key;
    const auto net_a = range("10.1.0.0", "10.1.0.255"), net_b = range("10.2.0.0", "10.2.0.255");
    s.local_ts = {side_a ? net_a : net_b};
    s.remote_ts = {side_a ? net_b : net_a};
    s.reqid = spi;
    return s;
}

void put16(std::uint8_t* p, std::uint16_t v) {
    p[0] = static_cast<std::uint8_t>(v >> 8);
    p[1] = static_cast<std::uint8_t>(v);
}

// IPv4 + UDP from 10.1.0.<host> to 10.2.0.1:<port>, payload `n` as text (checksums are not
// checked by the engine, and the packet never reaches a kernel stack here).
Bytes inner_packet(std::uint8_t host, std::uint16_t port, unsigned n) {
    const std::string payload = "packet " + std::to_string(n);
    Bytes p(28 + payload.size());
    p[0] = 0x45;
    put16(&p[2], static_cast<std::uint16_t>(p.size()));
    p[8] = 64;
    p[9] = 17;
    const std::uint8_t src[4] = {10, 1, 0, host}, dst[4] = {10, 2, 0, 1};
    std::memcpy(&p[12], src, 4);
    std::memcpy(&p[16], dst, 4);
    put16(&p[20], 1000);
    put16(&p[22], port);
    put16(&p[24], static_cast<std::uint16_t>(8 + payload.size()));
    std::memcpy(&p[28], payload.data(), payload.size());
    return p;
}

struct Capture : EspSender, TunWriter {
    std::vector<Bytes> sent, written;
    bool send_esp(ByteView p, const Endpoint&, const Endpoint&, bool) override {
        sent.emplace_back(p.begin(), p.end());
        return true;
    }
    bool write_packet(ByteView p) override {
        written.emplace_back(p.begin(), p.end());
        return true;
    }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(worker_ownership)

BOOST_AUTO_TEST_CASE(owner_is_spi_modulo_workers_and_the_ike_path_takes_udp_when_unsteered) {
    BOOST_TEST(esp_owner(7, 3) == 1u);
    BOOST_TEST(esp_owner(0xffffffffu, 4) == 3u);
    UserspaceDataPlane steered(options(3));
    BOOST_TEST(steered.paths() == 3u);
    BOOST_TEST(steered.owner(EspSpi(7), true) == 1u);
    BOOST_TEST(steered.owner(EspSpi(7), false) == 1u);
    UserspaceDataPlane unsteered(options(3, true));
    BOOST_TEST(unsteered.paths() == 4u);
    BOOST_TEST(unsteered.owner(EspSpi(7), true) == 3u);
    BOOST_TEST(unsteered.owner(EspSpi(7), false) == 1u);
}

// A path never decapsulates for an SA it does not own, nor over the wrong transport: the
// replay window keeps one writer whatever the kernel delivers where.
BOOST_AUTO_TEST_CASE(misrouted_and_wrong_transport_are_dropped_before_the_replay_window) {
    UserspaceDataPlane dp(options(2));
    std::string error;
    // B's view: 0x101 (odd) inbound over UDP, 0x202 (even) inbound as plain ESP.
    const EspSaSpec in_udp = spec(0x101, true, false, true, "127.0.0.1", "127.0.0.2");
    const EspSaSpec in_raw = spec(0x202, true, false, false, "127.0.0.1", "127.0.0.2");
    BOOST_REQUIRE_MESSAGE(dp.install(in_udp, error), error);
    BOOST_REQUIRE_MESSAGE(dp.install(in_raw, error), error);
    // The sender's side, to make valid packets.
    UserspaceDataPlane a;
    Capture wire;
    PacketPath a_path(a, 0, wire, wire);
    BOOST_REQUIRE_MESSAGE(a.install(spec(0x101, true, true, true, "127.0.0.1", "127.0.0.2"), error),
                          error);
    BOOST_REQUIRE(a_path.outbound(inner_packet(5, 9, 1)) == DropReason::none);
    BOOST_REQUIRE(wire.sent.size() == 1u);

    Capture out0, out1;
    PacketPath p0(dp, 0, out0, out0), p1(dp, 1, out1, out1);
    const Endpoint from{*IpAddress::parse("127.0.0.1"), 4500};
    BOOST_TEST(p0.inbound(wire.sent[0], from, true) == DropReason::unknown_spi);  // 0x101 % 2 = 1
    BOOST_TEST(p0.counters().snapshot().misrouted == 1u);
    BOOST_TEST(p1.inbound(wire.sent[0], from, false) == DropReason::unknown_spi);  // not plain
    BOOST_TEST(p1.counters().snapshot().encap_mismatch == 1u);
    BOOST_TEST(p1.inbound(wire.sent[0], from, true) == DropReason::none);
    BOOST_REQUIRE(out1.written.size() == 1u);
    BOOST_TEST(out1.written[0] == inner_packet(5, 9, 1));
    BOOST_TEST(dp.stats().inbound_packets == 1u);
    BOOST_TEST(dp.path_stats(1).inbound_packets == 1u);
    BOOST_TEST(dp.path_stats(0).inbound_packets == 0u);
    BOOST_TEST(dp.stats().total_dropped() == 2u);
}

BOOST_AUTO_TEST_CASE(worker_count_from_the_environment) {
    ::setenv("POSTERN_WORKERS", "3", 1);
    BOOST_TEST(default_worker_count() == 3u);
    ::setenv("POSTERN_WORKERS", "0", 1);  // out of range: the CPU count
    BOOST_TEST(default_worker_count() >= 1u);
    ::setenv("POSTERN_WORKERS", "2x", 1);
    BOOST_TEST(default_worker_count() >= 1u);
    ::unsetenv("POSTERN_WORKERS");
    BOOST_TEST(default_worker_count() >= 1u);
}

BOOST_AUTO_TEST_SUITE_END()

// ---- as root, in a fresh network namespace ----------------------------------------------------

namespace {

sockaddr_storage sockaddr_of(const char* addr, std::uint16_t port) {
    sockaddr_storage ss;
    to_sockaddr(Endpoint{*IpAddress::parse(addr), port}, ss);
    return ss;
}

bool send_to(int fd, const Bytes& data, const char* addr, std::uint16_t port) {
    const auto ss = sockaddr_of(addr, port);
    const socklen_t len = ss.ss_family == AF_INET ? sizeof(sockaddr_in) : sizeof(sockaddr_in6);
    return ::sendto(fd, data.data(), data.size(), 0, reinterpret_cast<const sockaddr*>(&ss), len) ==
           static_cast<ssize_t>(data.size());
}

// Everything queued on fd (non-blocking), as datagrams.
std::vector<Bytes> read_all(int fd) {
    std::vector<Bytes> out;
    std::uint8_t buf[65536];
    for (ssize_t n; (n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT)) >= 0;)
        out.emplace_back(buf, buf + n);
    return out;
}

// Waits (up to a generous guard, never an assertion on time) for one datagram.
std::optional<Bytes> read_one(int fd, int guard_ms = 5000) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, guard_ms) != 1) return std::nullopt;
    std::uint8_t buf[65536];
    const ssize_t n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
    if (n < 0) return std::nullopt;
    return Bytes(buf, buf + n);
}

std::uint32_t spi_of(const Bytes& d) {
    return d.size() < 4 ? 0
                        : std::uint32_t{d[0]} << 24 | std::uint32_t{d[1]} << 16 |
                              std::uint32_t{d[2]} << 8 | d[3];
}

Bytes esp_like(std::uint32_t spi) {
    Bytes d(40, 0xab);
    d[0] = static_cast<std::uint8_t>(spi >> 24);
    d[1] = static_cast<std::uint8_t>(spi >> 16);
    d[2] = static_cast<std::uint8_t>(spi >> 8);
    d[3] = static_cast<std::uint8_t>(spi);
    return d;
}

// A fake TUN queue: the worker's end (non-blocking) and the test's end (blocking).
struct FakeTun {
    Fd worker, test;
    static FakeTun make() {
        int sv[2];
        FakeTun t;
        if (::socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sv) != 0) return t;
        t.worker.reset(sv[0]);
        t.test.reset(sv[1]);
        ::fcntl(sv[0], F_SETFL, ::fcntl(sv[0], F_GETFL) | O_NONBLOCK);
        // Room for a burst in flight (net.unix.max_dgram_qlen still applies per socket).
        const int big = 4 << 20;
        ::setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &big, sizeof big);
        ::setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &big, sizeof big);
        return t;
    }
};

// The "IKE socket" of a reuseport group: bound first, so index 0.
Fd ike_socket(const Report& r, const char* addr) {
    auto s = open_udp_reuseport(Endpoint{*IpAddress::parse(addr), 4500});
    if (!NS_CHECK(r, s, s ? "" : s.error())) return Fd();
    return std::move(s->fd);
}

bool lo_up(const Report& r) {
    auto nl = NetlinkConfig::open();
    if (!NS_CHECK(r, nl, nl ? "" : nl.error())) return false;
    auto up = nl->set_up("lo");
    return NS_CHECK(r, up, up ? "" : up.error());
}

// One side of a round trip: a data plane with `n` workers on `addr`, an IKE socket first.
struct Side {
    std::unique_ptr<UserspaceDataPlane> dp;
    Fd ike;
    std::vector<FakeTun> tuns;
    std::vector<std::unique_ptr<DataPlaneWorker>> workers;

    bool open(const Report& r, const char* addr, unsigned n, bool vnet = false,
              bool offloads = true) {
        dp = std::make_unique<UserspaceDataPlane>(options(n));
        ike = ike_socket(r, addr);
        if (!ike) return false;
        for (unsigned w = 0; w < n; ++w) {
            tuns.push_back(FakeTun::make());
            if (!NS_CHECK(r, tuns.back().worker, "socketpair")) return false;
            WorkerConfig c;
            c.index = w;
            c.tun = TunQueue(tuns.back().worker.get(), w, vnet);
            c.offloads = offloads;
            c.natt = {NattBinding{Endpoint{*IpAddress::parse(addr), 4500}, ike.get()}};
            c.on_error = [&r](const std::string& e) { r.info(e); };
            auto worker = DataPlaneWorker::create(*dp, std::move(c));
            if (!NS_CHECK(r, worker, worker ? "" : worker.error())) return false;
            for (const auto& warning : (*worker)->warnings())
                r.fail("warning: " + warning);
            workers.push_back(std::move(*worker));
        }
        for (auto& w : workers)
            w->start();
        return true;
    }
    void stop() {
        for (auto& w : workers)
            w->stop();
    }
};

// A to B: `count` packets per SA written to A's worker 0 TUN queue, read from B's queues.
void round_trip(const Report& r, bool udp) {
    if (!lo_up(r)) return;
    Side a, b;
    if (!a.open(r, "127.0.0.1", 2) || !b.open(r, "127.0.0.2", 2)) return;
    // With two workers no UDP_GRO (worker.cpp says why); UDP_SEGMENT trains are per SA, so
    // B's steering still sees one SPI per train.
    NS_CHECK(r, !b.workers[0]->offloads().udp_gro && !b.workers[1]->offloads().udp_gro,
             "UDP_GRO on with two workers");
    // Two CHILD_SAs A->B (one per B worker: SPIs even and odd) and their reverse.
    struct Pair {
        std::uint32_t a_to_b, b_to_a;
        std::uint8_t host;  // inner source 10.1.0.<host>; the SA's selectors are per host
    };
    const Pair pairs[] = {{0x1000, 0x2001, 10}, {0x1001, 0x2002, 20}};
    std::string error;
    for (const auto& p : pairs)
        for (int i = 0; i < 4; ++i) {
            const bool is_a = i < 2, a_to_b = i % 2 == 0;
            EspSaSpec s = spec(a_to_b ? p.a_to_b : p.b_to_a, a_to_b, is_a, udp, "127.0.0.1",
                               "127.0.0.2");
            // Narrow A's side to the one host, so each host's traffic takes its own SA.
            const std::string h = "10.1.0." + std::to_string(p.host);
            if (is_a)
                s.local_ts = {range(h.c_str(), h.c_str())};
            else
                s.remote_ts = {range(h.c_str(), h.c_str())};
            if (!NS_CHECK(r, (is_a ? a : b).dp->install(s, error), error)) return;
        }
    // A burst per SA into A's worker 0 queue.
    constexpr unsigned kBurst = 100;
    std::set<Bytes> expected;
    for (unsigned i = 0; i < kBurst; ++i)
        for (const auto& p : pairs) {
            const Bytes pkt = inner_packet(p.host, 9, i);
            expected.insert(pkt);
            if (!NS_CHECK(r, ::send(a.tuns[0].test.get(), pkt.data(), pkt.size(), 0) ==
                                 static_cast<ssize_t>(pkt.size()),
                          std::string("write to A's queue: ") + std::strerror(errno)))
                return;
        }
    // B's workers write what they decrypt to their own queues.
    std::set<Bytes> got;
    unsigned per_worker[2] = {0, 0};
    while (got.size() < expected.size()) {
        pollfd p[2] = {{b.tuns[0].test.get(), POLLIN, 0}, {b.tuns[1].test.get(), POLLIN, 0}};
        if (::poll(p, 2, 5000) <= 0) break;  // a guard against hanging, not a timed check
        for (unsigned w = 0; w < 2; ++w)
            for (auto& d : read_all(b.tuns[w].test.get())) {
                got.insert(d);
                ++per_worker[w];
            }
    }
    a.stop();
    b.stop();
    NS_CHECK(r, got == expected,
             "B delivered " + std::to_string(got.size()) + " distinct of " +
                 std::to_string(expected.size()));
    NS_CHECK(r, per_worker[0] == kBurst && per_worker[1] == kBurst,
             "B's workers delivered " + std::to_string(per_worker[0]) + " and " +
                 std::to_string(per_worker[1]) + " (expected one SA each)");
    const auto sa = a.dp->stats(), sb = b.dp->stats();
    NS_CHECK(r, sa.outbound_packets == 2 * kBurst, "A sent " + std::to_string(sa.outbound_packets));
    NS_CHECK(r, sb.inbound_packets == 2 * kBurst,
             "B delivered " + std::to_string(sb.inbound_packets));
    NS_CHECK(r, sb.total_dropped() == 0 && sa.total_dropped() == 0,
             "drops: A " + std::to_string(sa.total_dropped()) + ", B " +
                 std::to_string(sb.total_dropped()));
    NS_CHECK(r, sb.misrouted == 0, "misrouted at B");
    // Batching: the burst was read in batches; how many depends on scheduling, so it is
    // reported, and only bounded by the packet count.
    NS_CHECK(r, sa.batches_in >= 1 && sa.batches_in <= 2 * kBurst,
             "A's batches " + std::to_string(sa.batches_in));
    r.info(std::string(udp ? "ESP-in-UDP" : "plain ESP") + ": A read " +
           std::to_string(2 * kBurst) + " packets in " + std::to_string(sa.batches_in) +
           " TUN batches; B received them in " + std::to_string(sb.batches_in) + " batches");

    // And back: B's worker 1 answers through B's other SA direction.
    // From 10.2.0.1 to 10.1.0.10.
    Bytes back = inner_packet(10, 9, 4242);
    std::swap_ranges(back.begin() + 12, back.begin() + 16, back.begin() + 16);
    for (auto& w : a.workers)
        w->start();
    for (auto& w : b.workers)
        w->start();
    NS_CHECK(r, ::send(b.tuns[1].test.get(), back.data(), back.size(), 0) > 0, "write to B");
    pollfd p[2] = {{a.tuns[0].test.get(), POLLIN, 0}, {a.tuns[1].test.get(), POLLIN, 0}};
    std::optional<Bytes> reply;
    if (::poll(p, 2, 5000) > 0)
        reply = read_one(p[0].revents & POLLIN ? a.tuns[0].test.get() : a.tuns[1].test.get());
    NS_CHECK(r, reply && *reply == back, "A got B's packet back");
    // After stop(): the worker counts the packet after writing it, so only a joined worker's
    // counters are final (checked before, this failed now and then).
    a.stop();
    b.stop();
    // 0x2001 is odd: A's worker 1 owns it.
    NS_CHECK(r, a.dp->path_stats(1).inbound_packets == 1, "A's worker 1 decrypted it");
}

// ---- offloads ----------------------------------------------------------------------------------

namespace gso = postern::test::gso;

// A's queue gets kSupers TCP super-packets of one flow (TSO, NEEDS_CSUM, as the kernel hands
// them over a vnet_hdr TUN), one UDP super-packet (USO) and one malformed one; what comes out of
// B's queue is checked byte for byte and checksum for checksum.
void offload_round_trip(const Report& r, bool offloads) {
    if (!lo_up(r)) return;
    Side a, b;
    if (!a.open(r, "127.0.0.1", 1, true, offloads) || !b.open(r, "127.0.0.2", 1, true, offloads))
        return;
    if (offloads) {
        // This kernel (Linux 4.18+ for UDP_SEGMENT, 5.0+ for UDP_GRO) has both: checked, so
        // that the counters below are meaningful.
        NS_CHECK(r, a.workers[0]->offloads().udp_gso && b.workers[0]->offloads().udp_gro &&
                        b.workers[0]->offloads().tun_coalesce,
                 "offloads not all on");
    } else {
        const auto& o = b.workers[0]->offloads();
        NS_CHECK(r, !o.udp_gso && !o.udp_gro && !o.tun_coalesce, "offloads on though forced off");
    }
    std::string error;
    for (int i = 0; i < 4; ++i) {
        const bool is_a = i < 2, a_to_b = i % 2 == 0;
        const EspSaSpec s = spec(a_to_b ? 0x3000 : 0x4000, a_to_b, is_a, true, "127.0.0.1",
                                 "127.0.0.2");
        if (!NS_CHECK(r, (is_a ? a : b).dp->install(s, error), error)) return;
    }

    constexpr std::size_t kSupers = 8, kPayload = 64000, kMss = 1360, kUdpPayload = 8000,
                          kUdpSize = 1000;
    constexpr std::uint32_t kSeq = 0x10000000;
    const std::size_t segments_per_super = (kPayload + kMss - 1) / kMss;
    auto write_super = [&](const Bytes& packet, const VirtioNetHdr& hdr) {
        iovec iov[2] = {{const_cast<VirtioNetHdr*>(&hdr), sizeof hdr},
                        {const_cast<std::uint8_t*>(packet.data()), packet.size()}};
        msghdr m{};
        m.msg_iov = iov;
        m.msg_iovlen = 2;
        return NS_CHECK(r, ::sendmsg(a.tuns[0].test.get(), &m, 0) ==
                               static_cast<ssize_t>(sizeof hdr + packet.size()),
                        std::string("write to A's queue: ") + std::strerror(errno));
    };
    // Malformed: says TCPV4, carries UDP (GsoError::protocol_mismatch).
    {
        gso::Super u;
        u.tcp = false;
        u.payload = 3000;
        VirtioNetHdr hdr;
        const Bytes p = gso::build(u, hdr);
        hdr.gso_type = VirtioNetHdr::kGsoTcpV4;
        if (!write_super(p, hdr)) return;
    }
    for (std::size_t k = 0; k < kSupers; ++k) {
        gso::Super t;
        t.payload = kPayload;
        t.gso_size = kMss;
        t.seq = static_cast<std::uint32_t>(kSeq + k * kPayload);
        t.id = static_cast<std::uint16_t>(0x1234 + k * segments_per_super);
        t.flags = gso::kAck;
        VirtioNetHdr hdr;
        const Bytes p = gso::build(t, hdr);
        if (!write_super(p, hdr)) return;
    }
    {
        gso::Super u;
        u.tcp = false;
        u.payload = kUdpPayload;
        u.gso_size = kUdpSize;
        u.dport = 5353;
        VirtioNetHdr hdr;
        const Bytes p = gso::build(u, hdr);
        if (!write_super(p, hdr)) return;
    }

    // B's queue: [virtio-net header | IP packet] per write.
    std::vector<int> tcp_bytes(kSupers * kPayload, 0);  // times each stream octet arrived
    std::size_t tcp_total = 0, udp_datagrams = 0, writes = 0, merged_writes = 0;
    std::string bad;
    auto take = [&](const Bytes& d) {
        ++writes;
        if (d.size() < sizeof(VirtioNetHdr) + 20) {
            bad = "short write";
            return;
        }
        VirtioNetHdr hdr;
        std::memcpy(&hdr, d.data(), sizeof hdr);
        Bytes p(d.begin() + sizeof hdr, d.end());
        if (hdr.is_gso()) {
            ++merged_writes;
            if (hdr.gso_type != VirtioNetHdr::kGsoTcpV4 || hdr.gso_size != kMss ||
                !hdr.needs_csum() || hdr.csum_start != 20 || hdr.csum_offset != 16)
                bad = "coalesced packet's header";
        } else if (hdr.flags || hdr.gso_type) {
            bad = "non-GSO write with flags";
        }
        if (hdr.needs_csum() && !complete_l4_checksum(p, hdr)) bad = "csum offsets";
        std::string why;
        if (!gso::checksums_ok(p, &why)) bad = why;
        if (p[9] == 17) {
            // One USO datagram: its payload is the slice of the super-packet's.
            const std::size_t n = p.size() - 28;
            const std::size_t first = (gso::get16(&p[4]) - 0x1234) * kUdpSize;  // by IPv4 ID
            for (std::size_t i = 0; i < n; ++i)
                if (first + i >= kUdpPayload || p[28 + i] != gso::payload_byte(first + i))
                    bad = "UDP payload";
            ++udp_datagrams;
            return;
        }
        const std::size_t hl = 20 + (p[32] >> 4) * 4u;
        const std::uint32_t seq = gso::get32(&p[24]);
        const std::size_t offset = seq - kSeq;
        for (std::size_t i = 0; hl + i < p.size(); ++i) {
            const std::size_t at = offset + i;
            if (at >= tcp_bytes.size() || p[hl + i] != gso::payload_byte(at % kPayload)) {
                bad = "TCP payload at stream offset " + std::to_string(at);
                return;
            }
            ++tcp_bytes[at];
        }
        tcp_total += p.size() - hl;
    };
    const std::size_t udp_expected = kUdpPayload / kUdpSize;
    while (bad.empty() && (tcp_total < tcp_bytes.size() || udp_datagrams < udp_expected)) {
        pollfd p{b.tuns[0].test.get(), POLLIN, 0};
        if (::poll(&p, 1, 5000) <= 0) break;  // a guard against hanging, not a timed check
        for (const auto& d : read_all(b.tuns[0].test.get()))
            take(d);
    }
    a.stop();
    b.stop();
    NS_CHECK(r, bad.empty(), "B wrote a bad packet: " + bad);
    NS_CHECK(r,
             std::all_of(tcp_bytes.begin(), tcp_bytes.end(), [](int n) { return n == 1; }) &&
                 tcp_total == tcp_bytes.size(),
             "TCP stream: " + std::to_string(tcp_total) + " of " +
                 std::to_string(tcp_bytes.size()) + " octets, each exactly once");
    NS_CHECK(r, udp_datagrams == udp_expected,
             "UDP datagrams " + std::to_string(udp_datagrams));

    const auto sa = a.dp->stats(), sb = b.dp->stats();
    const std::size_t segments = kSupers * segments_per_super + udp_expected;
    NS_CHECK(r, sa.gso_packets == kSupers + 1 && sa.gso_segments == segments,
             "A segmented " + std::to_string(sa.gso_packets) + " super-packets into " +
                 std::to_string(sa.gso_segments) + " segments");
    NS_CHECK(r, sa.gso_dropped == 1, "A dropped " + std::to_string(sa.gso_dropped) +
                                         " malformed super-packets, expected 1");
    NS_CHECK(r, sa.outbound_packets == segments && sb.inbound_packets == segments,
             "ESP out " + std::to_string(sa.outbound_packets) + ", in " +
                 std::to_string(sb.inbound_packets));
    NS_CHECK(r, sb.total_dropped() == 0, "B dropped " + std::to_string(sb.total_dropped()));
    NS_CHECK(r, sb.esp_received == segments, "B received " + std::to_string(sb.esp_received));
    if (offloads) {
        // Each super-packet's equal-size segments leave as one or two trains (64 KiB cap).
        NS_CHECK(r, sa.udp_gso_sends >= kSupers, "UDP_SEGMENT sends " +
                                                     std::to_string(sa.udp_gso_sends));
        // Loopback hands a UDP_SEGMENT train to a UDP_GRO socket whole.
        NS_CHECK(r, sb.gro_buffers >= 1 && sb.gro_datagrams <= segments,
                 "GRO buffers " + std::to_string(sb.gro_buffers));
        NS_CHECK(r, sb.coalesced_writes >= 1 && merged_writes == sb.coalesced_writes,
                 "coalesced writes " + std::to_string(sb.coalesced_writes) + ", seen " +
                     std::to_string(merged_writes));
        NS_CHECK(r, writes < segments, "B wrote " + std::to_string(writes) + " packets for " +
                                           std::to_string(segments) + " segments");
    } else {
        NS_CHECK(r, sa.udp_gso_sends == 0 && sb.gro_buffers == 0 && sb.coalesced_writes == 0,
                 "offloads used though off");
        NS_CHECK(r, writes == segments && merged_writes == 0,
                 "B wrote " + std::to_string(writes) + " packets");
    }
    r.info(std::string(offloads ? "offloads on" : "offloads off") + ": A " +
           std::to_string(sa.gso_segments) + " segments in " +
           std::to_string(sa.udp_gso_sends) + " UDP_SEGMENT sends; B " +
           std::to_string(sb.gro_buffers) + " GRO buffers (" + std::to_string(sb.gro_datagrams) +
           " datagrams), " + std::to_string(writes) + " TUN writes (" +
           std::to_string(sb.coalesced_writes) + " coalesced of " +
           std::to_string(sb.coalesced_segments) + " segments)");
}

}  // namespace

BOOST_AUTO_TEST_SUITE(worker_netns, *boost::unit_test::precondition(needs_root_and_tun))

BOOST_AUTO_TEST_CASE(udp_4500_is_steered_by_spi_in_bind_order) {
    run_in_netns([](const Report& r) {
        if (!lo_up(r)) return;
        for (const char* addr : {"127.0.0.1", "::1"}) {
            constexpr unsigned kWorkers = 3;
            UserspaceDataPlane dp(options(kWorkers));
            Fd ike = ike_socket(r, addr);
            if (!ike) return;
            std::vector<std::unique_ptr<DataPlaneWorker>> workers;
            for (unsigned w = 0; w < kWorkers; ++w) {
                WorkerConfig c;
                c.index = w;
                c.natt = {NattBinding{Endpoint{*IpAddress::parse(addr), 4500}, ike.get()}};
                c.plain_esp = false;
                auto worker = DataPlaneWorker::create(dp, std::move(c));
                if (!NS_CHECK(r, worker, worker ? "" : worker.error())) return;
                workers.push_back(std::move(*worker));
            }
            // Not started: the test reads the workers' sockets itself.
            Fd client(::socket(std::strchr(addr, ':') ? AF_INET6 : AF_INET,
                               SOCK_DGRAM | SOCK_CLOEXEC, 0));
            const Bytes ike_msg = {0, 0, 0, 0, 0x11, 0x22, 0x33, 0x44, 0, 0, 0, 0};
            const Bytes keepalive = {0xff};
            std::vector<std::uint32_t> spis = {1, 2, 3, 4, 5, 6, 0xc0de0001, 0xfffffffe, 0x8000};
            NS_CHECK(r, send_to(client.get(), ike_msg, addr, 4500), "send IKE");
            NS_CHECK(r, send_to(client.get(), keepalive, addr, 4500), "send keepalive");
            for (auto spi : spis)
                NS_CHECK(r, send_to(client.get(), esp_like(spi), addr, 4500), "send ESP");
            // Loopback delivery is synchronous with sendto(): everything is queued by now.
            const auto at_ike = read_all(ike.get());
            NS_CHECK(r, at_ike.size() == 2 && at_ike[0] == ike_msg && at_ike[1] == keepalive,
                     std::string(addr) + ": the IKE socket got " + std::to_string(at_ike.size()) +
                         " datagrams, expected the IKE message and the keepalive");
            std::size_t esp_seen = 0;
            for (unsigned w = 0; w < kWorkers; ++w) {
                for (const auto& d : read_all(workers[w]->udp_sockets()[0].fd.get())) {
                    ++esp_seen;
                    NS_CHECK(r, spi_of(d) % kWorkers == w,
                             std::string(addr) + ": SPI " + std::to_string(spi_of(d)) +
                                 " reached worker " + std::to_string(w));
                }
            }
            NS_CHECK(r, esp_seen == spis.size(),
                     std::string(addr) + ": workers got " + std::to_string(esp_seen) + " of " +
                         std::to_string(spis.size()) + " ESP datagrams");
        }
    });
}

BOOST_AUTO_TEST_CASE(raw_esp_sockets_see_protocol_50_filtered_by_spi) {
    run_in_netns([](const Report& r) {
        if (!lo_up(r)) return;
        for (int family : {AF_INET, AF_INET6}) {
            const char* addr = family == AF_INET ? "127.0.0.1" : "::1";
            constexpr unsigned kWorkers = 2;
            std::vector<EspRawSocket> raws;
            for (unsigned w = 0; w < kWorkers; ++w) {
                auto s = open_esp_raw(family);
                if (!NS_CHECK(r, s, s ? "" : s.error())) return;
                auto ok = attach_esp_filter(s->fd.get(), family, w, kWorkers);
                if (!NS_CHECK(r, ok, ok ? "" : ok.error())) return;
                drain(s->fd.get());
                raws.push_back(std::move(*s));
            }
            auto sender = open_esp_raw(family);
            if (!NS_CHECK(r, sender, sender ? "" : sender.error())) return;
            // The sender's own socket has no filter; it sees its packets too, which is why
            // every worker socket carries one.
            for (std::uint32_t spi : {0x10u, 0x11u, 0x12u, 0xabcdef01u})
                NS_CHECK(r, send_to(sender->fd.get(), esp_like(spi), addr, 0), "sendto raw");
            for (unsigned w = 0; w < kWorkers; ++w) {
                const auto got = read_all(raws[w].fd.get());
                NS_CHECK(r, got.size() == 2,
                         std::string(addr) + ": worker " + std::to_string(w) + " got " +
                             std::to_string(got.size()) + " packets, expected 2");
                for (const auto& d : got) {
                    const std::size_t off =
                        family == AF_INET ? ipv4_payload_offset(d.data(), d.size()) : 0;
                    if (!NS_CHECK(r, family == AF_INET6 || off == 20, "IPv4 header")) continue;
                    const Bytes esp(d.begin() + static_cast<std::ptrdiff_t>(off), d.end());
                    NS_CHECK(r, esp.size() == 40 && spi_of(esp) % kWorkers == w,
                             "SPI " + std::to_string(spi_of(esp)) + " at worker " +
                                 std::to_string(w));
                }
            }
        }
    });
}

BOOST_AUTO_TEST_CASE(esp_in_udp_round_trip_between_two_data_planes) {
    run_in_netns([](const Report& r) { round_trip(r, true); });
}

BOOST_AUTO_TEST_CASE(plain_esp_round_trip_between_two_data_planes) {
    run_in_netns([](const Report& r) { round_trip(r, false); });
}

BOOST_AUTO_TEST_CASE(offloads_segment_send_trains_split_and_coalesce_intact) {
    run_in_netns([](const Report& r) { offload_round_trip(r, true); });
}

BOOST_AUTO_TEST_CASE(offloads_forced_off_still_segment_and_deliver_intact) {
    run_in_netns([](const Report& r) { offload_round_trip(r, false); });
}

BOOST_AUTO_TEST_CASE(start_stop_joins_and_is_idempotent) {
    run_in_netns([](const Report& r) {
        if (!lo_up(r)) return;
        UserspaceDataPlane dp(options(1));
        Fd ike = ike_socket(r, "127.0.0.1");
        if (!ike) return;
        WorkerConfig c;
        c.natt = {NattBinding{Endpoint{*IpAddress::parse("127.0.0.1"), 4500}, ike.get()}};
        auto w = DataPlaneWorker::create(dp, std::move(c));
        if (!NS_CHECK(r, w, w ? "" : w.error())) return;
        (*w)->stop();  // never started: nothing to join
        (*w)->start();
        (*w)->start();  // already running: no second thread
        (*w)->stop();
        (*w)->stop();
        (*w)->start();  // restartable
        w->reset();     // the destructor stops it
        NS_CHECK(r, true, "");
        // A worker index beyond the data plane's workers is refused with both numbers.
        WorkerConfig bad;
        bad.index = 1;
        auto refused = DataPlaneWorker::create(dp, std::move(bad));
        NS_CHECK(r, !refused && refused.error() == "data-plane worker 1: only 1 workers configured",
                 refused ? "created" : refused.error());
    });
}

BOOST_AUTO_TEST_SUITE_END()
