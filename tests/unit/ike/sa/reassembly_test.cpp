// RFC 7383 §2.6 reassembly (ike/sa/reassembly.hpp): fragments sealed by seal_fragments (or by
// hand, for malformed content), fed to a Reassembler in the orders and combinations a network
// and an attacker can produce:
//
//   HDR, SKF(1/3) { IDi, AUTH, ... }  -->  Incomplete
//   HDR, SKF(1/3) again               -->  Duplicate
//   HDR, SKF(2/2) (older, smaller)    -->  Stale
//   HDR, SKF(3/3) with a flipped bit  -->  Integrity, no slot taken
//   HDR, SKF(2/3), HDR, SKF(3/3)      -->  Complete, take() == { IDi, AUTH, ... }

#include <algorithm>
#include <cstdint>
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
using Status = sa::Reassembler::Status;
using Kind = sa::OpenError::Kind;

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

const Suite kGcm{"AES-GCM-16-256", EncrId::ENCR_AES_GCM_16, 256, IntegId::AUTH_NONE};
const Suite kCbc{"AES-CBC-256/HMAC-SHA2-256-128", EncrId::ENCR_AES_CBC, 256,
                 IntegId::AUTH_HMAC_SHA2_256_128};
const Suite kSuites[] = {
    kGcm,
    {"ChaCha20-Poly1305", EncrId::ENCR_CHACHA20_POLY1305, 0, IntegId::AUTH_NONE},
    kCbc,
};

crypto::SkCipher make_cipher(const Suite& s, std::uint8_t seed = 0x20) {
    auto lens = crypto::ike_key_lengths({PrfId::PRF_HMAC_SHA2_256, s.encr, s.bits, s.integ});
    BOOST_REQUIRE_MESSAGE(lens, (lens ? "" : lens.error()));
    Bytes e(lens->sk_e), a(lens->sk_a);
    for (std::size_t i = 0; i < e.size(); ++i)
        e[i] = static_cast<std::uint8_t>(seed + 3 * i);
    for (std::size_t i = 0; i < a.size(); ++i)
        a[i] = static_cast<std::uint8_t>(0x5a ^ (seed + i));
    auto c = crypto::SkCipher::create(s.encr, s.bits, s.integ, crypto::Secret(ByteView(e)),
                                      crypto::Secret(ByteView(a)));
    BOOST_REQUIRE_MESSAGE(c, (c ? "" : c.error()));
    return std::move(*c);
}

crypto::IvSource counter_iv() {
    return [n = std::uint8_t{0}](MutableByteView iv) mutable {
        ++n;
        for (std::size_t i = 0; i < iv.size(); ++i)
            iv[i] = static_cast<std::uint8_t>(n + i);
    };
}

wire::Header auth_response() {
    wire::Header h;
    h.initiator_spi = IkeSpi(0xa1a2a3a4a5a6a7a8);
    h.responder_spi = IkeSpi(0xb1b2b3b4b5b6b7b8);
    h.exchange = ExchangeType::IKE_AUTH;
    h.response = true;
    h.message_id = MessageId(1);
    return h;
}

Bytes pattern(std::size_t n, std::uint8_t start) {
    Bytes b(n);
    for (std::size_t i = 0; i < n; ++i)
        b[i] = static_cast<std::uint8_t>(start + i * 13);
    return b;
}

// IDr, CERT-sized V, AUTH, N(...)
std::vector<wire::Payload> auth_inner(std::size_t vendor_len = 600, std::uint8_t seed = 1) {
    std::vector<wire::Payload> v;
    v.push_back(
        {PayloadType::IDr, false, wire::IdPayload{IdType::ID_FQDN, Bytes{'m', 'o', 'o', 'n'}}});
    v.push_back({PayloadType::V, false, wire::VendorIdPayload{pattern(vendor_len, seed)}});
    v.push_back({PayloadType::AUTH, false,
                 wire::AuthPayload{AuthMethod::SHARED_KEY_MIC, pattern(32, seed + 1)}});
    v.push_back(wire::make_notify(NotifyType::ESP_TFC_PADDING_NOT_SUPPORTED));
    return v;
}

std::string kind_name(Kind k) {
    switch (k) {
        case Kind::NotProtected:
            return "NotProtected";
        case Kind::Integrity:
            return "Integrity";
        case Kind::Syntax:
            return "Syntax";
    }
    return "?";
}

std::string status_name(Status s) {
    switch (s) {
        case Status::Incomplete:
            return "Incomplete";
        case Status::Complete:
            return "Complete";
        case Status::Duplicate:
            return "Duplicate";
        case Status::Stale:
            return "Stale";
    }
    return "?";
}

struct Fragment {
    wire::Message m;
    Bytes datagram;
};

Fragment parse(Bytes d) {
    auto m = wire::parse_message(d);
    BOOST_REQUIRE_MESSAGE(m, (m ? "" : m.error().reason));
    return {std::move(*m), std::move(d)};
}

// Exactly `n` fragments: the largest max_message for which seal_fragments makes n.
std::vector<Fragment> fragment_into(std::size_t n, const std::vector<wire::Payload>& inner,
                                    const crypto::SkCipher& c) {
    const std::size_t plain = wire::serialize_payload_chain(inner).size();
    constexpr std::size_t kFixed = wire::kHeaderSize + 8;
    std::size_t found = 0;
    for (std::size_t mm = kFixed + 1; mm < kFixed + plain + 100; ++mm) {
        const std::size_t chunk = c.max_plaintext(mm - kFixed);
        if (chunk == 0) continue;
        if ((plain + chunk - 1) / chunk == n) found = mm;
    }
    BOOST_REQUIRE_MESSAGE(found != 0, "no max_message gives " << n << " fragments");
    auto frags = sa::seal_fragments(auth_response(), inner, c, found, counter_iv());
    BOOST_REQUIRE_MESSAGE(frags, (frags ? "" : frags.error()));
    BOOST_REQUIRE(frags->size() == n);
    std::vector<Fragment> out;
    for (auto& d : *frags)
        out.push_back(parse(std::move(d)));
    return out;
}

// Adds and expects a status.
void expect(sa::Reassembler& r, const Fragment& f, const crypto::SkCipher& c, Status want) {
    auto s = r.add(f.m, f.datagram, c);
    BOOST_REQUIRE_MESSAGE(s, (s ? "" : kind_name(s.error().kind) + ": " + s.error().reason));
    BOOST_TEST(status_name(*s) == status_name(want));
}

// Adds and expects an error.
void expect_error(sa::Reassembler& r, const Fragment& f, const crypto::SkCipher& c, Kind want) {
    auto s = r.add(f.m, f.datagram, c);
    BOOST_REQUIRE_MESSAGE(!s, "accepted: " << (s ? status_name(*s) : ""));
    BOOST_TEST(kind_name(s.error().kind) == kind_name(want));
}

Fragment flip(const Fragment& f, std::size_t octet, std::uint8_t mask) {
    Bytes d = f.datagram;
    d.at(octet) ^= mask;
    return parse(std::move(d));
}

// Fragments sealed by hand from an arbitrary plaintext split at `cuts` (for malformed
// content): SKF(i/N) { part i }, fragment 1 announcing `first`.
std::vector<Fragment> hand_fragments(ByteView plain, PayloadType first,
                                     const std::vector<std::size_t>& cuts,
                                     const crypto::SkCipher& c) {
    std::vector<std::size_t> bounds{0};
    bounds.insert(bounds.end(), cuts.begin(), cuts.end());
    bounds.push_back(plain.size());
    const auto total = static_cast<std::uint16_t>(bounds.size() - 1);
    std::vector<Fragment> out;
    for (std::uint16_t i = 0; i < total; ++i) {
        ByteView part = plain.subspan(bounds[i], bounds[i + 1] - bounds[i]);
        Bytes d = wire::build_skf_prefix(auth_response(), {}, i == 0 ? first : PayloadType::NONE,
                                         static_cast<std::uint16_t>(i + 1), total,
                                         c.body_length(part.size()));
        auto body = c.seal(d, part, counter_iv());
        BOOST_REQUIRE(body);
        d.insert(d.end(), body->begin(), body->end());
        out.push_back(parse(std::move(d)));
    }
    return out;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(reassembler)

// HDR, SKF(1/3)  -->  Incomplete
// HDR, SKF(1/3)  -->  Duplicate (a retransmission): ignored, nothing changes
// HDR, SKF(3/3), HDR, SKF(2/3)  -->  Complete
BOOST_DATA_TEST_CASE(duplicate_is_ignored, bdata::make(kSuites), suite) {
    const auto c = make_cipher(suite);
    const auto inner = auth_inner();
    const auto f = fragment_into(3, inner, c);
    sa::Reassembler r;
    BOOST_TEST(r.received() == 0u);
    BOOST_TEST(r.total() == 0u);
    expect(r, f[0], c, Status::Incomplete);
    BOOST_TEST(r.received() == 1u);
    BOOST_TEST(r.total() == 3u);
    expect(r, f[0], c, Status::Duplicate);
    BOOST_TEST(r.received() == 1u);
    expect(r, f[2], c, Status::Incomplete);
    expect(r, f[2], c, Status::Duplicate);
    BOOST_TEST(r.received() == 2u);
    expect(r, f[1], c, Status::Complete);
    BOOST_TEST((r.take() == inner));
}

// A retransmission fragmented for a smaller PMTU (3 fragments) is in progress; a late fragment
// of the earlier 2-fragment transmission arrives:
//   HDR, SKF(1/3)  -->  Incomplete
//   HDR, SKF(2/2)  -->  Stale (§2.6: fewer Total Fragments than seen): ignored
BOOST_DATA_TEST_CASE(smaller_total_is_stale, bdata::make(kSuites), suite) {
    const auto c = make_cipher(suite);
    const auto inner = auth_inner();
    const auto two = fragment_into(2, inner, c);
    const auto three = fragment_into(3, inner, c);
    sa::Reassembler r;
    expect(r, three[0], c, Status::Incomplete);
    expect(r, two[1], c, Status::Stale);
    expect(r, two[0], c, Status::Stale);
    BOOST_TEST(r.total() == 3u);
    BOOST_TEST(r.received() == 1u);
    expect(r, three[1], c, Status::Incomplete);
    expect(r, three[2], c, Status::Complete);
    BOOST_TEST((r.take() == inner));
}

//   HDR, SKF(1/2)  -->  Incomplete
//   HDR, SKF(2/3)  -->  a newer transmission with more fragments: restart, 1/2 dropped
//   HDR, SKF(2/2)  -->  now Stale
//   HDR, SKF(1/3), HDR, SKF(3/3)  -->  Complete
BOOST_DATA_TEST_CASE(larger_total_restarts, bdata::make(kSuites), suite) {
    const auto c = make_cipher(suite);
    const auto inner = auth_inner();
    const auto two = fragment_into(2, inner, c);
    const auto three = fragment_into(3, inner, c);
    sa::Reassembler r;
    expect(r, two[0], c, Status::Incomplete);
    BOOST_TEST(r.total() == 2u);
    BOOST_TEST(r.received() == 1u);
    expect(r, three[1], c, Status::Incomplete);
    BOOST_TEST(r.total() == 3u);
    BOOST_TEST(r.received() == 1u);  // only 2/3: the 1/2 fragment was dropped
    expect(r, two[1], c, Status::Stale);
    BOOST_TEST(r.received() == 1u);
    // 1/3 is new (not a Duplicate of the dropped 1/2).
    expect(r, three[0], c, Status::Incomplete);
    BOOST_TEST(r.received() == 2u);
    expect(r, three[2], c, Status::Complete);
    BOOST_TEST((r.take() == inner));
}

// The restart keeps only the newer transmission's content: old fragments of different
// content do not leak into the result.
BOOST_AUTO_TEST_CASE(restart_does_not_mix_contents) {
    const auto c = make_cipher(kGcm);
    const auto old_inner = auth_inner(600, 1);
    const auto new_inner = auth_inner(600, 77);
    const auto two = fragment_into(2, old_inner, c);
    const auto three = fragment_into(3, new_inner, c);
    sa::Reassembler r;
    expect(r, two[0], c, Status::Incomplete);
    expect(r, three[1], c, Status::Incomplete);
    expect(r, three[2], c, Status::Incomplete);
    expect(r, three[0], c, Status::Complete);
    BOOST_TEST((r.take() == new_inner));
}

//   HDR, SKF(1/3)                     -->  Incomplete
//   HDR, SKF(2/3) with a flipped bit  -->  Integrity: dropped, no slot taken
//   HDR, SKF(2/3)                     -->  the genuine one is accepted
// Also forged totals and numbers: they fail authentication before they can reset or fill
// anything.
BOOST_DATA_TEST_CASE(forged_fragment_takes_no_slot, bdata::make(kSuites), suite) {
    const auto c = make_cipher(suite);
    const auto inner = auth_inner();
    const auto f = fragment_into(3, inner, c);
    // SKF payload: header (28), generic header (4), Fragment Number (2), Total Fragments (2).
    constexpr std::size_t kNumber = wire::kHeaderSize + 4, kTotal = kNumber + 2;

    sa::Reassembler r;
    expect(r, f[0], c, Status::Incomplete);
    // Bit flips in the ICV, the IV and the ciphertext.
    const std::size_t n = f[1].datagram.size();
    for (std::size_t at : {n - 1, kTotal + 2, n / 2}) {
        BOOST_TEST_CONTEXT("octet " << at) {
            expect_error(r, flip(f[1], at, 0x01), c, Kind::Integrity);
            BOOST_TEST(r.received() == 1u);
        }
    }
    // 2/3 claiming to be 2/7: would restart reassembly if it were believed.
    expect_error(r, flip(f[1], kTotal + 1, 0x04), c, Kind::Integrity);
    BOOST_TEST(r.total() == 3u);
    BOOST_TEST(r.received() == 1u);
    // 2/3 claiming to be 3/3: would occupy 3's slot.
    expect_error(r, flip(f[1], kNumber + 1, 0x01), c, Kind::Integrity);
    BOOST_TEST(r.received() == 1u);
    // 1/3 claiming to be 1/2: would be Stale if believed; here just Integrity.
    expect_error(r, flip(f[0], kTotal + 1, 0x01), c, Kind::Integrity);
    // The other SA's keys.
    const auto other = make_cipher(suite, 0x21);
    expect_error(r, f[1], other, Kind::Integrity);
    BOOST_TEST(r.received() == 1u);

    expect(r, f[1], c, Status::Incomplete);
    BOOST_TEST(r.received() == 2u);
    // A forged copy of a fragment we hold is still Integrity, not Duplicate.
    expect_error(r, flip(f[1], n - 1, 0x80), c, Kind::Integrity);
    expect(r, f[2], c, Status::Complete);
    BOOST_TEST((r.take() == inner));
}

// kMaxFragments (64) fragments are accepted; 65 are refused at the first fragment, with
// Syntax, and nothing is kept.
BOOST_DATA_TEST_CASE(fragment_count_limit, bdata::make(kSuites), suite) {
    const auto c = make_cipher(suite);
    const std::vector<wire::Payload> inner = auth_inner(3000);
    const Bytes plain = wire::serialize_payload_chain(inner);
    // Cut the chain into `n` nearly equal parts.
    auto split = [&](std::size_t n) {
        std::vector<std::size_t> cuts;
        for (std::size_t i = 1; i < n; ++i)
            cuts.push_back(plain.size() * i / n);
        return hand_fragments(plain, PayloadType::IDr, cuts, c);
    };

    const auto at_limit = split(sa::Reassembler::kMaxFragments);
    BOOST_REQUIRE(at_limit.size() == sa::Reassembler::kMaxFragments);
    sa::Reassembler r;
    for (std::size_t i = 0; i + 1 < at_limit.size(); ++i)
        expect(r, at_limit[i], c, Status::Incomplete);
    expect(r, at_limit.back(), c, Status::Complete);
    BOOST_TEST((r.take() == inner));

    const auto over = split(sa::Reassembler::kMaxFragments + 1);
    BOOST_REQUIRE(over.size() == sa::Reassembler::kMaxFragments + 1);
    for (std::size_t i : {std::size_t{0}, over.size() - 1}) {
        auto s = r.add(over[i].m, over[i].datagram, c);
        BOOST_REQUIRE(!s);
        BOOST_TEST(kind_name(s.error().kind) == "Syntax");
        BOOST_TEST((s.error().parse.notify == NotifyType::INVALID_SYNTAX));
        BOOST_TEST(r.received() == 0u);
        BOOST_TEST(r.total() == 0u);
    }

    // Far beyond: Total Fragments 65535 (built by hand, authentic).
    Bytes d =
        wire::build_skf_prefix(auth_response(), {}, PayloadType::V, 1, 0xffff, c.body_length(4));
    const Bytes part{1, 2, 3, 4};
    auto body = c.seal(d, part, counter_iv());
    BOOST_REQUIRE(body);
    d.insert(d.end(), body->begin(), body->end());
    expect_error(r, parse(std::move(d)), c, Kind::Syntax);
    BOOST_TEST(r.received() == 0u);
}

// The decrypted content may total kMaxBytes (64 KiB) but not one octet more: the fragment that
// crosses the limit is refused with Syntax and the reassembly is dropped.
BOOST_DATA_TEST_CASE(byte_limit, bdata::make(kSuites), suite) {
    const auto c = make_cipher(suite);
    // Two V payloads: 2 * (4 + 32764) = 65536 octets of inner chain.
    std::vector<wire::Payload> exact{
        {PayloadType::V, false, wire::VendorIdPayload{pattern(32764, 1)}},
        {PayloadType::V, false, wire::VendorIdPayload{pattern(32764, 2)}}};
    BOOST_REQUIRE(wire::serialize_payload_chain(exact).size() == sa::Reassembler::kMaxBytes);
    auto fits = sa::seal_fragments(auth_response(), exact, c, 1400, counter_iv());
    BOOST_REQUIRE(fits);
    BOOST_REQUIRE(fits->size() <= sa::Reassembler::kMaxFragments);
    sa::Reassembler r;
    for (std::size_t i = 0; i < fits->size(); ++i)
        expect(r, parse((*fits)[i]), c,
               i + 1 < fits->size() ? Status::Incomplete : Status::Complete);
    BOOST_TEST((r.take() == exact));

    // One octet more.
    auto over_inner = exact;
    over_inner[1].get<wire::VendorIdPayload>()->data.push_back(0xff);
    auto over = sa::seal_fragments(auth_response(), over_inner, c, 1400, counter_iv());
    BOOST_REQUIRE(over);
    BOOST_REQUIRE(over->size() <= sa::Reassembler::kMaxFragments);
    bool refused = false;
    for (std::size_t i = 0; i < over->size(); ++i) {
        auto s = r.add(parse((*over)[i]).m, (*over)[i], c);
        if (i + 1 < over->size()) {
            BOOST_REQUIRE(s);
            BOOST_TEST(status_name(*s) == "Incomplete");
        } else {
            BOOST_REQUIRE(!s);
            BOOST_TEST(kind_name(s.error().kind) == "Syntax");
            refused = true;
        }
    }
    BOOST_TEST(refused);
    BOOST_TEST(r.received() == 0u);
    BOOST_TEST(r.take().empty());
}

// HDR, N  -->  and  HDR, SK {...}  -->  : not fragments.
BOOST_AUTO_TEST_CASE(non_skf_is_not_protected) {
    const auto c = make_cipher(kGcm);
    sa::Reassembler r;

    wire::Message plain{auth_response(), {wire::make_notify(NotifyType::AUTHENTICATION_FAILED)}};
    expect_error(r, parse(wire::serialize(plain)), c, Kind::NotProtected);

    auto whole = sa::seal_message(auth_response(), {}, auth_inner(), c, counter_iv());
    BOOST_REQUIRE(whole);
    expect_error(r, parse(*whole), c, Kind::NotProtected);
    BOOST_TEST(r.received() == 0u);

    // And it does not disturb a reassembly in progress.
    const auto f = fragment_into(2, auth_inner(), c);
    expect(r, f[0], c, Status::Incomplete);
    expect_error(r, parse(*whole), c, Kind::NotProtected);
    BOOST_TEST(r.received() == 1u);
    expect(r, f[1], c, Status::Complete);
}

// take() hands the payloads over once; afterwards (and before Complete) it is empty.
BOOST_AUTO_TEST_CASE(take_returns_payloads_once) {
    const auto c = make_cipher(kGcm);
    const auto inner = auth_inner();
    const auto f = fragment_into(2, inner, c);
    sa::Reassembler r;
    BOOST_TEST(r.take().empty());
    expect(r, f[0], c, Status::Incomplete);
    BOOST_TEST(r.take().empty());
    expect(r, f[1], c, Status::Complete);
    BOOST_TEST(r.received() == 0u);  // the parts are gone once joined
    BOOST_TEST((r.take() == inner));
    BOOST_TEST(r.take().empty());
}

// After Complete the same object reassembles the next message (other content, other count),
// and again the first one.
BOOST_DATA_TEST_CASE(reusable_after_complete, bdata::make(kSuites), suite) {
    const auto c = make_cipher(suite);
    const auto a = auth_inner(600, 1);
    const auto b = auth_inner(900, 50);
    const auto fa = fragment_into(3, a, c);
    const auto fb = fragment_into(2, b, c);
    sa::Reassembler r;
    for (const auto* idx : {&fa, &fb, &fa}) {
        const auto& frags = *idx;
        for (std::size_t i = frags.size(); i-- > 0;)
            expect(r, frags[i], c, i > 0 ? Status::Incomplete : Status::Complete);
        BOOST_TEST((r.take() == (idx == &fa ? a : b)));
        BOOST_TEST(r.received() == 0u);
    }
    // Even without take() in between: the next message's first fragment starts afresh.
    expect(r, fb[0], c, Status::Incomplete);
    expect(r, fb[1], c, Status::Complete);
    expect(r, fa[0], c, Status::Incomplete);
    BOOST_TEST(r.received() == 1u);
    expect(r, fa[1], c, Status::Incomplete);
    expect(r, fa[2], c, Status::Complete);
    BOOST_TEST((r.take() == a));
}

// HDR, SKF(1/2) { V(len 40 ...) }, HDR, SKF(2/2) { ...only 10 octets }: every fragment is
// authentic, but the joined chain is malformed: Syntax with the parser's error; the object is
// reset and usable again.
BOOST_DATA_TEST_CASE(malformed_reassembled_chain_is_syntax, bdata::make(kSuites), suite) {
    const auto c = make_cipher(suite);
    // V generic header with Payload Length 40, but only 4 + 10 octets in all.
    Bytes bad = {0, 0, 0, 40};
    for (int i = 0; i < 10; ++i)
        bad.push_back(static_cast<std::uint8_t>(i));
    const auto f = hand_fragments(bad, PayloadType::V, {6}, c);
    BOOST_REQUIRE(f.size() == 2u);
    sa::Reassembler r;
    expect(r, f[1], c, Status::Incomplete);
    auto s = r.add(f[0].m, f[0].datagram, c);
    BOOST_REQUIRE(!s);
    BOOST_TEST(kind_name(s.error().kind) == "Syntax");
    BOOST_TEST((s.error().parse.notify == NotifyType::INVALID_SYNTAX));
    BOOST_TEST(s.error().reason.find("reassembled") != std::string::npos);
    BOOST_TEST(r.received() == 0u);
    BOOST_TEST(r.take().empty());

    // A well-formed chain split by hand at arbitrary points (mid-header) joins correctly.
    const auto inner = auth_inner(100);
    const Bytes good = wire::serialize_payload_chain(inner);
    const auto g = hand_fragments(good, PayloadType::IDr, {1, 2, 50, good.size() - 1}, c);
    BOOST_REQUIRE(g.size() == 5u);
    for (std::size_t i : {4, 2, 0, 3})
        expect(r, g[i], c, Status::Incomplete);
    expect(r, g[1], c, Status::Complete);
    BOOST_TEST((r.take() == inner));
}

// Only fragment 1's Next Payload names the inner chain: a non-first fragment arriving first
// does not decide it.
BOOST_AUTO_TEST_CASE(first_type_comes_from_fragment_one) {
    const auto c = make_cipher(kCbc);
    const auto inner = auth_inner();
    const auto f = fragment_into(4, inner, c);
    for (std::size_t i = 1; i < f.size(); ++i) {
        const auto* skf = f[i].m.payloads.back().get<wire::EncryptedFragmentPayload>();
        BOOST_REQUIRE(skf);
        BOOST_TEST((skf->inner_first == PayloadType::NONE));
    }
    sa::Reassembler r;
    expect(r, f[3], c, Status::Incomplete);
    expect(r, f[1], c, Status::Incomplete);
    expect(r, f[0], c, Status::Incomplete);
    expect(r, f[2], c, Status::Complete);
    const auto out = r.take();
    BOOST_REQUIRE(!out.empty());
    BOOST_TEST((out.front().type == PayloadType::IDr));
    BOOST_TEST((out == inner));
}

// reset() drops a reassembly in progress.
BOOST_AUTO_TEST_CASE(reset_drops_progress) {
    const auto c = make_cipher(kGcm);
    const auto inner = auth_inner();
    const auto f = fragment_into(3, inner, c);
    sa::Reassembler r;
    expect(r, f[0], c, Status::Incomplete);
    expect(r, f[1], c, Status::Incomplete);
    r.reset();
    BOOST_TEST(r.received() == 0u);
    BOOST_TEST(r.total() == 0u);
    expect(r, f[2], c, Status::Incomplete);
    expect(r, f[0], c, Status::Incomplete);  // not a Duplicate any more
    expect(r, f[1], c, Status::Complete);
    BOOST_TEST((r.take() == inner));
}

BOOST_AUTO_TEST_SUITE_END()
