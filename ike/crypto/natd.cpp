#include "ike/crypto/natd.hpp"

#include <openssl/evp.h>

#include "ike/crypto/ossl.hpp"

namespace postern::ike::crypto {

Bytes nat_detection_hash(std::uint64_t spi_i, std::uint64_t spi_r, const Endpoint& endpoint) {
    Bytes in;
    in.reserve(8 + 8 + 16 + 2);
    for (int s = 56; s >= 0; s -= 8)
        in.push_back(static_cast<std::uint8_t>(spi_i >> s));
    for (int s = 56; s >= 0; s -= 8)
        in.push_back(static_cast<std::uint8_t>(spi_r >> s));
    auto addr = endpoint.address.bytes();
    in.insert(in.end(), addr.begin(), addr.end());
    in.push_back(static_cast<std::uint8_t>(endpoint.port >> 8));
    in.push_back(static_cast<std::uint8_t>(endpoint.port));
    Bytes out(20);
    unsigned int len = 0;
    // SHA-1 is what the RFC specifies here; it is a hash of public values, not a signature.
    const EVP_MD* sha1 = ossl::digest("SHA1");
    if (!sha1 || EVP_Digest(in.data(), in.size(), out.data(), &len, sha1, nullptr) != 1)
        ossl::fatal("SHA-1 for NAT detection");
    out.resize(len);
    return out;
}

}  // namespace postern::ike::crypto
