// An authenticated peer that sends what a correct one never would: the responder must answer
// with the right notify (RFC 7296 §2.21) and keep serving.

#include <boost/test/unit_test.hpp>

#include "configs.hpp"
#include "raw_peer.hpp"

using namespace postern;
using namespace postern::scenario;
using ike::NotifyType;
using ike::PayloadType;

namespace {

struct Fixture {
    Network net;
    std::unique_ptr<RawInitiator> peer;
    Fixture() {
        net.b.pools.add("clients", "10.99.0.0/24");
        net.start(psk_initiator(net), psk_responder());
        peer = std::make_unique<RawInitiator>(*net.b.engine, net.a.address, net.b.address, net.now);
        peer->init();
    }
    // A correct IKE_AUTH { IDi, AUTH } (childless), message ID 1.
    std::vector<ike::wire::Payload> good_auth() {
        auto idi = identity("mallory@postern.test");
        return {{PayloadType::IDi, false, idi.to_payload()},
                {PayloadType::AUTH, false,
                 ike::wire::AuthPayload{ike::AuthMethod::SHARED_KEY_MIC,
                                        peer->psk_auth(idi, "correct horse battery staple")}}};
    }
};

bool has_notify(const std::vector<ike::wire::Payload>& ps, NotifyType t) {
    return ike::wire::find_notify(ps, t) != nullptr;
}

}  // namespace

BOOST_FIXTURE_TEST_SUITE(malicious_peer, Fixture)

BOOST_AUTO_TEST_CASE(malformed_inner_chain_gets_invalid_syntax) {
    // HDR, SK { N with a length running past the end }  -->  <-- HDR, SK { N(INVALID_SYNTAX) }
    const Bytes bad = {0x00, 0x00, 0x00, 0x28, 0x00, 0x00, 0x40, 0x00};
    auto r = peer->request_plaintext(ike::ExchangeType::IKE_AUTH, 1, PayloadType::N, bad);
    BOOST_REQUIRE(r);
    BOOST_TEST(has_notify(*r, NotifyType::INVALID_SYNTAX));
    BOOST_TEST(net.b.engine->stats().dropped_malformed == 1u);
}

BOOST_AUTO_TEST_CASE(payloads_the_exchange_forbids_get_invalid_syntax) {
    // Two IDi in one IKE_AUTH request break the exchange's payload rules.
    auto p = good_auth();
    p.insert(p.begin(), p.front());
    auto r = peer->request(ike::ExchangeType::IKE_AUTH, 1, p);
    BOOST_REQUIRE(r);
    BOOST_TEST(has_notify(*r, NotifyType::INVALID_SYNTAX));
}

BOOST_AUTO_TEST_CASE(bad_identity_is_refused) {
    // An ID_IPV4_ADDR of three octets.
    auto p = good_auth();
    p[0] = {PayloadType::IDi, false, ike::wire::IdPayload{ike::IdType::ID_IPV4_ADDR, {10, 0, 0}}};
    auto r = peer->request(ike::ExchangeType::IKE_AUTH, 1, p);
    BOOST_REQUIRE(r);
    BOOST_TEST(has_notify(*r, NotifyType::AUTHENTICATION_FAILED));
    BOOST_TEST(net.sas(net.b).empty());
}

BOOST_AUTO_TEST_CASE(childless_auth_then_create_child_sa) {
    auto r = peer->request(ike::ExchangeType::IKE_AUTH, 1, good_auth());
    BOOST_REQUIRE(r);
    BOOST_TEST(ike::wire::find_payload(*r, PayloadType::AUTH) != nullptr);
    BOOST_TEST((net.sas(net.b).at(0).state == ike::sa::IkeSaState::Established));
    BOOST_TEST(net.sas(net.b).at(0).children == 0u);
    const std::vector<ike::policy::TrafficSelector> any{ike::policy::TrafficSelector::any_v4()};
    auto request = [&](std::uint8_t number, std::optional<Bytes> rekey) {
        auto sa = ike::policy::build_sa_payload(
            std::vector{proposal("aes256gcm16", ike::ProtocolId::ESP)}, ike::ProtocolId::ESP,
            Bytes{1, 2, 3, number});
        sa.proposals[0].number = number;
        std::vector<ike::wire::Payload> p;
        if (rekey)
            p.push_back(ike::wire::make_notify(NotifyType::REKEY_SA, {}, ike::ProtocolId::ESP,
                                               *rekey));
        p.push_back({PayloadType::SA, false, sa});
        p.push_back({PayloadType::NONCE, false, ike::wire::NoncePayload{Bytes(32, 7)}});
        p.push_back({PayloadType::TSi, false, ike::policy::to_wire(any)});
        p.push_back({PayloadType::TSr, false, ike::policy::to_wire(any)});
        return p;
    };
    // A CHILD_SA after a childless IKE_AUTH (RFC 6023, RFC 7296 §1.3.1), its proposal numbered
    // 3 as macOS 14 numbers its rekeys: the answer echoes the number (§3.3.1).
    //   HDR, SK { SA, Ni, TSi, TSr }  -->  <-- HDR, SK { SA, Nr, TSi, TSr }
    auto c = peer->request(ike::ExchangeType::CREATE_CHILD_SA, 2, request(3, std::nullopt));
    BOOST_REQUIRE(c);
    const auto* sa = ike::wire::find_payload(*c, PayloadType::SA);
    BOOST_REQUIRE(sa);
    BOOST_REQUIRE_EQUAL(sa->get<ike::wire::SaPayload>()->proposals.size(), 1u);
    BOOST_TEST(sa->get<ike::wire::SaPayload>()->proposals[0].number == 3);
    BOOST_TEST(sa->get<ike::wire::SaPayload>()->proposals[0].spi.size() == 4u);
    BOOST_TEST(ike::wire::find_payload(*c, PayloadType::NONCE) != nullptr);
    BOOST_TEST(ike::wire::find_payload(*c, PayloadType::TSi) != nullptr);
    BOOST_TEST(net.sas(net.b).at(0).children == 1u);
    BOOST_TEST(net.b.engine->stats().child_created == 1u);
    // Rekeying a CHILD_SA the responder does not have (§2.25.1): CHILD_SA_NOT_FOUND.
    auto nf = peer->request(ike::ExchangeType::CREATE_CHILD_SA, 3,
                            request(1, Bytes{9, 9, 9, 9}));
    BOOST_REQUIRE(nf);
    BOOST_TEST(has_notify(*nf, NotifyType::CHILD_SA_NOT_FOUND));
    BOOST_TEST(net.sas(net.b).at(0).children == 1u);
    // Rekeying the one it has (named by the SPI we receive on): a second CHILD_SA replaces it.
    auto rk = peer->request(ike::ExchangeType::CREATE_CHILD_SA, 4,
                            request(1, Bytes{1, 2, 3, 3}));
    BOOST_REQUIRE(rk);
    BOOST_TEST(ike::wire::find_payload(*rk, PayloadType::SA) != nullptr);
    BOOST_TEST(net.sas(net.b).at(0).children == 2u);  // the old one until its Delete
    BOOST_TEST(net.b.engine->stats().child_rekeyed == 1u);
    // A second IKE_AUTH on an established SA is a protocol error, not a new authentication.
    auto again = peer->request(ike::ExchangeType::IKE_AUTH, 5, good_auth());
    BOOST_REQUIRE(again);
    BOOST_TEST(has_notify(*again, NotifyType::INVALID_SYNTAX));
    BOOST_TEST((net.sas(net.b).at(0).state == ike::sa::IkeSaState::Established));
    // Liveness still answered.
    auto live = peer->request(ike::ExchangeType::INFORMATIONAL, 6, {});
    BOOST_REQUIRE(live);
    BOOST_TEST(live->empty());
}

BOOST_AUTO_TEST_SUITE_END()
