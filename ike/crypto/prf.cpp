#include "ike/crypto/prf.hpp"

#include <algorithm>
#include <vector>

#include "ike/crypto/ossl.hpp"

namespace postern::ike::crypto {

tl::expected<Prf, std::string> Prf::create(PrfId id) {
    const PrfInfo* info = find_prf(id);
    if (!info) return tl::make_unexpected("unsupported PRF " + to_string(id));
    return Prf(*info);
}

Secret Prf::compute(ByteView key, std::initializer_list<ByteView> data) const {
    Secret out(info_->output_size);
    ossl::hmac(info_->digest, key, data, out.mutable_view());
    return out;
}

tl::expected<Secret, std::string> Prf::plus(ByteView key, std::initializer_list<ByteView> seed,
                                            std::size_t length) const {
    // RFC 7296 §2.13: "this is only defined for up to 255 iterations".
    if (length > max_plus_length()) {
        return tl::make_unexpected("prf+ of " + std::to_string(length) + " octets exceeds the " +
                                   std::to_string(max_plus_length()) + " octets " +
                                   std::string(info_->name) + " can produce in 255 iterations");
    }
    // The seed (which may hold g^ir) is copied once into a wiped buffer sized up front, so no
    // reallocation leaves an unwiped copy behind; each iteration hashes T(n-1) | S | n.
    std::size_t seed_size = 0;
    for (ByteView part : seed)
        seed_size += part.size();
    Secret s(seed_size);
    std::size_t at = 0;
    for (ByteView part : seed) {
        std::copy(part.begin(), part.end(), s.data() + at);
        at += part.size();
    }

    Secret out(length);
    Secret t;                            // T(n-1), empty for n = 1
    ossl::Hmac mac(info_->digest, key);  // one key for every iteration
    for (std::size_t n = 1, done = 0; done < length; ++n) {
        const std::uint8_t counter = static_cast<std::uint8_t>(n);
        Secret next(info_->output_size);
        mac.compute({t.view(), s.view(), ByteView(&counter, 1)}, next.mutable_view());
        const std::size_t take = std::min(next.size(), length - done);
        std::copy_n(next.data(), take, out.data() + done);
        done += take;
        t = std::move(next);
    }
    return out;
}

}  // namespace postern::ike::crypto
