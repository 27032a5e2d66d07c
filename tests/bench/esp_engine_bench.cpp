// esp_engine_bench - the userspace ESP engine's own throughput, without any I/O.
//
// For each transform it builds an outbound and an inbound EspSa with the same keys (the two ends
// of one direction of a CHILD_SA) and times, on one thread, in place in the caller's buffers:
//
//   encap      encapsulate() of 1400-octet inner IPv4 packets (parse, sequence number, IV,
//              padding and trailer, AEAD seal or CBC + HMAC)
//   decap      decapsulate() of the ESP packets encap made (length, SPI, replay check, ICV,
//              decryption, window update, padding, Next Header, inner packet, selectors)
//   roundtrip  encapsulate() then decapsulate() of the same buffer (the inner packet comes back
//              where it was, so the next encap needs no copy)
//
// and, as the baselines that say how far the engine is from the cipher itself (AEAD only):
//
//   stream     EVP_EncryptUpdate over 1400-octet chunks of one long message on one context (no
//              IV, no AAD, no tag per chunk): the cipher's raw rate, the loop older OpenSSL 3.0
//              releases' `openssl speed -evp aes-256-gcm` timed. Debian's 3.0.22 build times a
//              whole AEAD message per chunk instead (IV length ctrl, EVP_CipherInit_ex with key
//              AND IV, so a fresh key schedule and GHASH key per chunk, update, final), which is
//              slower than `seal` below; docs/benchmarks.md shows both
//   seal       EspCipher::aead_seal per packet: IV set, 8-octet AAD, 1404 octets, tag; the AEAD
//              work encap does, without the ESP framing around it
//
// What is counted: Gbit/s of INNER packet octets (1400 per packet: the inner IP packet, headers
// included, not the ESP overhead) per second of this thread's CPU time (CLOCK_THREAD_CPUTIME_ID,
// like openssl speed, which counts user CPU time: other processes on a busy machine do not skew
// it much). encap and decap are each one AEAD pass per packet, directly comparable with stream
// and with openssl speed; roundtrip is two passes, so its fair reference is half those rates.
// encap encrypts 1404 octets per packet (inner packet, 2 octets of padding, Pad Length, Next
// Header) plus an 8-octet AAD, and counts 1400.
//
// Setup work is outside the timed sections: decap's ESP packets are made by encap in batches
// of kBatch between timed runs, and encap's inner packets are copied into the batch between
// timed runs. Every batch touches kBatch buffers (about 400 KiB, within the L2 cache), the same
// for each mode.
//
// Not a test: ctest never runs it and it asserts nothing about speed. It fails (exit 1) only if
// the engine refuses a packet, which would make the figures meaningless.
//
// Usage: esp_engine_bench [--seconds S] [--size OCTETS] [--only NAME]
#include <openssl/evp.h>
#include <time.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "esp/engine/esp_packet.hpp"
#include "esp/engine/esp_sa.hpp"

using namespace postern;
using namespace postern::esp;

namespace {

constexpr std::size_t kBatch = 256;
constexpr std::size_t kHeadroom = 64;
constexpr std::size_t kTailroom = 64;

struct Transform {
    const char* name;
    const char* stream_cipher;  // OpenSSL name for the stream baseline; nullptr: no baseline
    std::uint16_t encr, bits, integ;
    std::size_t encr_key, integ_key;
};

// IKEv2 transform IDs (RFC 7296 §3.3.2): ENCR_AES_GCM_16 20, ENCR_CHACHA20_POLY1305 28,
// ENCR_AES_CBC 12, AUTH_HMAC_SHA2_256_128 12.
const Transform kTransforms[] = {
    {"aes256gcm16", "AES-256-GCM", 20, 256, 0, 36, 0},
    {"aes128gcm16", "AES-128-GCM", 20, 128, 0, 20, 0},
    {"chacha20poly1305", "ChaCha20-Poly1305", 28, 0, 0, 36, 0},
    {"aes256-sha256", nullptr, 12, 256, 12, 32, 32},
};

double thread_cpu_seconds() {
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

[[noreturn]] void die(const std::string& what) {
    std::fprintf(stderr, "esp_engine_bench: %s\n", what.c_str());
    std::exit(1);
}

Selector host(const char* address) {
    Selector s;
    s.start = *IpAddress::parse(address);
    s.end = s.start;
    return s;
}

// An IPv4/UDP packet 10.0.2.1:5201 -> 10.0.1.1:5201 of `size` octets (the benchmark's gateways'
// inner addresses, as in tests/bench/esp-throughput).
Bytes inner_packet(std::size_t size) {
    Bytes p(size);
    for (std::size_t i = 0; i < size; ++i) p[i] = static_cast<std::uint8_t>(i * 7 + 3);
    const std::uint8_t header[28] = {
        0x45, 0, static_cast<std::uint8_t>(size >> 8), static_cast<std::uint8_t>(size),
        0, 1, 0x40, 0, 64, 17, 0, 0,  // DF, TTL 64, UDP; checksum not checked by the engine
        10, 0, 2, 1, 10, 0, 1, 1,
        0x14, 0x51, 0x14, 0x51,  // ports 5201
        static_cast<std::uint8_t>((size - 20) >> 8), static_cast<std::uint8_t>(size - 20), 0, 0};
    std::memcpy(p.data(), header, sizeof header);
    return p;
}

// Both ends of one direction: b's outbound SA and a's inbound SA, same SPI and keys.
struct SaPair {
    Bytes encr_key, integ_key;
    std::unique_ptr<EspSa> out, in;
    std::optional<EspCipher> out_cipher, in_cipher;
};

SaPair make_pair(const Transform& t) {
    SaPair p;
    p.encr_key.resize(t.encr_key);
    p.integ_key.resize(t.integ_key);
    for (std::size_t i = 0; i < p.encr_key.size(); ++i) p.encr_key[i] = static_cast<std::uint8_t>(i + 1);
    for (std::size_t i = 0; i < p.integ_key.size(); ++i) p.integ_key[i] = static_cast<std::uint8_t>(i + 101);
    for (bool inbound : {false, true}) {
        EspSaSpec spec;
        spec.spi = EspSpi(0xc0ffee01);
        spec.inbound = inbound;
        spec.udp_encap = true;
        spec.encr_id = t.encr;
        spec.encr_key_bits = t.bits;
        spec.integ_id = t.integ;
        spec.encr_key = p.encr_key;
        spec.integ_key = p.integ_key;
        spec.replay_window = 64;
        // gateway a: 10.0.1.1 (local when inbound); gateway b: 10.0.2.1
        spec.local_ts = {host(inbound ? "10.0.1.1" : "10.0.2.1")};
        spec.remote_ts = {host(inbound ? "10.0.2.1" : "10.0.1.1")};
        auto sa = EspSa::create(spec);
        if (!sa) die(sa.error());
        auto cipher = EspCipher::create(**sa);
        if (!cipher) die(cipher.error());
        (inbound ? p.in : p.out) = std::move(*sa);
        (inbound ? p.in_cipher : p.out_cipher).emplace(std::move(*cipher));
    }
    return p;
}

// kBatch buffers with head- and tailroom around a packet of up to `size` octets.
struct Batch {
    std::size_t slot;
    std::vector<std::uint8_t> storage;
    std::vector<PacketBuffer> bufs;

    explicit Batch(std::size_t size)
        : slot((kHeadroom + size + kTailroom + 63) / 64 * 64), storage(slot * kBatch), bufs(kBatch) {}

    // Copies the inner packet into every slot (untimed).
    void fill(const Bytes& inner) {
        for (std::size_t i = 0; i < kBatch; ++i) {
            std::memcpy(&storage[i * slot + kHeadroom], inner.data(), inner.size());
            bufs[i] = PacketBuffer{MutableByteView(&storage[i * slot], slot), kHeadroom, inner.size()};
        }
    }
};

struct Figure {
    double cpu_seconds = 0;
    std::uint64_t packets = 0;
};

void encap_batch(SaPair& p, Batch& b) {
    for (auto& buf : b.bufs)
        if (auto r = encapsulate(*p.out, *p.out_cipher, buf); r != DropReason::none)
            die(std::string("encapsulate: ") + std::string(to_string(r)));
}

void decap_batch(SaPair& p, Batch& b) {
    for (auto& buf : b.bufs)
        if (auto r = decapsulate(*p.in, *p.in_cipher, buf); !r.ok())
            die(std::string("decapsulate: ") + std::string(to_string(r.reason)));
}

// Runs `timed` on batches until `seconds` of CPU time were spent in it; `prepare` runs untimed
// before each batch.
template <typename Prepare, typename Timed>
Figure run(double seconds, Prepare prepare, Timed timed) {
    Figure f;
    while (f.cpu_seconds < seconds) {
        prepare();
        const double t0 = thread_cpu_seconds();
        timed();
        f.cpu_seconds += thread_cpu_seconds() - t0;
        f.packets += kBatch;
    }
    return f;
}

Figure bench_encap(const Transform& t, const Bytes& inner, double seconds) {
    SaPair p = make_pair(t);
    Batch b(inner.size());
    return run(seconds, [&] { b.fill(inner); }, [&] { encap_batch(p, b); });
}

Figure bench_decap(const Transform& t, const Bytes& inner, double seconds) {
    SaPair p = make_pair(t);
    Batch b(inner.size());
    return run(seconds,
               [&] {
                   b.fill(inner);
                   encap_batch(p, b);
               },
               [&] { decap_batch(p, b); });
}

Figure bench_roundtrip(const Transform& t, const Bytes& inner, double seconds) {
    SaPair p = make_pair(t);
    Batch b(inner.size());
    b.fill(inner);
    Figure f = run(seconds, [] {},
                   [&] {
                       for (auto& buf : b.bufs) {
                           if (auto r = encapsulate(*p.out, *p.out_cipher, buf); r != DropReason::none)
                               die(std::string("encapsulate: ") + std::string(to_string(r)));
                           if (auto r = decapsulate(*p.in, *p.in_cipher, buf); !r.ok())
                               die(std::string("decapsulate: ") + std::string(to_string(r.reason)));
                       }
                   });
    // The inner packet must have come back unchanged, where it was.
    for (const auto& buf : b.bufs)
        if (buf.offset != kHeadroom || buf.length != inner.size() ||
            std::memcmp(buf.packet().data(), inner.data(), inner.size()) != 0)
            die("round trip did not restore the inner packet");
    return f;
}

// openssl speed's EVP loop: one context, EVP_EncryptUpdate on `size`-octet chunks of one stream.
Figure bench_stream(const Transform& t, const Bytes& inner, double seconds) {
    EVP_CIPHER* cipher = EVP_CIPHER_fetch(nullptr, t.stream_cipher, nullptr);
    if (!cipher) die(std::string("OpenSSL has no ") + t.stream_cipher);
    std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)> ctx(EVP_CIPHER_CTX_new(),
                                                                        EVP_CIPHER_CTX_free);
    const std::uint8_t key[32] = {1, 2, 3}, iv[12] = {4, 5, 6};
    if (EVP_EncryptInit_ex2(ctx.get(), cipher, key, iv, nullptr) != 1) die("EVP_EncryptInit_ex2");
    EVP_CIPHER_free(cipher);
    Batch b(inner.size());
    b.fill(inner);
    return run(seconds, [] {},
               [&] {
                   int len = 0;
                   for (auto& buf : b.bufs)
                       if (EVP_EncryptUpdate(ctx.get(), buf.packet().data(), &len, buf.packet().data(),
                                             static_cast<int>(buf.length)) != 1)
                           die("EVP_EncryptUpdate");
               });
}

// The AEAD work of one encap, alone: EspCipher::aead_seal on inner + 4 octets with an 8-octet AAD.
Figure bench_seal(const Transform& t, const Bytes& inner, double seconds) {
    SaPair p = make_pair(t);
    Batch b(inner.size() + 4);
    Bytes padded = inner;
    padded.resize(inner.size() + 4);
    b.fill(padded);
    std::uint64_t seq = 0;
    const std::uint8_t aad[8] = {0xc0, 0xff, 0xee, 0x01};
    return run(seconds, [] {},
               [&] {
                   for (auto& buf : b.bufs) {
                       std::uint8_t iv[8];
                       ++seq;
                       std::memcpy(iv, &seq, sizeof iv);
                       std::uint8_t* text = buf.packet().data();
                       if (!p.out_cipher->aead_seal(ByteView(iv, 8), ByteView(aad, 8),
                                                    MutableByteView(text, buf.length),
                                                    text + buf.length))
                           die("aead_seal");
                   }
               });
}

void print(const char* transform, const char* mode, const Figure& f, std::size_t size,
           const char* note) {
    const double pps = static_cast<double>(f.packets) / f.cpu_seconds;
    std::printf("%-18s %-10s %8.2f %8.3f %8.1f   %s\n", transform, mode,
                pps * static_cast<double>(size) * 8 / 1e9, pps / 1e6, 1e9 / pps, note);
    std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
    double seconds = 2.0;
    std::size_t size = 1400;
    std::string only;
    for (int i = 1; i < argc; ++i) {
        const std::string_view a = argv[i];
        if (a == "--seconds" && i + 1 < argc) {
            seconds = std::atof(argv[++i]);
        } else if (a == "--size" && i + 1 < argc) {
            size = static_cast<std::size_t>(std::atol(argv[++i]));
        } else if (a == "--only" && i + 1 < argc) {
            only = argv[++i];
        } else {
            std::fprintf(stderr,
                         "usage: esp_engine_bench [--seconds S (per figure, default 2)] "
                         "[--size OCTETS (inner packet, default 1400)] [--only TRANSFORM]\n");
            return 2;
        }
    }
    if (size < 28 || size > 9000 || seconds <= 0) die("--size must be 28..9000, --seconds > 0");

    const Bytes inner = inner_packet(size);
    std::printf("# esp_engine_bench: %zu-octet inner IPv4 packets, in place, one thread, "
                "%.1f s of thread CPU time per figure; Gbit/s of inner octets\n",
                size, seconds);
    std::printf("%-18s %-10s %8s %8s %8s   %s\n", "transform", "mode", "Gbit/s", "Mpkt/s",
                "ns/pkt", "what");
    for (const Transform& t : kTransforms) {
        if (!only.empty() && only != t.name) continue;
        if (t.stream_cipher) {
            print(t.name, "stream", bench_stream(t, inner, seconds), size,
                  "EVP_EncryptUpdate on one stream: raw cipher rate");
            print(t.name, "seal", bench_seal(t, inner, seconds), size,
                  "EspCipher::aead_seal per packet (IV, AAD, tag)");
        }
        print(t.name, "encap", bench_encap(t, inner, seconds), size, "encapsulate()");
        print(t.name, "decap", bench_decap(t, inner, seconds), size, "decapsulate()");
        print(t.name, "roundtrip", bench_roundtrip(t, inner, seconds), size,
              "encapsulate() + decapsulate(): two crypto passes per packet");
    }
    return 0;
}
