// MOBIKE against a hand-driven initiator (RawInitiator): what Postern's own initiator never
// sends. NAT-D in a liveness check answered for the addresses it came by, COOKIE2 echoed in any
// INFORMATIONAL, an update to the same addresses changing nothing, UPDATE_SA_ADDRESSES of a
// peer that never announced MOBIKE refused.

#include <boost/test/unit_test.hpp>

#include "configs.hpp"
#include "ike/crypto/natd.hpp"
#include "ike/wire/message.hpp"
#include "raw_peer.hpp"

using namespace postern;
using namespace postern::scenario;
using ike::NotifyType;
using ike::PayloadType;

namespace {

constexpr std::uint64_t kSpiI = 0x0102030405060708ULL;  // RawInitiator's

struct Fixture {
    Network net;
    std::unique_ptr<RawInitiator> peer;
    Fixture() {
        net.b.pools.add("clients", "10.99.0.0/24");
        net.start(psk_initiator(net), psk_responder());
        peer = std::make_unique<RawInitiator>(*net.b.engine, net.a.address, net.b.address, net.now);
        peer->init();
    }
    // IKE_AUTH { IDi, AUTH, [N(MOBIKE_SUPPORTED)] } (childless), message ID 1.
    std::vector<ike::wire::Payload> auth(bool mobike) {
        auto idi = identity("mallory@postern.test");
        std::vector<ike::wire::Payload> p{
            {PayloadType::IDi, false, idi.to_payload()},
            {PayloadType::AUTH, false,
             ike::wire::AuthPayload{ike::AuthMethod::SHARED_KEY_MIC,
                                    peer->psk_auth(idi, "correct horse battery staple")}}};
        if (mobike) p.push_back(ike::wire::make_notify(NotifyType::MOBIKE_SUPPORTED));
        return p;
    }
    Bytes natd(const Endpoint& e) const {
        return ike::crypto::nat_detection_hash(kSpiI, peer->spi_r().value(), e);
    }
    std::vector<ike::wire::Payload> natd_request(bool update, const Bytes& cookie2) const {
        std::vector<ike::wire::Payload> p;
        if (update) p.push_back(ike::wire::make_notify(NotifyType::UPDATE_SA_ADDRESSES));
        p.push_back(ike::wire::make_notify(NotifyType::NAT_DETECTION_SOURCE_IP, natd(net.a.address)));
        p.push_back(
            ike::wire::make_notify(NotifyType::NAT_DETECTION_DESTINATION_IP, natd(net.b.address)));
        if (!cookie2.empty()) p.push_back(ike::wire::make_notify(NotifyType::COOKIE2, cookie2));
        return p;
    }
};

const Bytes* notify_data(const std::vector<ike::wire::Payload>& ps, NotifyType t) {
    const auto* n = ike::wire::find_notify(ps, t);
    return n ? &n->data : nullptr;
}

}  // namespace

BOOST_FIXTURE_TEST_SUITE(mobike_raw, Fixture)

BOOST_AUTO_TEST_CASE(liveness_check_with_natd_and_cookie2) {
    auto r = peer->request(ike::ExchangeType::IKE_AUTH, 1, auth(true));
    BOOST_REQUIRE(r);
    BOOST_TEST(ike::wire::find_notify(*r, NotifyType::MOBIKE_SUPPORTED) != nullptr);
    const Bytes cookie(12, 0x5a);
    auto live = peer->request(ike::ExchangeType::INFORMATIONAL, 2, natd_request(false, cookie));
    BOOST_REQUIRE(live);
    // Our hashes: the gateway's address as source, the peer's as we saw it as destination.
    const Bytes* s = notify_data(*live, NotifyType::NAT_DETECTION_SOURCE_IP);
    const Bytes* d = notify_data(*live, NotifyType::NAT_DETECTION_DESTINATION_IP);
    BOOST_REQUIRE(s);
    BOOST_REQUIRE(d);
    BOOST_TEST((*s == natd(net.b.address)));
    BOOST_TEST((*d == natd(net.a.address)));
    const Bytes* c = notify_data(*live, NotifyType::COOKIE2);
    BOOST_REQUIRE(c);
    BOOST_TEST((*c == cookie));
    BOOST_TEST(net.b.engine->stats().mobike_updates == 0u);  // nothing moved
}

BOOST_AUTO_TEST_CASE(update_to_the_same_addresses_changes_nothing) {
    BOOST_REQUIRE(peer->request(ike::ExchangeType::IKE_AUTH, 1, auth(true)));
    const Bytes cookie(8, 0x01);
    auto r = peer->request(ike::ExchangeType::INFORMATIONAL, 2, natd_request(true, cookie));
    BOOST_REQUIRE(r);
    BOOST_TEST(ike::wire::find_notify(*r, NotifyType::UNACCEPTABLE_ADDRESSES) == nullptr);
    BOOST_REQUIRE(notify_data(*r, NotifyType::COOKIE2));
    BOOST_TEST((*notify_data(*r, NotifyType::COOKIE2) == cookie));
    BOOST_TEST(net.b.engine->stats().mobike_updates == 0u);
    BOOST_TEST(net.b.engine->stats().mobike_refused == 0u);
    BOOST_TEST(!net.b.engine->list().at(0).nat_remote);
}

BOOST_AUTO_TEST_CASE(update_without_mobike_refused) {
    auto a = peer->request(ike::ExchangeType::IKE_AUTH, 1, auth(false));
    BOOST_REQUIRE(a);
    BOOST_TEST(ike::wire::find_notify(*a, NotifyType::MOBIKE_SUPPORTED) == nullptr);
    auto r = peer->request(ike::ExchangeType::INFORMATIONAL, 2, natd_request(true, Bytes(8, 2)));
    BOOST_REQUIRE(r);
    BOOST_TEST(ike::wire::find_notify(*r, NotifyType::UNACCEPTABLE_ADDRESSES) != nullptr);
    BOOST_TEST(net.b.engine->stats().mobike_refused == 1u);
    // Without MOBIKE no NAT-D in an ordinary INFORMATIONAL either; COOKIE2 is still echoed.
    auto live = peer->request(ike::ExchangeType::INFORMATIONAL, 3, natd_request(false, Bytes(8, 3)));
    BOOST_REQUIRE(live);
    BOOST_TEST(ike::wire::find_notify(*live, NotifyType::NAT_DETECTION_SOURCE_IP) == nullptr);
    BOOST_TEST(ike::wire::find_notify(*live, NotifyType::COOKIE2) != nullptr);
}

BOOST_AUTO_TEST_SUITE_END()
