// X.509 certificates for IKEv2 certificate authentication (RFC 7296 §3.6, §3.7, RFC 4945):
// parsing (DER from CERT payloads, PEM from the daemon's files), chain validation against
// configured trust anchors, and the CERTREQ "which CA do you trust" hashes.
//
// Everything here may be fed by the network (a peer's CERT and CERTREQ payloads), so failures
// are values with a specific reason. The daemon reads files and hands over their text; nothing
// in this module touches the file system.
//
// Matching a certificate against an IKE identity (IDi/IDr) is policy and lives in
// ike/policy/identity.hpp.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <ctime>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <openssl/x509.h>
#include <tl/expected.hpp>

#include "ike/crypto/signature.hpp"
#include "ike/wire/cert.hpp"
#include "ike/wire/certreq.hpp"
#include "postern/bytes.hpp"

namespace postern::ike::crypto {

// Extended key usage OIDs an IKE policy cares about (RFC 5280 §4.2.1.12, RFC 4945 §5.1.3.12).
inline constexpr std::string_view kEkuServerAuth = "1.3.6.1.5.5.7.3.1";
inline constexpr std::string_view kEkuClientAuth = "1.3.6.1.5.5.7.3.2";
inline constexpr std::string_view kEkuIpsecIke = "1.3.6.1.5.5.7.3.17";        // RFC 4945
inline constexpr std::string_view kEkuIkeIntermediate = "1.3.6.1.5.5.8.2.2";  // Windows/Apple

// An immutable, parsed X.509 certificate. Copies share the underlying OpenSSL object.
class Certificate {
  public:
    // Exactly one DER certificate; trailing octets are an error (a CERT payload carries one).
    static tl::expected<Certificate, std::string> from_der(ByteView der);
    // The first certificate of a PEM text.
    static tl::expected<Certificate, std::string> from_pem(std::string_view pem);

    // The encoding as received (what goes into a CERT payload).
    const Bytes& der() const { return der_; }
    // DER Name of the subject / issuer (what an ID_DER_ASN1_DN identity carries, §3.5).
    Bytes subject_der() const;
    Bytes issuer_der() const;
    // "C=CH, O=Org, CN=name" with OpenSSL's short names and RFC 4514 escaping, for logs.
    // (ike/policy's to_string(Identity) prints DN identities in strongSwan's names.)
    std::string subject_text() const;
    std::string issuer_text() const;
    // The subject's (first) commonName in UTF-8; empty when absent or holding a NUL.
    std::string common_name() const;

    // The DER SubjectPublicKeyInfo, and the contents of its subjectPublicKey BIT STRING.
    Bytes spki_der() const;
    Bytes public_key_bits() const;
    tl::expected<PublicKey, std::string> public_key() const;

    // subjectAltName entries of each kind, in certificate order. Entries with an embedded NUL
    // are left out (they can only be an attempt to fool a string compare).
    std::vector<std::string> dns_names() const;
    std::vector<std::string> rfc822_names() const;
    std::vector<Bytes> ip_addresses() const;  // 4 or 16 octets each
    // The subjectKeyIdentifier extension value, empty when absent.
    Bytes subject_key_identifier() const;

    // Extended key usages as dotted OIDs; empty when the extension is absent.
    std::vector<std::string> extended_key_usages() const;
    bool has_extended_key_usage(std::string_view oid) const;
    // basicConstraints cA = TRUE.
    bool is_ca() const;
    bool is_self_signed() const;

    std::time_t not_before() const;
    std::time_t not_after() const;

    X509* get() const { return x509_.get(); }
    bool operator==(const Certificate& o) const { return der_ == o.der_; }

  private:
    Certificate(std::shared_ptr<X509> x, Bytes der) : x509_(std::move(x)), der_(std::move(der)) {}
    std::shared_ptr<X509> x509_;
    Bytes der_;
};

// Every certificate of a PEM bundle, in order (other PEM blocks such as keys are skipped);
// an error when there is none or one is corrupt.
tl::expected<std::vector<Certificate>, std::string> load_pem_chain(std::string_view text);

struct ValidationLimits {
    // Certificates from the end entity to the trust anchor inclusive.
    std::size_t max_chain_length = 8;
    // DER octets of the end entity plus the intermediates a peer may hand us.
    std::size_t max_total_size = 64 * 1024;
};

// Validates peer certificates against a fixed set of trust anchors with OpenSSL's
// X509_verify_cert: chain building through the given intermediates, signatures, validity at
// `now`, basic constraints and path length. Thread-safe; copies share the store.
//
// Decisions:
// - Only the configured anchors are trusted (no system store, no default paths).
// - An anchor need not be self-signed: an administrator may trust an intermediate CA alone
//   (X509_V_FLAG_PARTIAL_CHAIN), as strongSwan does with any CA certificate it is given.
// - No purpose/EKU check here: which EKUs a connection requires is policy (RFC 4945 §5.1.3.12
//   says IKE should not require one; Windows and Apple do for the server).
// - Revocation (CRL/OCSP) is not checked yet. Whoever adds it: AnchorVerifier remembers the
//   chains it accepted (chain_cache.hpp), and that record must be cleared with every CRL.
class CertificateValidator {
  public:
    explicit CertificateValidator(std::vector<Certificate> trust_anchors,
                                  ValidationLimits limits = {});

    tl::expected<void, std::string> validate(const Certificate& end_entity,
                                             std::span<const Certificate> intermediates,
                                             std::time_t now) const;

    // As validate(), returning the chain OpenSSL built: end entity first, trust anchor last.
    tl::expected<std::vector<Certificate>, std::string> verified_chain(
        const Certificate& end_entity, std::span<const Certificate> intermediates,
        std::time_t now) const;

    std::span<const Certificate> trust_anchors() const { return anchors_; }

  private:
    std::vector<Certificate> anchors_;
    std::shared_ptr<X509_STORE> store_;
    ValidationLimits limits_;
};

// ---- CERT and CERTREQ payloads (RFC 7296 §3.6, §3.7) ----

// "Certification Authority value is a concatenated list of SHA-1 hashes of the public keys of
// trusted CAs. Each is encoded as the SHA-1 hash of the Subject Public Key Info element (see
// section 4.1.2.7 of [PKIX]) from each Trust Anchor certificate." (§3.7)
using CertReqHash = std::array<std::uint8_t, 20>;
CertReqHash certreq_hash(const Certificate& ca);

// Splits CERTREQ data into its hashes; the length must be a multiple of 20.
tl::expected<std::vector<CertReqHash>, std::string> split_certreq(ByteView data);

// Indices into `cas` of the CAs the request names, in the order of `cas`. Hashes we do not
// know are ignored: Windows sends one per root in its store (dozens).
tl::expected<std::vector<std::size_t>, std::string> requested_cas(ByteView certreq_data,
                                                                  std::span<const Certificate> cas);

// One of our own credentials: what we send (end entity, then intermediates) and the trust
// anchor it chains to (not sent).
struct OwnChain {
    std::vector<Certificate> certificates;
    Certificate trust_anchor;
};

// Indices of our chains the peer asked for: those whose trust anchor or one of whose
// intermediates has its hash in the request (a peer may name an intermediate it trusts).
tl::expected<std::vector<std::size_t>, std::string> requested_chains(
    ByteView certreq_data, std::span<const OwnChain> chains);

// CERT payload for "X.509 Certificate - Signature" (encoding 4): the DER certificate.
wire::CertPayload cert_payload(const Certificate& cert);
// The certificate in a received CERT payload; other encodings are refused by name.
tl::expected<Certificate, std::string> certificate_from_payload(const wire::CertPayload& p);
// CERTREQ payload naming these CAs (encoding 4).
wire::CertReqPayload certreq_payload(std::span<const Certificate> cas);

}  // namespace postern::ike::crypto
