// Liveness beyond DPD (reliability_test.cpp has the liveness checks themselves): a peer that
// comes back after losing its state says so with INITIAL_CONTACT (RFC 7296 §2.4), and the
// responder ends what it kept for that peer, freeing its virtual IP for the new IKE SA.

#include <boost/test/unit_test.hpp>

#include "configs.hpp"
#include "ike/wire/message.hpp"

using namespace postern;
using namespace postern::scenario;
using ike::EventKind;
using ike::NotifyType;

namespace {

// The IKE_AUTH requests the initiator sent, decrypted: the responder logs each request's
// payload list, so count the ones naming N(INIT_CONTACT).
std::size_t auth_requests_with_initial_contact(const Node& responder) {
    std::size_t n = 0;
    for (const auto& e : responder.events)
        n += e.text.find("IKE_AUTH request") != std::string::npos &&
             e.text.find("N(INIT_CONTACT)") != std::string::npos;
    return n;
}

void connect(Network& net) {
    net.initiate("home");
    net.run();
}

}  // namespace

BOOST_AUTO_TEST_SUITE(initial_contact)

BOOST_AUTO_TEST_CASE(a_rebooted_peer_replaces_its_old_sa) {
    Network net;
    net.b.pools.add("clients", "10.99.0.0/24");
    net.start(psk_initiator(net), psk_responder());
    connect(net);
    BOOST_REQUIRE(net.sas(net.b).size() == 1u);
    const auto old = net.sas(net.b).front();
    BOOST_REQUIRE(old.virtual_ip.has_value());
    BOOST_TEST(auth_requests_with_initial_contact(net.b) == 1u);  // its first contact

    // The client reboots: its new engine knows nothing of the SA the server keeps.
    net.restart_a(psk_initiator(net));
    const std::size_t removed_before = net.b.removed.size();
    connect(net);
    BOOST_TEST_INFO(net.b.log());
    BOOST_TEST(auth_requests_with_initial_contact(net.b) == 2u);
    auto now = net.sas(net.b);
    BOOST_REQUIRE(now.size() == 1u);
    BOOST_TEST(now.front().id != old.id);
    BOOST_TEST((now.front().state == ike::sa::IkeSaState::Established));
    BOOST_TEST(net.b.engine->stats().initial_contact_replaced == 1u);
    // The old CHILD_SA left the data plane; the address went back and came out again.
    BOOST_TEST(net.b.removed.size() == removed_before + 1u);
    BOOST_TEST(net.b.pools.in_use() == 1u);
    BOOST_REQUIRE(now.front().virtual_ip.has_value());
    BOOST_TEST(now.front().virtual_ip->to_string() == old.virtual_ip->to_string());
    // The old SA's peer is gone: it was ended without a Delete, and its end is in the log
    // as a disconnect (an IkeDeleted event for the audit log).
    BOOST_TEST(net.b.count(EventKind::IkeDeleted) == 1u);
}

BOOST_AUTO_TEST_CASE(initial_contact_comes_before_the_per_identity_cap) {
    // With one IKE SA per identity allowed, the rebooted peer's stale SA does not count: it is
    // ended by the INITIAL_CONTACT before the cap is checked.
    Network net;
    net.b.pools.add("clients", "10.99.0.0/24");
    auto cr = psk_responder();
    cr.max_ike_sas_per_identity = 1;
    net.start(psk_initiator(net), cr);
    connect(net);
    net.restart_a(psk_initiator(net));
    connect(net);
    BOOST_TEST_INFO(net.b.log());
    BOOST_TEST(net.sas(net.b).size() == 1u);
    BOOST_TEST(net.b.engine->stats().initial_contact_replaced == 1u);
    BOOST_TEST(net.b.engine->stats().refused_sa_limit == 0u);
    // Without INITIAL_CONTACT the cap refuses the second login.
    auto ci = psk_initiator(net);
    ci.connections[0].initial_contact = false;
    net.restart_a(std::move(ci));
    connect(net);
    BOOST_TEST(net.sas(net.b).size() == 1u);
    BOOST_TEST(net.b.engine->stats().refused_sa_limit == 1u);
}

BOOST_AUTO_TEST_CASE(without_initial_contact_the_old_sa_stays) {
    Network net;
    net.b.pools.add("clients", "10.99.0.0/24");
    net.start(psk_initiator(net), psk_responder());
    connect(net);
    auto ci = psk_initiator(net);
    ci.connections[0].initial_contact = false;
    net.restart_a(std::move(ci));
    connect(net);
    BOOST_TEST_INFO(net.b.log());
    BOOST_TEST(auth_requests_with_initial_contact(net.b) == 1u);
    BOOST_TEST(net.sas(net.b).size() == 2u);
    BOOST_TEST(net.b.engine->stats().initial_contact_replaced == 0u);
    BOOST_TEST(net.b.pools.in_use() == 2u);
}

BOOST_AUTO_TEST_CASE(a_second_sa_of_a_running_peer_is_no_initial_contact) {
    // The initiator still has its first IKE SA up: it does not send INITIAL_CONTACT again
    // and the responder keeps both.
    Network net;
    net.b.pools.add("clients", "10.99.0.0/24");
    net.start(psk_initiator(net), psk_responder());
    connect(net);
    connect(net);
    BOOST_TEST_INFO(net.b.log());
    BOOST_TEST(auth_requests_with_initial_contact(net.b) == 1u);
    BOOST_TEST(net.sas(net.a).size() == 2u);
    BOOST_TEST(net.sas(net.b).size() == 2u);
}

BOOST_AUTO_TEST_CASE(initial_contact_spares_other_users) {
    // bob's SA survives alice's INITIAL_CONTACT.
    Network net;
    net.b.pools.add("clients", "10.99.0.0/24");
    auto bob = psk_initiator(net);
    bob.connections[0].local_id = identity("bob@postern.test");
    net.start(std::move(bob), psk_responder());
    connect(net);
    net.restart_a(psk_initiator(net));  // alice, on the same address
    connect(net);
    BOOST_TEST_INFO(net.b.log());
    BOOST_TEST(auth_requests_with_initial_contact(net.b) == 2u);
    BOOST_TEST(net.sas(net.b).size() == 2u);
    BOOST_TEST(net.b.engine->stats().initial_contact_replaced == 0u);
}

BOOST_AUTO_TEST_SUITE_END()
