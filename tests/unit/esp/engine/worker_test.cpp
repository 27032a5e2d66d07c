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

    bool open(const Report& r, const char* addr, unsigned n) {
        dp = std::make_unique<UserspaceDataPlane>(options(n));
        ike = ike_socket(r, addr);
        if (!ike) return false;
        for (unsigned w = 0; w < n; ++w) {
            tuns.push_back(FakeTun::make());
            if (!NS_CHECK(r, tuns.back().worker, "socketpair")) return false;
            WorkerConfig c;
            c.index = w;
            c.tun = TunQueue(tuns.back().worker.get(), w, false);
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
    // 0x2001 is odd: A's worker 1 owns it.
    NS_CHECK(r, a.dp->path_stats(1).inbound_packets == 1, "A's worker 1 decrypted it");
    a.stop();
    b.stop();
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
