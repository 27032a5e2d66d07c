#include "ike/crypto/ke_pool.hpp"

#include <atomic>
#include <vector>

namespace postern::ike::crypto {

namespace {
std::atomic<KeySharePool*> g_installed{nullptr};
}

void KeySharePool::install(KeySharePool* pool) { g_installed.store(pool, std::memory_order_release); }

KeySharePool* KeySharePool::installed() { return g_installed.load(std::memory_order_acquire); }

KeySharePool::KeySharePool(std::size_t depth, std::chrono::seconds idle)
    : depth_(depth), idle_(idle), thread_([this] { run(); }) {}

KeySharePool::~KeySharePool() {
    {
        std::lock_guard lock(mutex_);
        stop_ = true;
    }
    wake_.notify_all();
    thread_.join();
}

std::optional<KeyExchange> KeySharePool::take(KeId id) {
    std::unique_lock lock(mutex_);
    Group& g = groups_[id];
    g.last_wanted = std::chrono::steady_clock::now();
    std::optional<KeyExchange> out;
    if (!g.ready.empty()) {
        out.emplace(std::move(g.ready.front()));
        g.ready.pop_front();
        ++stats_.taken;
    } else {
        ++stats_.missed;
    }
    const bool low = g.ready.size() < depth_ / 2;
    lock.unlock();
    if (low) wake_.notify_one();
    return out;
}

KeySharePool::Stats KeySharePool::stats() const {
    std::lock_guard lock(mutex_);
    return stats_;
}

// Fills every group wanted within `idle_` up to `depth_`, one share at a time (the lock is not
// held while generating), and drops the shares of groups nobody wants any more.
void KeySharePool::run() {
    std::unique_lock lock(mutex_);
    while (!stop_) {
        const auto now = std::chrono::steady_clock::now();
        std::optional<KeId> next;
        for (auto& [id, g] : groups_) {
            if (now - g.last_wanted > idle_) {
                g.ready.clear();
                continue;
            }
            if (g.ready.size() < depth_) {
                next = id;
                break;
            }
        }
        if (!next) {
            wake_.wait_for(lock, idle_);
            continue;
        }
        lock.unlock();
        auto share = KeyExchange::generate_now(*next);
        lock.lock();
        if (!share) {  // an unsupported group: stop wanting it
            groups_.erase(*next);
            continue;
        }
        groups_[*next].ready.push_back(std::move(*share));
        ++stats_.made;
    }
}

}  // namespace postern::ike::crypto
