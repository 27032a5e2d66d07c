// Key shares made ahead of use, on a thread of their own, so that a handshake does not wait
// for its own key generation (issue 9: a rush of clients). Each share is handed out once and
// never again: what KeyExchange::generate returns from the pool is a fresh private key nobody
// else has seen, exactly as if it had been generated at that moment (no reuse of key shares
// across SAs, which RFC 7296 §2.12 allows and this does not do).
//
// Only the groups asked for recently are kept ready: a group is filled once
// KeyExchange::generate has asked for it (the first request of a group is served inline), and
// no longer refilled after `idle` without a request, so an unused MODP-8192 costs nothing.
//
//   posternd:  KeySharePool pool; KeySharePool::install(&pool);  ... ;  install(nullptr)
//   then every KeyExchange::generate(id) takes a ready share of `id` when there is one.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <thread>

#include "ike/crypto/ke.hpp"

namespace postern::ike::crypto {

class KeySharePool {
  public:
    // `depth`: shares kept ready per group in use.
    explicit KeySharePool(std::size_t depth = 128,
                          std::chrono::seconds idle = std::chrono::seconds(60));
    ~KeySharePool();  // stops and joins the thread (uninstall it first)
    KeySharePool(const KeySharePool&) = delete;
    KeySharePool& operator=(const KeySharePool&) = delete;

    // A ready share of `id`, or nullopt (then the caller generates one); marks `id` in use.
    std::optional<KeyExchange> take(KeId id);

    // The pool KeyExchange::generate draws from (nullptr: none). Not owned.
    static void install(KeySharePool* pool);
    static KeySharePool* installed();

    struct Stats {
        std::size_t taken = 0, missed = 0, made = 0;
    };
    Stats stats() const;

  private:
    struct Group {
        std::deque<KeyExchange> ready;
        std::chrono::steady_clock::time_point last_wanted;
    };
    void run();

    const std::size_t depth_;
    const std::chrono::seconds idle_;
    mutable std::mutex mutex_;
    std::condition_variable wake_;
    std::map<KeId, Group> groups_;
    Stats stats_;
    bool stop_ = false;
    std::thread thread_;
};

}  // namespace postern::ike::crypto
