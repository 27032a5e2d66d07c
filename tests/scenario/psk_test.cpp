// Establishing IKE and CHILD SAs with a PSK between two engines:
//
//   HDR, SAi1, KEi, Ni, N(NATD_S_IP), N(NATD_D_IP), N(FRAG_SUP), N(HASH_ALG)  -->
//                <--  HDR, SAr1, KEr, Nr, N(NATD_S_IP), N(NATD_D_IP), N(FRAG_SUP), N(HASH_ALG)
//   HDR, SK { IDi, IDr, AUTH, CP(CFG_REQUEST), SAi2, TSi, TSr }  -->
//                <--  HDR, SK { IDr, AUTH, CP(CFG_REPLY), SAr2, TSi, TSr }

#include <boost/test/unit_test.hpp>

#include "configs.hpp"

using namespace postern;
using namespace postern::scenario;
using ike::EventKind;

namespace {

std::string key_hex(const ike::InstallChildSa& op, bool inbound) {
    return to_hex(inbound ? op.in.encr_key : op.out.encr_key);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(psk)

BOOST_AUTO_TEST_CASE(establishes_with_virtual_ip_and_child_sa) {
    Network net;
    net.b.pools.add("clients", "10.99.0.0/24");
    net.start(psk_initiator(net), psk_responder());
    net.initiate("home");
    net.run();

    BOOST_TEST_INFO(net.a.log() << net.b.log());
    BOOST_REQUIRE(net.a.has_event(EventKind::IkeEstablished));
    BOOST_REQUIRE(net.b.has_event(EventKind::IkeEstablished));
    auto ia = net.sas(net.a), ib = net.sas(net.b);
    BOOST_REQUIRE_EQUAL(ia.size(), 1u);
    BOOST_REQUIRE_EQUAL(ib.size(), 1u);
    BOOST_TEST((ia[0].state == ike::sa::IkeSaState::Established));
    BOOST_TEST(ia[0].spi_r.value() == ib[0].spi_r.value());
    BOOST_TEST(ib[0].remote_identity == "alice@postern.test");
    BOOST_TEST(ia[0].remote_identity == "vpn.postern.test");
    // The responder preferred ECP-256 but the initiator's KE was X25519, which it also accepts.
    BOOST_TEST(ia[0].algorithms == ib[0].algorithms);
    BOOST_TEST(ib[0].algorithms.find("CURVE25519") != std::string::npos, ib[0].algorithms);

    // Virtual IP: the first address of the pool (the network address is not handed out).
    BOOST_REQUIRE(ib[0].virtual_ip);
    BOOST_TEST(ib[0].virtual_ip->to_string() == "10.99.0.1");
    BOOST_REQUIRE(ia[0].virtual_ip);
    BOOST_TEST(ia[0].virtual_ip->to_string() == "10.99.0.1");
    BOOST_TEST(net.b.pools.in_use() == 1u);

    // One CHILD_SA on each side, SPIs and keys crosswise equal.
    BOOST_REQUIRE_EQUAL(net.a.installed.size(), 1u);
    BOOST_REQUIRE_EQUAL(net.b.installed.size(), 1u);
    const auto& ca = net.a.installed[0];
    const auto& cb = net.b.installed[0];
    BOOST_TEST(ca.in.spi.value() == cb.out.spi.value());
    BOOST_TEST(ca.out.spi.value() == cb.in.spi.value());
    BOOST_TEST(key_hex(ca, true) == key_hex(cb, false));
    BOOST_TEST(key_hex(ca, false) == key_hex(cb, true));
    BOOST_TEST(ca.in.encr_key.size() == 36u);  // AES-256 key + 4-octet salt
    BOOST_TEST(ca.in.encr_id == static_cast<std::uint16_t>(ike::EncrId::ENCR_AES_GCM_16));
    BOOST_TEST(!ca.in.udp_encap);
    // Traffic selectors: the responder narrowed TSi to the virtual IP and TSr to 10.0.0.0/8.
    BOOST_REQUIRE_EQUAL(cb.in.remote_ts.size(), 1u);
    BOOST_TEST(cb.in.remote_ts[0].start.to_string() == "10.99.0.1");
    BOOST_TEST(cb.in.remote_ts[0].end.to_string() == "10.99.0.1");
    BOOST_REQUIRE_EQUAL(cb.in.local_ts.size(), 1u);
    BOOST_TEST(cb.in.local_ts[0].end.to_string() == "10.255.255.255");
    BOOST_REQUIRE_EQUAL(ca.out.local_ts.size(), 1u);
    BOOST_TEST(ca.out.local_ts[0].start.to_string() == "10.99.0.1");
    // Four datagrams: no retransmission, no fragmentation.
    BOOST_TEST(net.wire.size() == 4u);
    BOOST_TEST(net.a.engine->stats().retransmitted == 0u);
}

BOOST_AUTO_TEST_CASE(wrong_psk_fails_authentication_on_both_sides) {
    Network net;
    net.b.pools.add("clients", "10.99.0.0/24");
    auto ci = psk_initiator(net);
    ci.connections[0].psk = secret("wrong");
    net.start(std::move(ci), psk_responder());
    net.initiate("home");
    net.run();
    BOOST_TEST_INFO(net.a.log() << net.b.log());
    BOOST_TEST(net.b.has_event(EventKind::AuthFailed));
    BOOST_TEST(net.a.has_event(EventKind::AuthFailed));
    BOOST_TEST(!net.b.has_event(EventKind::IkeEstablished));
    BOOST_TEST(net.sas(net.a).empty());
    BOOST_TEST(net.sas(net.b).empty());
    BOOST_TEST(net.b.installed.empty());
    BOOST_TEST(net.b.pools.in_use() == 0u);
    BOOST_TEST(net.b.engine->stats().auth_failed == 1u);
}

BOOST_AUTO_TEST_CASE(no_proposal_chosen) {
    Network net;
    net.start(psk_initiator(net, "aes128-sha256-modp2048"), psk_responder());
    net.initiate("home");
    net.run();
    BOOST_TEST_INFO(net.a.log() << net.b.log());
    BOOST_TEST(net.b.engine->stats().no_proposal_chosen == 1u);
    BOOST_TEST(net.sas(net.b).empty());  // no state on the responder
    BOOST_TEST(net.sas(net.a).empty());
    BOOST_TEST(net.a.has_event(EventKind::IkeDeleted));
}

BOOST_AUTO_TEST_CASE(invalid_ke_payload_then_retry) {
    // The initiator guesses X25519; the responder only takes ECP-256 and says so.
    //   HDR, SAi1, KEi(31), Ni  -->  <-- HDR, N(INVALID_KE_PAYLOAD, 19)
    //   HDR, SAi1, KEi(19), Ni  -->  <-- HDR, SAr1, KEr(19), Nr ...
    Network net;
    net.b.pools.add("clients", "10.99.0.0/24");
    net.start(psk_initiator(net, "aes256gcm16-prfsha256-x25519-ecp256"),
              psk_responder({"aes256gcm16-prfsha256-ecp256"}));
    net.initiate("home");
    net.run();
    BOOST_TEST_INFO(net.a.log() << net.b.log());
    BOOST_TEST(net.b.engine->stats().invalid_ke_sent == 1u);
    BOOST_REQUIRE(net.a.has_event(EventKind::IkeEstablished));
    BOOST_TEST(net.sas(net.a)[0].algorithms.find("ECP_256") != std::string::npos);
    BOOST_TEST(net.wire.size() == 6u);
}

BOOST_AUTO_TEST_CASE(terminate_deletes_both_sides_and_releases_the_address) {
    Network net;
    net.b.pools.add("clients", "10.99.0.0/24");
    net.start(psk_initiator(net), psk_responder());
    auto id = net.initiate("home");
    net.run();
    BOOST_REQUIRE(net.b.has_event(EventKind::IkeEstablished));
    ike::Actions out;
    BOOST_REQUIRE(net.a.engine->terminate(id, net.now, out));
    for (auto& d : out.send)
        net.wire.push_back(d);
    // Hand the Delete over by hand: initiate() owns the only collecting path for node a.
    for (auto& d : out.send) {
        ike::Actions r;
        net.b.engine->on_datagram(ike::Datagram{d.remote, d.local, d.data}, net.now, r);
        for (auto& e : r.events)
            net.b.events.push_back(e);
        for (auto& x : r.remove)
            net.b.removed.push_back(x);
        for (auto& resp : r.send) {
            ike::Actions r2;
            net.a.engine->on_datagram(ike::Datagram{resp.remote, resp.local, resp.data}, net.now,
                                      r2);
            for (auto& e : r2.events)
                net.a.events.push_back(e);
            for (auto& x : r2.remove)
                net.a.removed.push_back(x);
        }
    }
    BOOST_TEST_INFO(net.a.log() << net.b.log());
    BOOST_TEST(net.sas(net.a).empty());
    BOOST_TEST(net.sas(net.b).empty());
    BOOST_TEST(net.a.removed.size() == 1u);
    BOOST_TEST(net.b.removed.size() == 1u);
    BOOST_TEST(net.b.pools.in_use() == 0u);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(negotiation)

BOOST_AUTO_TEST_CASE(unacceptable_traffic_selectors_keep_the_ike_sa) {
    //   HDR, SK { IDi, AUTH, SAi2, TSi, TSr(192.168.0.0/16) }  -->
    //                        <--  HDR, SK { IDr, AUTH, CP, N(TS_UNACCEPTABLE) }
    // The IKE SA is established without a CHILD_SA (RFC 7296 §1.2).
    Network net;
    net.b.pools.add("clients", "10.99.0.0/24");
    auto ci = psk_initiator(net);
    ci.connections[0].remote_ts = {*ike::policy::TrafficSelector::from_cidr("192.168.0.0/16")};
    net.start(std::move(ci), psk_responder());  // responder: local_ts 10.0.0.0/8
    net.initiate("home");
    net.run();
    BOOST_TEST_INFO(net.a.log() << net.b.log());
    BOOST_TEST(net.a.has_event(EventKind::IkeEstablished));
    BOOST_TEST(net.b.has_event(EventKind::IkeEstablished));
    BOOST_TEST(net.a.installed.empty());
    BOOST_TEST(net.b.installed.empty());
    BOOST_TEST(net.a.log().find("TS_UNACCEPTABLE") != std::string::npos);
    BOOST_TEST(net.sas(net.b).at(0).children == 0u);
}

BOOST_AUTO_TEST_CASE(proposal_preference_server_or_client) {
    // The initiator prefers AES-128-GCM, the responder AES-256-GCM; both accept both.
    for (bool server_first : {true, false}) {
        Network net;
        net.b.pools.add("clients", "10.99.0.0/24");
        auto ci = psk_initiator(net);
        ci.connections[0].ike_proposals = {
            proposal("aes128gcm16-aes256gcm16-prfsha256-x25519", ike::ProtocolId::IKE)};
        auto cr = psk_responder({"aes256gcm16-aes128gcm16-prfsha256-x25519"});
        cr.prefer_server_proposals = server_first;
        net.start(std::move(ci), std::move(cr));
        net.initiate("home");
        net.run();
        BOOST_REQUIRE(net.b.has_event(EventKind::IkeEstablished));
        const auto algs = net.sas(net.b).at(0).algorithms;
        BOOST_TEST(
            algs.find(server_first ? "AES_GCM_16_256" : "AES_GCM_16_128") != std::string::npos,
            algs);
    }
}

BOOST_AUTO_TEST_SUITE_END()
