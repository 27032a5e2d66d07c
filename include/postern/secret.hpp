// Secret octets (PSKs, NT hashes) crossing the plugin boundary: wiped when destroyed or
// replaced. Header-only, no OpenSSL, so out-of-tree plugins need nothing but the C++ library.
#pragma once

#include <string.h>  // explicit_bzero

#include <cstdint>
#include <string_view>
#include <utility>
#include <vector>

#include "postern/bytes.hpp"

namespace postern {

class SecretBytes {
  public:
    SecretBytes() = default;
    explicit SecretBytes(ByteView b) : data_(b.begin(), b.end()) {}
    explicit SecretBytes(std::string_view s) : data_(s.begin(), s.end()) {}
    SecretBytes(const SecretBytes& o) : data_(o.data_) {}
    SecretBytes(SecretBytes&& o) noexcept : data_(std::move(o.data_)) { o.data_.clear(); }
    SecretBytes& operator=(const SecretBytes& o) {
        if (this != &o) {
            wipe();
            data_ = o.data_;
        }
        return *this;
    }
    SecretBytes& operator=(SecretBytes&& o) noexcept {
        if (this != &o) {
            wipe();
            data_ = std::move(o.data_);
            o.data_.clear();
        }
        return *this;
    }
    ~SecretBytes() { wipe(); }

    bool empty() const { return data_.empty(); }
    std::size_t size() const { return data_.size(); }
    ByteView view() const { return {data_.data(), data_.size()}; }
    void wipe() {
        if (!data_.empty()) explicit_bzero(data_.data(), data_.size());
        data_.clear();
    }

  private:
    std::vector<std::uint8_t> data_;
};

}  // namespace postern
