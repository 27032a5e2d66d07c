// SaTable: install/remove/lookup by SPI and by traffic selector (most specific first, both
// families, rekey tie-break), and readers racing with updates.
#include <atomic>
#include <boost/test/unit_test.hpp>
#include <memory>
#include <thread>
#include <vector>

#include "esp/engine/ip_packet.hpp"
#include "esp/engine/sa_table.hpp"

using namespace postern;
using namespace postern::esp;

namespace {

Selector range(const char* from, const char* to) {
    Selector s;
    s.start = *IpAddress::parse(from);
    s.end = *IpAddress::parse(to);
    return s;
}

const Bytes kKey(36, 0x42);

// SPIs 0..255 are reserved: the tests name SAs 1, 2, ... and use 0x1000 + n.
EspSpi S(std::uint32_t n) {
    return postern::EspSpi(0x1000 + n);
}

std::unique_ptr<EspSa> make_sa(std::uint32_t spi, bool inbound, std::vector<Selector> local,
                               std::vector<Selector> remote) {
    EspSaSpec spec;
    spec.spi = S(spi);
    spec.inbound = inbound;
    spec.encr_id = 20;  // ENCR_AES_GCM_16
    spec.encr_key_bits = 256;
    spec.encr_key = kKey;
    spec.local_ts = std::move(local);
    spec.remote_ts = std::move(remote);
    auto sa = EspSa::create(spec);
    BOOST_REQUIRE_MESSAGE(sa, (sa ? "" : sa.error()));
    return std::move(*sa);
}

IpPacketInfo packet(const char* src, const char* dst, std::uint8_t proto = kIpProtoUdp,
                    std::uint16_t dport = 53) {
    IpPacketInfo p;
    p.src = *IpAddress::parse(src);
    p.dst = *IpAddress::parse(dst);
    p.version = p.src.is_v4() ? 4 : 6;
    p.protocol = proto;
    p.ports_known = true;
    p.src_port = 1234;
    p.dst_port = dport;
    return p;
}

std::uint32_t spi_of(const SaSlot* s) {
    return s ? s->sa->spi().value() - 0x1000 : 0;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(sa_table)

BOOST_AUTO_TEST_CASE(install_lookup_remove_by_spi) {
    SaTable table(2);
    BOOST_TEST(table.snapshot()->find_inbound(S(1)) == nullptr);
    const auto g0 = table.generation();
    BOOST_REQUIRE(table.install(
        make_sa(0x100, true, {range("10.0.0.0", "10.0.0.255")}, {range("10.1.0.0", "10.1.0.255")}),
        7));
    BOOST_REQUIRE(table.install(make_sa(0x50, true, {}, {})));
    BOOST_REQUIRE(table.install(make_sa(0x100, false, {}, {})));  // same SPI, other direction
    BOOST_TEST(table.generation() == g0 + 3);

    auto snap = table.snapshot();
    SaSlot* in = snap->find_inbound(S(0x100));
    BOOST_REQUIRE(in);
    BOOST_TEST(in->sa->inbound());
    BOOST_TEST(in->reqid == 7u);
    BOOST_TEST(in->ciphers.size() == 2u);
    BOOST_TEST(spi_of(snap->find_inbound(S(0x50))) == 0x50u);
    BOOST_TEST(snap->find_inbound(S(0x51)) == nullptr);
    BOOST_TEST(!snap->find_outbound_spi(S(0x100))->sa->inbound());

    auto dup = table.install(make_sa(0x100, true, {}, {}));
    BOOST_REQUIRE(!dup);
    BOOST_TEST(dup.error() == "inbound ESP SA 0x00001100: already installed");

    BOOST_TEST(table.remove(S(0x100), true));
    BOOST_TEST(!table.remove(S(0x100), true));
    BOOST_TEST(table.snapshot()->find_inbound(S(0x100)) == nullptr);
    BOOST_TEST(table.snapshot()->find_outbound_spi(S(0x100)) != nullptr);
    // The old snapshot still holds the removed SA, usable until released.
    BOOST_TEST(snap->find_inbound(S(0x100)) == in);
    BOOST_TEST(in->sa->spi().value() == S(0x100).value());
}

BOOST_AUTO_TEST_CASE(move_changes_the_path_and_keeps_the_sa) {
    // MOBIKE: a moved SA gets a new slot with the new outer path; the EspSa (sequence numbers,
    // replay window) is the same one, selectors still route to it, old snapshots keep the old
    // path.
    SaTable table(2);
    const auto local = std::vector<Selector>{range("10.99.0.0", "10.99.0.255")};
    const auto remote = std::vector<Selector>{range("10.98.0.0", "10.98.0.255")};
    BOOST_REQUIRE(table.install(make_sa(1, false, local, remote), 9));
    auto before = table.snapshot();
    SaSlot* old = before->find_outbound_spi(S(1));
    BOOST_REQUIRE(old);
    old->sa->set_last_sequence(41);
    const Endpoint src{*IpAddress::parse("192.0.2.2"), 4500};
    const Endpoint dst{*IpAddress::parse("198.51.100.7"), 61000};
    BOOST_REQUIRE(table.move(S(1), false, src, dst, true));
    auto after = table.snapshot();
    SaSlot* moved = after->find_outbound_spi(S(1));
    BOOST_REQUIRE(moved);
    BOOST_TEST(moved != old);
    BOOST_TEST(moved->sa.get() == old->sa.get());
    BOOST_TEST(moved->src.to_string() == "192.0.2.2:4500");
    BOOST_TEST(moved->dst.to_string() == "198.51.100.7:61000");
    BOOST_TEST(moved->udp_encap);
    BOOST_TEST(moved->reqid == 9u);
    BOOST_TEST(moved->ciphers.size() == 2u);
    BOOST_TEST(moved->sa->next_sequence() == 42u);
    BOOST_TEST(after->find_outbound(packet("10.99.0.1", "10.98.0.9")) == moved);
    BOOST_TEST(!old->udp_encap);  // the old snapshot is untouched
    BOOST_TEST(before->find_outbound_spi(S(1)) == old);

    auto missing = table.move(S(2), true, src, dst, false);
    BOOST_REQUIRE(!missing);
    BOOST_TEST(missing.error() == "inbound ESP SA 0x00001002: not installed");
}

BOOST_AUTO_TEST_CASE(outbound_most_specific_selector_wins) {
    SaTable table;
    const auto local = std::vector<Selector>{range("10.99.0.0", "10.99.0.255")};
    // 1: the whole 10.0.0.0/8, 2: 10.98.0.0/24, 3: one host 10.98.0.7, 4: 10.98.0.0/24 but only
    // from 10.99.0.5 (a narrower source).
    BOOST_REQUIRE(table.install(make_sa(1, false, local, {range("10.0.0.0", "10.255.255.255")})));
    BOOST_REQUIRE(table.install(make_sa(2, false, local, {range("10.98.0.0", "10.98.0.255")})));
    BOOST_REQUIRE(table.install(make_sa(3, false, local, {range("10.98.0.7", "10.98.0.7")})));
    BOOST_REQUIRE(table.install(
        make_sa(4, false, {range("10.99.0.5", "10.99.0.5")}, {range("10.98.0.0", "10.98.0.255")})));
    auto snap = table.snapshot();
    BOOST_TEST(spi_of(snap->find_outbound(packet("10.99.0.1", "10.98.0.7"))) == 3u);
    BOOST_TEST(spi_of(snap->find_outbound(packet("10.99.0.1", "10.98.0.8"))) == 2u);
    BOOST_TEST(spi_of(snap->find_outbound(packet("10.99.0.5", "10.98.0.8"))) == 4u);
    BOOST_TEST(spi_of(snap->find_outbound(packet("10.99.0.5", "10.98.0.7"))) == 3u);
    BOOST_TEST(spi_of(snap->find_outbound(packet("10.99.0.1", "10.42.0.1"))) == 1u);
    // Source outside every local selector, destination outside every remote one.
    BOOST_TEST(snap->find_outbound(packet("10.100.0.1", "10.98.0.7")) == nullptr);
    BOOST_TEST(snap->find_outbound(packet("10.99.0.1", "11.0.0.1")) == nullptr);

    // Removing the host SA falls back to the /24.
    BOOST_REQUIRE(table.remove(S(3), false));
    BOOST_TEST(spi_of(table.snapshot()->find_outbound(packet("10.99.0.1", "10.98.0.7"))) == 2u);
}

BOOST_AUTO_TEST_CASE(outbound_protocol_and_ports_and_rekey_order) {
    SaTable table;
    const auto local = std::vector<Selector>{range("10.99.0.0", "10.99.0.255")};
    Selector dns = range("10.98.0.0", "10.98.0.255");
    dns.ip_protocol = kIpProtoUdp;
    dns.start_port = dns.end_port = 53;
    BOOST_REQUIRE(table.install(make_sa(1, false, local, {range("10.98.0.0", "10.98.0.255")})));
    BOOST_REQUIRE(table.install(make_sa(2, false, local, {dns})));
    auto snap = table.snapshot();
    BOOST_TEST(spi_of(snap->find_outbound(packet("10.99.0.1", "10.98.0.1", kIpProtoUdp, 53))) ==
               2u);
    BOOST_TEST(spi_of(snap->find_outbound(packet("10.99.0.1", "10.98.0.1", kIpProtoUdp, 54))) ==
               1u);
    BOOST_TEST(spi_of(snap->find_outbound(packet("10.99.0.1", "10.98.0.1", kIpProtoTcp, 53))) ==
               1u);
    // A rekeyed SA with the same selectors takes over; removing it returns to the old one.
    BOOST_REQUIRE(table.install(make_sa(5, false, local, {range("10.98.0.0", "10.98.0.255")})));
    BOOST_TEST(spi_of(table.snapshot()->find_outbound(
                   packet("10.99.0.1", "10.98.0.1", kIpProtoTcp))) == 5u);
    BOOST_REQUIRE(table.remove(S(5), false));
    BOOST_TEST(spi_of(table.snapshot()->find_outbound(
                   packet("10.99.0.1", "10.98.0.1", kIpProtoTcp))) == 1u);
}

BOOST_AUTO_TEST_CASE(outbound_v4_and_v6) {
    SaTable table;
    BOOST_REQUIRE(table.install(make_sa(4, false, {range("10.99.0.0", "10.99.0.255")},
                                        {range("10.98.0.0", "10.98.0.255")})));
    BOOST_REQUIRE(table.install(make_sa(6, false, {range("fd00:99::", "fd00:99::ffff")},
                                        {range("fd00:98::", "fd00:98::ffff")})));
    // Dual-stack SA: both families in one SA.
    BOOST_REQUIRE(table.install(
        make_sa(46, false, {range("10.77.0.0", "10.77.0.255"), range("fd00:77::", "fd00:77::ffff")},
                {range("10.76.0.0", "10.76.0.255"), range("fd00:76::", "fd00:76::ffff")})));
    auto snap = table.snapshot();
    BOOST_TEST(snap->routes_v4.size() == 2u);
    BOOST_TEST(snap->routes_v6.size() == 2u);
    BOOST_TEST(spi_of(snap->find_outbound(packet("10.99.0.1", "10.98.0.1"))) == 4u);
    BOOST_TEST(spi_of(snap->find_outbound(packet("fd00:99::1", "fd00:98::1"))) == 6u);
    BOOST_TEST(spi_of(snap->find_outbound(packet("10.77.0.1", "10.76.0.1"))) == 46u);
    BOOST_TEST(spi_of(snap->find_outbound(packet("fd00:77::1", "fd00:76::1"))) == 46u);
    BOOST_TEST(snap->find_outbound(packet("fd00:99::1", "fd00:76::1")) == nullptr);
    // An IPv4-mapped or same-bytes address of the other family never matches.
    BOOST_TEST(snap->find_outbound(packet("::a63:1", "::a62:1")) == nullptr);
}

BOOST_AUTO_TEST_CASE(readers_race_with_installs_and_removes) {
    SaTable table;
    const auto local = std::vector<Selector>{range("10.99.0.0", "10.99.0.255")};
    BOOST_REQUIRE(table.install(make_sa(1, true, local, {range("10.98.0.0", "10.98.0.255")})));
    BOOST_REQUIRE(table.install(make_sa(1, false, local, {range("10.98.0.0", "10.98.0.255")})));

    std::atomic<bool> stop{false};
    std::atomic<std::uint64_t> lookups{0}, bad{0};
    // The writer starts once both readers have looked up at least once, so the race is real
    // (and `lookups > 0` holds) however the threads are scheduled on a loaded machine.
    std::atomic<int> started{0};
    auto reader = [&](bool use_reader) {
        SaTable::Reader r(table);
        std::uint64_t n = 0;
        while (!stop.load(std::memory_order_relaxed)) {
            std::shared_ptr<const SaTableSnapshot> held;
            const SaTableSnapshot* snap;
            if (use_reader) {
                snap = &r.refresh();
            } else {
                held = table.snapshot();
                snap = held.get();
            }
            // SA 1 is always there; the others come and go.
            SaSlot* s = snap->find_inbound(S(1));
            if (!s || s->sa->spi() != S(1)) bad.fetch_add(1);
            SaSlot* o = snap->find_outbound(packet("10.99.0.1", "10.98.0.9"));
            if (!o) bad.fetch_add(1);
            for (std::uint32_t spi = 2; spi < 10; ++spi)
                if (SaSlot* x = snap->find_inbound(S(spi)); x && x->sa->spi() != S(spi))
                    bad.fetch_add(1);
            if (++n == 1) started.fetch_add(1);
        }
        lookups.fetch_add(n);
    };
    std::thread a(reader, true), b(reader, false);
    while (started.load() < 2)
        std::this_thread::yield();
    for (int round = 0; round < 300; ++round) {
        const auto spi = static_cast<std::uint32_t>(2 + round % 8);
        const auto host = "10.98.0." + std::to_string(round % 8 + 9);
        auto sel = range(host.c_str(), host.c_str());
        if (!table.install(make_sa(spi, true, local, {sel}))) bad.fetch_add(1);
        if (!table.install(make_sa(spi, false, local, {sel}))) bad.fetch_add(1);
        if (!table.remove(S(spi), true)) bad.fetch_add(1);
        if (!table.remove(S(spi), false)) bad.fetch_add(1);
    }
    stop = true;
    a.join();
    b.join();
    BOOST_TEST(bad.load() == 0u);
    BOOST_TEST(lookups.load() > 0u);
    BOOST_TEST(table.snapshot()->inbound.size() == 1u);
    BOOST_TEST(table.snapshot()->outbound.size() == 1u);
}

BOOST_AUTO_TEST_SUITE_END()
