// The IKEv2 pseudorandom function and prf+ (RFC 7296 §2.13).
#pragma once

#include <cstddef>
#include <initializer_list>
#include <string>

#include <tl/expected.hpp>

#include "ike/crypto/algorithms.hpp"
#include "ike/crypto/secret.hpp"
#include "postern/bytes.hpp"

namespace postern::ike::crypto {

class Prf {
  public:
    // Any implemented PRF (legacy HMAC-SHA1 included: policy is applied at negotiation).
    static tl::expected<Prf, std::string> create(PrfId id);
    explicit Prf(const PrfInfo& info) : info_(&info) {}

    PrfId id() const { return info_->id; }
    const PrfInfo& info() const { return *info_; }
    std::size_t output_size() const { return info_->output_size; }
    // The "preferred key length" of RFC 7296 §2.13, used for SK_d, SK_pi and SK_pr.
    std::size_t key_size() const { return info_->key_size; }

    // prf(key, data[0] | data[1] | ...).
    Secret compute(ByteView key, std::initializer_list<ByteView> data) const;

    // prf+(key, seed) truncated to length octets:
    //   T1 = prf(K, S | 0x01), Tn = prf(K, Tn-1 | S | n), prf+ = T1 | T2 | ...
    // The counter is one octet, so at most 255 * output_size octets can be produced.
    tl::expected<Secret, std::string> plus(ByteView key, std::initializer_list<ByteView> seed,
                                           std::size_t length) const;

    // 255 * output_size(): the most prf+ can produce.
    std::size_t max_plus_length() const { return 255 * info_->output_size; }

  private:
    const PrfInfo* info_;
};

}  // namespace postern::ike::crypto
