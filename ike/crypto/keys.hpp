// IKE SA and CHILD_SA key derivation (RFC 7296 §2.14, §2.17, §2.18).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include <tl/expected.hpp>

#include "ike/crypto/algorithms.hpp"
#include "ike/crypto/prf.hpp"
#include "ike/crypto/secret.hpp"
#include "postern/bytes.hpp"

namespace postern::ike::crypto {

// The transforms negotiated for an IKE SA that determine key lengths.
struct IkeTransforms {
    PrfId prf;
    EncrId encr;
    std::uint16_t encr_key_bits = 0;     // Key Length attribute, 0 when absent
    IntegId integ = IntegId::AUTH_NONE;  // NONE with AEAD encryption
};

// Octet lengths of the seven IKE SA keys (RFC 7296 §2.14).
struct IkeKeyLengths {
    std::size_t sk_d;  // = sk_p: the PRF's preferred key length
    std::size_t sk_a;  // integrity key; 0 for AEAD
    std::size_t sk_e;  // cipher key plus salt for AEAD (RFC 5282 §7.1, RFC 7634 §3)
    std::size_t sk_p;
};

tl::expected<IkeKeyLengths, std::string> ike_key_lengths(const IkeTransforms& t);

struct IkeKeys {
    Secret sk_d, sk_ai, sk_ar, sk_ei, sk_er, sk_pi, sk_pr;
};

// SKEYSEED = prf(Ni | Nr, g^ir) (RFC 7296 §2.14). For HMAC PRFs the concatenated nonces are
// used as the key whatever their length.
tl::expected<Secret, std::string> skeyseed(PrfId prf, ByteView ni, ByteView nr, ByteView g_ir);

// SKEYSEED for a rekeyed IKE SA: prf(SK_d (old), g^ir (new) | Ni | Nr), computed with the PRF
// of the OLD IKE SA (RFC 7296 §2.18).
tl::expected<Secret, std::string> rekey_skeyseed(PrfId old_prf, const Secret& old_sk_d,
                                                 ByteView g_ir_new, ByteView ni, ByteView nr);

// {SK_d | SK_ai | SK_ar | SK_ei | SK_er | SK_pi | SK_pr} = prf+(SKEYSEED, Ni | Nr | SPIi | SPIr)
// with the NEW SA's PRF. SPIs are 8 octets each, in wire order (RFC 7296 §2.14, §2.18).
tl::expected<IkeKeys, std::string> derive_ike_keys(const IkeTransforms& t, const Secret& skeyseed,
                                                   ByteView ni, ByteView nr, std::uint64_t spi_i,
                                                   std::uint64_t spi_r);

// Key lengths of one ESP/AH SA direction. encr includes the AEAD salt; integ is 0 for AEAD.
struct ChildKeyLengths {
    std::size_t encr;
    std::size_t integ;
};

tl::expected<ChildKeyLengths, std::string> child_key_lengths(EncrId encr,
                                                             std::uint16_t encr_key_bits,
                                                             IntegId integ);

// The four keys of a CHILD_SA pair, named by direction: "i" = initiator to responder.
struct ChildKeys {
    Secret encr_i, integ_i, encr_r, integ_r;
};

// KEYMAT = prf+(SK_d, Ni | Nr) or prf+(SK_d, g^ir (new) | Ni | Nr) with PFS (RFC 7296 §2.17).
// Keys are taken initiator-to-responder first, encryption before integrity. g_ir_new is empty
// without PFS.
tl::expected<ChildKeys, std::string> derive_child_keys(PrfId prf, const Secret& sk_d,
                                                       ByteView g_ir_new, ByteView ni, ByteView nr,
                                                       ChildKeyLengths lengths);

}  // namespace postern::ike::crypto
