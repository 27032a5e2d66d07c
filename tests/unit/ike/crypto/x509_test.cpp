// X.509 parsing, chain validation and CERTREQ hashes, against the test PKI in tests/data/pki
// (see its README) and strongSwan's certificates in tests/data/strongswan/cert-cbc.
#include <boost/test/unit_test.hpp>

#include <fstream>
#include <sstream>
#include <string>

#include "ike/crypto/x509.hpp"
#include "ike/wire/message.hpp"
#include "print.hpp"

using namespace postern;
using namespace postern::ike;
using namespace postern::ike::crypto;

namespace {

// Inside every test certificate's validity (2026-01-01 .. 2046-01-01).
constexpr std::time_t kNow = 1893456000;  // 2030-01-01T00:00:00Z

std::string read_text(const std::string& relative) {
    std::ifstream in(std::string(POSTERN_TEST_DATA_DIR) + "/" + relative, std::ios::binary);
    BOOST_REQUIRE_MESSAGE(in, "cannot open " << relative);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

Certificate pki(const std::string& name) {
    auto c = Certificate::from_pem(read_text("pki/" + name + ".pem"));
    BOOST_REQUIRE_MESSAGE(c, name << ": " << c.error());
    return *c;
}

Certificate strongswan(const std::string& name) {
    auto c = Certificate::from_pem(read_text("strongswan/cert-cbc/" + name + ".pem"));
    BOOST_REQUIRE_MESSAGE(c, name << ": " << c.error());
    return *c;
}

std::string hex(const CertReqHash& h) {
    return to_hex(h);
}

CertificateValidator our_validator() {
    return CertificateValidator({pki("root-ca")});
}

}  // namespace

BOOST_AUTO_TEST_SUITE(x509)

BOOST_AUTO_TEST_CASE(server_rsa_fields) {
    const auto c = pki("server-rsa");
    BOOST_TEST(c.subject_text() == "C=CH, O=Postern Test, CN=vpn.postern.test");
    BOOST_TEST(c.issuer_text() == "C=CH, O=Postern Test, CN=Postern Test Intermediate CA");
    BOOST_TEST(c.dns_names() == (std::vector<std::string>{"vpn.postern.test", "192.0.2.1"}),
               boost::test_tools::per_element());
    BOOST_REQUIRE(c.ip_addresses().size() == 1u);
    BOOST_TEST(to_hex(c.ip_addresses()[0]) == "c0000201");
    BOOST_TEST(c.rfc822_names().empty());
    BOOST_TEST(
        c.extended_key_usages() == (std::vector<std::string>{std::string(kEkuServerAuth),
                                                             std::string(kEkuIkeIntermediate)}),
        boost::test_tools::per_element());
    BOOST_TEST(c.has_extended_key_usage(kEkuServerAuth));
    BOOST_TEST(!c.has_extended_key_usage(kEkuClientAuth));
    BOOST_TEST(!c.is_ca());
    BOOST_TEST(!c.is_self_signed());
    BOOST_TEST(c.not_before() == 1767225600);  // 2026-01-01
    BOOST_TEST(c.not_after() == 2398377600);   // 2046-01-01
    BOOST_TEST(c.subject_key_identifier().size() == 20u);
    auto key = c.public_key();
    BOOST_REQUIRE(key);
    BOOST_TEST((key->type() == KeyType::rsa));
    // The SPKI round trips through PublicKey; its BIT STRING holds the RSAPublicKey.
    BOOST_TEST(c.spki_der().size() > c.public_key_bits().size());
    BOOST_TEST(c.public_key_bits()[0] == 0x30);
}

BOOST_AUTO_TEST_CASE(other_certificates_fields) {
    const auto root = pki("root-ca");
    BOOST_TEST(root.is_ca());
    BOOST_TEST(root.is_self_signed());
    BOOST_TEST((root.public_key()->type() == KeyType::rsa));
    BOOST_TEST(root.subject_der() == root.issuer_der());
    const auto inter = pki("intermediate-ca");
    BOOST_TEST(inter.is_ca());
    BOOST_TEST((inter.public_key()->type() == KeyType::ec_p256));
    BOOST_TEST(inter.issuer_der() == root.subject_der());
    const auto ec = pki("server-ecdsa");
    BOOST_TEST((ec.public_key()->type() == KeyType::ec_p256));
    BOOST_REQUIRE(ec.ip_addresses().size() == 1u);
    BOOST_TEST(to_hex(ec.ip_addresses()[0]) == "20010db8000000000000000000000001");
    BOOST_TEST((pki("server-ed25519").public_key()->type() == KeyType::ed25519));
    BOOST_TEST(pki("server-ed25519").public_key_bits().size() == 32u);
    const auto client = pki("client");
    BOOST_TEST(client.rfc822_names() == std::vector<std::string>{"alice@postern.test"},
               boost::test_tools::per_element());
    BOOST_TEST(client.dns_names().empty());
    BOOST_TEST(client.has_extended_key_usage(kEkuClientAuth));
    BOOST_TEST(pki("not-ca").extended_key_usages().empty());
    BOOST_TEST(!pki("not-ca").is_ca());
    BOOST_TEST(pki("expired").not_after() == 1609459200);  // 2021-01-01
}

BOOST_AUTO_TEST_CASE(der_and_pem_parsing) {
    const auto c = pki("server-ecdsa");
    auto again = Certificate::from_der(c.der());
    BOOST_REQUIRE(again);
    BOOST_TEST((*again == c));
    BOOST_TEST(again->subject_der() == c.subject_der());

    BOOST_TEST(Certificate::from_der({}).error() == "certificate: empty");
    const Bytes junk{0x30, 0x03, 0x02, 0x01, 0x00};
    BOOST_TEST(!Certificate::from_der(junk));
    Bytes trailing = c.der();
    trailing.push_back(0);
    trailing.push_back(0);
    BOOST_TEST(Certificate::from_der(trailing).error() ==
               "certificate: 2 octets after the certificate");
    // Every proper prefix of a certificate is refused, without a crash or a leak.
    for (std::size_t n = 0; n < c.der().size(); ++n) {
        const ByteView prefix(c.der().data(), n);
        BOOST_TEST_CONTEXT(n) {
            BOOST_TEST(!Certificate::from_der(prefix));
        }
    }

    BOOST_TEST(Certificate::from_pem("no PEM here").error() == "PEM: no certificate found");
    // A PEM bundle; a private key block in the middle is skipped.
    const std::string bundle = read_text("pki/server-rsa.pem") + read_text("pki/client.key") +
                               read_text("pki/intermediate-ca.pem");
    auto chain = load_pem_chain(bundle);
    BOOST_REQUIRE(chain);
    BOOST_REQUIRE(chain->size() == 2u);
    BOOST_TEST(((*chain)[0] == pki("server-rsa")));
    BOOST_TEST(((*chain)[1] == pki("intermediate-ca")));
    BOOST_TEST(load_pem_chain(read_text("pki/server-rsa-chain.pem"))->size() == 2u);
    // A corrupt certificate block is an error, not the end of the bundle.
    std::string corrupt = read_text("pki/server-rsa.pem");
    corrupt[100] = corrupt[100] == 'A' ? 'B' : 'A';
    corrupt[101] = '*';
    auto bad = load_pem_chain(read_text("pki/root-ca.pem") + corrupt);
    BOOST_REQUIRE(!bad);
    BOOST_TEST(bad.error().starts_with("PEM certificate 2"), bad.error());
}

BOOST_AUTO_TEST_CASE(valid_chains) {
    const auto v = our_validator();
    const Certificate inter[] = {pki("intermediate-ca")};
    for (const char* name : {"server-rsa", "server-ecdsa", "client"}) {
        auto r = v.validate(pki(name), inter, kNow);
        BOOST_TEST(r.has_value(), name << ": " << (r ? "" : r.error()));
    }
    // Directly under the root: no intermediates needed; extra ones are harmless.
    BOOST_TEST(v.validate(pki("server-ed25519"), {}, kNow).has_value());
    BOOST_TEST(v.validate(pki("server-ed25519"), inter, kNow).has_value());

    auto chain = v.verified_chain(pki("server-rsa"), inter, kNow);
    BOOST_REQUIRE(chain);
    BOOST_REQUIRE(chain->size() == 3u);
    BOOST_TEST(((*chain)[0] == pki("server-rsa")));
    BOOST_TEST(((*chain)[1] == pki("intermediate-ca")));
    BOOST_TEST(((*chain)[2] == pki("root-ca")));

    // Trusting the intermediate alone is enough (partial chain).
    const CertificateValidator only_inter({pki("intermediate-ca")});
    BOOST_TEST(only_inter.validate(pki("server-rsa"), {}, kNow).has_value());
    BOOST_TEST(!only_inter.validate(pki("server-ed25519"), {}, kNow).has_value());
}

BOOST_AUTO_TEST_CASE(invalid_chains_say_why) {
    const auto v = our_validator();
    const Certificate inter[] = {pki("intermediate-ca")};
    auto missing = v.validate(pki("server-rsa"), {}, kNow);
    BOOST_REQUIRE(!missing);
    BOOST_TEST(missing.error() ==
               "certificate chain: unable to get local issuer certificate at depth 0 "
               "(C=CH, O=Postern Test, CN=vpn.postern.test)");

    auto expired = v.validate(pki("expired"), inter, kNow);
    BOOST_REQUIRE(!expired);
    BOOST_TEST(expired.error() ==
               "certificate chain: certificate has expired at depth 0 "
               "(C=CH, O=Postern Test, CN=expired.postern.test)");
    // In 2020 the certificate itself was valid, but its issuers (checked top down) were not.
    auto then = v.validate(pki("expired"), inter, 1593561600);
    BOOST_REQUIRE(!then);
    BOOST_TEST(then.error().find("certificate is not yet valid at depth 2") != std::string::npos,
               then.error());

    auto early = v.validate(pki("server-rsa"), inter, 1735689600);  // 2025-01-01
    BOOST_REQUIRE(!early);
    BOOST_TEST(early.error().find("certificate is not yet valid") != std::string::npos,
               early.error());

    auto unrelated = v.validate(pki("other-server"), {}, kNow);
    BOOST_REQUIRE(!unrelated);
    BOOST_TEST(unrelated.error().find("unable to get local issuer certificate at depth 0") !=
                   std::string::npos,
               unrelated.error());
    // Even with the unrelated CA offered as an "intermediate": it is not an anchor.
    const Certificate other_ca[] = {pki("other-ca")};
    auto offered = v.validate(pki("other-server"), other_ca, kNow);
    BOOST_REQUIRE(!offered);
    BOOST_TEST(
        offered.error().find("self-signed certificate in certificate chain") != std::string::npos,
        offered.error());

    // A CA:FALSE certificate cannot issue.
    const Certificate via_not_ca[] = {pki("not-ca"), pki("intermediate-ca")};
    auto not_ca = v.validate(pki("issued-by-not-ca"), via_not_ca, kNow);
    BOOST_REQUIRE(!not_ca);
    BOOST_TEST(not_ca.error() ==
                   "certificate chain: invalid CA certificate at depth 1 "
                   "(C=CH, O=Postern Test, CN=not a CA)",
               not_ca.error());

    BOOST_TEST(CertificateValidator({}).validate(pki("server-rsa"), inter, kNow).error() ==
               "no trust anchors configured");
}

BOOST_AUTO_TEST_CASE(chain_limits) {
    const Certificate inter[] = {pki("intermediate-ca")};
    const CertificateValidator one({pki("root-ca")}, {.max_chain_length = 1});
    BOOST_TEST(one.validate(pki("server-rsa"), inter, kNow).error() ==
               "too many certificates: 2 > 1");
    // Two certificates may be handed over, but the chain to the root has three.
    const CertificateValidator two({pki("root-ca")}, {.max_chain_length = 2});
    auto long_chain = two.validate(pki("server-rsa"), inter, kNow);
    BOOST_REQUIRE(!long_chain);
    BOOST_TEST(long_chain.error().find("certificate chain too long") != std::string::npos,
               long_chain.error());
    BOOST_TEST(two.validate(pki("server-ed25519"), {}, kNow).has_value());

    const CertificateValidator small({pki("root-ca")}, {.max_total_size = 600});
    auto big = small.validate(pki("server-rsa"), inter, kNow);
    BOOST_REQUIRE(!big);
    BOOST_TEST(big.error().starts_with("certificates too large: "), big.error());

    std::vector<Certificate> many(8, pki("intermediate-ca"));
    BOOST_TEST(our_validator().validate(pki("server-rsa"), many, kNow).error() ==
               "too many certificates: 9 > 8");
}

BOOST_AUTO_TEST_CASE(strongswan_certificates_validate) {
    const CertificateValidator v({strongswan("caCert")});
    for (const char* name : {"moonCert", "sunCert"}) {
        auto r = v.validate(strongswan(name), {}, kNow);
        BOOST_TEST(r.has_value(), name << ": " << (r ? "" : r.error()));
    }
    BOOST_TEST(!our_validator().validate(strongswan("sunCert"), {}, kNow));
    BOOST_TEST(!v.validate(pki("server-ed25519"), {}, kNow));
}

BOOST_AUTO_TEST_CASE(certreq_hash_matches_strongswan) {
    // sun's IKE_SA_INIT response carries CERTREQ { SHA-1(SPKI of caCert) } (RFC 7296 §3.7).
    Bytes datagram;
    BOOST_REQUIRE(from_hex(read_text("strongswan/cert-cbc/01-IKE_SA_INIT-resp-sun.hex"), datagram));
    auto m = wire::parse_message(datagram);
    BOOST_REQUIRE(m);
    const auto* p = wire::find_payload(m->payloads, PayloadType::CERTREQ);
    BOOST_REQUIRE(p);
    const auto* req = p->get<wire::CertReqPayload>();
    BOOST_REQUIRE(req);
    BOOST_TEST(req->encoding == CertEncoding::X509_SIGNATURE);
    const auto ca = strongswan("caCert");
    BOOST_TEST(to_hex(req->data) == hex(certreq_hash(ca)));
    BOOST_TEST(hex(certreq_hash(ca)) == "c2e6347e34713762ef65187775977ad1d7c7a73e");
    auto asked = requested_cas(req->data, std::vector<Certificate>{pki("root-ca"), ca});
    BOOST_REQUIRE(asked);
    BOOST_TEST(*asked == std::vector<std::size_t>{1}, boost::test_tools::per_element());
    // And what we would send for that CA is what strongSwan sent.
    const Certificate cas[] = {ca};
    BOOST_TEST((certreq_payload(cas) == *req));
}

BOOST_AUTO_TEST_CASE(certreq_selection) {
    const auto root = pki("root-ca"), inter = pki("intermediate-ca"), other = pki("other-ca");
    const std::vector<Certificate> cas{root, inter, other};
    auto data = [](std::initializer_list<CertReqHash> hs) {
        Bytes d;
        for (const auto& h : hs)
            d.insert(d.end(), h.begin(), h.end());
        return d;
    };
    CertReqHash unknown{};
    unknown.fill(0xab);

    auto r = requested_cas(data({unknown, certreq_hash(other), certreq_hash(root)}), cas);
    BOOST_REQUIRE(r);
    BOOST_TEST(*r == (std::vector<std::size_t>{0, 2}), boost::test_tools::per_element());
    BOOST_TEST(requested_cas({}, cas)->empty());
    const Bytes odd(21, 0);
    BOOST_TEST(requested_cas(odd, cas).error() ==
               "CERTREQ: 21 octets of CA data is not a multiple of 20 (SHA-1 hashes)");
    BOOST_TEST(split_certreq(Bytes(40, 1))->size() == 2u);

    // Windows sends one hash per root it trusts (38 in one log): ours is found among them.
    Bytes windows;
    for (int i = 0; i < 37; ++i) {
        CertReqHash h{};
        h.fill(static_cast<std::uint8_t>(i));
        windows.insert(windows.end(), h.begin(), h.end());
    }
    const auto rh = certreq_hash(root);
    windows.insert(windows.begin() + 20 * 17, rh.begin(), rh.end());
    BOOST_TEST(*requested_cas(windows, cas) == std::vector<std::size_t>{0},
               boost::test_tools::per_element());

    // Our chains: which credential to present for a request.
    const std::vector<OwnChain> chains{
        {{pki("server-rsa"), inter}, root},
        {{pki("server-ed25519")}, root},
        {{pki("other-server")}, other},
    };
    auto pick = [&](std::initializer_list<CertReqHash> hs) {
        auto x = requested_chains(data(hs), chains);
        BOOST_REQUIRE(x);
        return *x;
    };
    BOOST_TEST(pick({certreq_hash(root)}) == (std::vector<std::size_t>{0, 1}),
               boost::test_tools::per_element());
    BOOST_TEST(pick({certreq_hash(inter)}) == std::vector<std::size_t>{0},
               boost::test_tools::per_element());
    BOOST_TEST(pick({unknown, certreq_hash(other)}) == std::vector<std::size_t>{2},
               boost::test_tools::per_element());
    // An end entity's hash names no CA.
    BOOST_TEST(pick({certreq_hash(pki("server-ed25519"))}).empty());
    BOOST_TEST(pick({unknown}).empty());
    BOOST_TEST(!requested_chains(odd, chains));
}

BOOST_AUTO_TEST_CASE(cert_payloads) {
    const auto c = pki("server-rsa");
    const auto p = cert_payload(c);
    BOOST_TEST(p.encoding == CertEncoding::X509_SIGNATURE);
    BOOST_TEST(p.data == c.der());
    auto back = certificate_from_payload(p);
    BOOST_REQUIRE(back);
    BOOST_TEST((*back == c));

    wire::CertPayload url{CertEncoding::HASH_URL_X509_CERT, Bytes(20, 0)};
    BOOST_TEST(certificate_from_payload(url).error() ==
               "CERT: encoding HASH_URL_X509_CERT not supported (only X509_SIGNATURE)");
    wire::CertPayload garbage{CertEncoding::X509_SIGNATURE, Bytes{1, 2, 3}};
    BOOST_TEST(!certificate_from_payload(garbage));

    const Certificate cas[] = {pki("root-ca"), pki("intermediate-ca")};
    const auto req = certreq_payload(cas);
    BOOST_TEST(req.encoding == CertEncoding::X509_SIGNATURE);
    BOOST_TEST(to_hex(req.data) == hex(certreq_hash(cas[0])) + hex(certreq_hash(cas[1])));
}

BOOST_AUTO_TEST_SUITE_END()
