#include "ike/crypto/cert_cache.hpp"

#include <algorithm>

#include <openssl/evp.h>

#include "ike/crypto/ossl.hpp"

namespace postern::ike::crypto {

Sha256Digest sha256(ByteView data) {
    Sha256Digest out{};
    unsigned int len = 0;
    if (!EVP_Digest(data.data(), data.size(), out.data(), &len, ossl::digest("SHA256"), nullptr) ||
        len != out.size())
        ossl::fatal("SHA-256");
    return out;
}

CertificateCache::CertificateCache(std::size_t capacity, std::size_t shards)
    : entries_(capacity, shards) {}

CertificateCache& CertificateCache::shared() {
    static auto* cache = new CertificateCache();
    return *cache;
}

tl::expected<std::shared_ptr<const Certificate>, std::string> CertificateCache::parse(
    ByteView der) {
    const Sha256Digest key = sha256(der);
    if (auto hit = entries_.find(key)) {
        const Bytes& cached = (*hit)->der();
        if (std::equal(cached.begin(), cached.end(), der.begin(), der.end())) {
            hits_.fetch_add(1, std::memory_order_relaxed);
            return std::move(*hit);
        }
        // A SHA-256 collision: parse and answer, but leave the entry alone.
        misses_.fetch_add(1, std::memory_order_relaxed);
        auto cert = Certificate::from_der(der);
        if (!cert) return tl::unexpected(cert.error());
        return std::make_shared<const Certificate>(std::move(*cert));
    }
    misses_.fetch_add(1, std::memory_order_relaxed);
    // Parsed outside any lock; two threads missing together both parse, one result is kept.
    auto cert = Certificate::from_der(der);
    if (!cert) return tl::unexpected(cert.error());
    return entries_.insert(key, std::make_shared<const Certificate>(std::move(*cert)));
}

CertificateCache::Counters CertificateCache::counters() const {
    Counters c;
    c.hits = hits_.load(std::memory_order_relaxed);
    c.misses = misses_.load(std::memory_order_relaxed);
    c.evictions = entries_.evictions();
    c.size = entries_.size();
    c.capacity = entries_.capacity();
    return c;
}

void CertificateCache::clear() {
    entries_.clear();
}

}  // namespace postern::ike::crypto
