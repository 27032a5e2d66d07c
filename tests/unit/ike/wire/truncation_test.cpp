// Every proper prefix of a valid message fails with a precise reason and never crashes
// (after QUICHE's CheckFramingBoundaries). Run under ASan/UBSan in the sanitizer build.
#include <boost/test/unit_test.hpp>

#include "test_util.hpp"

using namespace wire_test;

namespace {

// The error parse_payload_chain must report for the first `cut` bytes of a valid `chain`:
// either the generic header of the payload the cut falls in is incomplete, or its Payload
// Length runs past the cut.
std::pair<std::string, std::size_t> expected_cut(ByteView chain, PayloadType first,
                                                 std::size_t cut) {
    std::size_t pos = 0;
    PayloadType type = first;
    for (int index = 1;; ++index) {
        std::string where = "payload " + std::to_string(index) + " (" + to_string(type) + ")";
        if (cut - pos < 4) {
            return {where + ": generic header truncated (" + std::to_string(cut - pos) +
                        " < 4 bytes left)",
                    pos};
        }
        std::size_t len = std::size_t{chain[pos + 2]} << 8 | chain[pos + 3];
        if (pos + len > cut) {
            return {where + ": payload length " + std::to_string(len) + " > " +
                        std::to_string(cut - pos) + " bytes left",
                    pos + 2};
        }
        type = static_cast<PayloadType>(chain[pos]);
        pos += len;
    }
}

void check_every_chain_prefix(ByteView chain, PayloadType first, std::size_t base) {
    for (std::size_t cut = 0; cut < chain.size(); ++cut) {
        BOOST_TEST_CONTEXT("prefix of " << cut << " bytes") {
            auto r = parse_payload_chain(first, chain.first(cut), base);
            BOOST_TEST_REQUIRE(!r.has_value());
            auto [reason, offset] = expected_cut(chain, first, cut);
            BOOST_TEST(r.error().notify == NotifyType::INVALID_SYNTAX);
            BOOST_TEST(r.error().reason == reason);
            BOOST_TEST(r.error().offset == base + offset);
        }
    }
}

// Payload types whose every proper body prefix is malformed (counts and lengths inside).
bool strict(PayloadType t) {
    return t == PayloadType::SA || t == PayloadType::TSi || t == PayloadType::TSr ||
           t == PayloadType::D || t == PayloadType::EAP;
}

// Octets before the variable part of each body: a shorter body is always malformed.
std::size_t fixed_size(PayloadType t) {
    switch (t) {
        case PayloadType::V:
        case PayloadType::SK:
            return 0;
        case PayloadType::CERT:
        case PayloadType::CERTREQ:
            return 1;
        case PayloadType::NONCE:
            return 16;
        default:
            return 4;
    }
}

// Every prefix of each payload body: never crashes; an error has a reason and an offset
// inside the input; strict types and prefixes shorter than the fixed part always fail.
void check_every_body_prefix(const Payload& p) {
    Bytes body;
    Writer w(body);
    serialize_body(w, p.body);
    PayloadType next = PayloadType::NONE;
    if (auto sk = p.get<EncryptedPayload>()) next = sk->inner_first;
    for (std::size_t cut = 0; cut < body.size(); ++cut) {
        BOOST_TEST_CONTEXT(to_string(p.type) << " body prefix of " << cut << " bytes") {
            Bytes framed = frame(ByteView(body).first(cut), next);
            auto r = parse_payload_chain(p.type, framed, 0);
            if (!r) {
                BOOST_TEST(!r.error().reason.empty());
                BOOST_TEST(r.error().offset <= framed.size());
            }
            if (strict(p.type) || cut < fixed_size(p.type)) BOOST_TEST(!r.has_value());
        }
    }
}

std::vector<Payload> ike_auth_inner() {
    return {
        {PayloadType::IDi, false, IdPayload{IdType::ID_RFC822_ADDR, hex("75407670")}},
        {PayloadType::CERT, false, CertPayload{CertEncoding::X509_SIGNATURE, repeat(0x30, 12)}},
        make_notify(NotifyType::INITIAL_CONTACT),
        {PayloadType::IDr, false, IdPayload{IdType::ID_FQDN, hex("76706e")}},
        {PayloadType::AUTH, false, AuthPayload{AuthMethod::DIGITAL_SIGNATURE, repeat(0x11, 24)}},
        {PayloadType::CP, false,
         CpPayload{
             CfgType::CFG_REQUEST,
             {{CfgAttribute::INTERNAL_IP4_ADDRESS, {}}, {CfgAttribute::INTERNAL_IP4_DNS, {}}}}},
        {PayloadType::SA, false,
         SaPayload{{Proposal{
             1,
             ProtocolId::ESP,
             hex("c0ffee01"),
             {Transform::encr(EncrId::ENCR_AES_GCM_16, 256), Transform::esn(EsnId::NO_ESN)}}}}},
        {PayloadType::TSi, false,
         TsPayload{{TrafficSelector{
             TsType::TS_IPV4_ADDR_RANGE, 0, 0, 65535, hex("00000000"), hex("ffffffff"), {}}}}},
        {PayloadType::TSr, false,
         TsPayload{{TrafficSelector{
             TsType::TS_IPV6_ADDR_RANGE, 6, 443, 443, repeat(0, 16), repeat(0xff, 16), {}}}}},
        {PayloadType::D, false, DeletePayload{ProtocolId::ESP, 4, {hex("01020304")}}},
        {PayloadType::EAP, false, EapPayload{EapCode::RESPONSE, 7, kEapIdentity, hex("7573")}},
        {PayloadType::V, false, VendorIdPayload{hex("0102030405")}},
        {PayloadType::KE, false, KePayload{KeId::ECP_256, repeat(4, 64)}},
        {PayloadType::NONCE, false, NoncePayload{repeat(5, 20)}},
        {PayloadType::CERTREQ, false, CertReqPayload{CertEncoding::X509_SIGNATURE, repeat(6, 20)}},
        {PayloadType::SKF, false, EncryptedFragmentPayload{PayloadType::NONE, 2, 2, repeat(7, 9)}},
    };
}

}  // namespace

BOOST_AUTO_TEST_SUITE(truncation)

BOOST_AUTO_TEST_CASE(every_prefix_of_a_datagram) {
    Bytes d = fixture("ike_sa_init_request.hex");
    for (std::size_t cut = 0; cut < d.size(); ++cut) {
        auto r = parse_message(ByteView(d).first(cut));
        BOOST_TEST_REQUIRE(!r.has_value());
        BOOST_TEST(r.error().notify == NotifyType::INVALID_SYNTAX);
        std::string want =
            cut < 28 ? "IKE header truncated: datagram of " + std::to_string(cut) + " bytes < 28"
                     : "IKE header length 308 != datagram length " + std::to_string(cut);
        BOOST_TEST(r.error().reason == want);
    }
}

BOOST_AUTO_TEST_CASE(every_prefix_with_a_consistent_header_length) {
    // A truncated datagram whose header length was "fixed up" to match: the payload chain
    // itself must catch every cut, at the right payload and offset.
    Bytes d = fixture("ike_sa_init_request.hex");
    ByteView chain = ByteView(d).subspan(28);
    check_every_chain_prefix(chain, PayloadType::SA, 28);
    for (std::size_t cut = 28; cut < d.size(); ++cut) {
        Bytes prefix(d.begin(), d.begin() + static_cast<std::ptrdiff_t>(cut));
        Writer(prefix).patch_u32(24, static_cast<std::uint32_t>(cut));
        auto r = parse_message(prefix);
        BOOST_TEST_REQUIRE(!r.has_value());
        BOOST_TEST(r.error().reason == expected_cut(chain, PayloadType::SA, cut - 28).first);
    }
}

BOOST_AUTO_TEST_CASE(every_prefix_of_a_decrypted_inner_chain) {
    auto inner = ike_auth_inner();
    inner.pop_back();  // SKF cannot be inside SK
    Bytes chain = serialize_payload_chain(inner);
    BOOST_TEST_REQUIRE(parse_payload_chain(PayloadType::IDi, chain, 0).has_value());
    check_every_chain_prefix(chain, PayloadType::IDi, 0);
}

BOOST_AUTO_TEST_CASE(every_prefix_of_each_payload_body) {
    auto msg = parse_message(fixture("ike_sa_init_request.hex"));
    BOOST_TEST_REQUIRE(msg.has_value());
    for (const auto& p : msg->payloads)
        check_every_body_prefix(p);
    for (const auto& p : ike_auth_inner())
        check_every_body_prefix(p);
    check_every_body_prefix(
        Payload{PayloadType::SK, false, EncryptedPayload{PayloadType::IDi, repeat(9, 8)}});
}

BOOST_AUTO_TEST_SUITE_END()
