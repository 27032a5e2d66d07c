// The exchange payload table (RFC 7296 §1.2-§1.5, §2.6, §3.2) and message descriptions.
#include <boost/test/unit_test.hpp>

#include <filesystem>

#include "ike/wire/describe.hpp"
#include "ike/wire/rules.hpp"
#include "test_util.hpp"

using namespace wire_test;

namespace {

Payload pl(PayloadType t) {
    switch (t) {
        case PayloadType::SA:
            return {
                t, false,
                SaPayload{{Proposal{1, ProtocolId::IKE, {}, {Transform::ke(KeId::CURVE25519)}}}}};
        case PayloadType::KE:
            return {t, false, KePayload{KeId::CURVE25519, repeat(1, 32)}};
        case PayloadType::NONCE:
            return {t, false, NoncePayload{repeat(2, 32)}};
        case PayloadType::IDi:
        case PayloadType::IDr:
            return {t, false, IdPayload{IdType::ID_FQDN, hex("61")}};
        case PayloadType::AUTH:
            return {t, false, AuthPayload{AuthMethod::SHARED_KEY_MIC, repeat(3, 32)}};
        case PayloadType::TSi:
        case PayloadType::TSr:
            return {t, false,
                    TsPayload{{TrafficSelector{TsType::TS_IPV4_ADDR_RANGE,
                                               0,
                                               0,
                                               65535,
                                               hex("00000000"),
                                               hex("ffffffff"),
                                               {}}}}};
        case PayloadType::EAP:
            return {t, false, EapPayload{EapCode::RESPONSE, 1, kEapMschapv2, hex("02")}};
        case PayloadType::D:
            return {t, false, DeletePayload{ProtocolId::IKE, 0, {}}};
        case PayloadType::SK:
            return {t, false, EncryptedPayload{PayloadType::NONE, repeat(0, 32)}};
        case PayloadType::CERTREQ:
            return {t, false, CertReqPayload{CertEncoding::X509_SIGNATURE, {}}};
        default:
            return {t, false, UnknownPayload{}};
    }
}

std::vector<Payload> pls(std::initializer_list<PayloadType> types) {
    std::vector<Payload> v;
    for (auto t : types)
        v.push_back(pl(t));
    return v;
}

std::string check_reason(ExchangeType e, bool response, const std::vector<Payload>& outer,
                         const std::vector<Payload>& inner = {}) {
    auto r = check(e, response, outer, inner);
    return r ? std::string("ok") : r.error().reason;
}

using P = PayloadType;
constexpr auto INIT = ExchangeType::IKE_SA_INIT;
constexpr auto AUTH = ExchangeType::IKE_AUTH;
constexpr auto CHILD = ExchangeType::CREATE_CHILD_SA;
constexpr auto INFO = ExchangeType::INFORMATIONAL;

}  // namespace

BOOST_AUTO_TEST_SUITE(rules)

BOOST_AUTO_TEST_CASE(ike_sa_init) {
    auto req = pls({P::SA, P::KE, P::NONCE});
    req.push_back(make_notify(NotifyType::NAT_DETECTION_SOURCE_IP, repeat(0, 20)));
    BOOST_TEST(check_reason(INIT, false, req) == "ok");
    BOOST_TEST(check_reason(INIT, false, pls({P::SA, P::NONCE})) ==
               "IKE_SA_INIT request: missing KE (0 < 1)");
    BOOST_TEST(check_reason(INIT, false, pls({P::SA, P::KE, P::KE, P::NONCE})) ==
               "IKE_SA_INIT request: 2 KE payloads, at most 1");
    BOOST_TEST(check_reason(INIT, false, pls({P::SA, P::KE, P::NONCE, P::IDi})) ==
               "IKE_SA_INIT request: IDi not allowed");
    BOOST_TEST(check_reason(INIT, false, pls({P::SA, P::KE, P::NONCE, P::SK})) ==
               "IKE_SA_INIT request: SK not allowed");
    // CERTREQ only in the response.
    BOOST_TEST(check_reason(INIT, true, pls({P::SA, P::KE, P::NONCE, P::CERTREQ})) == "ok");
    // A non-critical unknown payload is skipped.
    BOOST_TEST(check_reason(INIT, false, pls({P::SA, P::KE, P::NONCE, P::GSPM})) == "ok");
}

BOOST_AUTO_TEST_CASE(ike_sa_init_short_responses) {
    // §2.6: just N(COOKIE); §1.2 / §1.3: just an error notify.
    BOOST_TEST(check_reason(INIT, true, {make_notify(NotifyType::COOKIE, repeat(1, 16))}) == "ok");
    BOOST_TEST(check_reason(INIT, true,
                            {make_notify(NotifyType::INVALID_KE_PAYLOAD, hex("001f"))}) == "ok");
    BOOST_TEST(check_reason(INIT, true, {make_notify(NotifyType::NO_PROPOSAL_CHOSEN)}) == "ok");
    // A status notify alone is not enough, and a request cannot be just a cookie.
    BOOST_TEST(check_reason(INIT, true, {make_notify(NotifyType::IKEV2_FRAGMENTATION_SUPPORTED)}) ==
               "IKE_SA_INIT response: missing SA (0 < 1)");
    BOOST_TEST(check_reason(INIT, false, {make_notify(NotifyType::COOKIE, repeat(1, 16))}) ==
               "IKE_SA_INIT request: missing SA (0 < 1)");
}

BOOST_AUTO_TEST_CASE(ike_auth) {
    auto sk = pls({P::SK});
    auto inner = pls({P::IDi, P::IDr, P::AUTH, P::SA, P::TSi, P::TSr});
    BOOST_TEST(check_reason(AUTH, false, sk, inner) == "ok");
    // IDi outside SK.
    BOOST_TEST(check_reason(AUTH, false, pls({P::IDi, P::SK}), pls({P::AUTH})) ==
               "IKE_AUTH request: IDi must be inside SK");
    BOOST_TEST(check_reason(AUTH, false, pls({P::IDi, P::AUTH})) ==
               "IKE_AUTH request: no SK payload (every exchange after IKE_SA_INIT is encrypted)");
    // Two IDi.
    BOOST_TEST(check_reason(AUTH, false, sk, pls({P::IDi, P::IDi, P::AUTH})) ==
               "IKE_AUTH request: 2 IDi payloads, at most 1");
    BOOST_TEST(check_reason(AUTH, false, sk, pls({P::IDi, P::AUTH, P::SA, P::TSi})) ==
               "IKE_AUTH request: has SA TSi but not TSr (they come together)");
    BOOST_TEST(check_reason(AUTH, false, sk, pls({P::IDi, P::AUTH, P::KE})) ==
               "IKE_AUTH request: KE not allowed");
    // EAP rounds: SK{EAP} and SK{AUTH}; childless (RFC 6023): no SA/TSi/TSr.
    BOOST_TEST(check_reason(AUTH, false, sk, pls({P::EAP})) == "ok");
    BOOST_TEST(check_reason(AUTH, false, sk, pls({P::AUTH})) == "ok");
    BOOST_TEST(check_reason(AUTH, true, sk, pls({P::IDr, P::AUTH, P::EAP})) == "ok");
    BOOST_TEST(check_reason(AUTH, false, sk, pls({P::IDi, P::AUTH})) == "ok");
    // Error response: IDr, AUTH and N(TS_UNACCEPTABLE) without the Child SA payloads.
    auto err = pls({P::IDr, P::AUTH, P::SA});
    err.push_back(make_notify(NotifyType::TS_UNACCEPTABLE));
    BOOST_TEST(check_reason(AUTH, true, sk, err) == "ok");
    BOOST_TEST(check_reason(AUTH, true, sk, {make_notify(NotifyType::AUTHENTICATION_FAILED)}) ==
               "ok");
    BOOST_TEST(check_reason(AUTH, true, sk, pls({P::SK})) == "IKE_AUTH response: SK inside SK");
    BOOST_TEST(check_reason(AUTH, true, {}, pls({P::IDr})) ==
               "IKE_AUTH response: no SK payload (every exchange after IKE_SA_INIT is encrypted)");
}

BOOST_AUTO_TEST_CASE(create_child_sa_and_informational) {
    auto sk = pls({P::SK});
    BOOST_TEST(check_reason(CHILD, false, sk, pls({P::SA, P::NONCE, P::KE, P::TSi, P::TSr})) ==
               "ok");
    BOOST_TEST(check_reason(CHILD, false, sk, pls({P::SA, P::NONCE, P::KE})) == "ok");  // IKE rekey
    BOOST_TEST(check_reason(CHILD, false, sk, pls({P::SA, P::TSi, P::TSr})) ==
               "CREATE_CHILD_SA request: missing NONCE (0 < 1)");
    BOOST_TEST(check_reason(CHILD, true, sk, {make_notify(NotifyType::NO_ADDITIONAL_SAS)}) == "ok");
    BOOST_TEST(check_reason(INFO, false, sk, {}) == "ok");  // liveness check
    BOOST_TEST(check_reason(INFO, false, sk, pls({P::D, P::D})) == "ok");
    BOOST_TEST(check_reason(INFO, true, sk, pls({P::SA})) ==
               "INFORMATIONAL response: SA not allowed");
    BOOST_TEST(check_reason(ExchangeType::IKE_INTERMEDIATE, false, sk, pls({P::KE})) == "ok");
    BOOST_TEST(check_reason(ExchangeType::IKE_SESSION_RESUME, false, sk, {}) ==
               "IKE_SESSION_RESUME request: unsupported exchange type");
}

BOOST_AUTO_TEST_CASE(table_is_complete) {
    for (auto e : {INIT, AUTH, CHILD, INFO, ExchangeType::IKE_INTERMEDIATE}) {
        for (bool response : {false, true}) {
            const ExchangeRules* r = find_rules(e, response);
            BOOST_TEST_REQUIRE(r != nullptr);
            BOOST_TEST(r->exchange == e);
            BOOST_TEST(r->response == response);
            for (const auto& rule : r->payloads) {
                BOOST_TEST(rule.min <= rule.max);
                BOOST_TEST(rule.encrypted == (e != INIT));
            }
        }
    }
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(describe_messages)

BOOST_AUTO_TEST_CASE(ike_sa_init_like_strongswan) {
    auto m = parse_message(fixture("ike_sa_init_request.hex"));
    BOOST_TEST_REQUIRE(m.has_value());
    BOOST_TEST(
        describe(*m) ==
        "IKE_SA_INIT request 0 [ SA KE No N(NATD_S_IP) N(NATD_D_IP) N(FRAG_SUP) N(HASH_ALG) ]");
}

BOOST_AUTO_TEST_CASE(payload_names) {
    Header h;
    h.exchange = ExchangeType::IKE_AUTH;
    h.response = true;
    h.message_id = MessageId(1);
    std::vector<Payload> p = pls({P::IDr, P::AUTH});
    p.push_back({P::CP, false,
                 CpPayload{CfgType::CFG_REPLY,
                           {{CfgAttribute::INTERNAL_IP4_ADDRESS, hex("0a000001")},
                            {CfgAttribute::INTERNAL_IP4_DNS, hex("0a000001")},
                            {CfgAttribute::INTERNAL_IP4_DNS, hex("0a000002")}}}});
    p.push_back(pl(P::EAP));
    p.push_back({P::EAP, false, EapPayload{EapCode::SUCCESS, 1, {}, {}}});
    p.push_back(make_notify(static_cast<NotifyType>(40000)));
    p.push_back(make_notify(NotifyType::PPK_IDENTITY));
    p.push_back({static_cast<PayloadType>(200), false, UnknownPayload{}});
    p.push_back({P::SKF, false, EncryptedFragmentPayload{P::NONE, 2, 3, {}}});
    BOOST_TEST(describe(h, p) ==
               "IKE_AUTH response 1 [ IDr AUTH CPRP(ADDR DNS) EAP/RES/MSCHAPV2 "
               "EAP/SUCC N(40000) N(PPK_IDENTITY) U(200) EF(2/3) ]");
    BOOST_TEST(describe(h, {}) == "IKE_AUTH response 1 [ ]");
    BOOST_TEST(describe(pl(P::SK)) == "E");
}

// The unencrypted messages of the strongSwan captures describe as charon logged them.
BOOST_AUTO_TEST_CASE(strongswan_captures) {
    std::string dir = std::string(POSTERN_TEST_DATA_DIR) + "/strongswan/";
    if (!std::filesystem::exists(dir + "cert-cbc/00-IKE_SA_INIT-req-moon.hex")) return;
    auto d = [&](const std::string& f) {
        auto m = parse_message(load_hex_file(dir + f));
        BOOST_TEST_REQUIRE(m.has_value());
        // Encrypted ones are checked with empty inner contents (not decrypted here).
        BOOST_TEST(check(m->header.exchange, m->header.response, m->payloads).has_value());
        return describe(*m);
    };
    BOOST_TEST(d("cert-cbc/00-IKE_SA_INIT-req-moon.hex") ==
               "IKE_SA_INIT request 0 [ SA KE No N(NATD_S_IP) N(NATD_D_IP) N(FRAG_SUP) "
               "N(HASH_ALG) N(REDIR_SUP) ]");
    BOOST_TEST(d("cert-cbc/01-IKE_SA_INIT-resp-sun.hex") ==
               "IKE_SA_INIT response 0 [ SA KE No N(NATD_S_IP) N(NATD_D_IP) CERTREQ N(FRAG_SUP) "
               "N(HASH_ALG) N(CHDLESS_SUP) N(MULT_AUTH) ]");
    BOOST_TEST(d("cert-cbc/02-IKE_AUTH-req-moon.hex") == "IKE_AUTH request 1 [ EF(1/3) ]");
    BOOST_TEST(d("cert-cbc/07-IKE_AUTH-resp-sun.hex") == "IKE_AUTH response 1 [ EF(3/3) ]");
    BOOST_TEST(d("modp-invalid-ke/01-IKE_SA_INIT-resp-sun.hex") ==
               "IKE_SA_INIT response 0 [ N(INVAL_KE) ]");
}

BOOST_AUTO_TEST_SUITE_END()
