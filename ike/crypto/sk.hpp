// Protection of the Encrypted payload SK {...} and the Encrypted Fragment payload SKF
// (RFC 7296 §3.14, RFC 7383 §2.5) for one direction of an IKE SA.
//
//   aad  = IKE header .. end of the SK generic header (for SKF: .. Total Fragments)
//   body = IV | ciphertext | ICV, where ciphertext = E(payloads | Padding | Pad Length)
//
// CBC + HMAC: ICV = truncated HMAC(SK_a, aad | IV | ciphertext), checked in constant time
// before anything is decrypted. AEAD (RFC 5282, RFC 7634): 8-octet IV, nonce = salt | IV with
// the 4-octet salt taken from the end of SK_e, the aad authenticated as associated data, and a
// 16-octet tag as ICV.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include <tl/expected.hpp>

#include "ike/crypto/algorithms.hpp"
#include "ike/crypto/ossl.hpp"
#include "ike/crypto/secret.hpp"
#include "postern/bytes.hpp"

namespace postern::ike::crypto {

// Fills the buffer with the next IV. Tests inject a deterministic source; the default draws
// from RAND_bytes (RFC 7296 §3.14: IVs MUST be unpredictable for CBC).
using IvSource = std::function<void(MutableByteView)>;
void random_iv(MutableByteView iv);

class SkCipher {
  public:
    // sk_a is ignored (and integ must be NONE) for AEAD transforms. Key lengths must match the
    // transforms exactly (sk_e includes the AEAD salt).
    static tl::expected<SkCipher, std::string> create(EncrId encr, std::uint16_t key_bits,
                                                      IntegId integ, const Secret& sk_e,
                                                      const Secret& sk_a);

    const EncrInfo& encr() const { return *encr_; }
    std::size_t iv_size() const { return encr_->iv_size; }
    std::size_t icv_size() const { return icv_size_; }
    std::size_t block_size() const { return encr_->block_size; }
    // Octets added to every message whatever its length: IV, ICV and the Pad Length octet.
    std::size_t overhead() const { return iv_size() + icv_size() + 1; }
    // The exact body length seal() produces for plaintext_len octets of payloads, so the
    // caller can write the length fields into the aad first.
    std::size_t body_length(std::size_t plaintext_len) const;
    // The largest plaintext whose body fits in body_len octets (for fragmentation, RFC 7383).
    std::size_t max_plaintext(std::size_t body_len) const;

    tl::expected<Bytes, std::string> seal(ByteView aad, ByteView plaintext,
                                          const IvSource& iv_source = random_iv) const;
    // The inner payloads, or why the body was refused.
    tl::expected<Bytes, std::string> open(ByteView aad, ByteView body) const;

  private:
    SkCipher() = default;
    std::size_t padded_length(std::size_t plaintext_len) const;
    Bytes icv(ByteView aad, ByteView iv_and_ciphertext) const;

    const EncrInfo* encr_ = nullptr;
    const IntegInfo* integ_ = nullptr;  // null for AEAD
    std::size_t icv_size_ = 0;
    Secret key_;                       // cipher key without salt
    Secret salt_;                      // AEAD only
    Secret sk_a_;                      // CBC only
    std::shared_ptr<EVP_CIPHER> cbc_;  // CBC only
};

}  // namespace postern::ike::crypto
