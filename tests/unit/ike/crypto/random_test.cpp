#include "ike/crypto/random.hpp"

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <set>
#include <thread>
#include <vector>

#include <boost/test/unit_test.hpp>

using namespace postern;
using namespace postern::ike::crypto;

namespace {

Bytes draw(std::size_t n) {
    Bytes b(n, 0);
    fill_random(b);
    return b;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(random_octets)

BOOST_AUTO_TEST_CASE(draws_never_repeat_across_refills_and_sizes) {
    // Enough 32-octet nonces to go through the buffer many times, plus draws that leave a
    // remainder too short for the next one and draws that bypass the buffer: no two equal,
    // none all zero (a buffer handed out twice, or an unfilled one, would show).
    std::set<Bytes> seen;
    std::size_t drawn = 0;
    const std::size_t sizes[] = {32, 8, 4, 12, 32, kRandomDirect, kRandomDirect + 1, 1000};
    for (int round = 0; round < 400; ++round)
        for (std::size_t n : sizes) {
            Bytes b = draw(n);
            drawn += n;
            BOOST_TEST(std::any_of(b.begin(), b.end(), [](std::uint8_t x) { return x != 0; }));
            if (n >= 8) BOOST_TEST(seen.insert(b).second);
        }
    BOOST_TEST(drawn > 50 * kRandomBuffer);
}

BOOST_AUTO_TEST_CASE(octets_look_uniform) {
    // 256 KiB in nonce-sized draws: every octet value about 1/256 of the time (a chi-square
    // with 255 degrees of freedom stays far below 400 for a uniform source).
    std::vector<std::size_t> counts(256, 0);
    std::size_t total = 0;
    for (int i = 0; i < 8192; ++i)
        for (std::uint8_t x : draw(32)) {
            ++counts[x];
            ++total;
        }
    const double expect = static_cast<double>(total) / 256.0;
    double chi2 = 0;
    for (std::size_t c : counts)
        chi2 += (static_cast<double>(c) - expect) * (static_cast<double>(c) - expect) / expect;
    BOOST_TEST(chi2 < 400.0);
}

BOOST_AUTO_TEST_CASE(threads_do_not_share_a_buffer) {
    std::vector<Bytes> a, b;
    std::thread ta([&] {
        for (int i = 0; i < 2000; ++i)
            a.push_back(draw(16));
    });
    std::thread tb([&] {
        for (int i = 0; i < 2000; ++i)
            b.push_back(draw(16));
    });
    ta.join();
    tb.join();
    std::set<Bytes> all(a.begin(), a.end());
    all.insert(b.begin(), b.end());
    BOOST_TEST(all.size() == a.size() + b.size());
}

BOOST_AUTO_TEST_CASE(a_forked_child_does_not_replay_the_parents_buffer) {
    (void)draw(16);  // the buffer is filled, most of it not handed out
    int fds[2];
    BOOST_REQUIRE(::pipe(fds) == 0);
    const pid_t child = ::fork();
    BOOST_REQUIRE(child >= 0);
    if (child == 0) {
        Bytes c = draw(16);
        const ssize_t w = ::write(fds[1], c.data(), c.size());
        ::_exit(w == 16 ? 0 : 1);
    }
    ::close(fds[1]);
    Bytes from_child(16, 0);
    BOOST_REQUIRE(::read(fds[0], from_child.data(), 16) == 16);
    ::close(fds[0]);
    int status = 0;
    ::waitpid(child, &status, 0);
    BOOST_REQUIRE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    // The parent's next draw is what a child reusing the buffer would have drawn.
    BOOST_TEST(draw(16) != from_child);
}

BOOST_AUTO_TEST_SUITE_END()
