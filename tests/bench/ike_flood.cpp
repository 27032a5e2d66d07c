// ike_flood: a bounded IKE_SA_INIT flood from spoofed IPv4 source addresses, for the DoS test
// (tests/interop/interop_posternd_flood.sh). Run it inside a network namespace whose routes
// bring the answers back harmlessly: it writes whole IPv4 packets (raw socket, IP_HDRINCL), so
// it needs CAP_NET_RAW.
//
//   ike_flood --target 192.0.2.1 [--port 500] --sources 10.200.0.0/16
//             --count 1000000 --seconds 20 [--rate 0]
//
// Every packet is a syntactically valid IKE_SA_INIT request (SA with AES-GCM-256 /
// PRF-HMAC-SHA-256 / X25519, KE, Ni, built with Postern's own codec) with a random initiator SPI
// and nonce, from a random address of --sources and a random source port. It stops by itself
// after --count packets or --seconds, whichever comes first, and prints one line:
//   ike_flood: sent N packets in T s (R packets/s) from sources CIDR, errors E

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "ike/crypto/algorithms.hpp"
#include "ike/policy/proposal_select.hpp"
#include "ike/wire/message.hpp"

namespace {

using postern::Bytes;
namespace wire = postern::ike::wire;
namespace ike = postern::ike;

constexpr std::size_t kBatch = 64;
constexpr std::size_t kIpHeader = 20, kUdpHeader = 8;

struct Options {
    std::string target;
    std::uint16_t port = 500;
    std::uint32_t net = 0, mask = 0;  // host order
    std::string sources;
    std::uint64_t count = 0;
    double seconds = 0;
    std::uint64_t rate = 0;  // packets/s; 0 = as fast as possible
};

[[noreturn]] void usage(const char* why) {
    std::fprintf(stderr,
                 "ike_flood: %s\nusage: ike_flood --target IPV4 [--port N] --sources A.B.C.D/P "
                 "--count N --seconds S [--rate PPS]\n",
                 why);
    std::exit(2);
}

std::uint64_t number(const char* s, const char* what) {
    char* end = nullptr;
    errno = 0;
    const unsigned long long v = std::strtoull(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0') usage(what);
    return v;
}

Options parse(int argc, char** argv) {
    Options o;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (i + 1 >= argc) usage(("missing value after " + a).c_str());
        const char* v = argv[++i];
        if (a == "--target") {
            o.target = v;
        } else if (a == "--port") {
            const auto p = number(v, "bad --port");
            if (p == 0 || p > 65535) usage("bad --port");
            o.port = static_cast<std::uint16_t>(p);
        } else if (a == "--sources") {
            o.sources = v;
            const std::string s = v;
            const auto slash = s.find('/');
            if (slash == std::string::npos) usage("--sources needs a prefix length");
            in_addr addr{};
            if (inet_pton(AF_INET, s.substr(0, slash).c_str(), &addr) != 1)
                usage("bad --sources address");
            const auto len = number(s.substr(slash + 1).c_str(), "bad --sources prefix");
            if (len < 8 || len > 30) usage("--sources prefix must be /8 to /30");
            o.mask = ~std::uint32_t{0} << (32 - len);
            o.net = ntohl(addr.s_addr) & o.mask;
        } else if (a == "--count") {
            o.count = number(v, "bad --count");
        } else if (a == "--seconds") {
            char* end = nullptr;
            o.seconds = std::strtod(v, &end);
            if (end == v || *end != '\0' || !(o.seconds > 0)) usage("bad --seconds");
        } else if (a == "--rate") {
            o.rate = number(v, "bad --rate");
        } else {
            usage(("unknown option " + a).c_str());
        }
    }
    if (o.target.empty() || o.sources.empty()) usage("--target and --sources are required");
    if (o.count == 0 || o.seconds <= 0) usage("--count and --seconds bound the flood: both needed");
    return o;
}

// The IKE_SA_INIT every packet carries, with the offsets of what changes per packet.
struct Template {
    Bytes ike;
    std::size_t nonce_at = 0;
};

Template make_template() {
    auto prop = ike::crypto::parse_proposal("aes256gcm16-prfsha256-x25519", ike::ProtocolId::IKE,
                                            ike::crypto::AlgorithmPolicy{});
    if (!prop) usage("cannot build the proposal");
    // Any 32 octets are an X25519 public value.
    Bytes ke(32);
    std::random_device rd;
    for (auto& b : ke)
        b = static_cast<std::uint8_t>(rd());
    const Bytes nonce(32, 0xA5);
    wire::Message m;
    m.header.initiator_spi = postern::IkeSpi(1);
    m.header.exchange = ike::ExchangeType::IKE_SA_INIT;
    m.header.initiator = true;
    m.payloads.push_back(
        {ike::PayloadType::SA, false,
         ike::policy::build_sa_payload(std::vector{*prop}, ike::ProtocolId::IKE, {})});
    m.payloads.push_back({ike::PayloadType::KE, false, wire::KePayload{ike::KeId::CURVE25519, ke}});
    m.payloads.push_back({ike::PayloadType::NONCE, false, wire::NoncePayload{nonce}});
    Template t{wire::serialize(m), 0};
    auto it = std::search(t.ike.begin(), t.ike.end(), nonce.begin(), nonce.end());
    if (it == t.ike.end()) usage("nonce not found in the template");
    t.nonce_at = static_cast<std::size_t>(it - t.ike.begin());
    return t;
}

void put16(std::uint8_t* p, std::uint32_t v) {
    p[0] = static_cast<std::uint8_t>(v >> 8);
    p[1] = static_cast<std::uint8_t>(v);
}
void put32(std::uint8_t* p, std::uint32_t v) {
    put16(p, v >> 16);
    put16(p + 2, v);
}

// xorshift64*: fast, good enough to spread SPIs, nonces and addresses.
struct Rng {
    std::uint64_t s;
    std::uint64_t next() {
        s ^= s >> 12;
        s ^= s << 25;
        s ^= s >> 27;
        return s * 0x2545F4914F6CDD1DULL;
    }
};

}  // namespace

int main(int argc, char** argv) {
    const Options o = parse(argc, argv);
    in_addr dst{};
    if (inet_pton(AF_INET, o.target.c_str(), &dst) != 1) usage("bad --target (IPv4 only)");
    const Template t = make_template();

    const int fd = socket(AF_INET, SOCK_RAW, IPPROTO_RAW);  // implies IP_HDRINCL
    if (fd < 0) {
        std::perror("ike_flood: socket(SOCK_RAW)");
        return 1;
    }
    const int sndbuf = 4 << 20;
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);

    const std::size_t len = kIpHeader + kUdpHeader + t.ike.size();
    std::vector<std::array<std::uint8_t, 2048>> packets(kBatch);
    if (len > packets[0].size()) usage("template too large");
    for (auto& p : packets) {
        p.fill(0);
        std::uint8_t* ip = p.data();
        ip[0] = 0x45;                                    // IPv4, 20-octet header
        put16(ip + 2, static_cast<std::uint32_t>(len));  // the kernel fills it in too
        ip[6] = 0x40;                                    // DF
        ip[8] = 64;                                      // TTL
        ip[9] = IPPROTO_UDP;                             // checksum: filled in by the kernel
        std::memcpy(ip + 16, &dst.s_addr, 4);            // network order already
        std::uint8_t* udp = ip + kIpHeader;
        put16(udp + 2, o.port);
        put16(udp + 4, static_cast<std::uint32_t>(kUdpHeader + t.ike.size()));
        // UDP checksum 0: none (RFC 768, IPv4)
        std::memcpy(udp + kUdpHeader, t.ike.data(), t.ike.size());
    }
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_addr = dst;
    std::array<iovec, kBatch> iov{};
    std::array<mmsghdr, kBatch> msgs{};
    for (std::size_t i = 0; i < kBatch; ++i) {
        iov[i] = {packets[i].data(), len};
        msgs[i].msg_hdr.msg_name = &to;
        msgs[i].msg_hdr.msg_namelen = sizeof to;
        msgs[i].msg_hdr.msg_iov = &iov[i];
        msgs[i].msg_hdr.msg_iovlen = 1;
    }

    Rng rng{static_cast<std::uint64_t>(std::random_device{}()) << 32 | 0x9E3779B9u};
    const std::uint32_t hosts = ~o.mask;
    using clock = std::chrono::steady_clock;
    const auto start = clock::now();
    const auto stop = start + std::chrono::duration_cast<clock::duration>(
                                  std::chrono::duration<double>(o.seconds));
    std::uint64_t sent = 0, errors = 0;
    while (sent < o.count) {
        const auto now = clock::now();
        if (now >= stop) break;
        if (o.rate != 0) {
            const double due = static_cast<double>(sent) / static_cast<double>(o.rate);
            const double elapsed = std::chrono::duration<double>(now - start).count();
            if (due > elapsed) {
                std::this_thread::sleep_for(std::chrono::duration<double>(due - elapsed));
                continue;
            }
        }
        const std::size_t n =
            static_cast<std::size_t>(std::min<std::uint64_t>(kBatch, o.count - sent));
        for (std::size_t i = 0; i < n; ++i) {
            std::uint8_t* ip = packets[i].data();
            const std::uint64_t r = rng.next();
            // A host address of --sources, never the network or broadcast address.
            std::uint32_t host = static_cast<std::uint32_t>(r) & hosts;
            if (host == 0) host = 1;
            if (host == hosts) host = hosts - 1;
            put32(ip + 12, o.net | host);
            put16(ip + 4, static_cast<std::uint32_t>(r >> 32));  // IP ID
            std::uint8_t* udp = ip + kIpHeader;
            put16(udp, 1024 + static_cast<std::uint32_t>((r >> 48) % 60000));
            std::uint8_t* msg = udp + kUdpHeader;
            const std::uint64_t spi = rng.next() | 1;  // never zero
            put32(msg, static_cast<std::uint32_t>(spi >> 32));
            put32(msg + 4, static_cast<std::uint32_t>(spi));
            const std::uint64_t nr = rng.next();
            put32(msg + t.nonce_at, static_cast<std::uint32_t>(nr >> 32));
            put32(msg + t.nonce_at + 4, static_cast<std::uint32_t>(nr));
        }
        const int done = sendmmsg(fd, msgs.data(), static_cast<unsigned>(n), 0);
        if (done <= 0) {
            ++errors;
            if (errno != ENOBUFS && errno != EAGAIN && errno != EINTR) {
                std::perror("ike_flood: sendmmsg");
                break;
            }
            std::this_thread::sleep_for(std::chrono::microseconds(50));
            continue;
        }
        sent += static_cast<std::uint64_t>(done);
    }
    const double secs = std::chrono::duration<double>(clock::now() - start).count();
    close(fd);
    std::printf(
        "ike_flood: sent %llu packets in %.2f s (%.0f packets/s) from sources %s, "
        "errors %llu\n",
        static_cast<unsigned long long>(sent), secs,
        secs > 0 ? static_cast<double>(sent) / secs : 0.0, o.sources.c_str(),
        static_cast<unsigned long long>(errors));
    return 0;
}
