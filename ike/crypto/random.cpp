#include "ike/crypto/random.hpp"

#include <pthread.h>

#include <array>
#include <atomic>
#include <cstring>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "ike/crypto/ossl.hpp"

namespace postern::ike::crypto {

namespace {

// Bumped in a forked child, so that every buffer filled before the fork is refilled.
std::atomic<unsigned> fork_generation{0};

void after_fork_in_child() {
    fork_generation.fetch_add(1, std::memory_order_relaxed);
}

struct Buffer {
    std::array<std::uint8_t, kRandomBuffer> octets{};
    std::size_t used = kRandomBuffer;  // octets[used..] not handed out yet
    unsigned generation = 0;

    ~Buffer() { OPENSSL_cleanse(octets.data(), octets.size()); }

    void refill() {
        if (RAND_bytes(octets.data(), static_cast<int>(octets.size())) != 1)
            ossl::fatal("RAND_bytes");
        used = 0;
    }
};

void direct(MutableByteView out) {
    if (RAND_bytes(out.data(), static_cast<int>(out.size())) != 1) ossl::fatal("RAND_bytes");
}

}  // namespace

void fill_random(MutableByteView out) {
    if (out.empty()) return;
    if (out.size() > kRandomDirect) return direct(out);
    static const int registered = pthread_atfork(nullptr, nullptr, after_fork_in_child);
    (void)registered;
    thread_local Buffer buffer;
    const unsigned generation = fork_generation.load(std::memory_order_relaxed);
    if (buffer.generation != generation) {
        buffer.generation = generation;
        buffer.used = kRandomBuffer;
    }
    if (kRandomBuffer - buffer.used < out.size()) buffer.refill();
    std::uint8_t* from = buffer.octets.data() + buffer.used;
    std::memcpy(out.data(), from, out.size());
    OPENSSL_cleanse(from, out.size());
    buffer.used += out.size();
}

}  // namespace postern::ike::crypto
