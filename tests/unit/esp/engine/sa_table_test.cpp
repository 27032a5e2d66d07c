// SaTable: install/remove/lookup by SPI and by traffic selector (most specific first, both
// families, rekey tie-break), readers racing with updates, and thousands of clients checked
// against a brute-force reference of the route order.
#include <algorithm>
#include <atomic>
#include <boost/test/unit_test.hpp>
#include <memory>
#include <random>
#include <set>
#include <string>
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

Selector host(const IpAddress& a) {
    Selector s;
    s.start = s.end = a;
    return s;
}

// The route order and the lookup SaTable had before it kept host routes in buckets: every
// (remote, local) pair of every outbound SA of one family in one vector (SAs in SPI order),
// stable-sorted by more_specific(), scanned from the front.
class ReferenceRoutes {
  public:
    ReferenceRoutes(const SaTableSnapshot& snap, const std::set<std::uint32_t>& outbound) {
        for (std::uint32_t n : outbound) {
            SaSlot* slot = snap.find_outbound_spi(S(n));
            BOOST_REQUIRE(slot);
            for (const auto& remote : slot->sa->remote_ts())
                for (const auto& local : slot->sa->local_ts())
                    if (remote.start.family() == local.start.family())
                        (remote.start.is_v4() ? v4_ : v6_).push_back({remote, local, slot});
        }
        std::stable_sort(v4_.begin(), v4_.end(), more_specific);
        std::stable_sort(v6_.begin(), v6_.end(), more_specific);
    }

    SaSlot* find(const IpPacketInfo& p) const {
        for (const auto& r : p.version == 4 ? v4_ : v6_) {
            if (r.remote.start.family() != p.dst.family() ||
                r.local.start.family() != p.src.family())
                continue;
            if (selector_covers(r.remote, p.dst, p.protocol, p.ports_known, p.dst_port) &&
                selector_covers(r.local, p.src, p.protocol, p.ports_known, p.src_port))
                return r.slot;
        }
        return nullptr;
    }

  private:
    std::vector<OutboundRoute> v4_, v6_;
};

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
    BOOST_TEST(snap->route_count(IpAddress::Family::V4) == 2u);
    BOOST_TEST(snap->route_count(IpAddress::Family::V6) == 2u);
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
    BOOST_TEST(table.snapshot()->inbound_count() == 1u);
    BOOST_TEST(table.snapshot()->outbound_count() == 1u);
}

BOOST_AUTO_TEST_CASE(host_route_rekey_newest_wins_and_survives_the_old_ones_removal) {
    // A remote-access client: remote selector its virtual IP (/32 and /128). A rekey installs
    // the new outbound SA beside the old one (the new one wins at once), then removes the old.
    SaTable table;
    const auto local =
        std::vector<Selector>{range("0.0.0.0", "255.255.255.255"),
                              range("::", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")};
    const auto vip =
        std::vector<Selector>{range("10.64.0.7", "10.64.0.7"), range("fd00:64::7", "fd00:64::7")};
    const auto v4 = packet("10.97.0.1", "10.64.0.7"), v6 = packet("fd00:97::1", "fd00:64::7");
    BOOST_REQUIRE(table.install(make_sa(1, false, local, vip)));
    BOOST_TEST(spi_of(table.snapshot()->find_outbound(v4)) == 1u);
    BOOST_TEST(spi_of(table.snapshot()->find_outbound(v6)) == 1u);
    BOOST_REQUIRE(table.install(make_sa(2, false, local, vip)));
    BOOST_TEST(spi_of(table.snapshot()->find_outbound(v4)) == 2u);
    BOOST_TEST(spi_of(table.snapshot()->find_outbound(v6)) == 2u);
    BOOST_TEST(table.snapshot()->route_count(IpAddress::Family::V4) == 2u);
    BOOST_REQUIRE(table.remove(S(1), false));
    BOOST_TEST(spi_of(table.snapshot()->find_outbound(v4)) == 2u);
    BOOST_TEST(spi_of(table.snapshot()->find_outbound(v6)) == 2u);
    BOOST_TEST(table.snapshot()->route_count(IpAddress::Family::V4) == 1u);
    BOOST_TEST(table.snapshot()->route_count(IpAddress::Family::V6) == 1u);
    // A second rekey, abandoned: removing the newest returns to the one before.
    BOOST_REQUIRE(table.install(make_sa(3, false, local, vip)));
    BOOST_TEST(spi_of(table.snapshot()->find_outbound(v4)) == 3u);
    BOOST_REQUIRE(table.remove(S(3), false));
    BOOST_TEST(spi_of(table.snapshot()->find_outbound(v4)) == 2u);
    // A move keeps the SA's place: still the route, through the new slot.
    BOOST_REQUIRE(table.install(make_sa(4, false, local, vip)));
    BOOST_REQUIRE(table.move(S(2), false, {*IpAddress::parse("192.0.2.2"), 4500},
                             {*IpAddress::parse("198.51.100.7"), 4500}, true));
    BOOST_TEST(spi_of(table.snapshot()->find_outbound(v4)) == 4u);
    BOOST_REQUIRE(table.remove(S(4), false));
    SaSlot* moved = table.snapshot()->find_outbound(v6);
    BOOST_TEST(spi_of(moved) == 2u);
    BOOST_TEST(moved == table.snapshot()->find_outbound_spi(S(2)));
    BOOST_TEST(moved->udp_encap);
    // Another address in the same table is not covered.
    BOOST_TEST(table.snapshot()->find_outbound(packet("10.97.0.1", "10.64.0.8")) == nullptr);
}

BOOST_AUTO_TEST_CASE(snapshots_taken_before_a_change_keep_the_old_state) {
    SaTable table;
    const auto local = std::vector<Selector>{range("0.0.0.0", "255.255.255.255")};
    const auto vip = [](int i) {
        const std::string a = "10.64.0." + std::to_string(i);
        return std::vector<Selector>{range(a.c_str(), a.c_str())};
    };
    for (std::uint32_t i = 1; i <= 40; ++i) {
        BOOST_REQUIRE(table.install(make_sa(100 + i, true, local, vip(static_cast<int>(i)))));
        BOOST_REQUIRE(table.install(make_sa(200 + i, false, local, vip(static_cast<int>(i)))));
    }
    SaTable::Reader reader(table);
    const auto before = table.snapshot();
    BOOST_REQUIRE(table.remove(S(105), true));
    BOOST_REQUIRE(table.remove(S(205), false));
    BOOST_REQUIRE(table.install(make_sa(241, false, local, vip(41))));
    BOOST_REQUIRE(table.install(make_sa(306, false, local, vip(6))));  // rekey of client 6

    // The reader and the snapshot taken before: the old state, the removed SA still usable.
    for (const SaTableSnapshot* snap : {&reader.current(), before.get()}) {
        BOOST_TEST(spi_of(snap->find_inbound(S(105))) == 105u);
        BOOST_TEST(spi_of(snap->find_outbound(packet("10.97.0.1", "10.64.0.5"))) == 205u);
        BOOST_TEST(snap->find_outbound(packet("10.97.0.1", "10.64.0.5"))->sa->spi().value() ==
                   S(205).value());
        BOOST_TEST(snap->find_outbound(packet("10.97.0.1", "10.64.0.41")) == nullptr);
        BOOST_TEST(spi_of(snap->find_outbound(packet("10.97.0.1", "10.64.0.6"))) == 206u);
        BOOST_TEST(snap->outbound_count() == 40u);
        BOOST_TEST(snap->route_count(IpAddress::Family::V4) == 40u);
    }
    // After a refresh, the new one.
    const SaTableSnapshot& now = reader.refresh();
    BOOST_TEST(now.find_inbound(S(105)) == nullptr);
    BOOST_TEST(now.find_outbound(packet("10.97.0.1", "10.64.0.5")) == nullptr);
    BOOST_TEST(spi_of(now.find_outbound(packet("10.97.0.1", "10.64.0.41"))) == 241u);
    BOOST_TEST(spi_of(now.find_outbound(packet("10.97.0.1", "10.64.0.6"))) == 306u);
    BOOST_TEST(now.inbound_count() == 39u);
    BOOST_TEST(now.outbound_count() == 41u);
    BOOST_TEST(now.route_count(IpAddress::Family::V4) == 41u);
}

namespace {

// A remote-access server's table for the big test, with the SAs it has installed (test SPI
// numbers, S(n)) beside it.
struct Model {
    SaTable table{2};
    std::set<std::uint32_t> inbound, outbound;

    void install(std::uint32_t n, bool in, std::vector<Selector> local,
                 std::vector<Selector> remote) {
        BOOST_REQUIRE(table.install(make_sa(n, in, std::move(local), std::move(remote))));
        (in ? inbound : outbound).insert(n);
    }
    void remove(std::uint32_t n, bool in) {
        BOOST_REQUIRE(table.remove(S(n), in));
        (in ? inbound : outbound).erase(n);
    }
};

// Packets to each destination: from inside and outside the site-to-site local selectors, UDP
// 53, TCP 443 and TCP 80.
std::vector<IpPacketInfo> probes(const std::vector<IpAddress>& destinations) {
    std::vector<IpPacketInfo> out;
    for (const auto& dst : destinations) {
        const std::string d = dst.to_string();
        if (dst.is_v4()) {
            out.push_back(packet("10.97.0.5", d.c_str(), kIpProtoUdp, 53));
            out.push_back(packet("10.97.0.5", d.c_str(), kIpProtoTcp, 443));
            out.push_back(packet("192.168.1.1", d.c_str(), kIpProtoUdp, 53));
            out.push_back(packet("10.97.0.9", d.c_str(), kIpProtoTcp, 80));
        } else {
            out.push_back(packet("fd00:97::5", d.c_str(), kIpProtoUdp, 53));
            out.push_back(packet("2001:db8::1", d.c_str(), kIpProtoTcp, 443));
        }
    }
    return out;
}

// How many probes the snapshot resolves differently from the reference (the first one is
// reported), after checking that both hold the same number of routes.
std::size_t mismatches(const SaTableSnapshot& snap, const std::set<std::uint32_t>& outbound,
                       const std::vector<IpPacketInfo>& packets) {
    const ReferenceRoutes reference(snap, outbound);
    std::size_t bad = 0;
    for (const auto& p : packets) {
        const SaSlot* got = snap.find_outbound(p);
        const SaSlot* want = reference.find(p);
        if (got != want && bad++ == 0)
            BOOST_ERROR(p.src.to_string() + " -> " + p.dst.to_string() + " proto " +
                        std::to_string(p.protocol) + " port " + std::to_string(p.dst_port) +
                        ": table SA " + std::to_string(spi_of(got)) + ", reference SA " +
                        std::to_string(spi_of(want)));
    }
    return bad;
}

// Every SA of the model found by SPI, and nothing else: `gone` lists SPIs that must be absent.
void check_spis(const SaTableSnapshot& snap, const Model& m,
                const std::vector<std::uint32_t>& gone) {
    std::size_t bad = 0;
    for (std::uint32_t n : m.inbound)
        bad += spi_of(snap.find_inbound(S(n))) != n || !snap.find_inbound(S(n))->sa->inbound();
    for (std::uint32_t n : m.outbound)
        bad += spi_of(snap.find_outbound_spi(S(n))) != n;
    for (std::uint32_t n : gone)
        bad += snap.find_inbound(S(n)) != nullptr || snap.find_outbound_spi(S(n)) != nullptr;
    BOOST_TEST(bad == 0u);
    BOOST_TEST(snap.inbound_count() == m.inbound.size());
    BOOST_TEST(snap.outbound_count() == m.outbound.size());
}

}  // namespace

BOOST_AUTO_TEST_CASE(many_clients_and_overlapping_site_routes_match_the_reference_order) {
    // 5,000 clients (virtual IP 10.64.0.0 + 1 + i, every seventh one also fd00:64::(i + 1)),
    // local selector 0.0.0.0/0 or 10.97.0.0/16, with site-to-site SAs whose wide selectors
    // overlap them, a host route narrower than one client's, and two degenerate wide
    // selectors (a reversed range, and a range from an IPv4 to an IPv6 address, which covers
    // every IPv4 address from its start and, with a remote span of 0, may precede host
    // routes). Every lookup must be the old order's: ReferenceRoutes.
    constexpr std::uint32_t kClients = 5000;
    Model m;
    const std::vector<Selector> any4{range("0.0.0.0", "255.255.255.255")},
        site4{range("10.97.0.0", "10.97.0.255")}, campus4{range("10.97.0.0", "10.97.255.255")},
        any6{range("::", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")};
    Selector dns = range("10.64.0.0", "10.64.15.255");
    dns.ip_protocol = kIpProtoUdp;
    dns.start_port = dns.end_port = 53;
    Selector mixed;
    mixed.start = *IpAddress::parse("10.64.0.7");
    mixed.end = *IpAddress::parse("::a40:7");  // the same number as the start: span 0
    mixed.ip_protocol = kIpProtoTcp;
    mixed.start_port = mixed.end_port = 443;
    m.install(1, false, site4, {range("10.64.0.0", "10.64.255.255")});  // W1
    m.install(2, false, any4, {range("10.0.0.0", "10.255.255.255")});   // W2
    m.install(3, false, site4, {dns});                                  // W3
    m.install(4, false, site4, {range("10.64.0.9", "10.64.0.1")});      // reversed
    m.install(5, false, {range("10.97.0.5", "10.97.0.5")}, {mixed});
    m.install(6, false, {range("fd00:97::", "fd00:97::ffff")},
              {range("fd00:64::", "fd00:64::ffff")});

    std::vector<std::uint32_t> in_spi(kClients), out_spi(kClients);
    std::vector<IpAddress> destinations;
    const auto vip4 = [](std::uint32_t i) { return IpAddress::v4(0x0a400001 + i); };
    const auto vip6 = [](std::uint32_t i) {
        return *IpAddress::parse("fd00:64::" + std::to_string(i + 1));
    };
    const auto client_ts = [&](std::uint32_t i) {
        std::vector<Selector> local = i % 2 ? any4 : campus4, remote{host(vip4(i))};
        if (i % 7 == 0) {
            local.push_back(any6[0]);
            remote.push_back(host(vip6(i)));
        }
        return std::pair{local, remote};
    };
    for (std::uint32_t i = 0; i < kClients; ++i) {
        in_spi[i] = 10000 + 2 * i;
        out_spi[i] = 10001 + 2 * i;
        const auto [local, remote] = client_ts(i);
        m.install(in_spi[i], true, local, remote);
        m.install(out_spi[i], false, local, remote);
        destinations.push_back(vip4(i));
        if (i % 7 == 0) destinations.push_back(vip6(i));
    }
    // After the clients: a host route narrower than client 19's (TCP 80 from the site only).
    Selector web = host(vip4(19));
    web.ip_protocol = kIpProtoTcp;
    web.start_port = web.end_port = 80;
    m.install(7, false, site4, {web});
    for (const char* a :
         {"10.64.0.0", "10.64.30.1", "10.1.1.1", "11.0.0.1", "fd00:64::ffff:1", "fd00:65::1"})
        destinations.push_back(*IpAddress::parse(a));
    const auto packets = probes(destinations);

    auto snap = m.table.snapshot();
    check_spis(*snap, m, {});
    BOOST_TEST(snap->route_count(IpAddress::Family::V4) == kClients + 6);
    BOOST_TEST(snap->route_count(IpAddress::Family::V6) == (kClients + 6) / 7 + 1);
    BOOST_TEST(mismatches(*snap, m.outbound, packets) == 0u);
    // The cases the reference decides, spelled out.
    const auto out = [&](const char* src, const IpAddress& dst, std::uint8_t proto,
                         std::uint16_t port) {
        return spi_of(snap->find_outbound(packet(src, dst.to_string().c_str(), proto, port)));
    };
    BOOST_TEST(out("10.97.0.9", vip4(19), kIpProtoTcp, 80) == 7u);  // narrower host route
    BOOST_TEST(out("10.97.0.9", vip4(19), kIpProtoTcp, 81) == out_spi[19]);
    BOOST_TEST(out("10.97.0.5", vip4(19), kIpProtoUdp, 53) == out_spi[19]);  // host before W3
    BOOST_TEST(out("10.97.0.5", vip4(19), kIpProtoTcp, 443) == 5u);          // span 0, local span 0
    BOOST_TEST(out("10.97.0.5", vip4(5), kIpProtoTcp, 443) == out_spi[5]);   // below its start
    BOOST_TEST(out("10.97.0.5", *IpAddress::parse("10.64.30.1"), kIpProtoUdp, 53) == 1u);
    BOOST_TEST(out("10.97.0.5", *IpAddress::parse("10.64.0.0"), kIpProtoUdp, 53) == 3u);
    BOOST_TEST(out("192.168.1.1", *IpAddress::parse("10.1.1.1"), kIpProtoUdp, 53) == 2u);
    // Even clients' local selector is 10.97.0.0/16: other sources fall through to 10/8.
    BOOST_TEST(out("192.168.1.1", vip4(30), kIpProtoUdp, 53) == 2u);
    BOOST_TEST(out("192.168.1.1", vip4(31), kIpProtoUdp, 53) == out_spi[31]);
    BOOST_TEST(out("10.97.0.5", *IpAddress::parse("11.0.0.1"), kIpProtoUdp, 53) == 0u);
    const auto before = snap;
    const auto outbound_before = m.outbound;

    // Rekey every tenth client: the new pair first (the new outbound SA wins at once), then
    // the old pair goes (the new one still wins).
    std::vector<std::uint32_t> gone;
    for (std::uint32_t i = 0; i < kClients; i += 10) {
        const auto [local, remote] = client_ts(i);
        m.install(100000 + in_spi[i], true, local, remote);
        m.install(100000 + out_spi[i], false, local, remote);
    }
    snap = m.table.snapshot();
    BOOST_TEST(out("10.97.0.5", vip4(30), kIpProtoUdp, 53) == 100000 + out_spi[30]);
    BOOST_TEST(mismatches(*snap, m.outbound, packets) == 0u);
    for (std::uint32_t i = 0; i < kClients; i += 10) {
        m.remove(in_spi[i], true);
        m.remove(out_spi[i], false);
        gone.push_back(in_spi[i]);
        gone.push_back(out_spi[i]);
        in_spi[i] += 100000;
        out_spi[i] += 100000;
    }
    snap = m.table.snapshot();
    BOOST_TEST(out("10.97.0.5", vip4(30), kIpProtoUdp, 53) == out_spi[30]);
    check_spis(*snap, m, gone);
    BOOST_TEST(mismatches(*snap, m.outbound, packets) == 0u);

    // MOBIKE moves of every thirteenth client's outbound SA: same routes, new slots.
    const Endpoint a{*IpAddress::parse("192.0.2.2"), 4500},
        b{*IpAddress::parse("198.51.100.7"), 4500};
    for (std::uint32_t i = 0; i < kClients; i += 13)
        BOOST_REQUIRE(m.table.move(S(out_spi[i]), false, a, b, true));
    snap = m.table.snapshot();
    BOOST_TEST(snap->find_outbound(packet("192.168.1.1", vip4(13).to_string().c_str()))->udp_encap);
    BOOST_TEST(mismatches(*snap, m.outbound, packets) == 0u);

    // Every third client leaves: its addresses fall through to the site-to-site routes.
    for (std::uint32_t i = 0; i < kClients; i += 3) {
        m.remove(in_spi[i], true);
        m.remove(out_spi[i], false);
        gone.push_back(in_spi[i]);
        gone.push_back(out_spi[i]);
    }
    snap = m.table.snapshot();
    BOOST_TEST(out("10.97.0.5", vip4(3000), kIpProtoUdp, 53) == 3u);
    BOOST_TEST(out("10.97.0.5", vip4(4500), kIpProtoUdp, 53) == 1u);
    BOOST_TEST(out("192.168.1.1", vip4(4500), kIpProtoUdp, 53) == 2u);
    check_spis(*snap, m, gone);
    BOOST_TEST(mismatches(*snap, m.outbound, packets) == 0u);

    // The first snapshot has seen none of it.
    BOOST_TEST(before->outbound_count() == outbound_before.size());
    BOOST_TEST(mismatches(*before, outbound_before, packets) == 0u);
    BOOST_TEST(spi_of(before->find_outbound(packet("10.97.0.5", vip4(3000).to_string().c_str()))) ==
               10001 + 2 * 3000u);
}

BOOST_AUTO_TEST_CASE(tables_grow_and_shrink_under_churn) {
    // 9,000 dual-stack clients installed, then removed, in random orders: the SPI and host
    // tables rehash on the way up and down (16 -> 32 -> 64 buckets past 4,096 and 8,192
    // entries, back under 2,048 and 1,024), and every lookup stays right throughout.
    constexpr std::uint32_t kClients = 9000;
    SaTable table;
    std::vector<std::uint32_t> order(kClients);
    for (std::uint32_t i = 0; i < kClients; ++i)
        order[i] = i;
    std::mt19937 rng(7);
    std::shuffle(order.begin(), order.end(), rng);
    std::vector<bool> present(kClients, false);
    const auto v4 = [](std::uint32_t i) { return IpAddress::v4(0x0a400001 + i); };
    const auto v6 = [](std::uint32_t i) {
        return *IpAddress::parse("fd00:64::" + std::to_string(i + 1));
    };
    const auto check = [&] {
        const auto snap = table.snapshot();
        std::size_t bad = 0, count = 0;
        for (std::uint32_t i = 0; i < kClients; ++i) {
            const std::uint32_t want = present[i] ? 10001 + 2 * i : 0;
            count += present[i];
            bad += spi_of(snap->find_inbound(S(10000 + 2 * i))) != (present[i] ? want - 1 : 0);
            bad += spi_of(snap->find_outbound_spi(S(10001 + 2 * i))) != want;
            bad +=
                spi_of(snap->find_outbound(packet("10.97.0.1", v4(i).to_string().c_str()))) != want;
            bad += spi_of(snap->find_outbound(packet("fd00:97::1", v6(i).to_string().c_str()))) !=
                   want;
        }
        BOOST_TEST(bad == 0u);
        BOOST_TEST(snap->inbound_count() == count);
        BOOST_TEST(snap->route_count(IpAddress::Family::V4) == count);
        BOOST_TEST(snap->route_count(IpAddress::Family::V6) == count);
    };
    const std::vector<Selector> local{range("0.0.0.0", "255.255.255.255"),
                                      range("::", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")};
    for (std::size_t k = 0; k < order.size(); ++k) {
        const std::uint32_t i = order[k];
        const std::vector<Selector> remote{host(v4(i)), host(v6(i))};
        BOOST_REQUIRE(table.install(make_sa(10000 + 2 * i, true, local, remote)));
        BOOST_REQUIRE(table.install(make_sa(10001 + 2 * i, false, local, remote)));
        present[i] = true;
        if (k % 500 == 0) check();
    }
    check();
    std::shuffle(order.begin(), order.end(), rng);
    for (std::size_t k = 0; k < order.size(); ++k) {
        const std::uint32_t i = order[k];
        BOOST_REQUIRE(table.remove(S(10000 + 2 * i), true));
        BOOST_REQUIRE(table.remove(S(10001 + 2 * i), false));
        present[i] = false;
        if (k % 500 == 0 || order.size() - k < 100) check();
    }
    check();
    BOOST_TEST(table.snapshot()->outbound_count() == 0u);
}

BOOST_AUTO_TEST_SUITE_END()
