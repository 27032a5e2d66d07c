// Reauthentication (RFC 7296 §2.8.3) and AUTH_LIFETIME (RFC 4478): the initiator sets up a
// new IKE SA from scratch (new keys, new authentication, its CHILD_SAs negotiated again)
// and deletes the old one once the new one is up (make-before-break); a responder with
// reauth_time tells the peer how long its authentication lasts and deletes an IKE SA whose
// peer lets that time pass.

#include <algorithm>

#include <boost/test/unit_test.hpp>

#include "configs.hpp"
#include "ike/wire/message.hpp"

using namespace postern;
using namespace postern::scenario;
using ike::EventKind;
using ike::NotifyType;

namespace {

ike::ExchangeType exchange_of(const ike::Datagram& d) {
    auto m = ike::wire::parse_message(d.data);
    return m ? m->header.exchange : ike::ExchangeType::IKE_SESSION_RESUME;
}

ike::Lifetime no_rekey() { return {0s, 0s, 0s}; }

struct Setup {
    ike::EngineConfig a, b;
};

// No rekeying, no DPD: only reauthentication renews anything here.
Setup configs(Network& net, std::chrono::seconds a_reauth, std::chrono::seconds b_reauth) {
    Setup s{psk_initiator(net), psk_responder()};
    for (auto* e : {&s.a, &s.b}) {
        e->dpd_delay = 0s;
        e->connections[0].ike_life = no_rekey();
        e->connections[0].child_life = no_rekey();
    }
    s.a.connections[0].reauth_time = a_reauth;
    s.b.connections[0].reauth_time = b_reauth;
    return s;
}

void establish(Network& net, Setup s) {
    net.b.pools.add("clients", "10.99.0.0/24");
    net.start(std::move(s.a), std::move(s.b));
    net.initiate("home");
    net.run();
    BOOST_REQUIRE(net.a.has_event(EventKind::IkeEstablished));
    BOOST_REQUIRE(net.b.has_event(EventKind::IkeEstablished));
}



}  // namespace

BOOST_AUTO_TEST_SUITE(reauthentication)

BOOST_AUTO_TEST_CASE(auth_lifetime_makes_the_initiator_reauthenticate) {
    Network net;
    establish(net, configs(net, 0s, 100s));
    BOOST_TEST(logged(net.b, "N(AUTH_LFT)"));
    BOOST_TEST(logged(net.a, "the responder wants reauthentication within 100 s"));
    const auto a0 = net.sas(net.a).front(), b0 = net.sas(net.b).front();
    BOOST_REQUIRE(b0.virtual_ip.has_value());
    net.advance(85s);
    BOOST_TEST(net.sas(net.b).front().id == b0.id);  // not yet: at 90 s (a tenth to spare)
    net.advance(10s);
    BOOST_TEST_INFO(net.a.log() << net.b.log());
    auto a1 = net.sas(net.a), b1 = net.sas(net.b);
    BOOST_REQUIRE(a1.size() == 1u);
    BOOST_REQUIRE(b1.size() == 1u);
    BOOST_TEST(a1.front().id != a0.id);
    BOOST_TEST(b1.front().id != b0.id);
    BOOST_TEST((a1.front().spi_i != a0.spi_i));
    // The peer kept its address: it asked for it and the old IKE SA handed it over.
    BOOST_REQUIRE(b1.front().virtual_ip.has_value());
    BOOST_TEST(b1.front().virtual_ip->to_string() == b0.virtual_ip->to_string());
    BOOST_TEST(logged(net.b, "taken over from the peer's earlier IKE SA"));
    BOOST_TEST(net.b.pools.in_use() == 1u);
    // Make-before-break: two CHILD_SAs installed on each side, the old one removed.
    BOOST_TEST(net.a.installed.size() == 2u);
    BOOST_TEST(net.b.installed.size() == 2u);
    BOOST_TEST(net.a.removed.size() == 1u);
    BOOST_TEST(net.b.removed.size() == 1u);
    // No INITIAL_CONTACT the second time: the old SA was still up.
    BOOST_TEST(count_logged(net.b, "N(INIT_CONTACT)") == 1u);
    // The initiator's old SA went quietly; the new one reauthenticates again in time.
    BOOST_TEST(net.a.count(EventKind::IkeDeleted) == 0u);
    net.advance(95s);
    BOOST_TEST(net.sas(net.b).size() == 1u);
    BOOST_TEST(net.sas(net.b).front().id != b1.front().id);
    BOOST_TEST(net.b.pools.in_use() == 1u);
}

BOOST_AUTO_TEST_CASE(the_initiators_own_reauth_time) {
    Network net;
    establish(net, configs(net, 50s, 0s));
    BOOST_TEST(!logged(net.b, "N(AUTH_LFT)"));
    const auto b0 = net.sas(net.b).front();
    net.advance(45s);
    BOOST_TEST(net.sas(net.b).front().id == b0.id);
    net.advance(10s);
    BOOST_TEST_INFO(net.a.log() << net.b.log());
    BOOST_REQUIRE(net.sas(net.b).size() == 1u);
    BOOST_TEST(net.sas(net.b).front().id != b0.id);
    BOOST_TEST(net.sas(net.a).size() == 1u);
    BOOST_TEST(logged(net.a, "reauthenticating (new IKE SA"));
}

BOOST_AUTO_TEST_CASE(a_failed_reauthentication_keeps_the_old_sa_and_retries) {
    Network net;
    establish(net, configs(net, 50s, 0s));
    const auto a0 = net.sas(net.a).front();
    bool block = true;
    net.filter = [&](ike::Datagram& d, const Node&) {
        return !(block && exchange_of(d) == ike::ExchangeType::IKE_SA_INIT);
    };
    // The new IKE SA's IKE_SA_INIT is never answered: after its retransmissions (about 80 s)
    // it gives up.
    net.advance(140s);
    BOOST_TEST_INFO(net.a.log());
    BOOST_TEST(logged(net.a, "reauthentication failed"));
    auto sas = net.sas(net.a);
    BOOST_TEST(std::count_if(sas.begin(), sas.end(), [&](const ike::IkeSaInfo& i) {
                   return i.id == a0.id && i.state == ike::sa::IkeSaState::Established;
               }) == 1);
    BOOST_TEST(net.a.removed.empty());
    block = false;
    net.advance(200s);  // retried 10-30 s after each failure
    BOOST_REQUIRE(net.sas(net.a).size() == 1u);
    BOOST_TEST(net.sas(net.a).front().id != a0.id);
    BOOST_TEST(net.sas(net.b).size() == 1u);
}

BOOST_AUTO_TEST_CASE(a_peer_that_does_not_reauthenticate_is_deleted) {
    // The peer ignores AUTH_LIFETIME (its new IKE SAs never get through): 100 s plus a
    // minute of grace, then the responder deletes the IKE SA and frees the address.
    Network net;
    establish(net, configs(net, 0s, 100s));
    net.filter = [&](ike::Datagram& d, const Node&) {
        return exchange_of(d) != ike::ExchangeType::IKE_SA_INIT;
    };
    net.advance(155s);
    BOOST_TEST(net.sas(net.b).size() == 1u);
    net.advance(10s);
    BOOST_TEST_INFO(net.a.log() << net.b.log());
    BOOST_TEST(logged(net.b, "did not reauthenticate within its AUTH_LIFETIME"));
    BOOST_TEST(net.sas(net.b).empty());
    BOOST_TEST(net.b.pools.in_use() == 0u);
}

BOOST_AUTO_TEST_SUITE_END()
