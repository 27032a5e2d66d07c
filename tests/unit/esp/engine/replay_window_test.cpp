// The anti-replay window as a table of cases (in the manner of WireGuard's selftest/counter.c):
// each case starts from a window with some sequence numbers already accepted, then feeds
// Sequence Number fields and says what check() must return and whether the ICV "verified"
// (accept() is called only then, as decapsulation does).
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cstdint>
#include <optional>
#include <random>
#include <set>
#include <vector>

#include "esp/engine/replay_window.hpp"

using postern::esp::ReplayWindow;

namespace {

constexpr std::nullopt_t kReject = std::nullopt;
constexpr std::uint64_t k2p32 = std::uint64_t{1} << 32;

struct Step {
    std::uint32_t seq_low;
    std::optional<std::uint64_t> expect;  // what check() returns; kReject = nullopt
    bool verified = true;                 // the ICV verified: accept() follows
};

struct Case {
    const char* name;
    std::uint32_t size;
    bool esn;
    std::vector<std::uint64_t> accepted;  // accepted before the steps, in this order
    std::vector<Step> steps;
};

const std::vector<Case>& cases() {
    static const std::vector<Case> table = {
        // --- 32-bit sequence numbers ---
        {"in order", 64, false, {}, {{1, 1}, {2, 2}, {3, 3}, {4, 4}}},
        {"seq 0 is never valid", 64, false, {}, {{0, kReject}, {1, 1}, {0, kReject}}},
        {"duplicates", 64, false, {}, {{1, 1}, {1, kReject}, {2, 2}, {1, kReject}, {2, kReject}}},
        {"out of order within the window",
         64,
         false,
         {},
         {{10, 10}, {5, 5}, {9, 9}, {5, kReject}, {10, kReject}, {6, 6}, {11, 11}}},
        {"too old: the window holds top-63 .. top",
         64,
         false,
         {100},
         {{36, kReject}, {37, 37}, {37, kReject}, {100, kReject}, {99, 99}}},
        {"an unverified packet does not move the window",
         64,
         false,
         {10},
         {{500, 500, false},
          {500, 500, false},
          {20, 20},
          {500, 500},
          {500, kReject},
          {20, kReject}}},
        {"far ahead jump keeps only the new window",
         64,
         false,
         {1, 2, 3},
         {{1000000, 1000000}, {999937, 999937}, {999936, kReject}, {3, kReject}, {4, kReject}}},
        {"jump of exactly one window clears the old bits",
         64,
         false,
         {1, 64},
         {{128, 128}, {64, kReject /* 128 - 64 = 64: out */}, {65, 65}, {127, 127}}},
        {"sliding across word boundaries",
         128,
         false,
         {60, 61, 62, 63, 64, 65, 127, 128, 129},
         {{63, kReject},
          {2, 2},          // 129 - 2 = 127 < 128
          {1, kReject},    // 129 - 1 = 128: below the window
          {190, 190},      // same word as 129: nothing cleared
          {129, kReject},  // still remembered
          {200, 200},      // next word
          {128, kReject},
          {73, 73},  // 200 - 73 = 127
          {72, kReject},
          {64, kReject}}},
        {"largest window", 4096, false, {5000}, {{905, 905}, {904, kReject}, {4999, 4999}}},
        {"sequence number 2^32 - 1 is valid", 64, false, {0xfffffff0}, {{0xffffffff, 0xffffffff}}},

        // --- ESN, RFC 4303 Appendix A2.2 ---
        {"ESN: in order from 1", 64, true, {}, {{1, 1}, {2, 2}, {0, kReject}}},
        {"ESN: nothing before the first subspace (case B, Th = 0)",
         64,
         true,
         {},
         {{0xffffffff, kReject},
          {0xffffffc2, kReject},
          {0xffffffc1, kReject},
          {0xffffffc0, 0xffffffc0, false}}},
        {"ESN: low 32 bits wrap forward (case A -> next subspace)",
         64,
         true,
         {0xfffffff0},
         {{0xfffffff5, 0xfffffff5}, {3, k2p32 + 3}, {0, k2p32}}},
        {"ESN: window straddles two subspaces (case B)",
         64,
         true,
         {0xfffffff5, k2p32 + 3},
         {{0xfffffff5, kReject},                // the same packet, before the wrap
          {0xfffffff6, 0xfffffff6},             // previous subspace, in window
          {0xffffffc4, 0xffffffc4},             // bottom of the window
          {0xffffffc3, 2 * k2p32 - 61, false},  // below: Seqh = Th, far ahead
          {2, k2p32 + 2},
          {3, kReject}}},
        {"ESN: case A, below the bottom means the next subspace",
         64,
         true,
         {2 * k2p32 + 0x100},
         {{0xc1, 2 * k2p32 + 0xc1}, {0xc0, 3 * k2p32 + 0xc0, false}, {0x150, 2 * k2p32 + 0x150}}},
        {"ESN: no subspace after 2^64 - 1",
         64,
         true,
         {~std::uint64_t{0} - 15},
         {{5, kReject}, {0xfffffff1, ~std::uint64_t{0} - 14}, {0xfffffffe, ~std::uint64_t{0} - 1}}},
    };
    return table;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(replay_window)

BOOST_AUTO_TEST_CASE(table_of_cases) {
    for (const Case& c : cases()) {
        BOOST_TEST_CONTEXT("case \"" << c.name << "\"") {
            ReplayWindow w(c.size, c.esn);
            for (std::uint64_t s : c.accepted)
                BOOST_REQUIRE(w.accept(s));
            int n = 0;
            for (const Step& step : c.steps) {
                BOOST_TEST_CONTEXT("step " << n++ << " seq_low " << step.seq_low) {
                    const auto got = w.check(step.seq_low);
                    if (!step.expect) {
                        BOOST_TEST(!got.has_value());
                    } else {
                        BOOST_REQUIRE(got.has_value());
                        BOOST_TEST(*got == *step.expect);
                        if (step.verified) BOOST_TEST(w.accept(*got));
                    }
                }
            }
        }
    }
}

BOOST_AUTO_TEST_CASE(sizes_are_rounded_to_words_and_clamped) {
    BOOST_TEST(ReplayWindow(0, false).size() == 64u);
    BOOST_TEST(ReplayWindow(32, false).size() == 64u);
    BOOST_TEST(ReplayWindow(64, false).size() == 64u);
    BOOST_TEST(ReplayWindow(100, false).size() == 128u);
    BOOST_TEST(ReplayWindow(4096, false).size() == 4096u);
    BOOST_TEST(ReplayWindow(1u << 30, false).size() == ReplayWindow::kMaxSize);
}

BOOST_AUTO_TEST_CASE(accept_refuses_what_check_would_refuse) {
    ReplayWindow w(64, false);
    BOOST_TEST(!w.accept(0));
    BOOST_TEST(w.accept(100));
    BOOST_TEST(!w.accept(100));
    BOOST_TEST(!w.accept(36));
    BOOST_TEST(w.top() == 100u);
}

// Against a model that remembers every accepted number: random arrivals around a moving top,
// for several sizes, with 32-bit sequence numbers (ESN inference is covered by the table).
BOOST_AUTO_TEST_CASE(matches_a_model_under_random_reordering) {
    std::mt19937_64 rng(4303);
    for (std::uint32_t size : {64u, 128u, 192u, 1024u}) {
        ReplayWindow w(size, false);
        std::set<std::uint64_t> seen;
        std::uint64_t top = 0;
        for (int i = 0; i < 20000; ++i) {
            const auto back = static_cast<std::int64_t>(rng() % (3 * size)) - size;
            const std::int64_t candidate = static_cast<std::int64_t>(top) - back;
            const auto seq = static_cast<std::uint32_t>(std::max<std::int64_t>(candidate, 0));
            const bool model =
                seq != 0 && (seq > top || (top - seq < w.size() && !seen.count(seq)));
            const auto got = w.check(seq);
            BOOST_REQUIRE_MESSAGE(got.has_value() == model,
                                  "size " << size << " top " << top << " seq " << seq);
            if (got && rng() % 4 != 0) {  // some packets fail their ICV
                BOOST_REQUIRE(w.accept(*got));
                seen.insert(seq);
                top = std::max<std::uint64_t>(top, seq);
            }
        }
    }
}

BOOST_AUTO_TEST_SUITE_END()
