// IKE identities (IDi/IDr, RFC 7296 §3.5) as configured, printed, matched against remote-id
// patterns and against certificates.
//
// Config text follows strongSwan's conventions (swanctl.conf local.id / remote.id):
//   vpn.example.com        ID_FQDN          (anything without '=' or '@' that is not an address)
//   user@example.com       ID_RFC822_ADDR
//   192.0.2.1, 2001:db8::1 ID_IPV4_ADDR, ID_IPV6_ADDR
//   C=CH, O=Org, CN=name   ID_DER_ASN1_DN   (any text with '=')
//   keyid:0a0b... / @#0a0b ID_KEY_ID        (hex)
//   @name                  ID_FQDN, forced  (e.g. "@192.0.2.1" is an FQDN, not an address)
//   @@name                 ID_RFC822_ADDR, forced
//
// What real clients send (notes/native-clients.md §1.2): Windows with EAP sends its own local
// IP as ID_IPV4_ADDR; iOS sends a plain LocalIdentifier such as "vpnclient" as ID_FQDN; Windows
// machine certificates send the subject DN. All of them parse and print here.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <tl/expected.hpp>

#include "ike/crypto/x509.hpp"
#include "ike/wire/constants.hpp"
#include "ike/wire/id.hpp"
#include "postern/bytes.hpp"

namespace postern::ike::policy {

// An identity as it travels in an ID payload: ID Type and Identification Data (§3.5).
// IPv4/IPv6 data are 4/16 octets in network order, FQDN and RFC822 the ASCII text without a
// terminator, DN the DER encoding of a Name (RFC 5280 §4.1.2.4), KEY_ID opaque octets.
struct Identity {
    IdType type = IdType::ID_FQDN;
    Bytes data;

    // Octet-exact; use same_identity() for "the same identity" (case, DN encodings).
    bool operator==(const Identity&) const = default;

    static Identity from_payload(const wire::IdPayload& p) { return {p.type, p.data}; }
    wire::IdPayload to_payload() const { return {type, data}; }
};

// An identity from config text (conventions above). "%any" is refused: it is a pattern.
tl::expected<Identity, std::string> parse_identity(std::string_view config_text);

// Checks the form of an identity received from a peer before it is used: address lengths,
// FQDN/RFC822 text without control characters, a DN that decodes with nothing after it, a
// non-empty KEY_ID. ID_NULL (RFC 7619) must be empty; ID_DER_ASN1_GN and ID_FC_NAME are
// accepted as opaque (they only ever match %any).
tl::expected<void, std::string> check_received_identity(const Identity& id);

// Config text that parses back to the same identity: FQDN text (with '@' in front when it
// would otherwise read as another type), RFC822 text, addresses, "C=CH, O=Org, CN=name" with
// RFC 4514 escapes, "keyid:<hex>". Malformed received data prints as a description with hex;
// control characters print as \xNN so the result is safe for logs.
std::string to_string(const Identity& id);

// Whether two identities name the same thing: FQDN and RFC822 compare case-insensitively
// (as strongSwan does), DNs after X.509 canonicalisation (X509_NAME_cmp: string types,
// case and whitespace do not matter), everything else octet by octet.
bool same_identity(const Identity& a, const Identity& b);

// A remote-id pattern from the config (strongSwan conventions):
//   %any                   everything, of any type (also the Windows EAP IP address)
//   <identity>             exactly that identity (same_identity)
//   *.example.com          any FQDN ending in ".example.com" (case-insensitive; any depth)
//   *@example.com          any RFC822 address at example.com (case-insensitive)
//   C=CH, O=Org, CN=*      a DN with the same attributes in the same order, where "*" values
//                          match any value and the others compare case-insensitively
class IdentityPattern {
  public:
    static tl::expected<IdentityPattern, std::string> parse(std::string_view text);

    bool matches(const Identity& id) const;

    // For picking the most specific of several matching connections; only the order means
    // something: %any (0) < wildcards (kWildcard + fixed characters of an FQDN/RFC822 suffix,
    // or + fixed RDNs of a DN) < an exact identity (kExact).
    int specificity() const;
    static constexpr int kAny = 0;
    static constexpr int kWildcard = 100;
    static constexpr int kExact = 100000;

    const std::string& text() const { return text_; }
    // The identity itself when the pattern is an exact one (an initiator sends it as IDr).
    std::optional<Identity> exact() const {
        if (kind_ == Kind::exact) return exact_;
        return std::nullopt;
    }

  private:
    enum class Kind { any, exact, fqdn_suffix, rfc822_domain, dn_wildcard };
    struct Rdn {
        std::string oid;    // dotted
        std::string value;  // UTF-8, unescaped
        bool wildcard = false;
        bool joined = false;  // multi-valued RDN: same set as the previous attribute ('+')
    };

    Kind kind_ = Kind::any;
    std::string text_ = "%any";  // a default-constructed pattern is %any
    Identity exact_;
    std::string suffix_;  // ".example.com" / "@example.com"
    std::vector<Rdn> rdns_;
};

// Whether a certificate holds this identity (RFC 4945 §3.1 binds the ID to the certificate):
//   ID_FQDN          a dNSName subjectAltName, case-insensitive. No fallback to the subject
//                    CN (strongSwan does not fall back either; a CN is not a DNS name claim).
//   ID_RFC822_ADDR   an rfc822Name subjectAltName, case-insensitive.
//   ID_IPV4/6_ADDR   an iPAddress subjectAltName of the same octets.
//   ID_DER_ASN1_DN   the subject, compared with X509_NAME_cmp (DER-equal, or equal after
//                    canonicalisation).
//   ID_KEY_ID        as strongSwan's x509 has_subject(): the SHA-1 of the subjectPublicKey
//                    bits (strongSwan's "keyid", RFC 5280 §4.2.1.2 method 1), the SHA-1 of
//                    the whole SubjectPublicKeyInfo, the subjectKeyIdentifier extension, or
//                    the SHA-1 of the certificate's DER.
// Wildcard dNSNames in certificates are not honoured (IKE peers have exact names).
bool certificate_matches_identity(const crypto::Certificate& cert, const Identity& id);

}  // namespace postern::ike::policy
