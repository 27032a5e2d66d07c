#include "ike/crypto/chain_cache.hpp"

#include <memory>

#include <openssl/evp.h>

#include "ike/crypto/ossl.hpp"

namespace postern::ike::crypto {

namespace {

// Big-endian, so that the lengths frame the DER unambiguously.
void hash_length(EVP_MD_CTX* ctx, std::uint64_t n) {
    std::uint8_t be[8];
    for (int i = 7; i >= 0; --i) {
        be[i] = static_cast<std::uint8_t>(n & 0xff);
        n >>= 8;
    }
    if (EVP_DigestUpdate(ctx, be, sizeof be) != 1) ossl::fatal("SHA-256");
}

}  // namespace

VerifiedChainCache::VerifiedChainCache(std::size_t capacity, std::size_t shards)
    : entries_(capacity, shards) {}

Sha256Digest VerifiedChainCache::key(std::span<const Bytes> chain) {
    ossl::MdCtx ctx(EVP_MD_CTX_new());
    if (!ctx || EVP_DigestInit_ex(ctx.get(), ossl::digest("SHA256"), nullptr) != 1)
        ossl::fatal("SHA-256");
    hash_length(ctx.get(), chain.size());
    for (const auto& der : chain) {
        hash_length(ctx.get(), der.size());
        if (EVP_DigestUpdate(ctx.get(), der.data(), der.size()) != 1) ossl::fatal("SHA-256");
    }
    Sha256Digest out{};
    unsigned int len = 0;
    if (EVP_DigestFinal_ex(ctx.get(), out.data(), &len) != 1 || len != out.size())
        ossl::fatal("SHA-256");
    return out;
}

bool VerifiedChainCache::verified_at(const Sha256Digest& key, std::time_t now) {
    auto window = entries_.find(key);
    if (!window) {
        misses_.fetch_add(1, std::memory_order_relaxed);
        return false;
    }
    if (!window->contains(now)) {
        outside_window_.fetch_add(1, std::memory_order_relaxed);
        return false;
    }
    hits_.fetch_add(1, std::memory_order_relaxed);
    return true;
}

void VerifiedChainCache::remember(const Sha256Digest& key, Window window) {
    if (window.not_before >= window.not_after) return;
    entries_.insert_or_assign(key, window);
}

VerifiedChainCache::Counters VerifiedChainCache::counters() const {
    Counters c;
    c.hits = hits_.load(std::memory_order_relaxed);
    c.misses = misses_.load(std::memory_order_relaxed);
    c.outside_window = outside_window_.load(std::memory_order_relaxed);
    c.evictions = entries_.evictions();
    c.size = entries_.size();
    c.capacity = entries_.capacity();
    return c;
}

void VerifiedChainCache::clear() {
    entries_.clear();
}

}  // namespace postern::ike::crypto
