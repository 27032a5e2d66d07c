// Whole-message SK protection and SKF fragmentation (ike/sa/protection.hpp), with synthetic
// messages and fixed keys for each kind of cipher we negotiate:
//
//   HDR, [N(...), V,] SK { IDi, AUTH, N(...) }  -->  seal_message / open_message
//   HDR, SKF(1/N) { ... }, ..., HDR, SKF(N/N) { ... }  -->  seal_fragments, Reassembler
//
// The real-world counterpart (strongSwan captures) is strongswan_captures_test.cpp.

#include <algorithm>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include <boost/test/data/monomorphic.hpp>
#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>

#include "ike/crypto/keys.hpp"
#include "ike/crypto/sk.hpp"
#include "ike/sa/protection.hpp"
#include "ike/sa/reassembly.hpp"
#include "ike/wire/message.hpp"

using namespace postern;
using namespace postern::ike;
namespace bdata = boost::unit_test::data;

namespace {

struct Suite {
    const char* name;
    EncrId encr;
    std::uint16_t bits;
    IntegId integ;
};

std::ostream& operator<<(std::ostream& os, const Suite& s) {
    return os << s.name;
}

const Suite kSuites[] = {
    {"AES-GCM-16-256", EncrId::ENCR_AES_GCM_16, 256, IntegId::AUTH_NONE},
    {"ChaCha20-Poly1305", EncrId::ENCR_CHACHA20_POLY1305, 0, IntegId::AUTH_NONE},
    {"AES-CBC-256/HMAC-SHA2-256-128", EncrId::ENCR_AES_CBC, 256, IntegId::AUTH_HMAC_SHA2_256_128},
};

// Fixed keys of exactly the lengths the transforms need; `seed` varies them.
crypto::SkCipher make_cipher(const Suite& s, std::uint8_t seed = 0x10) {
    auto lens = crypto::ike_key_lengths({PrfId::PRF_HMAC_SHA2_256, s.encr, s.bits, s.integ});
    BOOST_REQUIRE_MESSAGE(lens, (lens ? "" : lens.error()));
    Bytes e(lens->sk_e), a(lens->sk_a);
    for (std::size_t i = 0; i < e.size(); ++i)
        e[i] = static_cast<std::uint8_t>(seed + i);
    for (std::size_t i = 0; i < a.size(); ++i)
        a[i] = static_cast<std::uint8_t>(0xa0 ^ (seed + i));
    auto c = crypto::SkCipher::create(s.encr, s.bits, s.integ, crypto::Secret(ByteView(e)),
                                      crypto::Secret(ByteView(a)));
    BOOST_REQUIRE_MESSAGE(c, (c ? "" : c.error()));
    return std::move(*c);
}

// Every IV octet is `fill`: deterministic, so two seals are comparable.
crypto::IvSource fixed_iv(std::uint8_t fill) {
    return [fill](MutableByteView iv) { std::fill(iv.begin(), iv.end(), fill); };
}

wire::Header auth_header() {
    wire::Header h;
    h.initiator_spi = IkeSpi(0x0102030405060708);
    h.responder_spi = IkeSpi(0x1112131415161718);
    h.exchange = ExchangeType::IKE_AUTH;
    h.initiator = true;
    h.message_id = MessageId(1);
    return h;
}

Bytes pattern(std::size_t n, std::uint8_t start) {
    Bytes b(n);
    for (std::size_t i = 0; i < n; ++i)
        b[i] = static_cast<std::uint8_t>(start + i * 7);
    return b;
}

// IDi, AUTH, N(INITIAL_CONTACT), V: an IKE_AUTH request's inner payloads (any size via
// `vendor_len`).
std::vector<wire::Payload> auth_inner(std::size_t vendor_len = 20) {
    std::vector<wire::Payload> v;
    v.push_back({PayloadType::IDi, false,
                 wire::IdPayload{IdType::ID_FQDN, Bytes{'c', 'a', 'r', 'o', 'l'}}});
    v.push_back(
        {PayloadType::AUTH, false, wire::AuthPayload{AuthMethod::SHARED_KEY_MIC, pattern(32, 3)}});
    v.push_back(wire::make_notify(NotifyType::INITIAL_CONTACT));
    v.push_back({PayloadType::V, false, wire::VendorIdPayload{pattern(vendor_len, 9)}});
    return v;
}

// Unencrypted payloads before SK: N(COOKIE-like notify), V.
std::vector<wire::Payload> outer_payloads() {
    std::vector<wire::Payload> v;
    v.push_back(wire::make_notify(NotifyType::NAT_DETECTION_SOURCE_IP, pattern(20, 1)));
    v.push_back({PayloadType::V, false, wire::VendorIdPayload{pattern(16, 5)}});
    return v;
}

std::string kind_name(sa::OpenError::Kind k) {
    switch (k) {
        case sa::OpenError::Kind::NotProtected:
            return "NotProtected";
        case sa::OpenError::Kind::Integrity:
            return "Integrity";
        case sa::OpenError::Kind::Syntax:
            return "Syntax";
    }
    return "?";
}

std::uint32_t header_length(const Bytes& d) {
    return std::uint32_t{d[24]} << 24 | std::uint32_t{d[25]} << 16 | std::uint32_t{d[26]} << 8 |
           d[27];
}

// Parses `d` (which must be well-formed) and opens it as a whole message.
std::vector<wire::Payload> parse_and_open(const Bytes& d, const crypto::SkCipher& c,
                                          wire::Message* outer = nullptr) {
    auto m = wire::parse_message(d);
    BOOST_REQUIRE_MESSAGE(m, (m ? "" : m.error().reason));
    BOOST_TEST(m->header.length == d.size());
    BOOST_TEST(header_length(d) == d.size());
    auto inner = sa::open_message(*m, d, c);
    BOOST_REQUIRE_MESSAGE(inner, (inner ? "" : inner.error().reason));
    if (outer) *outer = *m;
    return std::move(*inner);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(protection)

// HDR, SK { IDi, AUTH, N(INITIAL_CONTACT), V }  -->  and back.
BOOST_DATA_TEST_CASE(seal_open_round_trip, bdata::make(kSuites), suite) {
    const auto c = make_cipher(suite);
    const auto inner = auth_inner();
    auto sealed = sa::seal_message(auth_header(), {}, inner, c, fixed_iv(0x42));
    BOOST_REQUIRE_MESSAGE(sealed, (sealed ? "" : sealed.error()));

    wire::Message m;
    BOOST_TEST((parse_and_open(*sealed, c, &m) == inner));
    BOOST_REQUIRE(m.payloads.size() == 1u);
    BOOST_TEST((m.header.next_payload == PayloadType::SK));
    BOOST_TEST((m.header.exchange == ExchangeType::IKE_AUTH));
    BOOST_TEST(m.header.message_id.value() == 1u);
    const auto* sk = m.payloads[0].get<wire::EncryptedPayload>();
    BOOST_REQUIRE(sk);
    BOOST_TEST((sk->inner_first == PayloadType::IDi));
    BOOST_TEST(sk->body.size() == c.body_length(wire::serialize_payload_chain(inner).size()));
    // The plaintext does not appear in the datagram.
    const Bytes auth_data = pattern(32, 3);
    BOOST_TEST((std::search(sealed->begin(), sealed->end(), auth_data.begin(), auth_data.end()) ==
                sealed->end()));
}

// HDR, N(NAT_DETECTION_SOURCE_IP), V, SK { IDi, AUTH, N, V }  -->
// The outer payloads stay in clear, chained to SK, and are covered by the ICV.
BOOST_DATA_TEST_CASE(seal_open_with_outer_payloads, bdata::make(kSuites), suite) {
    const auto c = make_cipher(suite);
    const auto inner = auth_inner();
    const auto outer = outer_payloads();
    auto sealed = sa::seal_message(auth_header(), outer, inner, c, fixed_iv(7));
    BOOST_REQUIRE_MESSAGE(sealed, (sealed ? "" : sealed.error()));

    wire::Message m;
    BOOST_TEST((parse_and_open(*sealed, c, &m) == inner));
    BOOST_REQUIRE(m.payloads.size() == 3u);
    BOOST_TEST((m.header.next_payload == PayloadType::N));
    BOOST_TEST((m.payloads[0] == outer[0]));
    BOOST_TEST((m.payloads[1] == outer[1]));
    BOOST_TEST((m.payloads[2].type == PayloadType::SK));
    BOOST_TEST((m.encrypted() == &m.payloads[2]));
}

// HDR, SK {}  -->  (e.g. an empty INFORMATIONAL response, a liveness check)
BOOST_DATA_TEST_CASE(seal_open_empty_inner, bdata::make(kSuites), suite) {
    const auto c = make_cipher(suite);
    auto h = auth_header();
    h.exchange = ExchangeType::INFORMATIONAL;
    h.response = true;
    auto sealed = sa::seal_message(h, {}, {}, c, fixed_iv(1));
    BOOST_REQUIRE_MESSAGE(sealed, (sealed ? "" : sealed.error()));
    BOOST_TEST(parse_and_open(*sealed, c).empty());
    auto m = wire::parse_message(*sealed);
    BOOST_REQUIRE(m);
    BOOST_TEST(
        (m->encrypted()->template get<wire::EncryptedPayload>()->inner_first == PayloadType::NONE));
}

// The other direction's keys (or the wrong SA) do not open the message.
BOOST_DATA_TEST_CASE(wrong_key_is_integrity, bdata::make(kSuites), suite) {
    const auto c = make_cipher(suite, 0x10);
    const auto other = make_cipher(suite, 0x11);
    auto sealed = sa::seal_message(auth_header(), {}, auth_inner(), c, fixed_iv(3));
    BOOST_REQUIRE(sealed);
    auto m = wire::parse_message(*sealed);
    BOOST_REQUIRE(m);
    auto r = sa::open_message(*m, *sealed, other);
    BOOST_REQUIRE(!r);
    BOOST_TEST(kind_name(r.error().kind) == "Integrity");
}

// Same IV source, same keys, same content: byte-identical; another IV: a different datagram
// (same length) that still opens to the same content.
BOOST_DATA_TEST_CASE(deterministic_iv, bdata::make(kSuites), suite) {
    const auto c = make_cipher(suite);
    const auto inner = auth_inner();
    const auto outer = outer_payloads();
    auto a = sa::seal_message(auth_header(), outer, inner, c, fixed_iv(0x55));
    auto b = sa::seal_message(auth_header(), outer, inner, c, fixed_iv(0x55));
    auto d = sa::seal_message(auth_header(), outer, inner, c, fixed_iv(0x56));
    BOOST_REQUIRE(a);
    BOOST_REQUIRE(b);
    BOOST_REQUIRE(d);
    BOOST_TEST((*a == *b));
    BOOST_TEST(a->size() == d->size());
    BOOST_TEST((*a != *d));
    // The IV is written right after the SK header, as the source produced it.
    const std::size_t iv_at =
        a->size() - c.body_length(wire::serialize_payload_chain(inner).size());
    for (std::size_t i = 0; i < c.iv_size(); ++i) {
        BOOST_TEST((*a)[iv_at + i] == 0x55);
        BOOST_TEST((*d)[iv_at + i] == 0x56);
    }
    BOOST_TEST((parse_and_open(*d, c) == inner));

    // The default source draws random IVs: two seals differ.
    auto r1 = sa::seal_message(auth_header(), outer, inner, c);
    auto r2 = sa::seal_message(auth_header(), outer, inner, c);
    BOOST_REQUIRE(r1);
    BOOST_REQUIRE(r2);
    BOOST_TEST((*r1 != *r2));
    BOOST_TEST((parse_and_open(*r1, c) == inner));
}

// HDR, N, V, SK { IDi, AUTH, N, V } with any one bit flipped  -->  refused.
// Every octet is either header, outer payloads and SK header (associated data) or the SK body
// (IV, ciphertext, ICV), so every flip either breaks the parse or fails the ICV. Flipping the
// SK type itself (46) turns the last payload into something else: then there is no SK at all.
BOOST_DATA_TEST_CASE(every_bit_flip_is_caught, bdata::make(kSuites), suite) {
    const auto c = make_cipher(suite);
    const auto inner = auth_inner();
    auto sealed = sa::seal_message(auth_header(), outer_payloads(), inner, c, fixed_iv(9));
    BOOST_REQUIRE(sealed);
    std::size_t parse_errors = 0, integrity = 0, not_protected = 0, opened = 0, syntax = 0;
    for (std::size_t bit = 0; bit < sealed->size() * 8; ++bit) {
        Bytes d = *sealed;
        d[bit / 8] ^= static_cast<std::uint8_t>(1u << (bit % 8));
        auto m = wire::parse_message(d);
        if (!m) {
            ++parse_errors;
            continue;
        }
        auto r = sa::open_message(*m, d, c);
        if (r) {
            ++opened;
            BOOST_ERROR("bit " << bit << " (octet " << bit / 8 << ") flipped: still opens");
        } else if (r.error().kind == sa::OpenError::Kind::Integrity) {
            ++integrity;
        } else if (r.error().kind == sa::OpenError::Kind::NotProtected) {
            ++not_protected;
            // Only if the last payload is no longer SK.
            BOOST_TEST(!m->encrypted());
        } else {
            ++syntax;
            BOOST_ERROR("bit " << bit << " flipped: decrypted, then " << r.error().reason);
        }
    }
    BOOST_TEST(opened == 0u);
    BOOST_TEST(syntax == 0u);
    BOOST_TEST(parse_errors + integrity + not_protected == sealed->size() * 8);
    // Every body bit at least reaches the ICV check.
    BOOST_TEST(integrity >= c.body_length(wire::serialize_payload_chain(inner).size()) * 8);
    BOOST_TEST_MESSAGE(suite.name << ": " << parse_errors << " parse errors, " << integrity
                                  << " integrity, " << not_protected << " not protected");
}

// HDR, N, V  -->  (no SK at all): nothing to open.
BOOST_AUTO_TEST_CASE(no_sk_is_not_protected) {
    const auto c = make_cipher(kSuites[0]);
    wire::Message plain{auth_header(), outer_payloads()};
    const Bytes d = wire::serialize(plain);
    auto m = wire::parse_message(d);
    BOOST_REQUIRE(m);
    auto r = sa::open_message(*m, d, c);
    BOOST_REQUIRE(!r);
    BOOST_TEST(kind_name(r.error().kind) == "NotProtected");

    // Nor with an empty payload list.
    wire::Message empty{auth_header(), {}};
    const Bytes e = wire::serialize(empty);
    auto me = wire::parse_message(e);
    BOOST_REQUIRE(me);
    auto re = sa::open_message(*me, e, c);
    BOOST_REQUIRE(!re);
    BOOST_TEST(kind_name(re.error().kind) == "NotProtected");
}

// HDR, SKF(1/1) { IDi, AUTH, N, V }  -->  a fragment, even a lone 1/1, is the Reassembler's:
// open_message refuses it rather than treating SKF as SK.
BOOST_AUTO_TEST_CASE(skf_is_not_opened_as_sk) {
    const auto c = make_cipher(kSuites[0]);
    auto frags = sa::seal_fragments(auth_header(), auth_inner(), c, 4000, fixed_iv(2));
    BOOST_REQUIRE(frags);
    BOOST_REQUIRE_EQUAL(frags->size(), 1u);
    auto m = wire::parse_message(frags->front());
    BOOST_REQUIRE(m);
    auto r = sa::open_message(*m, frags->front(), c);
    BOOST_REQUIRE(!r);
    BOOST_TEST(kind_name(r.error().kind) == "NotProtected");
}

// HDR, SK { N(len=40 but only 8 octets there) }  -->  the ICV is valid (we sealed it), but
// the decrypted chain is malformed: Syntax with the parser's error, so the responder answers
// INVALID_SYNTAX (RFC 7296 §2.21.2).
BOOST_DATA_TEST_CASE(malformed_inner_chain_is_syntax, bdata::make(kSuites), suite) {
    const auto c = make_cipher(suite);
    // Generic header: Next Payload NONE, flags 0, Payload Length 40; then 4 body octets.
    const Bytes bad_plain = {0, 0, 0, 40, 0, 0, 0, 0};
    Bytes d =
        wire::build_sk_prefix(auth_header(), {}, PayloadType::N, c.body_length(bad_plain.size()));
    auto body = c.seal(d, bad_plain, fixed_iv(4));
    BOOST_REQUIRE(body);
    d.insert(d.end(), body->begin(), body->end());

    auto m = wire::parse_message(d);
    BOOST_REQUIRE_MESSAGE(m, (m ? "" : m.error().reason));
    auto r = sa::open_message(*m, d, c);
    BOOST_REQUIRE(!r);
    BOOST_TEST(kind_name(r.error().kind) == "Syntax");
    BOOST_TEST((r.error().parse.notify == NotifyType::INVALID_SYNTAX));
    BOOST_TEST(!r.error().parse.reason.empty());
    BOOST_TEST(r.error().reason.find("SK contents") != std::string::npos);
}

// HDR, SK { V } followed by trailing garbage inside the encryption: also Syntax.
BOOST_DATA_TEST_CASE(trailing_bytes_in_inner_chain_is_syntax, bdata::make(kSuites), suite) {
    const auto c = make_cipher(suite);
    std::vector<wire::Payload> one{{PayloadType::V, false, wire::VendorIdPayload{pattern(8, 1)}}};
    Bytes plain = wire::serialize_payload_chain(one);
    plain.push_back(0xee);
    Bytes d = wire::build_sk_prefix(auth_header(), {}, PayloadType::V, c.body_length(plain.size()));
    auto body = c.seal(d, plain, fixed_iv(4));
    BOOST_REQUIRE(body);
    d.insert(d.end(), body->begin(), body->end());
    auto m = wire::parse_message(d);
    BOOST_REQUIRE(m);
    auto r = sa::open_message(*m, d, c);
    BOOST_REQUIRE(!r);
    BOOST_TEST(kind_name(r.error().kind) == "Syntax");
}

// An inner chain too big for one SK payload (16-bit Payload Length) is an error, not a
// truncated length field.
BOOST_AUTO_TEST_CASE(seal_message_too_large) {
    const auto c = make_cipher(kSuites[0]);
    std::vector<wire::Payload> big;
    for (int i = 0; i < 3; ++i)
        big.push_back({PayloadType::V, false, wire::VendorIdPayload{pattern(30000, 1)}});
    auto sealed = sa::seal_message(auth_header(), {}, big, c, fixed_iv(1));
    BOOST_TEST(!sealed);

    // Just under the limit still works.
    std::vector<wire::Payload> fits{
        {PayloadType::V, false, wire::VendorIdPayload{pattern(60000, 1)}}};
    auto ok = sa::seal_message(auth_header(), {}, fits, c, fixed_iv(1));
    BOOST_REQUIRE_MESSAGE(ok, (ok ? "" : ok.error()));
    BOOST_TEST((parse_and_open(*ok, c) == fits));
}

BOOST_AUTO_TEST_SUITE_END()

// --- SKF fragmentation (RFC 7383) -------------------------------------------------------------

namespace {

struct Fragment {
    wire::Message m;
    Bytes datagram;
    const wire::EncryptedFragmentPayload& skf() const {
        return *m.payloads.back().get<wire::EncryptedFragmentPayload>();
    }
};

std::vector<Fragment> parse_fragments(const std::vector<Bytes>& datagrams) {
    std::vector<Fragment> out;
    for (const auto& d : datagrams) {
        auto m = wire::parse_message(d);
        BOOST_REQUIRE_MESSAGE(m, (m ? "" : m.error().reason));
        BOOST_REQUIRE(m->payloads.size() == 1u);
        BOOST_REQUIRE((m->payloads[0].type == PayloadType::SKF));
        BOOST_REQUIRE(m->payloads[0].get<wire::EncryptedFragmentPayload>());
        out.push_back({std::move(*m), d});
    }
    return out;
}

// Feeds the fragments in `order` (indices); all but the last must be Incomplete.
std::vector<wire::Payload> reassemble(const std::vector<Fragment>& frags,
                                      const std::vector<std::size_t>& order,
                                      const crypto::SkCipher& c) {
    sa::Reassembler r;
    for (std::size_t i = 0; i < order.size(); ++i) {
        const auto& f = frags[order[i]];
        auto s = r.add(f.m, f.datagram, c);
        BOOST_REQUIRE_MESSAGE(s, (s ? "" : s.error().reason));
        if (i + 1 < order.size()) {
            BOOST_REQUIRE(*s == sa::Reassembler::Status::Incomplete);
            BOOST_TEST(r.received() == i + 1);
        } else {
            BOOST_REQUIRE(*s == sa::Reassembler::Status::Complete);
        }
    }
    return r.take();
}

// Checks sizes, numbering and the §2.5 Next Payload rule.
void check_fragments(const std::vector<Bytes>& datagrams, std::size_t max_message,
                     PayloadType first) {
    const auto frags = parse_fragments(datagrams);
    const std::size_t n = frags.size();
    for (std::size_t i = 0; i < n; ++i) {
        BOOST_TEST(datagrams[i].size() <= max_message);
        BOOST_TEST(frags[i].m.header.length == datagrams[i].size());
        BOOST_TEST((frags[i].m.header.next_payload == PayloadType::SKF));
        BOOST_TEST(frags[i].skf().fragment_number == i + 1);
        BOOST_TEST(frags[i].skf().total_fragments == n);
        // RFC 7383 §2.5: fragment 1 names the first inner payload, the others carry 0.
        BOOST_TEST((frags[i].skf().inner_first == (i == 0 ? first : PayloadType::NONE)));
        BOOST_TEST((frags[i].m.header.exchange == ExchangeType::IKE_AUTH));
        BOOST_TEST(frags[i].m.header.message_id.value() == 1u);
    }
}

}  // namespace

BOOST_AUTO_TEST_SUITE(fragments)

// HDR, SKF(1/1) { IDi, AUTH, N, V }  -->  content that fits is still sent as SKF 1/1.
BOOST_DATA_TEST_CASE(one_fragment, bdata::make(kSuites), suite) {
    const auto c = make_cipher(suite);
    const auto inner = auth_inner();
    auto frags = sa::seal_fragments(auth_header(), inner, c, 1000, fixed_iv(2));
    BOOST_REQUIRE_MESSAGE(frags, (frags ? "" : frags.error()));
    BOOST_REQUIRE(frags->size() == 1u);
    check_fragments(*frags, 1000, PayloadType::IDi);
    BOOST_TEST((reassemble(parse_fragments(*frags), {0}, c) == inner));
}

// HDR, SKF(1/2) {...}  -->  HDR, SKF(2/2) {...}  -->
BOOST_DATA_TEST_CASE(two_fragments, bdata::make(kSuites), suite) {
    const auto c = make_cipher(suite);
    const auto inner = auth_inner(200);
    const std::size_t plain = wire::serialize_payload_chain(inner).size();
    // Room for a bit more than half of the content in each fragment.
    const std::size_t max_message = wire::kHeaderSize + 8 + c.body_length(plain / 2 + 20);
    auto frags = sa::seal_fragments(auth_header(), inner, c, max_message, fixed_iv(2));
    BOOST_REQUIRE_MESSAGE(frags, (frags ? "" : frags.error()));
    BOOST_REQUIRE(frags->size() == 2u);
    check_fragments(*frags, max_message, PayloadType::IDi);
    const auto parsed = parse_fragments(*frags);
    BOOST_TEST((reassemble(parsed, {0, 1}, c) == inner));
    BOOST_TEST((reassemble(parsed, {1, 0}, c) == inner));
}

// HDR, SKF(1/N) ... HDR, SKF(N/N) with N large, in order, reversed and shuffled.
BOOST_DATA_TEST_CASE(many_fragments, bdata::make(kSuites), suite) {
    const auto c = make_cipher(suite);
    const auto inner = auth_inner(1500);
    for (std::size_t max_message : {std::size_t{100}, std::size_t{133}, std::size_t{300}}) {
        BOOST_TEST_CONTEXT("max_message " << max_message) {
            auto frags = sa::seal_fragments(auth_header(), inner, c, max_message, fixed_iv(2));
            BOOST_REQUIRE_MESSAGE(frags, (frags ? "" : frags.error()));
            BOOST_TEST(frags->size() > 5u);
            check_fragments(*frags, max_message, PayloadType::IDi);
            // Fragments are as full as the cipher allows: all but the last at the limit for
            // AEAD; for CBC within one block of it.
            for (std::size_t i = 0; i + 1 < frags->size(); ++i)
                BOOST_TEST((*frags)[i].size() + c.block_size() > max_message);

            const auto parsed = parse_fragments(*frags);
            std::vector<std::size_t> order(parsed.size());
            for (std::size_t i = 0; i < order.size(); ++i)
                order[i] = i;
            BOOST_TEST((reassemble(parsed, order, c) == inner));
            std::reverse(order.begin(), order.end());
            BOOST_TEST((reassemble(parsed, order, c) == inner));
            std::mt19937 rng(static_cast<unsigned>(max_message));
            for (int round = 0; round < 5; ++round) {
                std::shuffle(order.begin(), order.end(), rng);
                BOOST_TEST((reassemble(parsed, order, c) == inner));
            }
        }
    }
}

// The joined fragment contents equal the serialized inner chain exactly, and each fragment's
// plaintext is as large as fits.
BOOST_DATA_TEST_CASE(fragment_count_matches_capacity, bdata::make(kSuites), suite) {
    const auto c = make_cipher(suite);
    const auto inner = auth_inner(700);
    const std::size_t plain = wire::serialize_payload_chain(inner).size();
    const std::size_t max_message = 200;
    const std::size_t chunk = c.max_plaintext(max_message - wire::kHeaderSize - 8);
    BOOST_REQUIRE(chunk > 0u);
    auto frags = sa::seal_fragments(auth_header(), inner, c, max_message, fixed_iv(2));
    BOOST_REQUIRE(frags);
    BOOST_TEST(frags->size() == (plain + chunk - 1) / chunk);
    // Same IV source: fragmentation is deterministic too.
    auto again = sa::seal_fragments(auth_header(), inner, c, max_message, fixed_iv(2));
    BOOST_REQUIRE(again);
    BOOST_TEST((*again == *frags));
}

// A fragment is authenticated on its own, fragment number and total included: a flipped bit
// anywhere in a fragment never yields a changed reassembly.
BOOST_DATA_TEST_CASE(fragment_bit_flips_are_caught, bdata::make(kSuites), suite) {
    const auto c = make_cipher(suite);
    auto frags = sa::seal_fragments(auth_header(), auth_inner(100), c, 120, fixed_iv(2));
    BOOST_REQUIRE(frags);
    BOOST_REQUIRE(frags->size() >= 2u);
    const Bytes& orig = (*frags)[1];
    for (std::size_t bit = 0; bit < orig.size() * 8; ++bit) {
        Bytes d = orig;
        d[bit / 8] ^= static_cast<std::uint8_t>(1u << (bit % 8));
        auto m = wire::parse_message(d);
        if (!m) continue;
        sa::Reassembler r;
        auto s = r.add(*m, d, c);
        if (s) BOOST_ERROR("bit " << bit << " flipped: fragment accepted");
        BOOST_TEST(r.received() == 0u);
    }
}

// seal_fragments refuses a size that leaves no room for a single octet of content.
BOOST_DATA_TEST_CASE(max_message_too_small, bdata::make(kSuites), suite) {
    const auto c = make_cipher(suite);
    const auto inner = auth_inner();
    for (std::size_t m : {std::size_t{0}, std::size_t{28}, std::size_t{36},
                          wire::kHeaderSize + 8 + c.iv_size() + c.icv_size()}) {
        BOOST_TEST_CONTEXT("max_message " << m) {
            BOOST_TEST(!sa::seal_fragments(auth_header(), inner, c, m, fixed_iv(1)));
        }
    }
    // The smallest size that works carries the least content per fragment the cipher allows.
    std::size_t smallest = wire::kHeaderSize + 8 + c.iv_size() + c.icv_size();
    while (c.max_plaintext(smallest - wire::kHeaderSize - 8) == 0)
        ++smallest;
    auto frags = sa::seal_fragments(auth_header(), inner, c, smallest, fixed_iv(1));
    BOOST_REQUIRE_MESSAGE(frags, (frags ? "" : frags.error()));
    check_fragments(*frags, smallest, PayloadType::IDi);
    std::vector<std::size_t> order(frags->size());
    for (std::size_t i = 0; i < order.size(); ++i)
        order[i] = i;
    if (frags->size() <= sa::Reassembler::kMaxFragments)
        BOOST_TEST((reassemble(parse_fragments(*frags), order, c) == inner));
}

// Content needing more than 65535 fragments is refused.
BOOST_AUTO_TEST_CASE(too_many_fragments) {
    const auto c = make_cipher(kSuites[0]);
    std::vector<wire::Payload> big;
    for (int i = 0; i < 3; ++i)
        big.push_back({PayloadType::V, false, wire::VendorIdPayload{pattern(60000, 1)}});
    // AES-GCM: 8 IV + 16 ICV + 1 pad length: a 62-octet fragment carries one octet.
    auto frags = sa::seal_fragments(auth_header(), big, c, 36 + 8 + 16 + 2, fixed_iv(1));
    BOOST_TEST(!frags);
}

// A max_message above what one SKF payload can describe still gives valid fragments (each
// within the 16-bit Payload Length).
BOOST_AUTO_TEST_CASE(huge_max_message) {
    const auto c = make_cipher(kSuites[2]);
    std::vector<wire::Payload> big;
    for (int i = 0; i < 3; ++i)
        big.push_back({PayloadType::V, false, wire::VendorIdPayload{pattern(30000, 1)}});
    auto frags = sa::seal_fragments(auth_header(), big, c, 1 << 20, fixed_iv(1));
    BOOST_REQUIRE_MESSAGE(frags, (frags ? "" : frags.error()));
    BOOST_TEST(frags->size() == 2u);
    // (More than the Reassembler's kMaxBytes: decrypt the fragments by hand.)
    Bytes joined;
    for (const auto& f : parse_fragments(*frags)) {
        BOOST_TEST(f.datagram.size() <= 0xffffu + wire::kHeaderSize);
        auto spans = wire::protected_spans(f.m, f.datagram);
        BOOST_REQUIRE(spans);
        auto part = c.open(spans->associated_data, spans->body);
        BOOST_REQUIRE_MESSAGE(part, (part ? "" : part.error()));
        joined.insert(joined.end(), part->begin(), part->end());
    }
    BOOST_TEST((joined == wire::serialize_payload_chain(big)));
}

BOOST_AUTO_TEST_SUITE_END()
