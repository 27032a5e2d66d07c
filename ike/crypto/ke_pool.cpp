#include "ike/crypto/ke_pool.hpp"

#include <pthread.h>

namespace postern::ike::crypto {

namespace {
std::atomic<KeySharePool*> g_installed{nullptr};
thread_local unsigned t_lane = 0;
}  // namespace

void KeySharePool::install(KeySharePool* pool) { g_installed.store(pool, std::memory_order_release); }

KeySharePool* KeySharePool::installed() { return g_installed.load(std::memory_order_acquire); }

void KeySharePool::set_thread_lane(unsigned lane) { t_lane = lane % kLanes; }

KeySharePool::KeySharePool(std::size_t depth, std::chrono::seconds idle)
    : depth_(depth), idle_(idle), thread_([this] { run(); }) {
    ::pthread_setname_np(thread_.native_handle(), "postern-keys");  // for top, perf and gdb
}

KeySharePool::~KeySharePool() {
    {
        std::lock_guard lock(wake_mutex_);
        stop_ = true;
    }
    wake_.notify_all();
    thread_.join();
}

std::optional<KeyExchange> KeySharePool::take(KeId id) {
    Lane& lane = lanes_[t_lane];
    std::unique_lock lock(lane.m);
    Group& g = lane.groups[id];
    g.last_wanted = std::chrono::steady_clock::now();
    std::optional<KeyExchange> out;
    if (!g.ready.empty()) {
        out.emplace(std::move(g.ready.front()));
        g.ready.pop_front();
        ++lane.stats.taken;
    } else {
        ++lane.stats.missed;
    }
    const bool low = g.ready.size() < depth_ / 2;
    lock.unlock();
    if (low && !wanted_.exchange(true)) {
        std::lock_guard wake_lock(wake_mutex_);  // so the filling thread cannot miss it
        wake_.notify_one();
    }
    return out;
}

KeySharePool::Stats KeySharePool::stats() const {
    Stats sum;
    for (const Lane& lane : lanes_) {
        std::lock_guard lock(lane.m);
        sum.taken += lane.stats.taken;
        sum.missed += lane.stats.missed;
        sum.made += lane.stats.made;
    }
    return sum;
}

// The first group of any lane, wanted within `idle_`, with fewer than `depth_` shares; drops
// the shares of groups nobody wants any more on the way.
std::optional<KeySharePool::Work> KeySharePool::next_work() {
    const auto now = std::chrono::steady_clock::now();
    for (unsigned i = 0; i < kLanes; ++i) {
        Lane& lane = lanes_[i];
        std::lock_guard lock(lane.m);
        for (auto& [id, g] : lane.groups) {
            if (now - g.last_wanted > idle_) {
                g.ready.clear();
                continue;
            }
            if (g.ready.size() < depth_) return Work{i, id};
        }
    }
    return std::nullopt;
}

// Fills every group wanted within `idle_` up to `depth_`, one share at a time (no lock is held
// while generating), and sleeps when all are full until a taker wants more (or `idle_` passed,
// to drop what is no longer wanted).
void KeySharePool::run() {
    while (!stop_) {
        wanted_.store(false);
        std::optional<Work> work = next_work();
        if (!work) {
            std::unique_lock lock(wake_mutex_);
            wake_.wait_for(lock, idle_, [&] { return stop_ || wanted_.load(); });
            continue;
        }
        auto share = KeyExchange::generate_now(work->id);
        Lane& lane = lanes_[work->lane];
        std::lock_guard lock(lane.m);
        if (!share) {  // an unsupported group: stop wanting it
            lane.groups.erase(work->id);
            continue;
        }
        lane.groups[work->id].ready.push_back(std::move(*share));
        ++lane.stats.made;
    }
}

}  // namespace postern::ike::crypto
