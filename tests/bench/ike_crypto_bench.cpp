// ike_crypto_bench: what the cryptography of one PSK + X25519 handshake costs through
// Postern's crypto layer (ike/crypto), each public-key operation beside OpenSSL doing the
// same with its contexts set up once (as `openssl speed` measures it), so the gap is OpenSSL
// 3's per-call work (method lookups, context set-up) or ours.
//
//   ike_crypto_bench [--iterations N]
//
// Prints one line per operation (µs per call, one thread), then what one handshake needs on
// one end (the responder's: a key share, a shared secret, SKEYSEED, the IKE keys, the
// CHILD_SA keys, the two AUTH values of PSK, IKE_AUTH opened and sealed, four NAT-D hashes,
// nonce, SPI and IV draws) against the "crypto bound" of tests/bench/ike-rate, which counts
// 2 X25519 operations per end at `openssl speed`'s rate. Not a test: asserts nothing about
// speed; exits 1 if an operation fails.
#include <openssl/evp.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>

#include "ike/crypto/ke.hpp"
#include "ike/crypto/keys.hpp"
#include "ike/crypto/natd.hpp"
#include "ike/crypto/prf.hpp"
#include "ike/crypto/random.hpp"
#include "ike/crypto/sk.hpp"

using namespace postern;
using namespace postern::ike;
using namespace postern::ike::crypto;

namespace {

int iterations = 5000;

// µs per call of f, after a tenth as many calls to warm up.
double time_us(const std::function<void()>& f) {
    for (int i = 0; i < iterations / 10; ++i)
        f();
    const auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < iterations; ++i)
        f();
    const auto t1 = std::chrono::steady_clock::now();
    return std::chrono::duration<double, std::micro>(t1 - t0).count() / iterations;
}

[[noreturn]] void fail(const std::string& what) {
    std::fprintf(stderr, "ike_crypto_bench: %s failed\n", what.c_str());
    std::exit(1);
}

void line(const char* what, double ours, double openssl = -1) {
    if (openssl < 0)
        std::printf("%-34s %8.2f us\n", what, ours);
    else
        std::printf("%-34s %8.2f us   (OpenSSL, set up once: %.2f us)\n", what, ours, openssl);
}

}  // namespace

int main(int argc, char** argv) {
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--iterations" && i + 1 < argc) {
            iterations = std::atoi(argv[++i]);
        } else {
            std::fprintf(stderr, "usage: %s [--iterations N]\n", argv[0]);
            return 2;
        }
    }
    if (iterations < 10) iterations = 10;

    // X25519 through Postern, and through a context OpenSSL keeps.
    auto ours = KeyExchange::generate_now(KeId::CURVE25519);
    auto peer = KeyExchange::generate_now(KeId::CURVE25519);
    if (!ours || !peer) fail("X25519 key generation");
    const double keygen = time_us([] {
        if (!KeyExchange::generate_now(KeId::CURVE25519)) fail("X25519 key generation");
    });
    EVP_PKEY_CTX* kctx = EVP_PKEY_CTX_new_from_name(nullptr, "X25519", nullptr);
    if (!kctx || EVP_PKEY_keygen_init(kctx) != 1) fail("EVP_PKEY_keygen_init");
    const double keygen_ossl = time_us([&] {
        EVP_PKEY* k = nullptr;
        if (EVP_PKEY_keygen(kctx, &k) != 1) fail("EVP_PKEY_keygen");
        EVP_PKEY_free(k);
    });
    const double shared = time_us([&] {
        if (!ours->shared_secret(peer->public_value())) fail("X25519 shared secret");
    });
    EVP_PKEY *a = nullptr, *b = nullptr;
    if (EVP_PKEY_keygen(kctx, &a) != 1 || EVP_PKEY_keygen(kctx, &b) != 1) fail("keygen");
    EVP_PKEY_CTX* dctx = EVP_PKEY_CTX_new_from_pkey(nullptr, a, nullptr);
    if (!dctx || EVP_PKEY_derive_init(dctx) != 1 || EVP_PKEY_derive_set_peer(dctx, b) != 1)
        fail("derive set-up");
    const double shared_ossl = time_us([&] {
        unsigned char out[32];
        std::size_t len = sizeof out;
        if (EVP_PKEY_derive(dctx, out, &len) != 1) fail("EVP_PKEY_derive");
    });
    line("X25519 key share", keygen, keygen_ossl);
    line("X25519 shared secret", shared, shared_ossl);

    // The PRF work: SKEYSEED, the IKE SA's keys, a CHILD_SA's keys, one PRF call (an AUTH
    // value is two: prf(prf(PSK, "Key Pad for IKEv2"), octets)).
    const Bytes ni(32, 1), nr(32, 2), gir(32, 3), data(200, 4), psk(32, 5);
    const IkeTransforms t{PrfId::PRF_HMAC_SHA2_256, EncrId::ENCR_AES_GCM_16, 256,
                          IntegId::AUTH_NONE};
    auto seed = skeyseed(t.prf, ni, nr, gir);
    if (!seed) fail("SKEYSEED");
    auto keys = derive_ike_keys(t, *seed, ni, nr, 1, 2);
    auto lengths = child_key_lengths(EncrId::ENCR_AES_GCM_16, 256, IntegId::AUTH_NONE);
    if (!keys || !lengths) fail("IKE keys");
    const Prf prf(*find_prf(t.prf));
    const double one_prf = time_us([&] { (void)prf.compute(psk, {data}); });
    const double seed_us = time_us([&] {
        if (!skeyseed(t.prf, ni, nr, gir)) fail("SKEYSEED");
    });
    const double ike_keys = time_us([&] {
        if (!derive_ike_keys(t, *seed, ni, nr, 1, 2)) fail("IKE keys");
    });
    const double child_keys = time_us([&] {
        if (!derive_child_keys(t.prf, keys->sk_d, {}, ni, nr, *lengths)) fail("CHILD_SA keys");
    });
    line("prf (HMAC-SHA-256, 200 octets)", one_prf);
    line("SKEYSEED", seed_us);
    line("IKE SA keys (prf+, 7 keys)", ike_keys);
    line("CHILD_SA keys (prf+, 4 keys)", child_keys);

    // IKE_AUTH: the request opened, the answer sealed (AES-256-GCM, about 300 octets each).
    auto sk = SkCipher::create(t.encr, t.encr_key_bits, t.integ, keys->sk_er, keys->sk_ar);
    if (!sk) fail("SK cipher");
    const Bytes aad(32, 0), plain(300, 6);
    auto sealed = sk->seal(aad, plain);
    if (!sealed) fail("SK seal");
    const double seal = time_us([&] {
        if (!sk->seal(aad, plain)) fail("SK seal");
    });
    const double open = time_us([&] {
        if (!sk->open(aad, *sealed)) fail("SK open");
    });
    line("SK payload sealed (300 octets)", seal);
    line("SK payload opened (300 octets)", open);

    const Endpoint endpoint{*IpAddress::parse("192.0.2.1"), 500};
    const double natd = time_us([&] { (void)nat_detection_hash(1, 2, endpoint); });
    line("NAT-D hash", natd);
    const double draw = time_us([] {
        Bytes nonce(32);
        fill_random(nonce);
    });
    line("random draw (32 octets)", draw);

    // One responder's handshake: the key share, the shared secret, SKEYSEED, the IKE and
    // CHILD_SA keys, 4 PRF calls for the two AUTH values (check the peer's, make ours), one
    // SK payload opened and one sealed, 4 NAT-D hashes (2 made, 2 checked), 3 random draws.
    const double public_key = keygen + shared;
    const double other =
        seed_us + ike_keys + child_keys + 4 * one_prf + seal + open + 4 * natd + 3 * draw;
    std::printf("\none end of a PSK + X25519 handshake: %.1f us of crypto\n", public_key + other);
    std::printf("  public-key (key share + shared secret): %.1f us; the rest: %.1f us\n",
                public_key, other);
    std::printf("  the crypto bound counts 2 X25519 at OpenSSL's rate: %.1f us\n", 2 * shared_ossl);
    std::printf(
        "  so both ends' crypto alone, nothing else, caps one core at %.0f handshakes/s: "
        "%.0f %% of the bound's %.0f per core\n",
        1e6 / (2 * (public_key + other)), 100.0 * (2 * shared_ossl) / (public_key + other),
        1e6 / (4 * shared_ossl));

    EVP_PKEY_CTX_free(dctx);
    EVP_PKEY_free(a);
    EVP_PKEY_free(b);
    EVP_PKEY_CTX_free(kctx);
    return 0;
}
