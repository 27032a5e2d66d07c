// Identities: config text <-> ID payload data, received-ID checks, remote-id patterns and
// their specificity, and identity-vs-certificate matching (test PKI in tests/data/pki).
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <openssl/evp.h>

#include "ike/policy/identity.hpp"

using namespace postern;
using namespace postern::ike;
using namespace postern::ike::policy;

namespace postern::ike {
inline std::ostream& operator<<(std::ostream& os, IdType t) {
    return os << to_string(t);
}
}  // namespace postern::ike

namespace {

Identity id(std::string_view text) {
    auto r = parse_identity(text);
    BOOST_REQUIRE_MESSAGE(r, text << ": " << r.error());
    return *r;
}

Identity raw(IdType type, std::string_view hex) {
    return Identity{type, from_hex(hex)};
}

IdentityPattern pattern(std::string_view text) {
    auto r = IdentityPattern::parse(text);
    BOOST_REQUIRE_MESSAGE(r, text << ": " << r.error());
    return *r;
}

crypto::Certificate pki(const std::string& name) {
    std::ifstream in(std::string(POSTERN_TEST_DATA_DIR) + "/pki/" + name + ".pem");
    std::stringstream ss;
    ss << in.rdbuf();
    auto c = crypto::Certificate::from_pem(ss.str());
    BOOST_REQUIRE_MESSAGE(c, name << ": " << c.error());
    return *c;
}

Bytes sha1(ByteView data) {
    Bytes out(20);
    BOOST_REQUIRE(EVP_Digest(data.data(), data.size(), out.data(), nullptr, EVP_sha1(), nullptr));
    return out;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(identity)

BOOST_AUTO_TEST_CASE(config_text_round_trips) {
    struct Case {
        const char* text;
        IdType type;
        const char* data_hex;  // the ID payload's Identification Data (RFC 7296 §3.5)
        const char* printed;   // nullptr: the same as text
    };
    const Case cases[] = {
        {"vpn.example.com", IdType::ID_FQDN, "76706e2e6578616d706c652e636f6d", nullptr},
        {"user@example.com", IdType::ID_RFC822_ADDR, "75736572406578616d706c652e636f6d", nullptr},
        {"192.0.2.1", IdType::ID_IPV4_ADDR, "c0000201", nullptr},
        {"2001:db8::1", IdType::ID_IPV6_ADDR, "20010db8000000000000000000000001", nullptr},
        // SEQUENCE OF SET OF { OID, PrintableString } (strongSwan's choice when it fits)
        {"C=CH, O=Org, CN=name", IdType::ID_DER_ASN1_DN,
         "302a"
         "310b300906035504061302"
         "4348"
         "310c300a060355040a1303"
         "4f7267"
         "310d300b06035504031304"
         "6e616d65",
         nullptr},
        {"CN=name", IdType::ID_DER_ASN1_DN, "300f310d300b060355040313046e616d65", nullptr},
        // Not PrintableString: UTF8String (0c); emailAddress: IA5String (16).
        {"O=Zürich", IdType::ID_DER_ASN1_DN, "30123110300e060355040a0c075ac3bc72696368", nullptr},
        {"E=a@b.ch", IdType::ID_DER_ASN1_DN,
         "3017311530130609"
         "2a864886f70d010901"
         "16066140622e6368",
         nullptr},
        {"keyid:0a0b0c", IdType::ID_KEY_ID, "0a0b0c", nullptr},
        {"@#0A0B0C", IdType::ID_KEY_ID, "0a0b0c", "keyid:0a0b0c"},
        {"@vpn.example.com", IdType::ID_FQDN, "76706e2e6578616d706c652e636f6d", "vpn.example.com"},
        // Forced FQDN that looks like an address stays forced when printed.
        {"@192.0.2.1", IdType::ID_FQDN, "3139322e302e322e31", "@192.0.2.1"},
        {"@@alice", IdType::ID_RFC822_ADDR, "616c696365", "@@alice"},
        // iOS sends a plain LocalIdentifier as ID_FQDN.
        {"vpnclient", IdType::ID_FQDN, "76706e636c69656e74", nullptr},
        {"  vpn.example.com ", IdType::ID_FQDN, "76706e2e6578616d706c652e636f6d",
         "vpn.example.com"},
    };
    for (const auto& c : cases) {
        BOOST_TEST_CONTEXT(c.text) {
            const Identity i = id(c.text);
            BOOST_TEST(i.type == c.type);
            BOOST_TEST(to_hex(i.data) == to_hex(from_hex(c.data_hex)));
            const std::string printed = c.printed ? c.printed : c.text;
            BOOST_TEST(to_string(i) == printed);
            BOOST_TEST((id(printed) == i));
            BOOST_TEST(check_received_identity(i).has_value());
            BOOST_TEST((Identity::from_payload(i.to_payload()) == i));
        }
    }
}

BOOST_AUTO_TEST_CASE(distinguished_names) {
    // Escapes, multi-valued RDNs, strongSwan's attribute names and dotted OIDs.
    const std::pair<const char*, const char*> cases[] = {
        {"CN=Doe\\, John, O=Org", "CN=Doe\\, John, O=Org"},
        {"CN=a\\2Cb", "CN=a\\,b"},
        {"CN=a + UID=b, O=Org", "CN=a + UID=b, O=Org"},
        {"c=CH,o=Org,cn=name", "C=CH, O=Org, CN=name"},
        {"2.5.4.3=name", "CN=name"},
        {"SN=1234, S=Doe, G=John", "SN=1234, S=Doe, G=John"},
        {"emailAddress=a@b.ch, DC=example, DC=com", "E=a@b.ch, DC=example, DC=com"},
        {"CN=\\ lead", "CN=\\ lead"},
        {"CN=\\*", "CN=\\*"},
    };
    for (const auto& [text, printed] : cases) {
        BOOST_TEST_CONTEXT(text) {
            const Identity i = id(text);
            BOOST_TEST(i.type == IdType::ID_DER_ASN1_DN);
            BOOST_TEST(to_string(i) == printed);
            BOOST_TEST((id(printed) == i));
        }
    }
    // "SN" is serialNumber (2.5.4.5) as in strongSwan, not OpenSSL's surname.
    BOOST_TEST(to_hex(id("SN=1").data) ==
               "300c310a3008060355040513"
               "0131");
}

BOOST_AUTO_TEST_CASE(bad_config_text) {
    const std::pair<const char*, const char*> cases[] = {
        {"", "identity \"\": empty"},
        {"%any", "identity \"%any\": %any is a pattern, not an identity"},
        {"keyid:", "identity \"keyid:\": key id must be non-empty hex"},
        {"keyid:zz", "identity \"keyid:zz\": key id must be non-empty hex"},
        {"@#abc", "identity \"@#abc\": key id must be non-empty hex"},
        {"@", "identity \"@\": nothing after @"},
        {"@@", "identity \"@@\": nothing after @@"},
        {"CN=", "DN \"CN=\": empty value for CN"},
        {"=x", "DN \"=x\": attribute type missing"},
        {"CN=a, O", "DN \"CN=a, O\": attribute without '='"},
        {"XYZ=1", "DN \"XYZ=1\": unknown attribute XYZ"},
        {"CN=a\\", "DN \"CN=a\\\": '\\' at the end"},
        {"a\tb", "identity \"a\tb\": control characters"},
    };
    for (const auto& [text, reason] : cases) {
        auto r = parse_identity(text);
        BOOST_TEST_CONTEXT(text) {
            BOOST_REQUIRE(!r);
            BOOST_TEST(r.error() == reason);
        }
    }
}

BOOST_AUTO_TEST_CASE(received_identities) {
    // Windows with EAP: IDi is the client's own (private) address.
    const wire::IdPayload windows{IdType::ID_IPV4_ADDR, from_hex("0a000005")};
    const Identity w = Identity::from_payload(windows);
    BOOST_TEST(check_received_identity(w).has_value());
    BOOST_TEST(to_string(w) == "10.0.0.5");
    BOOST_TEST(pattern("%any").matches(w));
    BOOST_TEST(!pattern("*.example.com").matches(w));

    const std::pair<Identity, const char*> bad[] = {
        {raw(IdType::ID_IPV4_ADDR, "0a0000"), "ID_IPV4_ADDR: 3 octets, not 4"},
        {raw(IdType::ID_IPV6_ADDR, "0a000005"), "ID_IPV6_ADDR: 4 octets, not 16"},
        {raw(IdType::ID_FQDN, ""), "ID_FQDN: empty"},
        {raw(IdType::ID_FQDN, "610062"), "ID_FQDN: contains control characters"},
        {raw(IdType::ID_RFC822_ADDR, "61400d0a"), "ID_RFC822_ADDR: contains control characters"},
        {raw(IdType::ID_DER_ASN1_DN, "3003"), "ID_DER_ASN1_DN: not a DER Name (2 octets)"},
        {raw(IdType::ID_DER_ASN1_DN, "300f310d300b060355040313046e616d6500"),
         "ID_DER_ASN1_DN: not a DER Name (18 octets)"},
        {raw(IdType::ID_KEY_ID, ""), "ID_KEY_ID: empty"},
        {raw(IdType::ID_NULL, "00"), "ID_NULL: 1 octets, must be empty"},
        {raw(static_cast<IdType>(200), ""), "IdType(200): unknown ID type"},
    };
    for (const auto& [i, reason] : bad) {
        auto r = check_received_identity(i);
        BOOST_TEST_CONTEXT(reason) {
            BOOST_REQUIRE(!r);
            BOOST_TEST(r.error() == reason);
        }
    }
    BOOST_TEST(check_received_identity(raw(IdType::ID_NULL, "")).has_value());
    // Every proper prefix of a DN is refused and still prints.
    const Identity dn = id("C=CH, O=Org, CN=name");
    for (std::size_t n = 0; n < dn.data.size(); ++n) {
        const Identity cut{IdType::ID_DER_ASN1_DN, Bytes(dn.data.begin(), dn.data.begin() + n)};
        BOOST_TEST_CONTEXT(n) {
            BOOST_TEST(!check_received_identity(cut));
            BOOST_TEST(to_string(cut).starts_with("(invalid ID_DER_ASN1_DN"));
        }
    }

    // Printing never fails and is safe for logs.
    BOOST_TEST(to_string(raw(IdType::ID_IPV4_ADDR, "0a0000")) == "(invalid ID_IPV4_ADDR 0a0000)");
    BOOST_TEST(to_string(raw(IdType::ID_DER_ASN1_DN, "3003")) == "(invalid ID_DER_ASN1_DN 3003)");
    BOOST_TEST(to_string(raw(IdType::ID_FQDN, "610062")) == "@a\\x00b");
    BOOST_TEST(to_string(raw(IdType::ID_NULL, "")) == "ID_NULL:");
    // A DN with a UTF8String CN prints the same as the PrintableString one.
    BOOST_TEST(to_string(raw(IdType::ID_DER_ASN1_DN, "300f310d300b06035504030c046e616d65")) ==
               "CN=name");
}

BOOST_AUTO_TEST_CASE(same_identity_rules) {
    BOOST_TEST(same_identity(id("VPN.Example.com"), id("vpn.example.COM")));
    BOOST_TEST(same_identity(id("Alice@Example.com"), id("alice@example.com")));
    BOOST_TEST(!same_identity(id("vpn.example.com"), id("vpn.example.org")));
    BOOST_TEST(!same_identity(id("@192.0.2.1"), id("192.0.2.1")));
    // DN: other string type, case and spacing do not matter (X509_NAME_cmp canonical form).
    BOOST_TEST(same_identity(id("CN=name"),
                             raw(IdType::ID_DER_ASN1_DN, "300f310d300b06035504030c046e616d65")));
    BOOST_TEST(same_identity(id("C=CH, O=Org, CN=Name"), id("C=ch, O=ORG, CN=name")));
    BOOST_TEST(!same_identity(id("C=CH, O=Org, CN=name"), id("O=Org, C=CH, CN=name")));
    BOOST_TEST(!same_identity(id("keyid:0a"), id("keyid:0b")));
}

BOOST_AUTO_TEST_CASE(pattern_matching) {
    struct Case {
        const char* pattern;
        Identity identity;
        bool expected;
    };
    const Case cases[] = {
        {"%any", id("vpn.example.com"), true},
        {"%any", id("C=CH, CN=x"), true},
        {"%any", raw(IdType::ID_NULL, ""), true},
        {"vpn.example.com", id("vpn.example.com"), true},
        {"vpn.example.com", id("VPN.EXAMPLE.COM"), true},
        {"vpn.example.com", id("vpn2.example.com"), false},
        {"vpn.example.com", id("vpn.example.com@x"), false},
        {"192.0.2.1", id("192.0.2.1"), true},
        {"192.0.2.1", id("@192.0.2.1"), false},
        {"2001:db8::1", id("2001:DB8:0::1"), true},
        {"*.example.com", id("vpn.example.com"), true},
        {"*.example.com", id("a.b.Example.COM"), true},
        {"*.example.com", id("example.com"), false},
        {"*.example.com", id("badexample.com"), false},
        {"*.example.com", id("user@vpn.example.com"), false},
        {"*@example.com", id("alice@example.com"), true},
        {"*@example.com", id("Alice@EXAMPLE.com"), true},
        {"*@example.com", id("alice@sub.example.com"), false},
        {"*@example.com", id("@@@example.com"), false},
        {"*@example.com", id("example.com"), false},
        {"C=CH, O=Org, CN=*", id("C=CH, O=Org, CN=alice"), true},
        {"C=CH, O=Org, CN=*", id("C=ch, O=ORG, CN=bob"), true},
        {"c=CH, o=Org, cn=*", id("C=CH, O=Org, CN=bob"), true},
        {"C=CH, O=Org, CN=*", id("C=CH, O=Other, CN=alice"), false},
        {"C=CH, O=Org, CN=*", id("C=CH, O=Org"), false},
        {"C=CH, O=Org, CN=*", id("C=CH, O=Org, OU=x, CN=alice"), false},
        {"C=CH, O=Org, CN=*", id("O=Org, C=CH, CN=alice"), false},
        {"C=CH, O=Org, CN=*", id("alice.example.com"), false},
        {"C=CH, O=*, CN=*", id("C=CH, O=Org, CN=alice"), true},
        {"C=CH, O=Org, CN=alice", id("C=CH, O=Org, CN=Alice"), true},
        {"C=CH, O=Org, CN=\\*", id("C=CH, O=Org, CN=alice"), false},
        {"C=CH, O=Org, CN=\\*", id("C=CH, O=Org, CN=\\*"), true},
        {"keyid:0a0b", id("@#0a0b"), true},
        {"keyid:0a0b", id("keyid:0a0c"), false},
    };
    for (const auto& c : cases) {
        BOOST_TEST_CONTEXT(c.pattern << " vs " << to_string(c.identity)) {
            BOOST_TEST(pattern(c.pattern).matches(c.identity) == c.expected);
        }
    }
    // A malformed received DN matches only %any.
    BOOST_TEST(!pattern("C=CH, CN=*").matches(raw(IdType::ID_DER_ASN1_DN, "3003")));

    for (const char* bad : {"*", "*.", "*@", "*foo.com", "CN=*, O", ""}) {
        BOOST_TEST(!IdentityPattern::parse(bad), bad);
    }
}

BOOST_AUTO_TEST_CASE(specificity_orders_connections) {
    const std::vector<const char*> texts = {
        "%any",          "*.example.com",   "*.sub.example.com", "vpn.sub.example.com",
        "*@example.com", "C=CH, O=*, CN=*", "C=CH, O=Org, CN=*", "C=CH, O=Org, CN=alice"};
    std::vector<IdentityPattern> patterns;
    for (const char* t : texts)
        patterns.push_back(pattern(t));
    // The engine picks the matching pattern with the highest specificity.
    auto best = [&](const Identity& i) -> std::string {
        const IdentityPattern* b = nullptr;
        for (const auto& p : patterns) {
            if (p.matches(i) && (!b || p.specificity() > b->specificity())) b = &p;
        }
        return b ? b->text() : "";
    };
    BOOST_TEST(best(id("vpn.sub.example.com")) == "vpn.sub.example.com");
    BOOST_TEST(best(id("x.sub.example.com")) == "*.sub.example.com");
    BOOST_TEST(best(id("x.example.com")) == "*.example.com");
    BOOST_TEST(best(id("x.example.org")) == "%any");
    BOOST_TEST(best(id("bob@example.com")) == "*@example.com");
    BOOST_TEST(best(id("C=CH, O=Org, CN=alice")) == "C=CH, O=Org, CN=alice");
    BOOST_TEST(best(id("C=CH, O=Org, CN=bob")) == "C=CH, O=Org, CN=*");
    BOOST_TEST(best(id("C=CH, O=Else, CN=bob")) == "C=CH, O=*, CN=*");
    BOOST_TEST(best(raw(IdType::ID_IPV4_ADDR, "0a000005")) == "%any");

    BOOST_TEST(pattern("%any").specificity() == IdentityPattern::kAny);
    BOOST_TEST(IdentityPattern().text() == "%any");
    BOOST_TEST(IdentityPattern().matches(id("anything")));
    BOOST_TEST(pattern("vpn.example.com").exact().has_value());
    BOOST_TEST(!pattern("*.example.com").exact().has_value());
    BOOST_TEST(pattern("192.0.2.1").specificity() == IdentityPattern::kExact);
    BOOST_TEST(pattern("*.example.com").specificity() > IdentityPattern::kAny);
    BOOST_TEST(pattern("*.example.com").specificity() < IdentityPattern::kExact);
}

BOOST_AUTO_TEST_CASE(certificate_identities) {
    const auto server = pki("server-rsa");   // DNS vpn.postern.test, IP 192.0.2.1, DNS 192.0.2.1
    const auto ecdsa = pki("server-ecdsa");  // DNS ecdsa.postern.test, IP 2001:db8::1
    const auto client = pki("client");       // email alice@postern.test, CN=alice
    struct Case {
        const crypto::Certificate* cert;
        Identity identity;
        bool expected;
    };
    const Case cases[] = {
        {&server, id("vpn.postern.test"), true},
        {&server, id("VPN.Postern.TEST"), true},
        {&server, id("other.postern.test"), false},
        {&server, id("192.0.2.1"), true},   // iPAddress SAN
        {&server, id("@192.0.2.1"), true},  // dNSName "192.0.2.1" (Windows, Apple)
        {&server, id("192.0.2.2"), false},
        {&server, id("C=CH, O=Postern Test, CN=vpn.postern.test"), true},
        {&server, Identity{IdType::ID_DER_ASN1_DN, server.subject_der()}, true},
        {&server, id("C=CH, O=Postern Test, CN=other"), false},
        {&server, id("vpn@postern.test"), false},
        {&ecdsa, id("2001:db8::1"), true},
        {&ecdsa, id("2001:db8::2"), false},
        {&ecdsa, id("ecdsa.postern.test"), true},
        {&client, id("alice@postern.test"), true},
        {&client, id("ALICE@postern.test"), true},
        {&client, id("bob@postern.test"), false},
        {&client, id("alice"), false},  // no fallback to the subject CN
        {&client, id("C=CH, O=Postern Test, CN=alice"), true},
        {&client, raw(IdType::ID_IPV4_ADDR, "c00002"), false},
        {&client, raw(IdType::ID_DER_ASN1_DN, "3003"), false},
        {&client, raw(IdType::ID_NULL, ""), false},
        {&client, raw(IdType::ID_KEY_ID, ""), false},
    };
    for (const auto& c : cases) {
        BOOST_TEST_CONTEXT(c.cert->subject_text() << " vs " << to_string(c.identity)) {
            BOOST_TEST(certificate_matches_identity(*c.cert, c.identity) == c.expected);
        }
    }

    // KEY_ID: strongSwan's keyid (SHA-1 of the subjectPublicKey bits, which is also what
    // `openssl ca` put in subjectKeyIdentifier), SHA-1 of the SPKI, SHA-1 of the certificate.
    const Bytes keyid = sha1(server.public_key_bits());
    BOOST_TEST(to_hex(keyid) == to_hex(server.subject_key_identifier()));
    BOOST_TEST(certificate_matches_identity(server, Identity{IdType::ID_KEY_ID, keyid}));
    BOOST_TEST(certificate_matches_identity(server, id("keyid:" + to_hex(keyid))));
    BOOST_TEST(
        certificate_matches_identity(server, Identity{IdType::ID_KEY_ID, sha1(server.spki_der())}));
    BOOST_TEST(
        certificate_matches_identity(server, Identity{IdType::ID_KEY_ID, sha1(server.der())}));
    BOOST_TEST(!certificate_matches_identity(client, Identity{IdType::ID_KEY_ID, keyid}));
    BOOST_TEST(!certificate_matches_identity(server, id("keyid:0a0b")));
}

BOOST_AUTO_TEST_SUITE_END()
