// MOBIKE (RFC 4555): MOBIKE_SUPPORTED in IKE_AUTH, the initiator moving to a new address
// (and port) with UPDATE_SA_ADDRESSES, NAT appearing and disappearing on the new path, loss
// of the request and of the response, COOKIE2, refusal without MOBIKE. The IKE SA, its
// CHILD_SAs (moved, not rekeyed) and the virtual IP stay.

#include <boost/test/unit_test.hpp>

#include "configs.hpp"
#include "ike/wire/message.hpp"

using namespace postern;
using namespace postern::scenario;
using ike::EventKind;

namespace {

struct Setup {
    ike::EngineConfig a, b;
};

Setup configs(Network& net) {
    Setup s{psk_initiator(net), psk_responder()};
    s.a.dpd_delay = s.b.dpd_delay = std::chrono::seconds(0);
    return s;
}

void establish(Network& net, Setup s) {
    net.b.pools.add("clients", "10.99.0.0/24");
    net.start(std::move(s.a), std::move(s.b));
    net.initiate("home");
    net.run();
    BOOST_TEST_INFO(net.a.log() << net.b.log());
    BOOST_REQUIRE(net.a.has_event(EventKind::IkeEstablished));
    BOOST_REQUIRE(net.b.has_event(EventKind::IkeEstablished));
    BOOST_REQUIRE_EQUAL(net.sas(net.b).at(0).children, 1u);
}

// The initiator's address changes to `to` (port 0: the engine picks); returns how many IKE
// SAs start an update.
std::size_t move_client(Network& net, const Endpoint& to) {
    net.a.address = to;
    ike::Actions out;
    const auto n = net.a.engine->local_address_changed(0, to, net.now, out);
    net.inject(net.a, out);
    net.run();
    return n;
}



// Messages of one exchange type put on the wire so far.
std::size_t count_exchange(const Network& net, ike::ExchangeType t) {
    std::size_t k = 0;
    for (const auto& d : net.wire) {
        auto m = ike::wire::parse_message(d.data);
        k += m && m->header.exchange == t;
    }
    return k;
}

// Nothing but the addresses changed: same IKE SA, same CHILD_SA, nothing installed or
// removed, no rekey, same virtual IP.
void same_tunnel(const Network& net, const ike::IkeSaInfo& before, std::size_t installs) {
    BOOST_TEST_INFO(net.a.log() << net.b.log());
    const auto after = net.sas(net.b).at(0);
    BOOST_TEST(after.spi_i.value() == before.spi_i.value());
    BOOST_TEST(after.spi_r.value() == before.spi_r.value());
    BOOST_REQUIRE(after.virtual_ip.has_value());
    BOOST_TEST(after.virtual_ip->to_string() == before.virtual_ip->to_string());
    BOOST_TEST(after.child_sas.at(0).spi_in.value() == before.child_sas.at(0).spi_in.value());
    BOOST_TEST(net.a.installed.size() == installs);
    BOOST_TEST(net.b.installed.size() == installs);
    BOOST_TEST(net.a.removed.empty());
    BOOST_TEST(net.b.removed.empty());
    BOOST_TEST(net.a.count(EventKind::IkeEstablished) == 1u);
    BOOST_TEST(net.b.count(EventKind::IkeEstablished) == 1u);
    BOOST_TEST(!net.a.has_event(EventKind::IkeDeleted));
    BOOST_TEST(!net.b.has_event(EventKind::IkeDeleted));
    BOOST_TEST(count_exchange(net, ike::ExchangeType::CREATE_CHILD_SA) == 0u);
    BOOST_TEST(count_exchange(net, ike::ExchangeType::IKE_SA_INIT) == 2u);
    BOOST_TEST(net.b.engine->ike_sa_count() == 1u);
}

// The last MoveChildSa of `n` names its CHILD_SA and the given addresses.
void moved_to(const Node& n, const Network& net, const std::string& local,
              const std::string& remote, bool encap) {
    BOOST_REQUIRE(!n.moved.empty());
    const auto& m = n.moved.back();
    const auto child = net.sas(n).at(0).child_sas.at(0);
    BOOST_TEST(m.spi_in.value() == child.spi_in.value());
    BOOST_TEST(m.spi_out.value() == child.spi_out.value());
    BOOST_TEST(m.reqid == child.reqid);
    BOOST_TEST(m.local.to_string() == local);
    BOOST_TEST(m.remote.to_string() == remote);
    BOOST_TEST(m.udp_encap == encap);
    BOOST_TEST(m.move_out);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(mobike)

BOOST_AUTO_TEST_CASE(negotiated_in_ike_auth) {
    Network net;
    establish(net, configs(net));
    BOOST_TEST(net.sas(net.a).at(0).mobike);
    BOOST_TEST(net.sas(net.b).at(0).mobike);
    BOOST_TEST(logged(net.a, "sending IKE_AUTH request"));
    BOOST_TEST(count_logged(net.b, "N(MOBIKE_SUP)") == 2u);  // received and answered
}

BOOST_AUTO_TEST_CASE(not_negotiated_when_one_end_does_not_want_it) {
    for (bool gateway_off : {false, true}) {
        BOOST_TEST_CONTEXT((gateway_off ? "gateway" : "client") << " has mobike = false") {
            Network net;
            auto s = configs(net);
            (gateway_off ? s.b : s.a).connections[0].mobike = false;
            establish(net, std::move(s));
            BOOST_TEST(!net.sas(net.a).at(0).mobike);
            BOOST_TEST(!net.sas(net.b).at(0).mobike);
            // The gateway never answers MOBIKE_SUPPORTED unless both want it.
            BOOST_TEST(!logged(net.b, "sending IKE_AUTH response 1 [ IDr AUTH CPRP(ADDR DNS) SA TSi TSr N(MOBIKE_SUP)"));
            BOOST_TEST(count_logged(net.b, "N(MOBIKE_SUP)") == (gateway_off ? 1u : 0u));
            // An address change of the client is not announced.
            BOOST_TEST(move_client(net, endpoint("198.51.100.7", 4500)) == 0u);
            BOOST_TEST(net.a.moved.empty());
        }
    }
}

BOOST_AUTO_TEST_CASE(client_moves_to_a_new_address_and_port) {
    Network net;
    establish(net, configs(net));
    const auto before = net.sas(net.b).at(0);
    const auto leases = net.b.pools.in_use();
    const std::size_t wire_before = net.wire.size();
    BOOST_TEST(move_client(net, endpoint("198.51.100.7", 4501)) == 1u);
    BOOST_TEST_INFO(net.a.log() << net.b.log());

    // One request from the new address with NAT-D and COOKIE2, one answer to it.
    BOOST_REQUIRE_EQUAL(net.wire.size(), wire_before + 2);
    BOOST_TEST(net.wire[wire_before].local.to_string() == "198.51.100.7:4501");
    BOOST_TEST(net.wire[wire_before].remote.to_string() == "192.0.2.2:4500");
    BOOST_TEST(net.wire[wire_before + 1].local.to_string() == "192.0.2.2:4500");
    BOOST_TEST(net.wire[wire_before + 1].remote.to_string() == "198.51.100.7:4501");
    BOOST_TEST(logged(net.b, "[ N(UPD_SA_ADDR) N(NATD_S_IP) N(NATD_D_IP) N(COOKIE2) ]"));
    BOOST_TEST(logged(net.a, "COOKIE2 matched"));

    const auto after = net.sas(net.b).at(0);
    BOOST_TEST(after.remote.to_string() == "198.51.100.7:4501");
    BOOST_TEST(after.local.to_string() == "192.0.2.2:4500");
    BOOST_TEST(!after.nat_local);
    BOOST_TEST(!after.nat_remote);
    BOOST_TEST(net.sas(net.a).at(0).local.to_string() == "198.51.100.7:4501");
    same_tunnel(net, before, 1);
    BOOST_TEST(net.b.pools.in_use() == leases);

    // Both data planes move the CHILD_SA, plain ESP (no NAT).
    BOOST_TEST(net.b.moved.size() == 1u);
    BOOST_TEST(net.a.moved.size() == 1u);
    moved_to(net.b, net, "192.0.2.2:4500", "198.51.100.7:4501", false);
    moved_to(net.a, net, "198.51.100.7:4501", "192.0.2.2:4500", false);
    BOOST_TEST(net.a.moved.back().spi_in.value() == net.b.moved.back().spi_out.value());
    BOOST_TEST(net.b.engine->stats().mobike_updates == 1u);
    BOOST_TEST(net.a.engine->stats().mobike_updates == 1u);

    // The tunnel goes on at the new address: a CHILD rekey there installs the new SA
    // between the new addresses.
    ike::Actions out;
    BOOST_REQUIRE(net.a.engine->expire_child(net.sas(net.a).at(0).child_sas.at(0).spi_in, true,
                                             false, net.now, out));
    net.inject(net.a, out);
    net.run();
    BOOST_REQUIRE_GE(net.b.installed.size(), 2u);
    BOOST_TEST(net.b.installed.at(1).in.src.to_string() == "198.51.100.7:4501");
    BOOST_TEST(net.b.installed.at(1).in.dst.to_string() == "192.0.2.2:4500");
    BOOST_TEST(net.a.installed.back().out.src.to_string() == "198.51.100.7:4501");
    BOOST_TEST(net.a.installed.back().out.dst.to_string() == "192.0.2.2:4500");
}

BOOST_AUTO_TEST_CASE(nat_appears_and_disappears) {
    Network net;
    establish(net, configs(net));
    const auto before = net.sas(net.b).at(0);
    // The client moves behind a NAT: 10.1.1.5:4500 inside is 203.0.113.9:61000 outside.
    const Endpoint inside = endpoint("10.1.1.5", 4500), outside = endpoint("203.0.113.9", 61000);
    bool nat = true;
    net.filter = [&](ike::Datagram& d, const Node& from) {
        if (!nat) return true;
        if (&from == &net.a && d.remote == inside) d.remote = outside;
        if (&from == &net.b && d.local == outside) d.local = inside;
        return true;
    };
    BOOST_TEST(move_client(net, inside) == 1u);
    BOOST_TEST_INFO(net.a.log() << net.b.log());
    auto b = net.sas(net.b).at(0);
    BOOST_TEST(b.remote.to_string() == "203.0.113.9:61000");
    BOOST_TEST(b.nat_remote);
    BOOST_TEST(!b.nat_local);
    auto a = net.sas(net.a).at(0);
    BOOST_TEST(a.nat_local);
    BOOST_TEST(!a.nat_remote);
    moved_to(net.b, net, "192.0.2.2:4500", "203.0.113.9:61000", true);
    moved_to(net.a, net, "10.1.1.5:4500", "192.0.2.2:4500", true);

    // And out from behind it again.
    nat = false;
    BOOST_TEST(move_client(net, endpoint("198.51.100.7", 4500)) == 1u);
    b = net.sas(net.b).at(0);
    BOOST_TEST(b.remote.to_string() == "198.51.100.7:4500");
    BOOST_TEST(!b.nat_remote);
    BOOST_TEST(!net.sas(net.a).at(0).nat_local);
    BOOST_TEST(net.b.moved.size() == 2u);
    moved_to(net.b, net, "192.0.2.2:4500", "198.51.100.7:4500", false);
    moved_to(net.a, net, "198.51.100.7:4500", "192.0.2.2:4500", false);
    same_tunnel(net, before, 1);
}

BOOST_AUTO_TEST_CASE(request_lost_once) {
    Network net;
    establish(net, configs(net));
    const auto before = net.sas(net.b).at(0);
    int drop = 1;
    net.filter = [&](ike::Datagram&, const Node& from) {
        if (&from != &net.a || drop == 0) return true;
        --drop;
        return false;
    };
    move_client(net, endpoint("198.51.100.7", 4500));
    BOOST_TEST(net.b.moved.empty());  // nothing arrived yet
    BOOST_TEST(net.sas(net.b).at(0).remote.to_string() == "192.0.2.1:500");
    net.advance(5s);
    BOOST_TEST_INFO(net.a.log() << net.b.log());
    BOOST_TEST(net.a.engine->stats().retransmitted >= 1u);
    BOOST_TEST(net.sas(net.b).at(0).remote.to_string() == "198.51.100.7:4500");
    BOOST_TEST(net.b.moved.size() == 1u);
    BOOST_TEST(net.a.moved.size() == 1u);
    same_tunnel(net, before, 1);
}

BOOST_AUTO_TEST_CASE(response_lost_once_retransmission_is_idempotent) {
    Network net;
    establish(net, configs(net));
    const auto before = net.sas(net.b).at(0);
    int drop = 0;
    net.filter = [&](ike::Datagram&, const Node& from) {
        if (&from != &net.b || drop == 0) return true;
        --drop;
        return false;
    };
    drop = 1;
    move_client(net, endpoint("198.51.100.7", 4500));
    BOOST_TEST(net.b.moved.size() == 1u);  // the gateway moved; the client does not know yet
    BOOST_TEST(net.a.moved.empty());
    net.advance(5s);
    BOOST_TEST_INFO(net.a.log() << net.b.log());
    BOOST_TEST(net.b.engine->stats().retransmitted >= 1u);  // answered from the cache
    BOOST_TEST(net.b.moved.size() == 1u);                   // and not moved again
    BOOST_TEST(net.b.engine->stats().mobike_updates == 1u);
    BOOST_TEST(net.a.moved.size() == 1u);
    BOOST_TEST(logged(net.a, "COOKIE2 matched"));
    same_tunnel(net, before, 1);
}

BOOST_AUTO_TEST_CASE(cookie2_echoed_and_optional) {
    for (bool with_cookie2 : {true, false}) {
        BOOST_TEST_CONTEXT("COOKIE2 " << (with_cookie2 ? "sent" : "left out")) {
            Network net;
            auto s = configs(net);
            s.a.connections[0].emulate.mobike_no_cookie2 = !with_cookie2;
            establish(net, std::move(s));
            move_client(net, endpoint("198.51.100.7", 4500));
            BOOST_TEST_INFO(net.a.log() << net.b.log());
            BOOST_TEST(logged(net.b, "INFORMATIONAL response 2 [ N(NATD_S_IP) N(NATD_D_IP) ") ==
                       true);
            BOOST_TEST(logged(net.b, "N(NATD_D_IP) N(COOKIE2) ]") == with_cookie2);
            BOOST_TEST(logged(net.a, "COOKIE2 matched") == with_cookie2);
            BOOST_TEST(net.b.moved.size() == 1u);
            BOOST_TEST(net.a.moved.size() == 1u);
        }
    }
}

BOOST_AUTO_TEST_CASE(refused_without_mobike) {
    // A client that sends UPDATE_SA_ADDRESSES although the gateway did not agree to MOBIKE.
    Network net;
    auto s = configs(net);
    s.b.connections[0].mobike = false;
    s.a.connections[0].emulate.mobike_unnegotiated = true;
    establish(net, std::move(s));
    const auto before = net.sas(net.b).at(0);
    BOOST_TEST(move_client(net, endpoint("198.51.100.7", 4500)) == 1u);
    BOOST_TEST_INFO(net.a.log() << net.b.log());
    BOOST_TEST(net.b.engine->stats().mobike_refused == 1u);
    BOOST_TEST(net.sas(net.b).at(0).remote.to_string() == "192.0.2.1:500");
    BOOST_TEST(net.b.moved.empty());
    BOOST_TEST(net.a.moved.empty());
    BOOST_TEST(logged(net.a, "peer refused UPDATE_SA_ADDRESSES: UNACCEPTABLE_ADDRESSES"));
    // The refusal went back to where the request came from, COOKIE2 echoed.
    BOOST_TEST(net.wire.back().remote.to_string() == "198.51.100.7:4500");
    BOOST_TEST(logged(net.b, "[ N(UNACCEPTABLE_ADDRESSES) N(COOKIE2) ]"));
    same_tunnel(net, before, 1);
}

BOOST_AUTO_TEST_CASE(additional_addresses_accepted_and_ignored) {
    // ADDITIONAL_IP4/6_ADDRESS and NO_ADDITIONAL_ADDRESSES (§3.4) in the update, one of them
    // malformed (3 octets for an IPv4 address): the update is applied, the list ignored.
    Network net;
    auto s = configs(net);
    s.a.connections[0].emulate.mobike_update_notifies = {
        {ike::NotifyType::ADDITIONAL_IP4_ADDRESS, Bytes{203, 0, 113, 5}},
        {ike::NotifyType::ADDITIONAL_IP4_ADDRESS, Bytes{203, 0, 113}},
        {ike::NotifyType::ADDITIONAL_IP6_ADDRESS, Bytes(16, 0x20)},
        {ike::NotifyType::NO_ADDITIONAL_ADDRESSES, Bytes{}}};
    establish(net, std::move(s));
    BOOST_TEST(move_client(net, endpoint("198.51.100.7", 4500)) == 1u);
    BOOST_TEST_INFO(net.a.log() << net.b.log());
    BOOST_TEST(logged(net.b, "N(ADD_4_ADDR) N(ADD_4_ADDR) N(ADD_6_ADDR) N(NO_ADD_ADDR) ]"));
    BOOST_TEST(net.sas(net.b).at(0).remote.to_string() == "198.51.100.7:4500");
    BOOST_TEST(net.b.moved.size() == 1u);
    BOOST_TEST(net.a.moved.size() == 1u);
}

BOOST_AUTO_TEST_CASE(no_nats_allowed_refused_behind_a_nat) {
    // §3.9: NO_NATS_ALLOWED and a NAT on the new path: UNEXPECTED_NAT_DETECTED, no move.
    Network net;
    auto s = configs(net);
    s.a.connections[0].emulate.mobike_update_notifies = {
        {ike::NotifyType::NO_NATS_ALLOWED, Bytes{}}};
    establish(net, std::move(s));
    const Endpoint inside = endpoint("10.1.1.5", 4500), outside = endpoint("203.0.113.9", 61000);
    net.filter = [&](ike::Datagram& d, const Node& from) {
        if (&from == &net.a && d.remote == inside) d.remote = outside;
        if (&from == &net.b && d.local == outside) d.local = inside;
        return true;
    };
    move_client(net, inside);
    BOOST_TEST_INFO(net.a.log() << net.b.log());
    BOOST_TEST(net.b.engine->stats().mobike_refused == 1u);
    BOOST_TEST(net.b.moved.empty());
    BOOST_TEST(net.a.moved.empty());
    BOOST_TEST(net.sas(net.b).at(0).remote.to_string() == "192.0.2.1:500");
    BOOST_TEST(logged(net.a, "peer refused UPDATE_SA_ADDRESSES: UNEXPECTED_NAT_DETECTED"));
}

BOOST_AUTO_TEST_CASE(cookie2_of_a_wrong_size_refused) {
    // §3.6: COOKIE2 is 8 to 64 octets; 4 octets is a syntax error, nothing moves.
    for (std::size_t size : {4u, 65u}) {
        BOOST_TEST_CONTEXT("COOKIE2 of " << size << " octets") {
            Network net;
            auto s = configs(net);
            s.a.connections[0].emulate.mobike_no_cookie2 = true;
            s.a.connections[0].emulate.mobike_update_notifies = {
                {ike::NotifyType::COOKIE2, Bytes(size, 0x77)}};
            establish(net, std::move(s));
            move_client(net, endpoint("198.51.100.7", 4500));
            BOOST_TEST_INFO(net.a.log() << net.b.log());
            BOOST_TEST(net.b.engine->stats().mobike_refused == 1u);
            BOOST_TEST(net.b.moved.empty());
            BOOST_TEST(logged(net.a, "peer refused UPDATE_SA_ADDRESSES: INVALID_SYNTAX"));
        }
    }
}

BOOST_AUTO_TEST_CASE(addresses_follow_only_update_sa_addresses) {
    // With MOBIKE a message from another address (here a liveness check through a NAT that
    // rebinds) does not move the SA; without MOBIKE (RFC 7296 §2.23, behind a NAT) it does,
    // CHILD_SAs included.
    for (bool mobike : {true, false}) {
        BOOST_TEST_CONTEXT("mobike " << mobike) {
            Network net;
            auto s = configs(net);
            s.a.connections[0].mobike = mobike;
            s.a.connections[0].force_encap = true;  // "behind a NAT" for §2.23
            establish(net, std::move(s));
            net.filter = [&](ike::Datagram& d, const Node& from) {
                if (&from == &net.a) d.remote = endpoint("203.0.113.50", 40000);
                if (&from == &net.b && d.local == endpoint("203.0.113.50", 40000))
                    d.local = endpoint("192.0.2.1", 4500);
                return true;
            };
            ike::Actions out;
            BOOST_REQUIRE(net.a.engine->expire_child(
                net.sas(net.a).at(0).child_sas.at(0).spi_in, true, false, net.now, out));
            net.inject(net.a, out);
            net.run();
            BOOST_TEST_INFO(net.a.log() << net.b.log());
            const auto b = net.sas(net.b).at(0);
            BOOST_TEST((b.remote.to_string() == "203.0.113.50:40000") == !mobike);
            BOOST_TEST(net.b.moved.size() == (mobike ? 0u : 1u));
        }
    }
}

BOOST_AUTO_TEST_CASE(client_moves_while_a_request_is_outstanding) {
    // The client's rekey is out when its address changes: the rekey is retransmitted from the
    // new address, and the update follows once it is answered.
    Network net;
    establish(net, configs(net));
    bool lost = true;
    net.filter = [&](ike::Datagram&, const Node& from) { return !(lost && &from == &net.a); };
    ike::Actions out;
    BOOST_REQUIRE(net.a.engine->expire_child(net.sas(net.a).at(0).child_sas.at(0).spi_in, true,
                                             false, net.now, out));
    net.inject(net.a, out);
    net.run();
    lost = false;
    BOOST_TEST(move_client(net, endpoint("198.51.100.7", 4500)) == 1u);
    net.advance(10s);
    BOOST_TEST_INFO(net.a.log() << net.b.log());
    BOOST_TEST(net.sas(net.b).at(0).remote.to_string() == "198.51.100.7:4500");
    BOOST_TEST(net.a.engine->stats().child_rekeyed == 1u);
    BOOST_TEST(net.b.engine->stats().mobike_updates == 1u);
    // The CHILD_SA that the rekey made was moved to the new address too.
    const auto child = net.sas(net.b).at(0).child_sas.at(0);
    BOOST_TEST(net.sas(net.b).at(0).children == 1u);
    bool found = false;
    for (const auto& m : net.b.moved)
        found |= m.spi_in.value() == child.spi_in.value() &&
                 m.remote.to_string() == "198.51.100.7:4500";
    BOOST_TEST(found);
}

BOOST_AUTO_TEST_SUITE_END()
