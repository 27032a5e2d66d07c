// Real IKEv2 exchanges between two strongSwan 5.9.8 charons (tests/data/strongswan/), checked
// end to end through Postern's codec and crypto:
//
//   moon (initiator)                                   sun (responder)
//   HDR, SA, KEi, Ni, N(NATD_S_IP), N(NATD_D_IP) ... -->
//                                <-- HDR, SA, KEr, Nr, N(NATD_*) ...
//   HDR, SK {IDi, [CERT,] IDr, AUTH, CP, SA, TSi, TSr} -->    (cert-cbc: 3 SKF fragments)
//                                <-- HDR, SK {IDr, [CERT,] AUTH, CP, SA, TSi, TSr}
//   HDR, SK {D} -->
//                                <-- HDR, SK {}
//
// From the g^ir, nonces and SPIs charon logged, our SKEYSEED and SK_* must equal charon's; with
// our keys every SK/SKF payload must open and parse, both AUTH payloads must verify, and the
// CHILD_SA keys must equal charon's.

#include <openssl/pem.h>
#include <openssl/x509.h>

#include <boost/test/unit_test.hpp>

#include "captures.hpp"
#include "ike/crypto/auth.hpp"
#include "ike/crypto/keys.hpp"
#include "ike/crypto/signature.hpp"
#include "ike/sa/protection.hpp"
#include "ike/sa/reassembly.hpp"
#include "ike/wire/describe.hpp"
#include "ike/wire/rules.hpp"

using namespace postern;
using namespace postern::ike;
using postern::test::Capture;
using postern::test::load_capture;

namespace {

struct Scenario {
    const char* name;
    crypto::IkeTransforms ike;
    EncrId esp_encr;
    std::uint16_t esp_bits;
    IntegId esp_integ;
    std::size_t init_request;  // index of the IKE_SA_INIT request that made the SA
};

const Scenario kPskGcm{"psk-gcm",
                       {PrfId::PRF_HMAC_SHA2_256, EncrId::ENCR_AES_GCM_16, 256, IntegId::AUTH_NONE},
                       EncrId::ENCR_AES_GCM_16,
                       256,
                       IntegId::AUTH_NONE,
                       0};
const Scenario kCertCbc{
    "cert-cbc",
    {PrfId::PRF_HMAC_SHA2_256, EncrId::ENCR_AES_CBC, 256, IntegId::AUTH_HMAC_SHA2_256_128},
    EncrId::ENCR_AES_CBC,
    128,
    IntegId::AUTH_HMAC_SHA2_256_128,
    0};
const Scenario kModp{
    "modp-invalid-ke",
    {PrfId::PRF_HMAC_SHA2_256, EncrId::ENCR_AES_CBC, 128, IntegId::AUTH_HMAC_SHA2_256_128},
    EncrId::ENCR_AES_CBC,
    128,
    IntegId::AUTH_HMAC_SHA2_256_128,
    2};

std::uint64_t spi(const Capture& c, const char* name) {
    std::uint64_t v = 0;
    for (auto b : c.key(name))
        v = v << 8 | b;
    return v;
}

crypto::IkeKeys derive(const Capture& c, const Scenario& s) {
    auto seed = crypto::skeyseed(s.ike.prf, c.key("Ni"), c.key("Nr"), c.key("g_ir"));
    BOOST_REQUIRE_MESSAGE(seed, (seed ? "" : seed.error()));
    auto keys = crypto::derive_ike_keys(s.ike, *seed, c.key("Ni"), c.key("Nr"), spi(c, "SPIi"),
                                        spi(c, "SPIr"));
    BOOST_REQUIRE_MESSAGE(keys, (keys ? "" : keys.error()));
    return std::move(*keys);
}

crypto::SkCipher cipher(const Scenario& s, const crypto::Secret& e, const crypto::Secret& a) {
    auto c = crypto::SkCipher::create(s.ike.encr, s.ike.encr_key_bits, s.ike.integ, e, a);
    BOOST_REQUIRE_MESSAGE(c, (c ? "" : c.error()));
    return std::move(*c);
}

struct Opened {
    wire::Message outer;
    std::vector<wire::Payload> inner;
};

// Every message of the capture, SK contents decrypted and SKF fragments reassembled.
std::vector<Opened> open_all(const Capture& c, const Scenario& s, const crypto::IkeKeys& k) {
    auto ci = cipher(s, k.sk_ei, k.sk_ai);
    auto cr = cipher(s, k.sk_er, k.sk_ar);
    std::vector<Opened> out;
    sa::Reassembler reasm;
    for (const auto& cm : c.messages) {
        auto m = wire::parse_message(cm.bytes);
        BOOST_REQUIRE_MESSAGE(m, cm.file << ": " << (m ? "" : m.error().reason));
        const auto& ciph = cm.from_initiator() ? ci : cr;
        const wire::Payload* enc = m->encrypted();
        if (!enc) {
            out.push_back({*m, {}});
            continue;
        }
        if (enc->type == PayloadType::SK) {
            auto inner = sa::open_message(*m, cm.bytes, ciph);
            BOOST_REQUIRE_MESSAGE(inner, cm.file << ": " << (inner ? "" : inner.error().reason));
            out.push_back({*m, std::move(*inner)});
            continue;
        }
        auto st = reasm.add(*m, cm.bytes, ciph);
        BOOST_REQUIRE_MESSAGE(st, cm.file << ": " << (st ? "" : st.error().reason));
        if (*st == sa::Reassembler::Status::Complete)
            out.push_back({*m, reasm.take()});
        else
            BOOST_TEST((*st == sa::Reassembler::Status::Incomplete));
    }
    return out;
}

Bytes id_body(const wire::Payload& p) {
    Bytes b;
    wire::Writer w(b);
    wire::serialize_body(w, p.body);
    return b;
}

const wire::Payload& need(const std::vector<wire::Payload>& ps, PayloadType t) {
    const wire::Payload* p = wire::find_payload(ps, t);
    BOOST_REQUIRE_MESSAGE(p, "missing " << to_string(t));
    return *p;
}

std::string hex(const crypto::Secret& s) {
    return to_hex(s.view());
}

void check_keys(const Capture& c, const crypto::IkeKeys& k) {
    BOOST_TEST(hex(k.sk_d) == c.text("SK_d"));
    BOOST_TEST(hex(k.sk_ei) == c.text("SK_ei"));
    BOOST_TEST(hex(k.sk_er) == c.text("SK_er"));
    BOOST_TEST(hex(k.sk_pi) == c.text("SK_pi"));
    BOOST_TEST(hex(k.sk_pr) == c.text("SK_pr"));
    if (c.keys.count("SK_ai")) {
        BOOST_TEST(hex(k.sk_ai) == c.text("SK_ai"));
        BOOST_TEST(hex(k.sk_ar) == c.text("SK_ar"));
    } else {
        BOOST_TEST(k.sk_ai.empty());
    }
}

void check_child_keys(const Capture& c, const Scenario& s, const crypto::IkeKeys& k) {
    auto lengths = crypto::child_key_lengths(s.esp_encr, s.esp_bits, s.esp_integ);
    BOOST_REQUIRE(lengths);
    auto ck = crypto::derive_child_keys(s.ike.prf, k.sk_d, {}, c.key("Ni"), c.key("Nr"), *lengths);
    BOOST_REQUIRE_MESSAGE(ck, (ck ? "" : ck.error()));
    BOOST_TEST(hex(ck->encr_i) == c.text("ESP_encr_i"));
    BOOST_TEST(hex(ck->encr_r) == c.text("ESP_encr_r"));
    if (c.keys.count("ESP_integ_i")) {
        BOOST_TEST(hex(ck->integ_i) == c.text("ESP_integ_i"));
        BOOST_TEST(hex(ck->integ_r) == c.text("ESP_integ_r"));
    }
}

// The octets each side signed (RFC 7296 §2.15): its own IKE_SA_INIT message, the peer's
// nonce, prf(SK_p, ID').
struct Octets {
    Bytes initiator, responder;
};

Octets signed_octets(const Capture& c, const Scenario& s, const crypto::IkeKeys& k,
                     const Opened& auth_req, const Opened& auth_resp) {
    Octets o;
    auto oi = crypto::signed_octets(s.ike.prf, c.at(s.init_request).bytes, c.key("Nr"), k.sk_pi,
                                    id_body(need(auth_req.inner, PayloadType::IDi)));
    auto orr = crypto::signed_octets(s.ike.prf, c.at(s.init_request + 1).bytes, c.key("Ni"),
                                     k.sk_pr, id_body(need(auth_resp.inner, PayloadType::IDr)));
    BOOST_REQUIRE(oi);
    BOOST_REQUIRE(orr);
    BOOST_TEST(to_hex(*oi) == c.text("AUTH_octets_i"));
    BOOST_TEST(to_hex(*orr) == c.text("AUTH_octets_r"));
    o.initiator = *oi;
    o.responder = *orr;
    return o;
}

crypto::PublicKey cert_key(const std::string& pem) {
    BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
    X509* x = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
    BIO_free(bio);
    BOOST_REQUIRE(x);
    unsigned char* der = nullptr;
    int n = i2d_PUBKEY(X509_get0_pubkey(x), &der);
    X509_free(x);
    BOOST_REQUIRE(n > 0);
    auto key = crypto::PublicKey::from_der(ByteView(der, static_cast<std::size_t>(n)));
    OPENSSL_free(der);
    BOOST_REQUIRE_MESSAGE(key, (key ? "" : key.error()));
    return std::move(*key);
}

void check_rules(const std::vector<Opened>& all) {
    for (const auto& o : all) {
        auto r = wire::check(o.outer.header.exchange, o.outer.header.response, o.outer.payloads,
                             o.inner);
        BOOST_TEST(r.has_value(), wire::describe(o.outer.header, o.inner)
                                      << ": " << (r ? "" : r.error().reason));
    }
}

}  // namespace

BOOST_AUTO_TEST_SUITE(strongswan_captures)

BOOST_AUTO_TEST_CASE(psk_gcm_x25519) {
    const Scenario& s = kPskGcm;
    Capture c = load_capture(s.name);
    auto k = derive(c, s);
    check_keys(c, k);

    auto all = open_all(c, s, k);
    BOOST_REQUIRE_EQUAL(all.size(), 6u);
    check_rules(all);
    BOOST_TEST(wire::describe(all[2].outer.header, all[2].inner).find("IKE_AUTH request 1 [ IDi") ==
               0);

    // The responder assigned 10.99.0.1 in its CP reply.
    const auto* cp = need(all[3].inner, PayloadType::CP).get<wire::CpPayload>();
    BOOST_REQUIRE(cp);
    BOOST_TEST((cp->type == CfgType::CFG_REPLY));
    bool found = false;
    for (const auto& a : cp->attributes)
        found |= a.type == CfgAttribute::INTERNAL_IP4_ADDRESS && to_hex(a.value) == "0a630001";
    BOOST_TEST(found);

    // PSK AUTH of both sides verifies with our octets; a wrong PSK does not.
    auto oct = signed_octets(c, s, k, all[2], all[3]);
    Bytes psk = c.key("psk");
    const auto* ai = need(all[2].inner, PayloadType::AUTH).get<wire::AuthPayload>();
    const auto* ar = need(all[3].inner, PayloadType::AUTH).get<wire::AuthPayload>();
    BOOST_TEST((ai->method == AuthMethod::SHARED_KEY_MIC));
    BOOST_TEST(crypto::verify_psk_auth(s.ike.prf, psk, oct.initiator, ai->data).has_value());
    BOOST_TEST(crypto::verify_psk_auth(s.ike.prf, psk, oct.responder, ar->data).has_value());
    BOOST_TEST(to_hex(ai->data) == c.text("AUTH_psk_i"));
    Bytes wrong = psk;
    wrong.back() ^= 1;
    BOOST_TEST(!crypto::verify_psk_auth(s.ike.prf, wrong, oct.initiator, ai->data).has_value());

    // `swanctl --terminate --ike`: the INFORMATIONAL request deletes the IKE SA itself
    // (protocol IKE, no SPIs, §3.11); the response is empty.
    const auto* d = need(all[4].inner, PayloadType::D).get<wire::DeletePayload>();
    BOOST_REQUIRE(d);
    BOOST_TEST((d->protocol == ProtocolId::IKE));
    BOOST_TEST(d->spis.empty());
    BOOST_TEST(all[5].inner.empty());

    check_child_keys(c, s, k);
}

BOOST_AUTO_TEST_CASE(psk_gcm_reseal_is_byte_exact) {
    // AEAD adds no padding in strongSwan's messages, so re-sealing the decrypted payloads with
    // the IV charon chose must give back charon's exact datagram: header, lengths, AAD, tag.
    const Scenario& s = kPskGcm;
    Capture c = load_capture(s.name);
    auto k = derive(c, s);
    auto ci = cipher(s, k.sk_ei, k.sk_ai);
    auto cr = cipher(s, k.sk_er, k.sk_ar);
    for (const auto& cm : c.messages) {
        auto m = wire::parse_message(cm.bytes);
        BOOST_REQUIRE(m);
        if (!m->encrypted()) continue;
        const auto& ciph = cm.from_initiator() ? ci : cr;
        auto inner = sa::open_message(*m, cm.bytes, ciph);
        BOOST_REQUIRE(inner);
        auto spans = wire::protected_spans(*m, cm.bytes);
        Bytes iv(spans->body.begin(), spans->body.begin() + ciph.iv_size());
        std::vector<wire::Payload> outer(m->payloads.begin(), m->payloads.end() - 1);
        auto again = sa::seal_message(m->header, outer, *inner, ciph, [&](MutableByteView out) {
            std::copy(iv.begin(), iv.end(), out.begin());
        });
        BOOST_REQUIRE(again);
        BOOST_TEST(to_hex(*again) == to_hex(cm.bytes), cm.file);
    }
}

BOOST_AUTO_TEST_CASE(cert_cbc_fragments_and_rsa_signatures) {
    const Scenario& s = kCertCbc;
    Capture c = load_capture(s.name);
    auto k = derive(c, s);
    check_keys(c, k);

    // 10 datagrams: 2 IKE_SA_INIT, 3 + 3 SKF fragments, 2 INFORMATIONAL.
    auto all = open_all(c, s, k);
    BOOST_REQUIRE_EQUAL(all.size(), 6u);
    check_rules(all);
    const auto& req = all[2];
    const auto& resp = all[3];
    BOOST_TEST(wire::count_payloads(req.inner, PayloadType::CERT) == 1u);
    BOOST_TEST(wire::count_payloads(resp.inner, PayloadType::CERT) == 1u);

    auto oct = signed_octets(c, s, k, req, resp);
    const auto* ai = need(req.inner, PayloadType::AUTH).get<wire::AuthPayload>();
    const auto* ar = need(resp.inner, PayloadType::AUTH).get<wire::AuthPayload>();
    BOOST_TEST((ai->method == AuthMethod::DIGITAL_SIGNATURE));
    auto moon = cert_key(c.read("moonCert.pem"));
    auto sun = cert_key(c.read("sunCert.pem"));
    auto vi = crypto::verify_auth(ai->method, moon, oct.initiator, ai->data);
    BOOST_TEST(vi.has_value(), (vi ? "" : vi.error()));
    auto vr = crypto::verify_auth(ar->method, sun, oct.responder, ar->data);
    BOOST_TEST(vr.has_value(), (vr ? "" : vr.error()));
    // Swapped keys or octets must fail.
    BOOST_TEST(!crypto::verify_auth(ai->method, sun, oct.initiator, ai->data).has_value());
    BOOST_TEST(!crypto::verify_auth(ai->method, moon, oct.responder, ai->data).has_value());

    check_child_keys(c, s, k);
}

BOOST_AUTO_TEST_CASE(cert_cbc_fragment_tampering_is_caught) {
    const Scenario& s = kCertCbc;
    Capture c = load_capture(s.name);
    auto k = derive(c, s);
    auto ci = cipher(s, k.sk_ei, k.sk_ai);
    // Flip one bit in the ciphertext of fragment 2/3: the fragment fails its ICV and is
    // dropped; fragments 1 and 3 alone never complete the message.
    sa::Reassembler reasm;
    for (std::size_t i = 2; i <= 4; ++i) {
        Bytes b = c.at(i).bytes;
        if (i == 3) b[b.size() - 20] ^= 0x01;
        auto m = wire::parse_message(b);
        BOOST_REQUIRE(m);
        auto st = reasm.add(*m, b, ci);
        if (i == 3) {
            BOOST_REQUIRE(!st);
            BOOST_TEST((st.error().kind == sa::OpenError::Kind::Integrity));
        } else {
            BOOST_REQUIRE(st);
            BOOST_TEST((*st == sa::Reassembler::Status::Incomplete));
        }
    }
    BOOST_TEST(reasm.received() == 2u);
}

BOOST_AUTO_TEST_CASE(modp2048_after_invalid_ke) {
    const Scenario& s = kModp;
    Capture c = load_capture(s.name);
    // 01: N(INVALID_KE_PAYLOAD) with the group the responder wants (14), no SPIr.
    auto m1 = wire::parse_message(c.at(1).bytes);
    BOOST_REQUIRE(m1);
    const auto* n = wire::find_notify(m1->payloads, NotifyType::INVALID_KE_PAYLOAD);
    BOOST_REQUIRE(n);
    BOOST_TEST(to_hex(n->data) == "000e");
    BOOST_TEST(m1->header.responder_spi.value() == 0u);
    BOOST_TEST(wire::check(ExchangeType::IKE_SA_INIT, true, m1->payloads).has_value());

    auto k = derive(c, s);
    check_keys(c, k);
    auto all = open_all(c, s, k);
    BOOST_REQUIRE_EQUAL(all.size(), 8u);
    check_rules(all);
    auto oct = signed_octets(c, s, k, all[4], all[5]);
    Bytes psk = c.key("psk");
    const auto* ai = need(all[4].inner, PayloadType::AUTH).get<wire::AuthPayload>();
    const auto* ar = need(all[5].inner, PayloadType::AUTH).get<wire::AuthPayload>();
    BOOST_TEST(crypto::verify_psk_auth(s.ike.prf, psk, oct.initiator, ai->data).has_value());
    BOOST_TEST(crypto::verify_psk_auth(s.ike.prf, psk, oct.responder, ar->data).has_value());
    check_child_keys(c, s, k);
}

BOOST_AUTO_TEST_SUITE_END()
