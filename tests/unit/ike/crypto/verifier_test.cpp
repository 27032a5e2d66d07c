// AnchorVerifier and its caches: a chain accepted once is accepted again without parsing or
// X509_verify_cert while all of it is valid; everything else gets the uncached answer.
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <thread>
#include <vector>

#include "ike/crypto/verifier.hpp"
#include "test_pki.hpp"

using namespace postern;
using namespace postern::ike::crypto;
using namespace postern::ike::crypto::test_pki;

namespace {

std::vector<Bytes> chain(std::initializer_list<const char*> names) {
    std::vector<Bytes> out;
    for (const char* n : names)
        out.push_back(der(n));
    return out;
}

// A verifier over the root CA with caches of its own (not the process's).
struct Fixture {
    CertificateCache parsed{64, 4};
    AnchorVerifier verifier{{pki("root-ca")}, {}, VerifierCaches{.parsed = &parsed}};
};

}  // namespace

BOOST_AUTO_TEST_SUITE(verifier)

BOOST_FIXTURE_TEST_CASE(a_chain_verified_once_verifies_from_the_cache, Fixture) {
    const auto ecdsa = chain({"server-ecdsa", "intermediate-ca"});
    auto first = verifier.verify(ecdsa, kNow);
    BOOST_TEST(first.has_value(), (first ? "" : first.error()));
    BOOST_TEST(verifier.verified_counters().misses == 1u);
    BOOST_TEST(verifier.verified_counters().hits == 0u);
    BOOST_TEST(parsed.counters().misses == 2u);

    for (int i = 0; i < 3; ++i)
        BOOST_TEST(verifier.verify(ecdsa, kNow + i).has_value());
    BOOST_TEST(verifier.verified_counters().hits == 3u);
    BOOST_TEST(verifier.verified_counters().size == 1u);
    // A hit parses nothing.
    BOOST_TEST(parsed.counters().misses == 2u);
    BOOST_TEST(parsed.counters().hits == 0u);

    // The same certificates in another order or with an extra one are another chain; their
    // parsing is shared.
    BOOST_TEST(
        verifier.verify(chain({"server-ecdsa", "intermediate-ca", "root-ca"}), kNow).has_value());
    BOOST_TEST(verifier.verified_counters().misses == 2u);
    BOOST_TEST(parsed.counters().hits == 2u);
}

BOOST_FIXTURE_TEST_CASE(a_cached_chain_expired_at_now_is_refused, Fixture) {
    const auto rsa = chain({"server-rsa", "intermediate-ca"});
    BOOST_REQUIRE(verifier.verify(rsa, kNow));
    // One second before notAfter (2046-01-01) it is still a hit; at notAfter it has expired,
    // and is verified again, in full, with the reason.
    BOOST_TEST(verifier.verify(rsa, kNotAfter - 1).has_value());
    BOOST_TEST(verifier.verified_counters().hits == 1u);
    auto expired = verifier.verify(rsa, kNotAfter);
    BOOST_REQUIRE(!expired);
    BOOST_TEST(expired.error().starts_with("certificate chain: certificate has expired"),
               expired.error());
    auto later = verifier.verify(rsa, kNotAfter + 86400);
    BOOST_REQUIRE(!later);
    // Not yet valid before 2026, though accepted in 2030.
    auto early = verifier.verify(rsa, kNotBefore - 1);
    BOOST_REQUIRE(!early);
    BOOST_TEST(early.error().find("certificate is not yet valid") != std::string::npos,
               early.error());
    BOOST_TEST(verifier.verify(rsa, kNotBefore).has_value());
    const auto c = verifier.verified_counters();
    BOOST_TEST(c.outside_window == 3u);
    BOOST_TEST(c.hits == 2u);
}

BOOST_FIXTURE_TEST_CASE(cached_answers_are_the_uncached_ones, Fixture) {
    // At the edges of the window, against a fresh verifier every time.
    const auto rsa = chain({"server-rsa", "intermediate-ca"});
    BOOST_REQUIRE(verifier.verify(rsa, kNow));
    for (std::time_t t : {kNotBefore - 1, kNotBefore, kNow, kNotAfter - 1, kNotAfter}) {
        const AnchorVerifier fresh({pki("root-ca")});
        const bool uncached = fresh.verify(rsa, t).has_value();
        BOOST_TEST(verifier.verify(rsa, t).has_value() == uncached, "at " << t);
    }
}

BOOST_FIXTURE_TEST_CASE(failures_are_not_cached, Fixture) {
    const auto unrelated = chain({"other-server"});
    for (int i = 0; i < 2; ++i) {
        auto r = verifier.verify(unrelated, kNow);
        BOOST_REQUIRE(!r);
        BOOST_TEST(r.error().find("unable to get local issuer certificate") != std::string::npos,
                   r.error());
    }
    auto not_ca = verifier.verify(chain({"issued-by-not-ca", "not-ca", "intermediate-ca"}), kNow);
    BOOST_REQUIRE(!not_ca);
    BOOST_TEST(verifier.verified_counters().misses == 3u);
    BOOST_TEST(verifier.verified_counters().size == 0u);
    // A chain that does not parse is refused with the certificate's index.
    std::vector<Bytes> bad = chain({"server-ecdsa", "intermediate-ca"});
    bad[1].resize(bad[1].size() - 1);
    auto r = verifier.verify(bad, kNow);
    BOOST_REQUIRE(!r);
    BOOST_TEST(r.error().starts_with("certificate 1: "), r.error());
    BOOST_TEST(verifier.verify(std::vector<Bytes>{}, kNow).error() == "no certificate");
}

BOOST_FIXTURE_TEST_CASE(another_verifier_does_not_hit, Fixture) {
    const auto ecdsa = chain({"server-ecdsa", "intermediate-ca"});
    BOOST_REQUIRE(verifier.verify(ecdsa, kNow));
    BOOST_REQUIRE(verifier.verify(ecdsa, kNow));
    BOOST_TEST(verifier.verified_counters().hits == 1u);

    // Other anchors: refused, however often the first verifier accepted the chain.
    const AnchorVerifier other({pki("other-ca")}, {}, VerifierCaches{.parsed = &parsed});
    for (int i = 0; i < 2; ++i)
        BOOST_TEST(!other.verify(ecdsa, kNow).has_value());
    BOOST_TEST(other.verified_counters().hits == 0u);
    BOOST_TEST(other.verified_counters().misses == 2u);

    // The same anchors in a new verifier (a reload): verified afresh, then cached there.
    const AnchorVerifier reloaded({pki("root-ca")}, {}, VerifierCaches{.parsed = &parsed});
    BOOST_TEST(reloaded.verify(ecdsa, kNow).has_value());
    BOOST_TEST(reloaded.verified_counters().misses == 1u);
    BOOST_TEST(reloaded.verify(ecdsa, kNow).has_value());
    BOOST_TEST(reloaded.verified_counters().hits == 1u);

    // Only the intermediate trusted: a different verifier, different answers for a chain
    // through the root alone.
    const AnchorVerifier only_inter({pki("intermediate-ca")}, {},
                                    VerifierCaches{.parsed = &parsed});
    BOOST_TEST(only_inter.verify(ecdsa, kNow).has_value());
    BOOST_TEST(verifier.verify(chain({"server-ed25519"}), kNow).has_value());
    BOOST_TEST(!only_inter.verify(chain({"server-ed25519"}), kNow).has_value());
}

BOOST_FIXTURE_TEST_CASE(the_verified_cache_is_bounded, Fixture) {
    const AnchorVerifier small(
        {pki("root-ca")}, {},
        VerifierCaches{.parsed = &parsed, .verified_capacity = 2, .verified_shards = 1});
    const auto a = chain({"server-ecdsa", "intermediate-ca"});
    const auto b = chain({"server-rsa", "intermediate-ca"});
    const auto c = chain({"client", "intermediate-ca"});
    for (const auto* ch : {&a, &b, &c})
        BOOST_REQUIRE(small.verify(*ch, kNow));
    BOOST_TEST(small.verified_counters().size == 2u);
    BOOST_TEST(small.verified_counters().evictions == 1u);
    BOOST_TEST(small.verify(a, kNow).has_value());  // evicted: verified again
    BOOST_TEST(small.verified_counters().hits == 0u);
    BOOST_TEST(small.verify(c, kNow).has_value());
    BOOST_TEST(small.verified_counters().hits == 1u);
}

// Four threads share one verifier and one certificate cache (as the daemon's engine threads
// do) and check good and bad chains at once: every answer is the uncached one. Run under the
// sanitizer build too.
BOOST_FIXTURE_TEST_CASE(four_threads_get_consistent_answers, Fixture) {
    struct Case {
        std::vector<Bytes> chain;
        std::time_t now;
        bool good;
    };
    const std::vector<Case> cases = {
        {chain({"server-ecdsa", "intermediate-ca"}), kNow, true},
        {chain({"server-rsa", "intermediate-ca"}), kNow, true},
        {chain({"client", "intermediate-ca"}), kNow, true},
        {chain({"server-ed25519"}), kNow, true},
        {chain({"server-ecdsa", "intermediate-ca"}), kNotAfter, false},
        {chain({"other-server"}), kNow, false},
        {chain({"expired", "intermediate-ca"}), kNow, false},
        {chain({"issued-by-not-ca", "not-ca", "intermediate-ca"}), kNow, false},
    };
    constexpr int kThreads = 4;
    constexpr int kRounds = 50;
    std::atomic<int> wrong{0};
    std::atomic<int> same_object{0};
    const auto first = parsed.parse(der("server-ecdsa"));
    BOOST_REQUIRE(first);
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back([&, t] {
            for (int round = 0; round < kRounds; ++round) {
                for (std::size_t i = 0; i < cases.size(); ++i) {
                    const auto& c = cases[(i + static_cast<std::size_t>(t)) % cases.size()];
                    if (verifier.verify(c.chain, c.now).has_value() != c.good) ++wrong;
                }
                auto p = parsed.parse(cases[0].chain[0]);
                if (p && p->get() == first->get()) ++same_object;
            }
        });
    }
    for (auto& th : threads)
        th.join();
    BOOST_TEST(wrong.load() == 0);
    BOOST_TEST(same_object.load() == kThreads * kRounds);
    const auto v = verifier.verified_counters();
    const std::uint64_t calls = kThreads * kRounds * cases.size();
    BOOST_TEST(v.hits + v.misses + v.outside_window == calls);
    // Four good chains are kept (two threads may both verify one before either remembers it).
    BOOST_TEST(v.size == 4u);
    BOOST_TEST(v.hits >= calls / 2 - 4 * kThreads);
}

BOOST_AUTO_TEST_SUITE_END()
