// DigestLru: the bounded, sharded LRU map under the certificate caches.
#include <boost/test/unit_test.hpp>

#include "ike/crypto/digest_lru.hpp"

using namespace postern::ike::crypto;

namespace {

// A digest whose shard octet (0) and hash octets (8..15) are `n`.
Sha256Digest digest(std::uint8_t n) {
    Sha256Digest d{};
    d[0] = n;
    d[8] = n;
    d[31] = n;
    return d;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(digest_lru)

BOOST_AUTO_TEST_CASE(finds_what_was_inserted) {
    DigestLru<int> lru(4, 1);
    BOOST_TEST(!lru.find(digest(1)).has_value());
    BOOST_TEST(lru.insert(digest(1), 10) == 10);
    BOOST_TEST(lru.find(digest(1)).value() == 10);
    // The first value stays: a second insert (a thread that lost a race) gets it back.
    BOOST_TEST(lru.insert(digest(1), 11) == 10);
    BOOST_TEST(lru.find(digest(1)).value() == 10);
    lru.insert_or_assign(digest(1), 12);
    BOOST_TEST(lru.find(digest(1)).value() == 12);
    BOOST_TEST(lru.size() == 1u);
}

BOOST_AUTO_TEST_CASE(evicts_the_least_recently_used) {
    DigestLru<int> lru(2, 1);
    lru.insert(digest(1), 1);
    lru.insert(digest(2), 2);
    BOOST_TEST(lru.find(digest(1)).has_value());  // 2 is now the least recently used
    lru.insert(digest(3), 3);
    BOOST_TEST(lru.size() == 2u);
    BOOST_TEST(lru.evictions() == 1u);
    BOOST_TEST(lru.find(digest(1)).has_value());
    BOOST_TEST(!lru.find(digest(2)).has_value());
    BOOST_TEST(lru.find(digest(3)).has_value());
    lru.insert_or_assign(digest(4), 4);  // evicts 1 (3 was found after it)
    BOOST_TEST(!lru.find(digest(1)).has_value());
    BOOST_TEST(lru.evictions() == 2u);
    lru.clear();
    BOOST_TEST(lru.size() == 0u);
    BOOST_TEST(!lru.find(digest(3)).has_value());
}

BOOST_AUTO_TEST_CASE(capacity_is_spread_over_shards) {
    // 10 over 4 shards: 3, 3, 2, 2. Never more than 10 in all, whatever the keys.
    DigestLru<int> lru(10, 4);
    BOOST_TEST(lru.shard_count() == 4u);
    for (int i = 0; i < 200; ++i)
        lru.insert(digest(static_cast<std::uint8_t>(i)), i);
    BOOST_TEST(lru.size() == 10u);
    BOOST_TEST(lru.evictions() == 190u);
    // No more shards than entries, and never none.
    BOOST_TEST(DigestLru<int>(3, 16).shard_count() == 3u);
    BOOST_TEST(DigestLru<int>(0, 0).capacity() == 1u);
    BOOST_TEST(DigestLru<int>(0, 0).shard_count() == 1u);
}

BOOST_AUTO_TEST_SUITE_END()
