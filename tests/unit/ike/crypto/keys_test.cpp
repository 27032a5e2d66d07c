#include <boost/test/unit_test.hpp>

#include "ike/crypto/keys.hpp"

using namespace postern;
using namespace postern::ike;
using namespace postern::ike::crypto;

namespace {
const Bytes kNi = from_hex("00112233445566778899aabbccddeeff");
const Bytes kNr = from_hex("ffeeddccbbaa99887766554433221100a5a5a5a5");
const Bytes kGir = from_hex("0badc0de0badc0de0badc0de0badc0de0badc0de0badc0de0badc0de0badc0de");
std::string hex(const Secret& s) {
    return to_hex(s.view());
}
}  // namespace

BOOST_AUTO_TEST_SUITE(keys)

BOOST_AUTO_TEST_CASE(skeyseed_is_prf_of_nonces_over_gir) {
    auto seed = skeyseed(PrfId::PRF_HMAC_SHA2_256, kNi, kNr, kGir);
    BOOST_REQUIRE(seed);
    Bytes nonces = kNi;
    nonces.insert(nonces.end(), kNr.begin(), kNr.end());
    BOOST_TEST(hex(*seed) == hex(Prf::create(PrfId::PRF_HMAC_SHA2_256)->compute(nonces, {kGir})));
}

BOOST_AUTO_TEST_CASE(ike_keys_cbc_split_in_rfc_order) {
    IkeTransforms t{PrfId::PRF_HMAC_SHA2_384, EncrId::ENCR_AES_CBC, 256,
                    IntegId::AUTH_HMAC_SHA2_256_128};
    auto len = ike_key_lengths(t);
    BOOST_REQUIRE(len);
    BOOST_TEST(len->sk_d == 48u);
    BOOST_TEST(len->sk_a == 32u);
    BOOST_TEST(len->sk_e == 32u);
    BOOST_TEST(len->sk_p == 48u);

    Secret seed(from_hex("5eed5eed5eed5eed5eed5eed5eed5eed"));
    auto k = derive_ike_keys(t, seed, kNi, kNr, 0x0102030405060708ull, 0x1112131415161718ull);
    BOOST_REQUIRE(k);
    auto all = Prf::create(PrfId::PRF_HMAC_SHA2_384)
                   ->plus(seed.view(),
                          {kNi, kNr, from_hex("0102030405060708"), from_hex("1112131415161718")},
                          48 + 2 * 32 + 2 * 32 + 2 * 48);
    BOOST_REQUIRE(all);
    const std::string h = hex(*all);
    std::size_t at = 0;
    for (const Secret* s :
         {&k->sk_d, &k->sk_ai, &k->sk_ar, &k->sk_ei, &k->sk_er, &k->sk_pi, &k->sk_pr}) {
        BOOST_TEST(hex(*s) == h.substr(at, 2 * s->size()));
        at += 2 * s->size();
    }
    BOOST_TEST(at == h.size());
}

BOOST_AUTO_TEST_CASE(ike_keys_aead_have_salt_and_no_sk_a) {
    IkeTransforms gcm{PrfId::PRF_HMAC_SHA2_256, EncrId::ENCR_AES_GCM_16, 128};
    auto k = derive_ike_keys(gcm, Secret(kGir), kNi, kNr, 1, 2);
    BOOST_REQUIRE(k);
    BOOST_TEST(k->sk_ai.empty());
    BOOST_TEST(k->sk_ar.empty());
    BOOST_TEST(k->sk_ei.size() == 20u);  // 16-octet key + 4-octet salt
    BOOST_TEST(k->sk_d.size() == 32u);

    IkeTransforms chacha{PrfId::PRF_HMAC_SHA2_512, EncrId::ENCR_CHACHA20_POLY1305, 0};
    auto c = derive_ike_keys(chacha, Secret(kGir), kNi, kNr, 1, 2);
    BOOST_REQUIRE(c);
    BOOST_TEST(c->sk_er.size() == 36u);
    BOOST_TEST(c->sk_pr.size() == 64u);

    IkeTransforms bad{PrfId::PRF_HMAC_SHA2_256, EncrId::ENCR_AES_GCM_16, 128,
                      IntegId::AUTH_HMAC_SHA2_256_128};
    BOOST_TEST(!derive_ike_keys(bad, Secret(kGir), kNi, kNr, 1, 2));
    IkeTransforms no_integ{PrfId::PRF_HMAC_SHA2_256, EncrId::ENCR_AES_CBC, 128};
    BOOST_TEST(!ike_key_lengths(no_integ));
}

BOOST_AUTO_TEST_CASE(rekey_skeyseed_uses_old_prf) {
    Secret old_sk_d(Bytes(48, 0x77));
    auto s = rekey_skeyseed(PrfId::PRF_HMAC_SHA2_384, old_sk_d, kGir, kNi, kNr);
    BOOST_REQUIRE(s);
    BOOST_TEST(s->size() == 48u);
    auto manual = Prf::create(PrfId::PRF_HMAC_SHA2_384)->compute(old_sk_d.view(), {kGir, kNi, kNr});
    BOOST_TEST(hex(*s) == hex(manual));
    auto other = rekey_skeyseed(PrfId::PRF_HMAC_SHA2_256, old_sk_d, kGir, kNi, kNr);
    BOOST_TEST(other->size() == 32u);
}

BOOST_AUTO_TEST_CASE(child_keys_order_and_pfs) {
    auto len = child_key_lengths(EncrId::ENCR_AES_CBC, 128, IntegId::AUTH_HMAC_SHA2_256_128);
    BOOST_REQUIRE(len);
    BOOST_TEST(len->encr == 16u);
    BOOST_TEST(len->integ == 32u);
    Secret sk_d(Bytes(32, 0x33));
    auto k = derive_child_keys(PrfId::PRF_HMAC_SHA2_256, sk_d, {}, kNi, kNr, *len);
    BOOST_REQUIRE(k);
    const std::string h =
        hex(*Prf::create(PrfId::PRF_HMAC_SHA2_256)->plus(sk_d.view(), {kNi, kNr}, 96));
    BOOST_TEST(hex(k->encr_i) == h.substr(0, 32));
    BOOST_TEST(hex(k->integ_i) == h.substr(32, 64));
    BOOST_TEST(hex(k->encr_r) == h.substr(96, 32));
    BOOST_TEST(hex(k->integ_r) == h.substr(128, 64));

    auto pfs = derive_child_keys(PrfId::PRF_HMAC_SHA2_256, sk_d, kGir, kNi, kNr, *len);
    BOOST_REQUIRE(pfs);
    const std::string hp =
        hex(*Prf::create(PrfId::PRF_HMAC_SHA2_256)->plus(sk_d.view(), {kGir, kNi, kNr}, 96));
    BOOST_TEST(hex(pfs->encr_i) == hp.substr(0, 32));
    BOOST_TEST(hex(pfs->encr_i) != hex(k->encr_i));

    auto gcm = child_key_lengths(EncrId::ENCR_AES_GCM_16, 256, IntegId::AUTH_NONE);
    BOOST_REQUIRE(gcm);
    BOOST_TEST(gcm->encr == 36u);
    BOOST_TEST(gcm->integ == 0u);
    auto g = derive_child_keys(PrfId::PRF_HMAC_SHA2_256, sk_d, {}, kNi, kNr, *gcm);
    BOOST_REQUIRE(g);
    BOOST_TEST(g->integ_i.empty());
    BOOST_TEST(g->encr_r.size() == 36u);
    BOOST_TEST(!child_key_lengths(EncrId::ENCR_AES_GCM_16, 256, IntegId::AUTH_HMAC_SHA1_96));
}

BOOST_AUTO_TEST_SUITE_END()
