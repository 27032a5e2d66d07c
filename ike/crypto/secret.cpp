#include "ike/crypto/secret.hpp"

#include <openssl/crypto.h>

namespace postern::ike::crypto {

void Secret::wipe() {
    if (!data_.empty()) OPENSSL_cleanse(data_.data(), data_.size());
}

void Secret::resize(std::size_t n) {
    if (n < data_.size()) OPENSSL_cleanse(data_.data() + n, data_.size() - n);
    // Growing may reallocate: copy into a fresh buffer and wipe the old one.
    if (n > data_.capacity()) {
        std::vector<std::uint8_t> bigger(n, 0);
        std::copy(data_.begin(), data_.end(), bigger.begin());
        wipe();
        data_ = std::move(bigger);
        return;
    }
    data_.resize(n, 0);
}

bool equal_ct(ByteView a, ByteView b) {
    if (a.size() != b.size()) return false;
    if (a.empty()) return true;
    return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace postern::ike::crypto
