// KeySharePool: shares made ahead on its thread, each handed out once, only for groups in use.
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <set>
#include <thread>

#include "ike/crypto/ke_pool.hpp"
#include "print.hpp"

using namespace postern;
using namespace postern::ike;
using namespace postern::ike::crypto;

namespace {

// Waits (up to 10 s) until the pool made at least `n` shares.
bool made_at_least(const KeySharePool& pool, std::size_t n) {
    for (int i = 0; i < 1000; ++i) {
        if (pool.stats().made >= n) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(ke_pool)

BOOST_AUTO_TEST_CASE(a_group_is_filled_once_asked_for_and_each_share_goes_out_once) {
    KeySharePool pool(8);
    // Nothing is made for a group nobody asked for.
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    BOOST_TEST(pool.stats().made == 0u);
    BOOST_TEST(!pool.take(KeId::CURVE25519).has_value());  // the first request: served inline
    BOOST_TEST_REQUIRE(made_at_least(pool, 8));
    std::set<Bytes> seen;
    for (int i = 0; i < 8; ++i) {
        auto share = pool.take(KeId::CURVE25519);
        BOOST_TEST_REQUIRE(share.has_value());
        BOOST_TEST((share->id() == KeId::CURVE25519));
        const Bytes pub(share->public_value().begin(), share->public_value().end());
        BOOST_TEST(seen.insert(pub).second);  // never the same share twice
    }
    const auto st = pool.stats();
    BOOST_TEST(st.taken == 8u);
    BOOST_TEST(st.missed == 1u);
}

BOOST_AUTO_TEST_CASE(generate_draws_from_the_installed_pool_and_the_shares_work) {
    KeySharePool pool(4);
    KeySharePool::install(&pool);
    auto first = KeyExchange::generate(KeId::CURVE25519);  // inline, and now wanted
    BOOST_TEST_REQUIRE(made_at_least(pool, 4));
    auto a = KeyExchange::generate(KeId::CURVE25519);
    auto b = KeyExchange::generate(KeId::CURVE25519);
    KeySharePool::install(nullptr);
    BOOST_TEST_REQUIRE((first && a && b));
    BOOST_TEST(pool.stats().taken == 2u);
    // A pooled share is a working key: both ends agree on the secret.
    auto ab = a->shared_secret(b->public_value());
    auto ba = b->shared_secret(a->public_value());
    BOOST_TEST_REQUIRE((ab && ba));
    BOOST_TEST((ab->view().size() == 32u));
    BOOST_TEST(std::equal(ab->view().begin(), ab->view().end(), ba->view().begin()));
    // Uninstalled: generate() does not touch the pool.
    auto c = KeyExchange::generate(KeId::CURVE25519);
    BOOST_TEST(c.has_value());
    BOOST_TEST(pool.stats().taken == 2u);
}

// Each IKE thread takes from its own lane: a lane is filled once its thread asks, and what
// one thread asked for is not made for another (nor taken from it).
BOOST_AUTO_TEST_CASE(each_thread_takes_from_its_own_lane) {
    KeySharePool pool(4);
    bool first_pooled = true;
    std::thread shard1([&] {
        KeySharePool::set_thread_lane(1);
        first_pooled = pool.take(KeId::CURVE25519).has_value();  // lane 1 wants X25519 now
    });
    shard1.join();
    BOOST_TEST(!first_pooled);
    BOOST_TEST_REQUIRE(made_at_least(pool, 4));
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    BOOST_TEST(pool.stats().made == 4u);  // lane 1's four, nothing for lane 0
    // This thread is on lane 0, which nobody asked: no share for it yet.
    BOOST_TEST(!pool.take(KeId::CURVE25519).has_value());
    bool second_pooled = false;
    std::thread again([&] {
        KeySharePool::set_thread_lane(1);
        second_pooled = pool.take(KeId::CURVE25519).has_value();
    });
    again.join();
    BOOST_TEST(second_pooled);
    BOOST_TEST(pool.stats().taken == 1u);
}

// Threads on their lanes taking at once, the filling thread refilling both: every share they
// get is distinct.
BOOST_AUTO_TEST_CASE(threads_taking_at_once_never_get_the_same_share) {
    KeySharePool pool(16);
    std::set<Bytes> seen[2];
    std::size_t pooled[2] = {0, 0};
    auto taker = [&](unsigned lane) {
        KeySharePool::set_thread_lane(lane);
        for (int i = 0; i < 300; ++i) {
            auto share = pool.take(KeId::CURVE25519);
            if (!share) continue;
            ++pooled[lane];
            seen[lane].emplace(share->public_value().begin(), share->public_value().end());
        }
    };
    std::thread a(taker, 0u), b(taker, 1u);
    a.join();
    b.join();
    BOOST_TEST(seen[0].size() == pooled[0]);
    BOOST_TEST(seen[1].size() == pooled[1]);
    for (const Bytes& pub : seen[0])
        BOOST_TEST(!seen[1].contains(pub));
    BOOST_TEST(pool.stats().taken == pooled[0] + pooled[1]);
}

BOOST_AUTO_TEST_SUITE_END()
