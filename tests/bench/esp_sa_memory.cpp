// esp_sa_memory: the userspace ESP data plane's own memory and install cost per CHILD_SA, with
// no IKE around it, for tests/bench/ike-scale (which subtracts it from posternd's memory per
// SA to get the IKE engine's share).
//
//   esp_sa_memory [--count 100000] [--workers N (default: posternd's, one per core)]
//
// Installs --count CHILD_SAs the way posternd does for road-warrior clients (an inbound and an
// outbound AES-GCM-256 SA each, the outbound one's remote selector the client's virtual IP /32,
// local selector 0.0.0.0/0), then removes them all. Prints "key value" lines:
//   workers, count, rss_kib_before, rss_kib_after, octets_per_child_sa,
//   install_seconds, installs_per_second (CHILD_SAs), remove_seconds.

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "esp/engine/userspace_dataplane.hpp"
#include "esp/engine/worker.hpp"

namespace {

long rss_kib() {
    std::ifstream f("/proc/self/status");
    std::string line;
    while (std::getline(f, line))
        if (line.rfind("VmRSS:", 0) == 0) return std::atol(line.c_str() + 6);
    return -1;
}

postern::IpAddress v4(std::uint32_t a) {
    const std::uint8_t b[4] = {static_cast<std::uint8_t>(a >> 24), static_cast<std::uint8_t>(a >> 16),
                               static_cast<std::uint8_t>(a >> 8), static_cast<std::uint8_t>(a)};
    return *postern::IpAddress::from_bytes(postern::ByteView(b, 4));
}

}  // namespace

int main(int argc, char** argv) {
    using namespace postern;
    std::uint32_t count = 100000;
    unsigned workers = esp::default_worker_count();
    for (int i = 1; i < argc; ++i) {
        if (!std::strcmp(argv[i], "--count") && i + 1 < argc)
            count = static_cast<std::uint32_t>(std::strtoul(argv[++i], nullptr, 10));
        else if (!std::strcmp(argv[i], "--workers") && i + 1 < argc)
            workers = static_cast<unsigned>(std::strtoul(argv[++i], nullptr, 10));
        else {
            std::fprintf(stderr, "usage: esp_sa_memory [--count N] [--workers N]\n");
            return 2;
        }
    }
    esp::UserspaceDataPlaneOptions options;
    options.workers = workers;
    esp::UserspaceDataPlane dp(options);

    std::vector<std::uint8_t> key(36, 0x42);  // AES-256 key || 4-octet salt
    const Endpoint gw{v4(0xc0000201), 500}, client{v4(0xc0000202), 500};
    const Selector any{v4(0), v4(0xffffffff)};
    const long before = rss_kib();
    const auto t0 = std::chrono::steady_clock::now();
    std::string error;
    for (std::uint32_t i = 0; i < count; ++i) {
        const IpAddress vip = v4(0x0a400000 + 1 + i);
        const Selector host{vip, vip};
        for (bool inbound : {true, false}) {
            EspSaSpec s;
            s.spi = EspSpi(0x10000000u + 2 * i + (inbound ? 0 : 1));
            s.inbound = inbound;
            s.src = inbound ? client : gw;
            s.dst = inbound ? gw : client;
            s.encr_id = 20;  // ENCR_AES_GCM_16
            s.encr_key_bits = 256;
            s.encr_key = ByteView(key.data(), key.size());
            s.local_ts = {any};
            s.remote_ts = {host};
            s.reqid = i + 1;
            if (!dp.install(s, error)) {
                std::fprintf(stderr, "esp_sa_memory: %s\n", error.c_str());
                return 1;
            }
        }
    }
    const auto t1 = std::chrono::steady_clock::now();
    const long after = rss_kib();
    for (std::uint32_t i = 0; i < count; ++i)
        for (bool inbound : {true, false})
            if (!dp.remove(EspSpi(0x10000000u + 2 * i + (inbound ? 0 : 1)), inbound, error)) {
                std::fprintf(stderr, "esp_sa_memory: %s\n", error.c_str());
                return 1;
            }
    const auto t2 = std::chrono::steady_clock::now();
    const double install_s = std::chrono::duration<double>(t1 - t0).count();
    std::printf("workers %u\ncount %u\nrss_kib_before %ld\nrss_kib_after %ld\n", workers, count,
                before, after);
    std::printf("octets_per_child_sa %.0f\ninstall_seconds %.3f\ninstalls_per_second %.0f\n",
                count ? static_cast<double>(after - before) * 1024.0 / count : 0.0, install_s,
                install_s > 0 ? count / install_s : 0.0);
    std::printf("remove_seconds %.3f\n", std::chrono::duration<double>(t2 - t1).count());
    return 0;
}
