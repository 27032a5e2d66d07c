// VerifiedChainCache: its key and its validity windows.
#include <boost/test/unit_test.hpp>

#include <vector>

#include "ike/crypto/chain_cache.hpp"

using namespace postern;
using namespace postern::ike::crypto;

BOOST_AUTO_TEST_SUITE(chain_cache)

BOOST_AUTO_TEST_CASE(the_key_is_the_exact_chain) {
    const Bytes a{1, 2, 3}, b{4, 5}, ab{1, 2, 3, 4, 5};
    const std::vector<Bytes> a_b{a, b}, b_a{b, a}, joined{ab}, a_b_empty{a, b, {}};
    const auto key = VerifiedChainCache::key(a_b);
    BOOST_TEST((key == VerifiedChainCache::key(std::vector<Bytes>{a, b})));
    // Order, framing and count all count.
    BOOST_TEST((key != VerifiedChainCache::key(b_a)));
    BOOST_TEST((key != VerifiedChainCache::key(joined)));
    BOOST_TEST((key != VerifiedChainCache::key(a_b_empty)));
    BOOST_TEST((key != VerifiedChainCache::key(std::vector<Bytes>{a})));
}

BOOST_AUTO_TEST_CASE(a_hit_needs_now_inside_the_window) {
    VerifiedChainCache cache(8, 1);
    const auto key = VerifiedChainCache::key(std::vector<Bytes>{{1}});
    BOOST_TEST(!cache.verified_at(key, 150));
    cache.remember(key, {100, 200});
    // notBefore <= now < notAfter, as X509_verify_cert decides.
    BOOST_TEST(!cache.verified_at(key, 99));
    BOOST_TEST(cache.verified_at(key, 100));
    BOOST_TEST(cache.verified_at(key, 199));
    BOOST_TEST(!cache.verified_at(key, 200));
    auto c = cache.counters();
    BOOST_TEST(c.misses == 1u);
    BOOST_TEST(c.hits == 2u);
    BOOST_TEST(c.outside_window == 2u);
    BOOST_TEST(c.size == 1u);

    // A later verification replaces the window.
    cache.remember(key, {300, 400});
    BOOST_TEST(!cache.verified_at(key, 150));
    BOOST_TEST(cache.verified_at(key, 350));
    // An empty window is not kept.
    const auto other = VerifiedChainCache::key(std::vector<Bytes>{{2}});
    cache.remember(other, {100, 100});
    BOOST_TEST(!cache.verified_at(other, 100));
    BOOST_TEST(cache.counters().size == 1u);
    cache.clear();
    BOOST_TEST(!cache.verified_at(key, 350));
}

BOOST_AUTO_TEST_SUITE_END()
