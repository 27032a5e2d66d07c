#include <boost/test/unit_test.hpp>

#include <openssl/bn.h>

#include "ike/crypto/ke.hpp"
#include "ike/crypto/modp_groups.hpp"
#include "print.hpp"

using namespace postern;
using namespace postern::ike;
using namespace postern::ike::crypto;

namespace {

std::string hex(const Secret& s) {
    return to_hex(s.view());
}

struct Rfc5903Vector {
    KeId id;
    const char *i, *gix, *giy, *r, *grx, *gry, *girx;
};

// RFC 5903 §8.1-§8.3.
const Rfc5903Vector kRfc5903[] = {
    {KeId::ECP_256, "c88f01f510d9ac3f70a292daa2316de544e9aab8afe84049c62a9c57862d1433",
     "dad0b65394221cf9b051e1feca5787d098dfe637fc90b9ef945d0c3772581180",
     "5271a0461cdb8252d61f1c456fa3e59ab1f45b33accf5f58389e0577b8990bb3",
     "c6ef9c5d78ae012a011164acb397ce2088685d8f06bf9be0b283ab46476bee53",
     "d12dfb5289c8d4f81208b70270398c342296970a0bccb74c736fc7554494bf63",
     "56fbf3ca366cc23e8157854c13c58d6aac23f046ada30f8353e74f33039872ab",
     "d6840f6b42f6edafd13116e0e12565202fef8e9ece7dce03812464d04b9442de"},
    {KeId::ECP_384,
     "099f3c7034d4a2c699884d73a375a67f7624ef7c6b3c0f160647b67414dce655e35b538041e649ee3faef896783ab"
     "194",
     "667842d7d180ac2cde6f74f37551f55755c7645c20ef73e31634fe72b4c55ee6de3ac808acb4bdb4c88732aee95f4"
     "1aa",
     "9482ed1fc0eeb9cafc4984625ccfc23f65032149e0e144ada024181535a0f38eeb9fcff3c2c947dae69b4c634573a"
     "81c",
     "41cb0779b4bdb85d47846725fbec3c9430fab46cc8dc5060855cc9bda0aa2942e0308312916b8ed2960e4bd55a744"
     "8fc",
     "e558dbef53eecde3d3fccfc1aea08a89a987475d12fd950d83cfa41732bc509d0d1ac43a0336def96fda41d0774a3"
     "571",
     "dcfbec7aacf3196472169e838430367f66eebe3c6e70c416dd5f0c68759dd1fff83fa40142209dff5eaad96db9e63"
     "86c",
     "11187331c279962d93d604243fd592cb9d0a926f422e47187521287e7156c5c4d603135569b9e9d09cf5d4a270f59"
     "746"},
    {KeId::ECP_521,
     "0037ade9319a89f4dabdb3ef411aaccca5123c61acab57b5393dce47608172a095aa85a30fe1c2952c6771d937ba9"
     "777f5957b2639bab072462f68c27a57382d4a52",
     "0015417e84dbf28c0ad3c278713349dc7df153c897a1891bd98bab4357c9ecbee1e3bf42e00b8e380aeae57c2d107"
     "564941885942af5a7f4601723c4195d176ced3e",
     "017cae20b6641d2eeb695786d8c946146239d099e18e1d5a514c739d7cb4a10ad8a788015ac405d7799dc75e7b7d5"
     "b6cf2261a6a7f1507438bf01beb6ca3926f9582",
     "0145ba99a847af43793fdd0e872e7cdfa16be30fdc780f97bccc3f078380201e9c677d600b343757a3bdbf2a3163e"
     "4c2f869cca7458aa4a4effc311f5cb151685eb9",
     "00d0b3975ac4b799f5bea16d5e13e9af971d5e9b984c9f39728b5e5739735a219b97c356436adc6e95bb0352f6be6"
     "4a6c2912d4ef2d0433ced2b6171640012d9460f",
     "015c68226383956e3bd066e797b623c27ce0eac2f551a10c2c724d9852077b87220b6536c5c408a1d2aebb8e86d67"
     "8ae49cb57091f4732296579ab44fcd17f0fc56a",
     "01144c7d79ae6956bc8edb8e7c787c4521cb086fa64407f97894e5e6b2d79b04d1427e73ca4baa240a34786859810"
     "c06b3c715a3a8cc3151f2bee417996d19f3ddea"},
};

}  // namespace

BOOST_AUTO_TEST_SUITE(ke)

BOOST_AUTO_TEST_CASE(rfc5903_ecp_vectors) {
    for (const auto& v : kRfc5903) {
        BOOST_TEST_CONTEXT(v.id) {
            auto i = KeyExchange::from_private(v.id, from_hex(v.i));
            auto r = KeyExchange::from_private(v.id, from_hex(v.r));
            BOOST_REQUIRE_MESSAGE(i, i.error());
            BOOST_REQUIRE_MESSAGE(r, r.error());
            // RFC 5903 §7: the KE payload carries x | y.
            BOOST_TEST(to_hex(i->public_value()) == std::string(v.gix) + v.giy);
            BOOST_TEST(to_hex(r->public_value()) == std::string(v.grx) + v.gry);
            auto s1 = i->shared_secret(r->public_value());
            auto s2 = r->shared_secret(i->public_value());
            BOOST_REQUIRE_MESSAGE(s1, s1.error());
            BOOST_REQUIRE_MESSAGE(s2, s2.error());
            // RFC 5903 §9: g^ir is the x coordinate only.
            BOOST_TEST(hex(*s1) == v.girx);
            BOOST_TEST(hex(*s2) == v.girx);
        }
    }
}

BOOST_AUTO_TEST_CASE(rfc7748_x25519) {
    // §5.2: the function on given scalars and u-coordinates.
    const char* v52[][3] = {
        {"a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4",
         "e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c",
         "c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552"},
        {"4b66e9d4d1b4673c5ad22691957d6af5c11b6421e0ea01d42ca4169e7918ba0d",
         "e5210f12786811d3f4b7959d0538ae2c31dbe7106fc03c3efc4cd549c715a493",
         "95cbde9476e8907d7aade45cb4b873f88b595a68799fa152e6f8f7647aac7957"},
    };
    for (const auto& v : v52) {
        auto k = KeyExchange::from_private(KeId::CURVE25519, from_hex(v[0]));
        BOOST_REQUIRE(k);
        auto s = k->shared_secret(from_hex(v[1]));
        BOOST_REQUIRE_MESSAGE(s, s.error());
        BOOST_TEST(hex(*s) == v[2]);
    }
    // §6.1: Diffie-Hellman.
    auto a = KeyExchange::from_private(
        KeId::CURVE25519,
        from_hex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a"));
    auto b = KeyExchange::from_private(
        KeId::CURVE25519,
        from_hex("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb"));
    BOOST_REQUIRE(a && b);
    BOOST_TEST(to_hex(a->public_value()) ==
               "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a");
    BOOST_TEST(to_hex(b->public_value()) ==
               "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f");
    const std::string k = "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742";
    BOOST_TEST(hex(*a->shared_secret(b->public_value())) == k);
    BOOST_TEST(hex(*b->shared_secret(a->public_value())) == k);
}

BOOST_AUTO_TEST_CASE(rfc7748_x448) {
    const char* v52[][3] = {
        {"3d262fddf9ec8e88495266fea19a34d28882acef045104d0d1aae121700a779c984c24f8cdd78fbff44943eba"
         "368f54b29259a4f1c600ad3",
         "06fce640fa3487bfda5f6cf2d5263f8aad88334cbd07437f020f08f9814dc031ddbdc38c19c6da2583fa5429d"
         "b94ada18aa7a7fb4ef8a086",
         "ce3e4ff95a60dc6697da1db1d85e6afbdf79b50a2412d7546d5f239fe14fbaadeb445fc66a01b0779d9822396"
         "1111e21766282f73dd96b6f"},
        {"203d494428b8399352665ddca42f9de8fef600908e0d461cb021f8c538345dd77c3e4806e25f46d3315c44e0a"
         "5b4371282dd2c8d5be3095f",
         "0fbcc2f993cd56d3305b0b7d9e55d4c1a8fb5dbb52f8e9a1e9b6201b165d015894e56c4d3570bee52fe205e28"
         "a78b91cdfbde71ce8d157db",
         "884a02576239ff7a2f2f63b2db6a9ff37047ac13568e1e30fe63c4a7ad1b3ee3a5700df34321d62077e63633c"
         "575c1c954514e99da7c179d"},
    };
    for (const auto& v : v52) {
        auto k = KeyExchange::from_private(KeId::CURVE448, from_hex(v[0]));
        BOOST_REQUIRE(k);
        auto s = k->shared_secret(from_hex(v[1]));
        BOOST_REQUIRE_MESSAGE(s, s.error());
        BOOST_TEST(hex(*s) == v[2]);
    }
    // §6.2.
    auto a = KeyExchange::from_private(
        KeId::CURVE448, from_hex("9a8f4925d1519f5775cf46b04b5800d4ee9ee8bae8bc5565d498c28dd9c9baf57"
                                 "4a9419744897391006382a6f127ab1d9ac2d8c0a598726b"));
    auto b = KeyExchange::from_private(
        KeId::CURVE448, from_hex("1c306a7ac2a0e2e0990b294470cba339e6453772b075811d8fad0d1d6927c120b"
                                 "b5ee8972b0d3e21374c9c921b09d1b0366f10b65173992d"));
    BOOST_REQUIRE(a && b);
    BOOST_TEST(to_hex(a->public_value()) ==
               "9b08f7cc31b7e3e67d22d5aea121074a273bd2b83de09c63faa73d2c22c5d9bbc836647241d953d40c5"
               "b12da88120d53177f80e532c41fa0");
    BOOST_TEST(to_hex(b->public_value()) ==
               "3eb7a829b0cd20f5bcfc0b599b6feccf6da4627107bdb0d4f345b43027d8b972fc3e34fb4232a13ca70"
               "6dcb57aec3dae07bdc1c67bf33609");
    const std::string k =
        "07fff4181ac6cc95ec1c16a94a0f74d12da232ce40a77552281d282bb60c0b56fd2464c335543936521c244030"
        "85d59a449a5037514a879d";
    BOOST_TEST(hex(*a->shared_secret(b->public_value())) == k);
    BOOST_TEST(hex(*b->shared_secret(a->public_value())) == k);
}

BOOST_AUTO_TEST_CASE(x25519_rejects_low_order_and_bad_length) {
    auto k = KeyExchange::generate(KeId::CURVE25519);
    BOOST_REQUIRE(k);
    auto zero = k->shared_secret(Bytes(32, 0));
    BOOST_REQUIRE(!zero);
    BOOST_TEST(zero.error().find("zero") != std::string::npos, zero.error());
    Bytes one(32, 0);
    one[0] = 1;
    BOOST_TEST(!k->shared_secret(one));
    BOOST_TEST(!k->shared_secret(Bytes(31, 9)));
}

// RFC 3526 group 14 exactly as printed in RFC 3526 §3 (copied from the RFC text).
const char* kRfc3526Group14Text =
    "FFFFFFFF FFFFFFFF C90FDAA2 2168C234 C4C6628B 80DC1CD1"
    "29024E08 8A67CC74 020BBEA6 3B139B22 514A0879 8E3404DD"
    "EF9519B3 CD3A431B 302B0A6D F25F1437 4FE1356D 6D51C245"
    "E485B576 625E7EC6 F44C42E9 A637ED6B 0BFF5CB6 F406B7ED"
    "EE386BFB 5A899FA5 AE9F2411 7C4B1FE6 49286651 ECE45B3D"
    "C2007CB8 A163BF05 98DA4836 1C55D39A 69163FA8 FD24CF5F"
    "83655D23 DCA3AD96 1C62F356 208552BB 9ED52907 7096966D"
    "670C354E 4ABC9804 F1746C08 CA18217C 32905E46 2E36CE3B"
    "E39E772C 180E8603 9B2783A2 EC07A28F B5C55DF0 6F4C52C9"
    "DE2BCBF6 95581718 3995497C EA956AE5 15D22618 98FA0510"
    "15728E5A 8AACAA68 FFFFFFFF FFFFFFFF";

BOOST_AUTO_TEST_CASE(modp_primes_match_rfc) {
    // Group 14 against the RFC text itself.
    BOOST_TEST(to_hex(from_hex(kRfc3526Group14Text)) ==
               to_hex(from_hex(modp_prime_hex(KeId::MODP_2048))));
    // Every group against OpenSSL's own copy of the RFC constants (crypto/bn/bn_const.c).
    struct {
        KeId id;
        BIGNUM* (*get)(BIGNUM*);
        int bits;
    } groups[] = {
        {KeId::MODP_1024, BN_get_rfc2409_prime_1024, 1024},
        {KeId::MODP_2048, BN_get_rfc3526_prime_2048, 2048},
        {KeId::MODP_3072, BN_get_rfc3526_prime_3072, 3072},
        {KeId::MODP_4096, BN_get_rfc3526_prime_4096, 4096},
        {KeId::MODP_6144, BN_get_rfc3526_prime_6144, 6144},
        {KeId::MODP_8192, BN_get_rfc3526_prime_8192, 8192},
    };
    for (const auto& g : groups) {
        BOOST_TEST_CONTEXT(g.id) {
            BIGNUM* ref = g.get(nullptr);
            char* ref_hex = BN_bn2hex(ref);
            BOOST_TEST(std::string(ref_hex) == std::string(modp_prime_hex(g.id)));
            BOOST_TEST(BN_num_bits(ref) == g.bits);
            OPENSSL_free(ref_hex);
            BN_free(ref);
        }
    }
    // Safe-prime check for the smaller groups (the large ones take seconds under ASan).
    for (KeId id : {KeId::MODP_1024, KeId::MODP_2048}) {
        BIGNUM* p = nullptr;
        BN_hex2bn(&p, std::string(modp_prime_hex(id)).c_str());
        BIGNUM* q = BN_dup(p);
        BN_rshift1(q, q);
        BN_CTX* ctx = BN_CTX_new();
        BOOST_TEST(BN_check_prime(p, ctx, nullptr) == 1);
        BOOST_TEST(BN_check_prime(q, ctx, nullptr) == 1);
        BN_CTX_free(ctx);
        BN_free(p);
        BN_free(q);
    }
}

BOOST_AUTO_TEST_CASE(every_group_agrees_with_itself) {
    for (KeId id : {KeId::MODP_1024, KeId::MODP_2048, KeId::MODP_3072, KeId::ECP_256, KeId::ECP_384,
                    KeId::ECP_521, KeId::CURVE25519, KeId::CURVE448}) {
        BOOST_TEST_CONTEXT(id) {
            auto a = KeyExchange::generate(id);
            auto b = KeyExchange::generate(id);
            BOOST_REQUIRE_MESSAGE(a, a.error());
            BOOST_REQUIRE_MESSAGE(b, b.error());
            BOOST_TEST(a->public_value().size() == a->info().public_size);
            // Fresh keys each time, also from a generation context kept between calls.
            const ByteView pa = a->public_value(), pb = b->public_value();
            BOOST_TEST((Bytes(pa.begin(), pa.end()) != Bytes(pb.begin(), pb.end())));
            auto s1 = a->shared_secret(b->public_value());
            auto s2 = b->shared_secret(a->public_value());
            BOOST_REQUIRE_MESSAGE(s1, s1.error());
            BOOST_REQUIRE(s2);
            BOOST_TEST(s1->size() == a->info().shared_size);
            BOOST_TEST(hex(*s1) == hex(*s2));
        }
    }
}

BOOST_AUTO_TEST_CASE(modp_known_private_and_validation) {
    // x = 1 gives g^x = 2, padded to the prime length.
    auto k = KeyExchange::from_private(KeId::MODP_2048, from_hex("01"));
    BOOST_REQUIRE_MESSAGE(k, k.error());
    Bytes two(256, 0);
    two[255] = 2;
    BOOST_TEST(to_hex(k->public_value()) == to_hex(two));

    auto other = KeyExchange::generate(KeId::MODP_2048);
    BOOST_REQUIRE(other);
    Bytes y(256, 0);
    BOOST_TEST(!other->shared_secret(y));  // 0
    y[255] = 1;
    BOOST_TEST(!other->shared_secret(y));  // 1
    Bytes p_minus_1 = from_hex(modp_prime_hex(KeId::MODP_2048));
    p_minus_1.back() -= 1;
    auto r = other->shared_secret(p_minus_1);
    BOOST_REQUIRE(!r);
    BOOST_TEST(r.error().find("1 < y < p-1") != std::string::npos, r.error());
    BOOST_TEST(!other->shared_secret(from_hex(modp_prime_hex(KeId::MODP_2048))));  // p
    BOOST_TEST(!other->shared_secret(Bytes(255, 7)));                              // short
    // g^ir from x = 1 is the peer's value itself, padded.
    auto s = k->shared_secret(other->public_value());
    BOOST_REQUIRE(s);
    BOOST_TEST(to_hex(s->view()) == to_hex(other->public_value()));
}

BOOST_AUTO_TEST_CASE(ecp_validation) {
    auto k = KeyExchange::generate(KeId::ECP_256);
    BOOST_REQUIRE(k);
    Bytes pub(k->public_value().begin(), k->public_value().end());
    BOOST_TEST(!k->shared_secret(ByteView(pub).first(63)));
    Bytes with_prefix{0x04};
    with_prefix.insert(with_prefix.end(), pub.begin(), pub.end());
    BOOST_TEST(!k->shared_secret(with_prefix));  // SEC1 prefix is not IKE encoding
    Bytes off_curve = pub;
    off_curve[63] ^= 1;
    auto r = k->shared_secret(off_curve);
    BOOST_REQUIRE(!r);
    BOOST_TEST(!k->shared_secret(Bytes(64, 0)));  // (0, 0): no encoding of infinity passes
    BOOST_TEST(!KeyExchange::from_private(KeId::ECP_256, Bytes(33, 1)));
}

BOOST_AUTO_TEST_SUITE_END()
