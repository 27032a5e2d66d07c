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
// Lanes: the shares are kept in one lane per IKE thread (posternd's shards, ike/shard.hpp), each
// with its own lock, so that threads taking shares never wait for each other; a lane's lock is
// shared only with the filling thread, which holds it to push one share. A thread takes from
// the lane set_thread_lane chose (lane 0 unless set).
//
//   posternd:  KeySharePool pool; KeySharePool::install(&pool);  ... ;  install(nullptr)
//   shard i's thread:  KeySharePool::set_thread_lane(i);
//   then every KeyExchange::generate(id) takes a ready share of `id` when there is one.
#pragma once

#include <array>
#include <atomic>
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
    // Lanes a pool has (posternd runs at most this many IKE threads, ike/shard.hpp).
    static constexpr unsigned kLanes = 64;

    // `depth`: shares kept ready per group in use, per lane in use.
    explicit KeySharePool(std::size_t depth = 128,
                          std::chrono::seconds idle = std::chrono::seconds(60));
    ~KeySharePool();  // stops and joins the thread (uninstall it first)
    KeySharePool(const KeySharePool&) = delete;
    KeySharePool& operator=(const KeySharePool&) = delete;

    // A ready share of `id` from the calling thread's lane, or nullopt (then the caller
    // generates one); marks `id` in use in that lane.
    std::optional<KeyExchange> take(KeId id);

    // The lane the calling thread takes from (modulo kLanes).
    static void set_thread_lane(unsigned lane);

    // The pool KeyExchange::generate draws from (nullptr: none). Not owned.
    static void install(KeySharePool* pool);
    static KeySharePool* installed();

    struct Stats {
        std::size_t taken = 0, missed = 0, made = 0;
    };
    Stats stats() const;  // summed over the lanes

  private:
    struct Group {
        std::deque<KeyExchange> ready;
        std::chrono::steady_clock::time_point last_wanted;
    };
    struct Lane {
        mutable std::mutex m;
        std::map<KeId, Group> groups;
        Stats stats;
    };
    // What the filling thread makes next: a lane and a group below `depth_`.
    struct Work {
        unsigned lane;
        KeId id;
    };
    std::optional<Work> next_work();
    void run();

    const std::size_t depth_;
    const std::chrono::seconds idle_;
    std::array<Lane, kLanes> lanes_;
    // Waking the filling thread: a taker that leaves a group below half flips `wanted_` and,
    // only when it flipped it, takes `wake_mutex_` to notify (once per refill, not per take).
    std::atomic<bool> wanted_{false};
    std::mutex wake_mutex_;
    std::condition_variable wake_;
    std::atomic<bool> stop_{false};  // set under wake_mutex_
    std::thread thread_;
};

}  // namespace postern::ike::crypto
