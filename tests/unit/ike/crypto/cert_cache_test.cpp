// CertificateCache: parsed certificates shared by the SHA-256 of their DER.
#include <boost/test/unit_test.hpp>

#include "ike/crypto/cert_cache.hpp"
#include "test_pki.hpp"

using namespace postern;
using namespace postern::ike::crypto;
using namespace postern::ike::crypto::test_pki;

BOOST_AUTO_TEST_SUITE(cert_cache)

BOOST_AUTO_TEST_CASE(a_hit_returns_the_same_parsed_object) {
    CertificateCache cache(16, 1);
    const Bytes ecdsa = der("server-ecdsa");
    auto first = cache.parse(ecdsa);
    BOOST_REQUIRE(first);
    auto again = cache.parse(ecdsa);
    BOOST_REQUIRE(again);
    BOOST_TEST(first->get() == again->get());
    BOOST_TEST((*first)->get() == (*again)->get());  // the one X509 object
    BOOST_TEST((*again)->der() == ecdsa);
    BOOST_TEST((*again)->subject_text() == pki("server-ecdsa").subject_text());

    // Another DER is another entry.
    auto rsa = cache.parse(der("server-rsa"));
    BOOST_REQUIRE(rsa);
    BOOST_TEST(rsa->get() != first->get());

    const auto c = cache.counters();
    BOOST_TEST(c.hits == 1u);
    BOOST_TEST(c.misses == 2u);
    BOOST_TEST(c.size == 2u);
    BOOST_TEST(c.capacity == 16u);
}

BOOST_AUTO_TEST_CASE(what_does_not_parse_is_not_kept) {
    CertificateCache cache(16, 1);
    Bytes bad = der("client");
    bad.push_back(0);  // an octet after the certificate
    for (int i = 0; i < 2; ++i) {
        auto r = cache.parse(bad);
        BOOST_REQUIRE(!r);
        BOOST_TEST(r.error() == "certificate: 1 octets after the certificate");
    }
    BOOST_TEST(!cache.parse(Bytes{}).has_value());
    BOOST_TEST(cache.counters().misses == 3u);
    BOOST_TEST(cache.counters().size == 0u);
}

BOOST_AUTO_TEST_CASE(size_is_bounded_and_the_least_recent_goes) {
    CertificateCache cache(2, 1);
    const Bytes a = der("server-ecdsa"), b = der("server-rsa"), c = der("client");
    auto pa = cache.parse(a);
    BOOST_REQUIRE(pa);
    BOOST_REQUIRE(cache.parse(b));
    BOOST_REQUIRE(cache.parse(a));  // hit: b is now the least recently used
    BOOST_REQUIRE(cache.parse(c));  // evicts b
    auto counters = cache.counters();
    BOOST_TEST(counters.size == 2u);
    BOOST_TEST(counters.evictions == 1u);
    BOOST_TEST(counters.hits == 1u);
    BOOST_TEST(counters.misses == 3u);

    auto pa2 = cache.parse(a);  // still cached
    BOOST_REQUIRE(pa2);
    BOOST_TEST(pa2->get() == pa->get());
    BOOST_REQUIRE(cache.parse(b));  // parsed again
    BOOST_TEST(cache.counters().hits == 2u);
    BOOST_TEST(cache.counters().misses == 4u);
    BOOST_TEST(cache.counters().size == 2u);

    // An evicted certificate lives on for whoever holds it.
    cache.clear();
    BOOST_TEST(cache.counters().size == 0u);
    BOOST_TEST((*pa)->subject_text() == pki("server-ecdsa").subject_text());
}

BOOST_AUTO_TEST_CASE(the_shared_cache_is_one_object) {
    BOOST_TEST(&CertificateCache::shared() == &CertificateCache::shared());
    BOOST_TEST(CertificateCache::shared().counters().capacity ==
               CertificateCache::kDefaultCapacity);
}

BOOST_AUTO_TEST_SUITE_END()
