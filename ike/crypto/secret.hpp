// Secret key material: wiped when freed, compared in constant time.
#pragma once

#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

#include "postern/bytes.hpp"

namespace postern::ike::crypto {

// Owns secret bytes (keys, shared secrets, SKEYSEED). The buffer is cleansed with
// OPENSSL_cleanse on destruction, on assignment and when moved from.
class Secret {
  public:
    Secret() = default;
    explicit Secret(std::size_t n) : data_(n, 0) {}
    explicit Secret(ByteView b) : data_(b.begin(), b.end()) {}
    Secret(const Secret& o) : data_(o.data_) {}
    Secret(Secret&& o) noexcept : data_(std::move(o.data_)) { o.data_.clear(); }
    Secret& operator=(const Secret& o) {
        if (this != &o) {
            wipe();
            data_ = o.data_;
        }
        return *this;
    }
    Secret& operator=(Secret&& o) noexcept {
        if (this != &o) {
            wipe();
            data_ = std::move(o.data_);
            o.data_.clear();
        }
        return *this;
    }
    ~Secret() { wipe(); }

    std::size_t size() const { return data_.size(); }
    bool empty() const { return data_.empty(); }
    std::uint8_t* data() { return data_.data(); }
    const std::uint8_t* data() const { return data_.data(); }
    ByteView view() const { return {data_.data(), data_.size()}; }
    MutableByteView mutable_view() { return {data_.data(), data_.size()}; }
    // Bytes [offset, offset+n) as a new Secret.
    Secret slice(std::size_t offset, std::size_t n) const {
        return Secret(view().subspan(offset, n));
    }
    void append(ByteView b) { data_.insert(data_.end(), b.begin(), b.end()); }
    void resize(std::size_t n);
    void wipe();

  private:
    std::vector<std::uint8_t> data_;
};

// Constant-time equality for MACs, ICVs and secrets (CRYPTO_memcmp). Different lengths are
// unequal; the length itself is not secret.
bool equal_ct(ByteView a, ByteView b);

}  // namespace postern::ike::crypto
