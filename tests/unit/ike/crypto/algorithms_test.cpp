#include <boost/test/unit_test.hpp>

#include "ike/crypto/algorithms.hpp"
#include "print.hpp"

using namespace postern;
using namespace postern::ike;
using namespace postern::ike::crypto;

namespace {
const AlgorithmPolicy kStrict{};
const AlgorithmPolicy kLegacy{.allow_legacy = true};
}  // namespace

BOOST_AUTO_TEST_SUITE(algorithms)

BOOST_AUTO_TEST_CASE(descriptors) {
    const EncrInfo* gcm = find_encr(EncrId::ENCR_AES_GCM_16, 256);
    BOOST_REQUIRE(gcm);
    BOOST_TEST(gcm->aead);
    BOOST_TEST(gcm->keymat_size() == 36u);
    BOOST_TEST(gcm->iv_size == 8u);
    BOOST_TEST(gcm->icv_size == 16u);
    const EncrInfo* chacha = find_encr(EncrId::ENCR_CHACHA20_POLY1305, 0);
    BOOST_REQUIRE(chacha);
    BOOST_TEST(chacha->keymat_size() == 36u);
    BOOST_TEST(find_encr(EncrId::ENCR_AES_CBC, 128)->iv_size == 16u);
    BOOST_TEST(!find_encr(EncrId::ENCR_AES_CBC, 0));
    BOOST_TEST(!find_encr(EncrId::ENCR_AES_CTR, 128));
    BOOST_TEST(find_integ(IntegId::AUTH_HMAC_SHA2_384_192)->icv_size == 24u);
    BOOST_TEST(find_integ(IntegId::AUTH_HMAC_SHA2_512_256)->key_size == 64u);
    BOOST_TEST(find_prf(PrfId::PRF_HMAC_SHA2_512)->output_size == 64u);
    BOOST_TEST(find_ke(KeId::ECP_521)->public_size == 132u);
    BOOST_TEST(find_ke(KeId::CURVE448)->public_size == 56u);
    BOOST_TEST(find_ke(KeId::MODP_3072)->public_size == 384u);
}

BOOST_AUTO_TEST_CASE(legacy_transforms_refused_without_flag) {
    auto e = lookup_encr(EncrId::ENCR_3DES, 0, kStrict);
    BOOST_REQUIRE(!e);
    BOOST_TEST(e.error().find("allow_legacy") != std::string::npos);
    BOOST_TEST(!lookup_integ(IntegId::AUTH_HMAC_SHA1_96, kStrict));
    BOOST_TEST(!lookup_prf(PrfId::PRF_HMAC_SHA1, kStrict));
    BOOST_TEST(!lookup_ke(KeId::MODP_1024, kStrict));

    BOOST_TEST(lookup_encr(EncrId::ENCR_3DES, 0, kLegacy).has_value());
    BOOST_TEST(lookup_integ(IntegId::AUTH_HMAC_SHA1_96, kLegacy).has_value());
    BOOST_TEST(lookup_prf(PrfId::PRF_HMAC_SHA1, kLegacy).has_value());
    BOOST_TEST(lookup_ke(KeId::MODP_1024, kLegacy).has_value());

    BOOST_TEST(lookup_ke(KeId::CURVE25519, kStrict).has_value());
    auto unknown = lookup_ke(KeId::MODP_768, kLegacy);
    BOOST_REQUIRE(!unknown);
    BOOST_TEST(unknown.error().find("unsupported") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(parse_ike_aead) {
    auto p = parse_proposal("aes256gcm16-prfsha256-x25519", ProtocolId::IKE, kStrict);
    BOOST_REQUIRE_MESSAGE(p, p.error());
    BOOST_TEST((p->encr == std::vector<EncrTransform>{{EncrId::ENCR_AES_GCM_16, 256}}));
    BOOST_TEST((p->prf == std::vector<PrfId>{PrfId::PRF_HMAC_SHA2_256}));
    BOOST_TEST(p->integ.empty());
    BOOST_TEST((p->ke == std::vector<KeId>{KeId::CURVE25519}));
    BOOST_TEST(to_string(*p) == "aes256gcm16-prfsha256-x25519");

    auto c = parse_proposal("chacha20poly1305-prfsha512-ecp384", ProtocolId::IKE, kStrict);
    BOOST_REQUIRE_MESSAGE(c, c.error());
    BOOST_TEST(c->encr.front().id == EncrId::ENCR_CHACHA20_POLY1305);
    BOOST_TEST(c->prf.front() == PrfId::PRF_HMAC_SHA2_512);
    BOOST_TEST(c->ke.front() == KeId::ECP_384);
}

BOOST_AUTO_TEST_CASE(parse_ike_cbc_implies_prf) {
    auto p = parse_proposal("aes256-sha256-modp2048", ProtocolId::IKE, kStrict);
    BOOST_REQUIRE_MESSAGE(p, p.error());
    BOOST_TEST((p->encr == std::vector<EncrTransform>{{EncrId::ENCR_AES_CBC, 256}}));
    BOOST_TEST((p->integ == std::vector<IntegId>{IntegId::AUTH_HMAC_SHA2_256_128}));
    BOOST_TEST((p->prf == std::vector<PrfId>{PrfId::PRF_HMAC_SHA2_256}));
    BOOST_TEST((p->ke == std::vector<KeId>{KeId::MODP_2048}));

    auto multi =
        parse_proposal("aes128-aes256-sha256-sha384-ecp256-modp3072", ProtocolId::IKE, kStrict);
    BOOST_REQUIRE_MESSAGE(multi, multi.error());
    BOOST_TEST(multi->encr.size() == 2u);
    BOOST_TEST(multi->prf.size() == 2u);
    BOOST_TEST(multi->ke.size() == 2u);
}

BOOST_AUTO_TEST_CASE(parse_legacy) {
    auto refused = parse_proposal("aes128-sha1-modp1024", ProtocolId::IKE, kStrict);
    BOOST_REQUIRE(!refused);
    BOOST_TEST(refused.error().find("'sha1'") != std::string::npos, refused.error());
    BOOST_TEST(refused.error().find("allow_legacy") != std::string::npos);

    auto ok = parse_proposal("aes128-sha1-modp1024", ProtocolId::IKE, kLegacy);
    BOOST_REQUIRE_MESSAGE(ok, ok.error());
    BOOST_TEST(ok->prf.front() == PrfId::PRF_HMAC_SHA1);
    BOOST_TEST(ok->integ.front() == IntegId::AUTH_HMAC_SHA1_96);
    BOOST_TEST(ok->ke.front() == KeId::MODP_1024);

    auto des = parse_proposal("3des-sha256-modp2048", ProtocolId::IKE, kStrict);
    BOOST_REQUIRE(!des);
    BOOST_TEST(des.error().find("'3des'") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(parse_esp) {
    auto p = parse_proposal("aes256gcm16", ProtocolId::ESP, kStrict);
    BOOST_REQUIRE_MESSAGE(p, p.error());
    BOOST_TEST(p->ke.empty());
    BOOST_TEST((p->esn == std::vector<EsnId>{EsnId::NO_ESN}));

    auto pfs = parse_proposal("aes128-sha256-ecp256-esn", ProtocolId::ESP, kStrict);
    BOOST_REQUIRE_MESSAGE(pfs, pfs.error());
    BOOST_TEST(pfs->ke.front() == KeId::ECP_256);
    BOOST_TEST(pfs->esn.front() == EsnId::ESN);
    BOOST_TEST(pfs->prf.empty());

    BOOST_TEST(!parse_proposal("aes128-prfsha256", ProtocolId::ESP, kStrict));
    BOOST_TEST(!parse_proposal("aes128", ProtocolId::ESP, kStrict));  // no integrity
}

BOOST_AUTO_TEST_CASE(parse_errors_name_the_problem) {
    auto bad = parse_proposal("aes256-sha256-modp2049", ProtocolId::IKE, kStrict);
    BOOST_REQUIRE(!bad);
    BOOST_TEST(bad.error().find("'modp2049'") != std::string::npos, bad.error());

    auto mixed = parse_proposal("aes256gcm16-aes256-sha256-x25519", ProtocolId::IKE, kStrict);
    BOOST_REQUIRE(!mixed);
    BOOST_TEST(mixed.error().find("AEAD") != std::string::npos);

    auto noprf = parse_proposal("aes256gcm16-x25519", ProtocolId::IKE, kStrict);
    BOOST_REQUIRE(!noprf);
    BOOST_TEST(noprf.error().find("PRF") != std::string::npos);

    auto integ_aead = parse_proposal("aes256gcm16-sha256-x25519", ProtocolId::IKE, kStrict);
    BOOST_REQUIRE(!integ_aead);

    auto noke = parse_proposal("aes256-sha256", ProtocolId::IKE, kStrict);
    BOOST_REQUIRE(!noke);
    BOOST_TEST(noke.error().find("key exchange") != std::string::npos);

    BOOST_TEST(!parse_proposal("", ProtocolId::IKE, kStrict));
    BOOST_TEST(!parse_proposal("aes256--sha256-x25519", ProtocolId::IKE, kStrict));
    BOOST_TEST(!parse_proposal("aes256-sha256-x25519-", ProtocolId::IKE, kStrict));
    BOOST_TEST(!parse_proposal("aes256-sha256-x25519-esn", ProtocolId::IKE, kStrict));
}

BOOST_AUTO_TEST_SUITE_END()
