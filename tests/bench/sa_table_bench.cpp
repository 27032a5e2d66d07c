// sa_table_bench N [WORKERS] - the userspace ESP engine's SA table (esp/engine/sa_table.hpp)
// with N remote-access clients: per client an inbound SA and an outbound SA whose remote
// selector is the client's virtual IP /32 (10.64.0.0 + i) and local selector 0.0.0.0/0, plus
// two site-to-site SAs with wide selectors (10.0.0.0/8 and 10.64.0.0/16) that overlap them.
// Prints, each on one line:
//
//   cipher    the time to build the per-worker EspCiphers of 2N SAs alone: the part of an
//             install that is not the table (install() builds them before taking its lock)
//   install   the 2N install() calls, the rate of each tenth of them (a table whose install
//             cost grows with N shows falling rates) and the slowest single install
//   lookup    find_outbound() of every client's address, find_inbound() of every inbound SPI
//             (in a shuffled order), from one snapshot: ns per lookup, the SA found not read
//   rekey     a new pair installed and the old pair removed for every tenth client
//   remove    every SA removed
//
// The EspSas of the first installs are made before the clock starts (rekey's are made inside
// its timing). Not a test: ctest never runs it; it exits 1 if an install, a remove or a lookup
// fails, which would make the figures meaningless.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "esp/engine/sa_table.hpp"

using namespace postern;
using namespace postern::esp;
using Clock = std::chrono::steady_clock;

namespace {

const Bytes kKey(20, 0x42);  // AES-128-GCM key and salt

Selector range(IpAddress from, IpAddress to) {
    Selector s;
    s.start = from;
    s.end = to;
    return s;
}

std::unique_ptr<EspSa> make_sa(std::uint32_t spi, bool inbound, const Selector& remote) {
    EspSaSpec spec;
    spec.spi = EspSpi(spi);
    spec.inbound = inbound;
    spec.encr_id = 20;  // ENCR_AES_GCM_16
    spec.encr_key_bits = 128;
    spec.encr_key = kKey;
    spec.local_ts = {range(IpAddress::v4(0), IpAddress::v4(0xffffffff))};
    spec.remote_ts = {remote};
    auto sa = EspSa::create(spec);
    if (!sa) {
        std::fprintf(stderr, "sa_table_bench: %s\n", sa.error().c_str());
        std::exit(1);
    }
    return std::move(*sa);
}

double seconds_since(Clock::time_point t0) {
    return std::chrono::duration<double>(Clock::now() - t0).count();
}

void fail(const char* what, std::uint32_t i) {
    std::fprintf(stderr, "sa_table_bench: %s %u failed\n", what, i);
    std::exit(1);
}

constexpr std::uint32_t kVipBase = 0x0a400000;  // 10.64.0.0
std::uint32_t spi_in(std::uint32_t i) {
    return 0x10000000u + 2 * i;
}
std::uint32_t spi_out(std::uint32_t i) {
    return 0x10000000u + 2 * i + 1;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2 || argc > 3) {
        std::fprintf(stderr, "usage: %s N [WORKERS]\n", argv[0]);
        return 2;
    }
    const auto n = static_cast<std::uint32_t>(std::strtoul(argv[1], nullptr, 10));
    const auto workers = argc > 2 ? static_cast<unsigned>(std::strtoul(argv[2], nullptr, 10)) : 1u;
    if (n == 0 || n > 0x01000000) return 2;
    SaTable table(workers);

    std::vector<std::unique_ptr<EspSa>> sas;
    sas.reserve(2 * std::size_t{n});
    for (std::uint32_t i = 0; i < n; ++i) {
        const IpAddress vip = IpAddress::v4(kVipBase + i);
        sas.push_back(make_sa(spi_in(i), true, range(vip, vip)));
        sas.push_back(make_sa(spi_out(i), false, range(vip, vip)));
    }

    auto t0 = Clock::now();
    for (const auto& sa : sas)
        for (unsigned w = 0; w < workers; ++w)
            if (!EspCipher::create(*sa)) fail("cipher", sa->spi().value());
    std::printf("cipher   %u x2 SAs %.3f s\n", n, seconds_since(t0));

    // Site-to-site routes wider than every client's.
    const auto wide = [](std::uint32_t spi, std::uint32_t from, std::uint32_t to) {
        return make_sa(spi, false, range(IpAddress::v4(from), IpAddress::v4(to)));
    };
    if (!table.install(wide(0x0f000001, 0x0a000000, 0x0affffff))) fail("wide", 1);
    if (!table.install(wide(0x0f000002, kVipBase, kVipBase + 0xffff))) fail("wide", 2);

    t0 = Clock::now();
    auto tenth = t0;
    double slowest = 0;  // one install, seconds: a rehash of a whole table shows here
    std::printf("install  rate by tenth (SAs/s):");
    for (std::size_t k = 0; k < sas.size(); ++k) {
        const auto t = Clock::now();
        if (!table.install(std::move(sas[k]))) fail("install", static_cast<std::uint32_t>(k));
        slowest = std::max(slowest, seconds_since(t));
        if ((k + 1) % std::max<std::size_t>(1, sas.size() / 10) == 0) {
            std::printf(" %.0f", static_cast<double>(sas.size() / 10) / seconds_since(tenth));
            tenth = Clock::now();
        }
    }
    const double install = seconds_since(t0);
    std::printf("\ninstall  %u x2 SAs %.3f s %.0f pairs/s, slowest install %.2f ms\n", n, install,
                n / install, slowest * 1e3);

    std::vector<std::uint32_t> order(n);
    for (std::uint32_t i = 0; i < n; ++i)
        order[i] = i;
    std::shuffle(order.begin(), order.end(), std::mt19937(1));
    auto snap = table.snapshot();
    IpPacketInfo p;
    p.version = 4;
    p.src = IpAddress::v4(0x0a610001);
    p.protocol = 17;
    p.ports_known = true;
    // The timed loops only look up (the slots found are checked afterwards): the table's
    // share of a packet, without the misses of reading the SA that the packet path adds.
    std::vector<const SaSlot*> found(n);
    t0 = Clock::now();
    for (std::uint32_t i : order) {
        p.dst = IpAddress::v4(kVipBase + i);
        found[i] = snap->find_outbound(p);
    }
    const double out = seconds_since(t0);
    for (std::uint32_t i = 0; i < n; ++i)
        if (!found[i] || found[i]->sa->spi().value() != spi_out(i)) fail("find_outbound", i);
    t0 = Clock::now();
    for (std::uint32_t i : order)
        found[i] = snap->find_inbound(EspSpi(spi_in(i)));
    const double in = seconds_since(t0);
    for (std::uint32_t i = 0; i < n; ++i)
        if (!found[i] || found[i]->sa->spi().value() != spi_in(i)) fail("find_inbound", i);
    std::printf("lookup   find_outbound %.1f ns, find_inbound %.1f ns\n", out * 1e9 / n,
                in * 1e9 / n);
    snap.reset();

    // Rekey every tenth client: new SPIs above every old one, then the old pair goes.
    t0 = Clock::now();
    std::uint32_t rekeyed = 0;
    for (std::uint32_t i = 0; i < n; i += 10, ++rekeyed) {
        const IpAddress vip = IpAddress::v4(kVipBase + i);
        if (!table.install(make_sa(spi_in(i) | 0x80000000u, true, range(vip, vip))) ||
            !table.install(make_sa(spi_out(i) | 0x80000000u, false, range(vip, vip))))
            fail("rekey install", i);
        if (!table.remove(EspSpi(spi_in(i)), true) || !table.remove(EspSpi(spi_out(i)), false))
            fail("rekey remove", i);
    }
    const double rekey = seconds_since(t0);
    std::printf("rekey    %u pairs %.3f s %.0f pairs/s\n", rekeyed, rekey, rekeyed / rekey);

    t0 = Clock::now();
    for (std::uint32_t i = 0; i < n; ++i) {
        const std::uint32_t high = i % 10 == 0 ? 0x80000000u : 0;
        if (!table.remove(EspSpi(spi_in(i) | high), true) ||
            !table.remove(EspSpi(spi_out(i) | high), false))
            fail("remove", i);
    }
    const double removed = seconds_since(t0);
    std::printf("remove   %u x2 SAs %.3f s %.0f pairs/s\n", n, removed, n / removed);
    return 0;
}
