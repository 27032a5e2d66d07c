// A bounded, thread-safe map from a SHA-256 digest to a small value, least recently used entry
// evicted first: the storage of the certificate caches (cert_cache.hpp, chain_cache.hpp).
//
// Several engine threads share one cache, so it is split into shards, each with its own mutex,
// picked by the digest's first octet (a digest is uniformly spread, so are the shards). A
// critical section only looks up, links or unlinks one entry and copies the value out (a
// shared_ptr copy at most): nothing is parsed or verified under a lock, and an evicted value is
// destroyed after its shard's mutex is released (freeing an X509 is not short).
//
// LRU order is per shard: with N shards an entry may be evicted while an older one survives in
// another shard. Tests that check the exact eviction order use one shard.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <unordered_map>
#include <utility>

namespace postern::ike::crypto {

using Sha256Digest = std::array<std::uint8_t, 32>;

template <typename Value>
class DigestLru {
  public:
    // `capacity` entries in all (at least 1) over `shards` shards (at least 1, at most
    // `capacity`, so no shard has room for nothing).
    DigestLru(std::size_t capacity, std::size_t shards) {
        capacity_ = capacity > 0 ? capacity : 1;
        shard_count_ = shards == 0 ? 1 : (shards > capacity_ ? capacity_ : shards);
        shards_ = std::make_unique<Shard[]>(shard_count_);
        // Spread the capacity: the first `capacity % shards` shards hold one more.
        // Buckets reserved up front: no rehash inside a critical section.
        for (std::size_t i = 0; i < shard_count_; ++i) {
            shards_[i].capacity = capacity_ / shard_count_ + (i < capacity_ % shard_count_ ? 1 : 0);
            shards_[i].index.reserve(shards_[i].capacity);
        }
    }
    DigestLru(const DigestLru&) = delete;
    DigestLru& operator=(const DigestLru&) = delete;

    // The value under `key`, which becomes the most recently used; nullopt when absent.
    std::optional<Value> find(const Sha256Digest& key) {
        Shard& s = shard(key);
        std::lock_guard lock(s.mutex);
        auto it = s.index.find(key);
        if (it == s.index.end()) return std::nullopt;
        s.order.splice(s.order.begin(), s.order, it->second);
        return it->second->second;
    }

    // Stores `value` under `key` unless another thread stored one first; returns what the
    // cache holds for `key` afterwards (so racing callers end up sharing one value).
    Value insert(const Sha256Digest& key, Value value) {
        Shard& s = shard(key);
        // Declared before the lock: destroyed after it is released.
        std::optional<Value> evicted;
        std::lock_guard lock(s.mutex);
        if (auto it = s.index.find(key); it != s.index.end()) {
            s.order.splice(s.order.begin(), s.order, it->second);
            return it->second->second;
        }
        link(s, key, std::move(value), evicted);
        return s.order.front().second;
    }

    // Stores `value` under `key`, replacing what was there.
    void insert_or_assign(const Sha256Digest& key, Value value) {
        Shard& s = shard(key);
        std::optional<Value> dropped;  // destroyed after the lock is released
        std::lock_guard lock(s.mutex);
        if (auto it = s.index.find(key); it != s.index.end()) {
            dropped.emplace(std::move(it->second->second));
            it->second->second = std::move(value);
            s.order.splice(s.order.begin(), s.order, it->second);
            return;
        }
        link(s, key, std::move(value), dropped);
    }

    // Drops every entry (values are destroyed outside the shards' locks).
    void clear() {
        for (std::size_t i = 0; i < shard_count_; ++i) {
            List dropped;
            {
                std::lock_guard lock(shards_[i].mutex);
                shards_[i].index.clear();
                dropped.swap(shards_[i].order);
            }
        }
    }

    std::size_t size() const {
        std::size_t n = 0;
        for (std::size_t i = 0; i < shard_count_; ++i) {
            std::lock_guard lock(shards_[i].mutex);
            n += shards_[i].order.size();
        }
        return n;
    }

    std::uint64_t evictions() const {
        std::uint64_t n = 0;
        for (std::size_t i = 0; i < shard_count_; ++i) {
            std::lock_guard lock(shards_[i].mutex);
            n += shards_[i].evictions;
        }
        return n;
    }

    std::size_t capacity() const { return capacity_; }
    std::size_t shard_count() const { return shard_count_; }

  private:
    // Octets 8..15 of the digest: the shard took octet 0, and a SHA-256 output is uniform.
    struct DigestHash {
        std::size_t operator()(const Sha256Digest& d) const {
            std::uint64_t h = 0;
            std::memcpy(&h, d.data() + 8, sizeof h);
            return static_cast<std::size_t>(h);
        }
    };
    using List = std::list<std::pair<Sha256Digest, Value>>;
    struct Shard {
        mutable std::mutex mutex;
        List order;  // most recently used first
        std::unordered_map<Sha256Digest, typename List::iterator, DigestHash> index;
        std::size_t capacity = 0;
        std::uint64_t evictions = 0;
    };

    // A new entry at the front of `s` (locked), the least recently used one moved to `evicted`
    // when the shard is full.
    static void link(Shard& s, const Sha256Digest& key, Value value,
                     std::optional<Value>& evicted) {
        if (s.order.size() >= s.capacity) {
            auto& oldest = s.order.back();
            evicted.emplace(std::move(oldest.second));
            s.index.erase(oldest.first);
            s.order.pop_back();
            ++s.evictions;
        }
        s.order.emplace_front(key, std::move(value));
        s.index.emplace(key, s.order.begin());
    }

    Shard& shard(const Sha256Digest& key) { return shards_[key[0] % shard_count_]; }

    std::size_t capacity_ = 0;
    std::size_t shard_count_ = 0;
    std::unique_ptr<Shard[]> shards_;
};

}  // namespace postern::ike::crypto
