// What the data plane tells the engine, and what the engine tells the data plane beyond keys:
//
//   expire_child (hard)   both directions removed at once, then
//                         HDR, SK { D(ESP, our inbound SPI) }  -->
//                                       <--  HDR, SK { D(ESP, its inbound SPI) }
//                         and the IKE SA stays; sent only when no request of ours is
//                         outstanding (one request at a time, RFC 7296 §2.3)
//   expire_child (soft)   the CHILD_SA is rekeyed (rekey_test.cpp has the rest)
//   encap = true          NAT-D source faked: both sides encapsulate without a NAT
//   isolation             the inbound SA's local selectors lose the pool (but keep the gateway)

#include <boost/test/unit_test.hpp>

#include "configs.hpp"
#include "ike/wire/message.hpp"

using namespace postern;
using namespace postern::scenario;
using ike::EventKind;

namespace {

// An established PSK tunnel with one CHILD_SA, as in psk_test.cpp.
void establish(Network& net, ike::EngineConfig initiator, ike::EngineConfig responder) {
    net.b.pools.add("clients", "10.99.0.0/24");
    net.start(std::move(initiator), std::move(responder));
    net.initiate("home");
    net.run();
    BOOST_TEST_INFO(net.a.log() << net.b.log());
    BOOST_REQUIRE(net.a.has_event(EventKind::IkeEstablished));
    BOOST_REQUIRE(net.b.has_event(EventKind::IkeEstablished));
    BOOST_REQUIRE_EQUAL(net.a.installed.size(), 1u);
    BOOST_REQUIRE_EQUAL(net.b.installed.size(), 1u);
}

std::string selectors(const std::vector<Selector>& list) {
    std::string s;
    for (const auto& x : list)
        s += (s.empty() ? "" : ", ") + x.start.to_string() + "-" + x.end.to_string();
    return s;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(dataplane_events)

BOOST_AUTO_TEST_CASE(hard_expiry_deletes_the_child_on_both_sides_and_keeps_the_ike_sa) {
    Network net;
    establish(net, psk_initiator(net), psk_responder());
    const auto child = net.b.installed[0];
    const std::size_t sent_before = net.wire.size();

    ike::Actions out;
    BOOST_REQUIRE(net.b.engine->expire_child(child.in.spi, true, true, net.now, out));
    // The data plane loses both directions at once, before the peer has answered.
    BOOST_REQUIRE_EQUAL(out.remove.size(), 1u);
    BOOST_TEST(out.remove[0].spi_in.value() == child.in.spi.value());
    BOOST_TEST(out.remove[0].spi_out.value() == child.out.spi.value());
    BOOST_REQUIRE_EQUAL(out.send.size(), 1u);
    net.inject(net.b, out);
    net.run();

    BOOST_TEST_INFO(net.a.log() << net.b.log());
    BOOST_TEST(net.wire.size() == sent_before + 2);  // the Delete and its answer
    BOOST_REQUIRE_EQUAL(net.a.removed.size(), 1u);
    BOOST_TEST(net.a.removed[0].spi_in.value() == child.out.spi.value());
    BOOST_TEST(net.b.count(EventKind::ChildDeleted) == 1u);
    BOOST_TEST(net.a.count(EventKind::ChildDeleted) == 1u);
    auto ia = net.sas(net.a), ib = net.sas(net.b);
    BOOST_REQUIRE_EQUAL(ia.size(), 1u);
    BOOST_REQUIRE_EQUAL(ib.size(), 1u);
    BOOST_TEST((ia[0].state == ike::sa::IkeSaState::Established));
    BOOST_TEST(ia[0].children == 0u);
    BOOST_TEST(ib[0].children == 0u);

    // An event that crosses the Delete (the other direction of the same SA) finds nothing.
    ike::Actions late;
    BOOST_TEST(!net.b.engine->expire_child(child.out.spi, false, true, net.now, late));
    BOOST_TEST(late.remove.empty());
    BOOST_TEST(late.send.empty());
}

BOOST_AUTO_TEST_CASE(outbound_hard_expiry_is_found_by_the_peers_spi) {
    Network net;
    establish(net, psk_initiator(net), psk_responder());
    const auto child = net.a.installed[0];
    ike::Actions out;
    BOOST_REQUIRE(net.a.engine->expire_child(child.out.spi, false, true, net.now, out));
    net.inject(net.a, out);
    net.run();
    BOOST_TEST_INFO(net.a.log() << net.b.log());
    BOOST_TEST(net.a.removed.size() == 1u);
    BOOST_TEST(net.b.removed.size() == 1u);
    BOOST_TEST(net.sas(net.b).at(0).children == 0u);
}

BOOST_AUTO_TEST_CASE(soft_expiry_rekeys_the_child) {
    //   expire_child (soft)  -->  HDR, SK { N(REKEY_SA), SA, Ni, TSi, TSr }  -->
    //                                  <--  HDR, SK { SA, Nr, TSi, TSr }
    //                             HDR, SK { D(ESP, old SPI) }  -->  <-- HDR, SK { D(ESP) }
    Network net;
    establish(net, psk_initiator(net), psk_responder());
    const auto child = net.b.installed[0];
    ike::Actions out;
    BOOST_REQUIRE(net.b.engine->expire_child(child.in.spi, true, false, net.now, out));
    BOOST_TEST(out.remove.empty());
    BOOST_REQUIRE_EQUAL(out.send.size(), 1u);  // the CREATE_CHILD_SA request, at once
    net.inject(net.b, out);
    net.run();
    BOOST_TEST_INFO(net.a.log() << net.b.log());
    // Both ends have the new SA pair, with the old reqid, and have removed the old one. The
    // rekey's initiator installed both directions at once; the responder its inbound SA
    // first and its outbound SA when the Delete of the old one came (make-before-break).
    BOOST_REQUIRE_EQUAL(net.b.installed.size(), 2u);
    BOOST_TEST((net.b.installed[1].install_in && net.b.installed[1].install_out));
    BOOST_REQUIRE_EQUAL(net.a.installed.size(), 3u);
    BOOST_TEST((net.a.installed[1].install_in && !net.a.installed[1].install_out));
    BOOST_TEST((!net.a.installed[2].install_in && net.a.installed[2].install_out));
    BOOST_TEST(net.b.installed[1].in.reqid == child.in.reqid);
    BOOST_TEST(net.b.installed[1].in.spi.value() != child.in.spi.value());
    BOOST_TEST(net.a.installed[2].out.spi.value() == net.b.installed[1].in.spi.value());
    BOOST_REQUIRE_EQUAL(net.b.removed.size(), 1u);
    BOOST_TEST(net.b.removed[0].spi_in.value() == child.in.spi.value());
    BOOST_REQUIRE_EQUAL(net.a.removed.size(), 1u);
    BOOST_TEST(net.sas(net.a).at(0).children == 1u);
    BOOST_TEST(net.sas(net.b).at(0).children == 1u);
    // A second soft event for the old SA finds nothing.
    ike::Actions late;
    BOOST_TEST(!net.b.engine->expire_child(child.in.spi, true, false, net.now, late));
}

BOOST_AUTO_TEST_CASE(unknown_spi_is_not_an_error_and_does_nothing) {
    Network net;
    establish(net, psk_initiator(net), psk_responder());
    ike::Actions out;
    BOOST_TEST(!net.b.engine->expire_child(EspSpi(0x01020304), true, true, net.now, out));
    BOOST_TEST(out.remove.empty());
    BOOST_TEST(out.send.empty());
}

BOOST_AUTO_TEST_CASE(delete_waits_for_the_outstanding_request) {
    Network net;
    establish(net, psk_initiator(net), psk_responder());
    const auto child = net.b.installed[0];
    // The responder's liveness check goes unanswered: its request window is full.
    bool cut = true;
    net.filter = [&](ike::Datagram&, const Node& from) { return !(cut && &from == &net.b); };
    net.advance(31s);
    const std::size_t sent_before = net.wire.size();
    BOOST_REQUIRE_GT(net.b.engine->stats().sent, 0u);

    ike::Actions out;
    BOOST_REQUIRE(net.b.engine->expire_child(child.in.spi, true, true, net.now, out));
    BOOST_TEST(out.remove.size() == 1u);  // the data plane forgets the SA at once
    BOOST_TEST(out.send.empty());         // the Delete waits
    net.inject(net.b, out);

    // Once the liveness check is answered, the Delete goes out and the peer removes its half.
    cut = false;
    net.advance(10s);
    BOOST_TEST_INFO(net.a.log() << net.b.log());
    BOOST_TEST(net.wire.size() > sent_before);
    BOOST_REQUIRE_EQUAL(net.a.removed.size(), 1u);
    BOOST_TEST(net.a.removed[0].spi_in.value() == child.out.spi.value());
    BOOST_TEST(net.sas(net.a).at(0).children == 0u);
}

BOOST_AUTO_TEST_CASE(encap_forces_udp_encapsulation_without_a_nat) {
    Network net;
    auto initiator = psk_initiator(net);
    initiator.connections[0].force_encap = true;
    establish(net, std::move(initiator), psk_responder());
    BOOST_TEST(net.a.installed[0].in.udp_encap);
    BOOST_TEST(net.a.installed[0].out.udp_encap);
    BOOST_TEST(net.b.installed[0].in.udp_encap);
    BOOST_TEST(net.b.installed[0].out.udp_encap);
    // The initiator moved to port 4500 after IKE_SA_INIT, as behind a NAT (RFC 7296 §2.23),
    // and the responder believes the initiator is behind one.
    BOOST_REQUIRE_GE(net.wire.size(), 3u);
    BOOST_TEST(net.wire[2].remote.port == 4500);
    auto ib = net.sas(net.b);
    BOOST_TEST(ib.at(0).nat_remote);
    BOOST_TEST(!ib.at(0).nat_local);
    BOOST_TEST(net.b.installed[0].out.dst.port == 4500);
}

BOOST_AUTO_TEST_CASE(without_encap_there_is_no_encapsulation) {
    Network net;
    establish(net, psk_initiator(net), psk_responder());
    BOOST_TEST(!net.a.installed[0].in.udp_encap);
    BOOST_TEST(!net.b.installed[0].out.udp_encap);
    BOOST_TEST(net.wire[2].remote.port == 500);
}

BOOST_AUTO_TEST_CASE(isolation_takes_the_pool_out_of_the_inbound_selectors_only) {
    Network net;
    auto responder = psk_responder();
    // What engine_setup builds for pool 10.99.0.0/24 with client_to_client off: the pool
    // without the gateway's 10.99.0.254.
    auto pool = *ike::policy::TrafficSelector::from_cidr("10.99.0.0/24");
    responder.connections[0].isolated = ike::policy::subtract(
        std::vector{pool}, ike::policy::TrafficSelector::host(*IpAddress::parse("10.99.0.254")));
    establish(net, psk_initiator(net), std::move(responder));
    const auto& c = net.b.installed[0];
    BOOST_TEST(selectors(c.in.local_ts) ==
               "10.0.0.0-10.98.255.255, 10.99.0.254-10.99.0.254, 10.99.1.0-10.255.255.255");
    BOOST_TEST(selectors(c.out.local_ts) == "10.0.0.0-10.255.255.255");
    // What was negotiated is not touched: the client still sees 10.0.0.0/8.
    BOOST_TEST(selectors(net.a.installed[0].out.remote_ts) == "10.0.0.0-10.255.255.255");
}

BOOST_AUTO_TEST_SUITE_END()
