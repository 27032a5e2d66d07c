// xfrm_install_bench N OUT_DIR - installs N CHILD_SAs through Postern's kernel data plane
// (esp/xfrm: per CHILD_SA an inbound and an outbound AES-GCM SA, in/fwd/out policies and a route
// to the client's address), then removes them, and prints the two rates. Also writes the same
// SAs, policies and routes as iproute2 batch files (OUT_DIR/ip-install.batch, ip-delete.batch)
// for `ip -batch` to do the same work (tests/bench/xfrm-install times both in one run).
//
// Client i: peer 198.18.x.y (on the link of the namespace's veth0, 198.18.0.0/15), virtual IP
// 10.64.x.y/32, local selector 10.97.0.0/24, SPIs 0xc0000000 + 2i (in) and + 2i + 1 (out),
// reqid 0x50000000 + i + 1 in the batch files (Postern picks the same kernel reqids).
// Must run in a namespace of its own with ESP in the kernel (the kernel tier's VM).
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "esp/xfrm/xfrm_dataplane.hpp"

using namespace postern;
using Clock = std::chrono::steady_clock;

namespace {

IpAddress nth(std::uint32_t base, std::uint32_t i) { return IpAddress::v4(base + i); }

}  // namespace

int main(int argc, char** argv) {
    if (argc != 3) {
        std::fprintf(stderr, "usage: %s N OUT_DIR\n", argv[0]);
        return 2;
    }
    const std::uint32_t n = static_cast<std::uint32_t>(std::atoi(argv[1]));
    const std::string dir = argv[2];
    const IpAddress local = *IpAddress::parse("198.18.0.1");
    const std::uint32_t peer_base = 0xc6120002;  // 198.18.0.2
    const std::uint32_t vip_base = 0x0a400001;   // 10.64.0.1
    std::uint8_t key[20];
    for (std::size_t i = 0; i < sizeof key; ++i) key[i] = static_cast<std::uint8_t>(i + 1);
    std::string hexkey = "0x";
    for (auto b : key) {
        char h[3];
        std::snprintf(h, sizeof h, "%02x", b);
        hexkey += h;
    }

    // The iproute2 batches: the same objects.
    {
        std::ofstream add(dir + "/ip-install.batch"), del(dir + "/ip-delete.batch");
        for (std::uint32_t i = 0; i < n; ++i) {
            const std::string peer = nth(peer_base, i).to_string();
            const std::string vip = nth(vip_base, i).to_string();
            const std::string reqid = std::to_string(0x50000000u + i + 1);
            char spi_in[16], spi_out[16];
            std::snprintf(spi_in, sizeof spi_in, "0x%08x", 0xc0000000u + 2 * i);
            std::snprintf(spi_out, sizeof spi_out, "0x%08x", 0xc0000000u + 2 * i + 1);
            const std::string aead = " aead 'rfc4106(gcm(aes))' " + hexkey + " 128";
            add << "xfrm state add src " << peer << " dst 198.18.0.1 proto esp spi " << spi_in
                << " reqid " << reqid << " mode tunnel replay-window 32" << aead << "\n";
            add << "xfrm state add src 198.18.0.1 dst " << peer << " proto esp spi " << spi_out
                << " reqid " << reqid << " mode tunnel replay-window 32" << aead << "\n";
            for (const char* d : {"in", "fwd"})
                add << "xfrm policy add src " << vip << "/32 dst 10.97.0.0/24 dir " << d
                    << " tmpl src " << peer << " dst 198.18.0.1 proto esp reqid " << reqid
                    << " mode tunnel\n";
            add << "xfrm policy add src 10.97.0.0/24 dst " << vip << "/32 dir out tmpl src "
                << "198.18.0.1 dst " << peer << " proto esp reqid " << reqid << " mode tunnel\n";
            add << "route add " << vip << "/32 dev veth0 table 4500 proto 80\n";
            del << "xfrm state delete src " << peer << " dst 198.18.0.1 proto esp spi " << spi_in
                << "\n";
            del << "xfrm state delete src 198.18.0.1 dst " << peer << " proto esp spi " << spi_out
                << "\n";
            for (const char* d : {"in", "fwd"})
                del << "xfrm policy delete src " << vip << "/32 dst 10.97.0.0/24 dir " << d << "\n";
            del << "xfrm policy delete src 10.97.0.0/24 dst " << vip << "/32 dir out\n";
            del << "route del " << vip << "/32 dev veth0 table 4500 proto 80\n";
        }
    }

    std::string last_error;
    esp::xfrm::XfrmOptions options;
    auto dp = esp::xfrm::XfrmDataPlane::open(
        options, [&](esp::xfrm::LogLevel, const std::string& t) { last_error = t; });
    if (!dp) {
        std::fprintf(stderr, "xfrm_install_bench: %s\n", dp.error().c_str());
        return 1;
    }
    auto spec = [&](std::uint32_t i, bool inbound) {
        EspSaSpec s;
        const Endpoint us{local, 0}, peer{nth(peer_base, i), 0};
        s.spi = EspSpi(0xc0000000u + 2 * i + (inbound ? 0 : 1));
        s.inbound = inbound;
        s.src = inbound ? peer : us;
        s.dst = inbound ? us : peer;
        s.encr_id = 20;
        s.encr_key_bits = 128;
        s.encr_key = ByteView(key, sizeof key);
        s.replay_window = 32;
        s.local_ts = {{*IpAddress::parse("10.97.0.0"), *IpAddress::parse("10.97.0.255")}};
        s.remote_ts = {{nth(vip_base, i), nth(vip_base, i)}};
        s.reqid = 1;
        return s;
    };
    std::string err;
    const auto t0 = Clock::now();
    for (std::uint32_t i = 0; i < n; ++i)
        for (bool inbound : {true, false})
            if (!(*dp)->install(spec(i, inbound), err)) {
                std::fprintf(stderr, "xfrm_install_bench: install %u: %s\n", i, err.c_str());
                return 1;
            }
    const auto t1 = Clock::now();
    if ((*dp)->sa_count() != 2 * n || (*dp)->policy_count() != 3 * n) {
        std::fprintf(stderr, "xfrm_install_bench: %zu SAs, %zu policies installed\n",
                     (*dp)->sa_count(), (*dp)->policy_count());
        return 1;
    }
    if (!last_error.empty()) std::fprintf(stderr, "xfrm_install_bench: logged: %s\n", last_error.c_str());
    for (std::uint32_t i = 0; i < n; ++i)
        for (bool inbound : {true, false})
            if (!(*dp)->remove(EspSpi(0xc0000000u + 2 * i + (inbound ? 0 : 1)), inbound, err)) {
                std::fprintf(stderr, "xfrm_install_bench: remove %u: %s\n", i, err.c_str());
                return 1;
            }
    const auto t2 = Clock::now();
    const double ins = std::chrono::duration<double>(t1 - t0).count();
    const double rem = std::chrono::duration<double>(t2 - t1).count();
    std::printf("postern install %u CHILD_SAs %.3f s %.0f /s\n", n, ins, n / ins);
    std::printf("postern delete %u CHILD_SAs %.3f s %.0f /s\n", n, rem, n / rem);
    return 0;
}
