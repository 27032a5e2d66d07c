// ike/shard.hpp: SPIs and ids that name their shard, where a datagram goes, and the directory
// the shards share.

#include <algorithm>
#include <array>
#include <atomic>
#include <random>
#include <thread>

#include <boost/test/unit_test.hpp>

#include "ike/shard.hpp"

using namespace postern;
using namespace postern::ike;

namespace {

// An IKE header (28 octets, Length = 28) with these SPIs and flags.
Bytes header(std::uint64_t spi_i, std::uint64_t spi_r, std::uint8_t flags) {
    Bytes h(28, 0);
    for (int i = 0; i < 8; ++i) {
        h[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(spi_i >> (56 - 8 * i));
        h[static_cast<std::size_t>(8 + i)] = static_cast<std::uint8_t>(spi_r >> (56 - 8 * i));
    }
    h[17] = 0x20;  // version 2.0
    h[19] = flags;
    h[27] = 28;
    return h;
}

constexpr std::uint8_t kInitiator = 0x08, kResponse = 0x20;

}  // namespace

BOOST_AUTO_TEST_SUITE(shard)

BOOST_AUTO_TEST_CASE(labelled_spis_name_their_shard_and_keep_the_rest) {
    std::mt19937_64 rng(7);
    for (unsigned count : {1u, 2u, 3u, 4u, 7u, 16u, 64u})
        for (unsigned shard = 0; shard < count; ++shard)
            for (int i = 0; i < 200; ++i) {
                const std::uint64_t spi = rng();
                const std::uint64_t l = label_ike_spi(spi, shard, count);
                BOOST_TEST(l != 0u);
                BOOST_TEST(shard_of_spi(l, count) == shard);
                BOOST_TEST((l & 0x00ff'ffff'ffff'ffffULL) == (spi & 0x00ff'ffff'ffff'ffffULL));
            }
    // One shard: untouched.
    BOOST_TEST(label_ike_spi(0x1234, 0, 1) == 0x1234u);
    // All zero but the shard octet's own zero: never 0.
    BOOST_TEST(label_ike_spi(0, 0, 2) != 0u);
}

BOOST_AUTO_TEST_CASE(ids_name_their_shard) {
    for (unsigned count : {1u, 2u, 5u})
        for (unsigned shard = 0; shard < count; ++shard)
            for (std::uint64_t k = 0; k < 10; ++k)
                BOOST_TEST(shard_of_id(shard + 1 + k * count, count) == shard);
}

BOOST_AUTO_TEST_CASE(a_datagram_goes_to_the_shard_of_the_spi_that_is_ours) {
    const unsigned n = 4;
    const std::uint64_t ours = label_ike_spi(0xa1b2c3d4e5f60718, 3, n);
    const std::uint64_t theirs = label_ike_spi(0x1111111111111111, 1, n);
    // We are the responder: the original initiator's messages carry our SPI second.
    BOOST_TEST(shard_of_datagram(header(theirs, ours, kInitiator), n) == 3u);
    BOOST_TEST(shard_of_datagram(header(theirs, ours, kInitiator | kResponse), n) == 3u);
    // We are the initiator: the responder's messages carry our SPI first.
    BOOST_TEST(shard_of_datagram(header(ours, theirs, 0), n) == 3u);
    BOOST_TEST(shard_of_datagram(header(ours, theirs, kResponse), n) == 3u);
    // A COOKIE or INVALID_KE_PAYLOAD answer to our IKE_SA_INIT has no responder SPI.
    BOOST_TEST(shard_of_datagram(header(ours, 0, kResponse), n) == 3u);
    // Too short to be IKE: shard 0, which counts and drops it.
    BOOST_TEST(shard_of_datagram(Bytes(27, 0xff), n) == 0u);
}

BOOST_AUTO_TEST_CASE(new_ike_sa_init_requests_spread_and_their_retries_stay) {
    const unsigned n = 4;
    std::array<unsigned, n> hits{};
    for (std::uint64_t spi = 1; spi <= 4000; ++spi) {
        const unsigned s = shard_of_datagram(header(spi, 0, kInitiator), n);
        BOOST_REQUIRE(s < n);
        ++hits[s];
        // Its retransmission, or the retry with a cookie: the same SPIi, the same shard.
        BOOST_TEST(shard_of_datagram(header(spi, 0, kInitiator), n) == s);
    }
    // Sequential SPIs (a client counting up) still spread: each shard within 20 % of 1000.
    for (unsigned h : hits) {
        BOOST_TEST(h > 800u);
        BOOST_TEST(h < 1200u);
    }
}

BOOST_AUTO_TEST_CASE(esp_spis_do_not_repeat_and_name_their_shard) {
    for (unsigned shard : {0u, 1u, 63u}) {
        EspSpiSequence seq(shard, {0x1234, 0xbeef, 0x0042, 0x7777});
        std::vector<std::uint32_t> spis;
        for (int i = 0; i < 1 << 20; ++i)
            spis.push_back(seq.next());
        for (auto spi : spis) {
            BOOST_REQUIRE(spi > 255u);  // RFC 4303 §2.1
            BOOST_REQUIRE(EspSpiSequence::shard_of(spi) == shard);
        }
        std::sort(spis.begin(), spis.end());
        BOOST_TEST((std::adjacent_find(spis.begin(), spis.end()) == spis.end()));
        // Not a counter: consecutive draws are far apart.
        EspSpiSequence again(shard, {0x1234, 0xbeef, 0x0042, 0x7777});
        const auto a = again.next(), b = again.next();
        BOOST_TEST((a > b ? a - b : b - a) > 1u);
    }
    // Other keys, another order.
    EspSpiSequence x(0, {1, 2, 3, 4}), y(0, {5, 6, 7, 8});
    int same = 0;
    for (int i = 0; i < 1000; ++i)
        same += x.next() == y.next();
    BOOST_TEST(same < 5);
}

BOOST_AUTO_TEST_CASE(the_directory_counts_a_users_sas) {
    ShardDirectory d(3);
    d.count("alice", 1);
    d.count("alice", 1);
    d.count("alice", 1);
    d.count("bob", 1);
    BOOST_TEST(d.total("alice") == 3u);
    BOOST_TEST(d.total("bob") == 1u);
    BOOST_TEST(d.total("carol") == 0u);
    d.count("alice", -1);
    d.count("alice", -1);
    d.count("alice", -1);
    d.count("alice", -1);  // never below zero
    BOOST_TEST(d.total("alice") == 0u);
    d.count("alice", 1);
    BOOST_TEST(d.total("alice") == 1u);
    BOOST_TEST(d.total("") == 0u);
}

BOOST_AUTO_TEST_CASE(a_shared_address_goes_back_to_the_pool_with_its_last_holder) {
    ShardDirectory d(2);
    const IpAddress a = *IpAddress::parse("10.99.0.7");
    d.hold("clients", a, "alice", "rw");
    // Someone else, or alice on another connection, does not get it.
    BOOST_TEST(!d.share(a, "bob", "rw"));
    BOOST_TEST(!d.share(a, "alice", "other"));
    BOOST_TEST(!d.share(*IpAddress::parse("10.99.0.8"), "alice", "rw"));
    auto pool = d.share(a, "alice", "rw");
    BOOST_REQUIRE(pool.has_value());
    BOOST_TEST(*pool == "clients");
    BOOST_TEST(!d.let_go("clients", a));  // the other holder keeps it
    BOOST_TEST(d.held_addresses() == 1u);
    BOOST_TEST(d.let_go("clients", a));  // the last one: back to the pool
    BOOST_TEST(d.held_addresses() == 0u);
    // Never held here (one engine, or taken before the directory knew it): to the pool.
    BOOST_TEST(d.let_go("clients", *IpAddress::parse("10.99.0.9")));
}

BOOST_AUTO_TEST_CASE(the_directory_stays_consistent_under_threads) {
    ShardDirectory d(4);
    std::vector<std::thread> threads;
    // What each thread saw go wrong (Boost.Test's assertions are not for other threads).
    std::array<int, 4> wrong{};
    for (unsigned t = 0; t < 4; ++t)
        threads.emplace_back([&d, &wrong, t] {
            for (int i = 0; i < 20000; ++i) {
                const std::string user = "user" + std::to_string(i % 50);
                d.count(user, 1);
                wrong[t] += d.total(user) < 1u;
                d.count(user, -1);
                const IpAddress a = *IpAddress::parse("10.0." + std::to_string(t) + "." +
                                                      std::to_string(i % 200));
                d.hold("p", a, user, "rw");
                if (d.share(a, user, "rw")) wrong[t] += d.let_go("p", a);
                wrong[t] += !d.let_go("p", a);
            }
        });
    for (auto& t : threads)
        t.join();
    BOOST_TEST(wrong == (std::array<int, 4>{}));
    BOOST_TEST(d.total("user1") == 0u);
    BOOST_TEST(d.held_addresses() == 0u);
}

BOOST_AUTO_TEST_SUITE_END()
