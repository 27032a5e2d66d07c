// Rekeying (RFC 7296 §1.3, §2.8): CHILD_SAs and the IKE SA renewed by either end, on time
// and with PFS, INVALID_KE_PAYLOAD on the way, the collisions of §2.8.1/§2.8.2 decided by the
// nonces, an IKE rekey crossing a CHILD rekey, Deletes crossing rekeys, and each message of a
// rekey lost once.
//
// After every case the two data planes must agree: each inbound SA one end has installed (and
// not removed) is an outbound SA of the other, and the reverse, one pair per CHILD_SA.

#include <set>

#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>

#include "configs.hpp"
#include "ike/wire/message.hpp"

using namespace postern;
using namespace postern::scenario;
using ike::EventKind;

namespace {

// Short lifetimes without jitter, no liveness checks (their requests would take the window
// at the moments the cases want to control).
ike::Lifetime life(std::chrono::seconds rekey) {
    return {rekey, rekey * 2, std::chrono::seconds(0)};
}
ike::Lifetime never() {
    return {std::chrono::seconds(0), std::chrono::seconds(0), std::chrono::seconds(0)};
}

struct Setup {
    ike::EngineConfig a = {}, b = {};
};

Setup configs(Network& net, ike::Lifetime a_child, ike::Lifetime b_child, ike::Lifetime a_ike,
              ike::Lifetime b_ike) {
    Setup s{psk_initiator(net), psk_responder()};
    s.a.connections[0].child_life = a_child;
    s.b.connections[0].child_life = b_child;
    s.a.connections[0].ike_life = a_ike;
    s.b.connections[0].ike_life = b_ike;
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
}

// Drops the n-th datagram (0-based) put on the wire from now on, once; `done` says it happened.
Network::Filter lose_nth(Network& net, std::size_t n, bool& done) {
    const std::size_t start = net.wire.size();
    return [&net, &done, start, n](ike::Datagram&, const Node&) {
        if (done || net.wire.size() - start != n + 1) return true;
        done = true;
        return false;
    };
}

// The SPIs a node's data plane holds now, by direction.
std::multiset<std::uint32_t> live(const Node& n, bool inbound) {
    std::multiset<std::uint32_t> s;
    for (const auto& i : n.installed)
        if (inbound ? i.install_in : i.install_out)
            s.insert((inbound ? i.in.spi : i.out.spi).value());
    for (const auto& r : n.removed)
        if (inbound || r.remove_out) {
            auto it = s.find((inbound ? r.spi_in : r.spi_out).value());
            BOOST_TEST_REQUIRE((it != s.end()), n.name << " removed an SA it never installed");
            s.erase(it);
        }
    return s;
}

// Both data planes hold exactly `pairs` CHILD_SAs and agree on them; both engines see one
// IKE SA with the same SPIs, `pairs` CHILD_SAs, and no replaced one is left over.
void consistent(const Network& net, std::size_t pairs) {
    BOOST_TEST_INFO(net.a.log() << net.b.log());
    const auto ain = live(net.a, true), aout = live(net.a, false);
    const auto bin = live(net.b, true), bout = live(net.b, false);
    BOOST_TEST(ain.size() == pairs);
    BOOST_TEST(aout.size() == pairs);
    BOOST_TEST((ain == bout));
    BOOST_TEST((aout == bin));
    auto la = net.sas(net.a), lb = net.sas(net.b);
    BOOST_REQUIRE_EQUAL(la.size(), 1u);
    BOOST_REQUIRE_EQUAL(lb.size(), 1u);
    BOOST_TEST(la[0].spi_i.value() == lb[0].spi_i.value());
    BOOST_TEST(la[0].spi_r.value() == lb[0].spi_r.value());
    BOOST_TEST(la[0].children == pairs);
    BOOST_TEST(lb[0].children == pairs);
    BOOST_TEST(net.a.engine->ike_sa_count() == 1u);
    BOOST_TEST(net.b.engine->ike_sa_count() == 1u);
    // Nobody was disconnected.
    BOOST_TEST(!net.a.has_event(EventKind::IkeDeleted));
    BOOST_TEST(!net.b.has_event(EventKind::IkeDeleted));
}

std::uint32_t spi_in_of(const Network& net, const Node& n) {
    return net.sas(n).at(0).child_sas.at(0).spi_in.value();
}

// Messages of one exchange type put on the wire so far.
std::size_t count_exchange(const Network& net, ike::ExchangeType t, bool response) {
    std::size_t k = 0;
    for (const auto& d : net.wire) {
        auto m = ike::wire::parse_message(d.data);
        k += m && m->header.exchange == t && m->header.response == response;
    }
    return k;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(rekey)

BOOST_AUTO_TEST_CASE(child_rekeyed_repeatedly_by_the_initiator) {
    //   HDR, SK { N(REKEY_SA), SA, Ni, TSi, TSr }  -->  <-- HDR, SK { SA, Nr, TSi, TSr }
    //   HDR, SK { D(ESP, old) }                    -->  <-- HDR, SK { D(ESP, old) }
    Network net;
    establish(net, configs(net, life(60s), never(), never(), never()));
    const auto first = spi_in_of(net, net.a);
    const auto reqid = net.sas(net.a).at(0).child_sas.at(0).reqid;
    net.advance(61s);
    consistent(net, 1);
    BOOST_TEST(spi_in_of(net, net.a) != first);
    BOOST_TEST(net.sas(net.a).at(0).child_sas.at(0).reqid == reqid);
    net.advance(120s);
    consistent(net, 1);
    BOOST_TEST(net.a.engine->stats().child_rekeyed == 3u);
    BOOST_TEST(net.b.engine->stats().child_rekeyed == 3u);
    BOOST_TEST(net.a.count(EventKind::ChildDeleted) == 3u);
    BOOST_TEST(count_exchange(net, ike::ExchangeType::CREATE_CHILD_SA, false) == 3u);
}

BOOST_AUTO_TEST_CASE(child_rekeyed_by_the_gateway) {
    Network net;
    establish(net, configs(net, never(), life(60s), never(), never()));
    const auto first = spi_in_of(net, net.b);
    net.advance(61s);
    consistent(net, 1);
    BOOST_TEST(spi_in_of(net, net.b) != first);
    BOOST_TEST(net.b.engine->stats().child_rekeyed == 1u);
    // The client installed the gateway's new SA inbound first and outbound after the
    // gateway's Delete of the old one.
    BOOST_REQUIRE_EQUAL(net.a.installed.size(), 3u);
    BOOST_TEST((net.a.installed[1].install_in && !net.a.installed[1].install_out));
    BOOST_TEST((!net.a.installed[2].install_in && net.a.installed[2].install_out));
}

BOOST_AUTO_TEST_CASE(child_rekey_with_pfs_and_invalid_ke) {
    // The initiator guesses ECP-256 for the rekey's key exchange; the gateway only takes
    // X25519 there: INVALID_KE_PAYLOAD, then the rekey with X25519.
    Network net;
    auto s = configs(net, life(60s), never(), never(), never());
    s.a.connections[0].esp_proposals = {proposal("aes256gcm16-ecp256-x25519", ike::ProtocolId::ESP)};
    s.b.connections[0].esp_proposals = {proposal("aes256gcm16-x25519", ike::ProtocolId::ESP)};
    establish(net, std::move(s));
    net.advance(61s);
    consistent(net, 1);
    BOOST_TEST(net.b.engine->stats().invalid_ke_sent == 1u);
    BOOST_TEST(net.a.engine->stats().child_rekeyed == 1u);
    const auto alg = net.sas(net.b).at(0).child_sas.at(0).algorithms;
    BOOST_TEST(alg.find("CURVE25519") != std::string::npos, alg);
}

BOOST_AUTO_TEST_CASE(child_rekey_without_pfs_when_the_gateway_does_not_do_it) {
    // The client offers X25519 and "none" (iOS sends both kinds); the gateway without PFS
    // picks the proposal without, and no KE payload comes back.
    Network net;
    auto s = configs(net, life(60s), never(), never(), never());
    s.a.connections[0].esp_proposals = {proposal("aes256gcm16-x25519", ike::ProtocolId::ESP),
                                        proposal("aes256gcm16", ike::ProtocolId::ESP)};
    establish(net, std::move(s));
    net.advance(61s);
    consistent(net, 1);
    const auto alg = net.sas(net.a).at(0).child_sas.at(0).algorithms;
    BOOST_TEST(alg.find("CURVE") == std::string::npos, alg);
}

BOOST_AUTO_TEST_CASE(ike_rekeyed_by_either_end_keeps_children_and_address) {
    for (bool by_gateway : {false, true}) {
        BOOST_TEST_CONTEXT("rekeyed by the " << (by_gateway ? "gateway" : "client")) {
            Network net;
            establish(net, configs(net, never(), never(), by_gateway ? never() : life(100s),
                                   by_gateway ? life(100s) : never()));
            const auto before = net.sas(net.b).at(0);
            const auto pool_use = net.b.pools.in_use();
            net.advance(101s);
            consistent(net, 1);
            const auto after = net.sas(net.b).at(0);
            BOOST_TEST(after.spi_i.value() != before.spi_i.value());
            BOOST_TEST(after.spi_r.value() != before.spi_r.value());
            BOOST_TEST(after.id == before.id);  // the same connection for the control socket
            BOOST_TEST(after.virtual_ip->to_string() == before.virtual_ip->to_string());
            BOOST_TEST(after.user == before.user);
            BOOST_TEST(net.b.pools.in_use() == pool_use);
            BOOST_TEST(net.a.removed.empty());  // the data plane saw nothing
            BOOST_TEST(net.b.removed.empty());
            BOOST_TEST(net.a.engine->stats().ike_rekeyed == 1u);
            BOOST_TEST(net.b.engine->stats().ike_rekeyed == 1u);
            // The new IKE SA works: a CHILD rekey and a Delete run on it.
            ike::Actions out;
            BOOST_REQUIRE(net.a.engine->expire_child(
                EspSpi(net.sas(net.a).at(0).child_sas.at(0).spi_in), true, false, net.now, out));
            net.inject(net.a, out);
            net.run();
            consistent(net, 1);
            BOOST_TEST(net.a.engine->stats().child_rekeyed == 1u);
        }
    }
}

BOOST_AUTO_TEST_CASE(ike_rekey_after_invalid_ke) {
    // The gateway changes its mind about groups (reload): the client's rekey with the old
    // group gets INVALID_KE_PAYLOAD and goes again with the one asked for.
    Network net;
    auto s = configs(net, never(), never(), life(100s), never());
    s.a.connections[0].ike_proposals = {
        proposal("aes256gcm16-prfsha256-ecp256-x25519", ike::ProtocolId::IKE)};
    establish(net, std::move(s));
    BOOST_TEST(net.sas(net.a).at(0).algorithms.find("ECP_256") != std::string::npos);
    auto cb = psk_responder({"aes256gcm16-prfsha256-x25519"});
    cb.dpd_delay = std::chrono::seconds(0);
    cb.connections[0].ike_life = never();
    ike::Actions out;
    net.b.engine->reload(std::move(cb), net.now, out);
    net.advance(101s);
    consistent(net, 1);
    BOOST_TEST(net.b.engine->stats().invalid_ke_sent == 1u);
    BOOST_TEST(net.sas(net.a).at(0).algorithms.find("CURVE25519") != std::string::npos);
}

// Both ends rekey the same CHILD_SA at the same moment; `lowest` says whose nonce is lowest:
// 0 the client's Ni, 1 the gateway's Ni, 2 the gateway's Nr (in the client's exchange), 3 the
// client's Nr (in the gateway's exchange).
BOOST_DATA_TEST_CASE(child_rekey_collision, boost::unit_test::data::xrange(4), lowest) {
    Network net;
    establish(net, configs(net, life(60s), life(60s), never(), never()));
    const auto old_a = spi_in_of(net, net.a);
    // Each node makes its Ni (its own request) first and its Nr (answering) second.
    net.a.nonce_first = {std::uint8_t(lowest == 0 ? 0x00 : 0xf0),
                         std::uint8_t(lowest == 3 ? 0x00 : 0xf1)};
    net.b.nonce_first = {std::uint8_t(lowest == 1 ? 0x00 : 0xf2),
                         std::uint8_t(lowest == 2 ? 0x00 : 0xf3)};
    net.advance(61s);
    consistent(net, 1);
    BOOST_TEST(spi_in_of(net, net.a) != old_a);
    BOOST_TEST(net.a.engine->stats().rekey_collisions == 1u);
    BOOST_TEST(net.b.engine->stats().rekey_collisions == 1u);
    // The survivor is the SA of the exchange that does not hold the lowest nonce: the
    // gateway's exchange when the client's holds it (0, 2), else the client's.
    const bool clients_exchange_lost = lowest == 0 || lowest == 2;
    const auto survivor = spi_in_of(net, net.a);
    bool made_as_responder = false;  // the client answered the exchange that made it
    for (const auto& i : net.a.installed)
        if (i.in.spi.value() == survivor && i.install_in) made_as_responder = !i.install_out;
    BOOST_TEST(made_as_responder == clients_exchange_lost);
}

// Both ends rekey the IKE SA at once; `lowest` as above.
BOOST_DATA_TEST_CASE(ike_rekey_collision, boost::unit_test::data::xrange(4), lowest) {
    Network net;
    establish(net, configs(net, never(), never(), life(100s), life(100s)));
    net.a.nonce_first = {std::uint8_t(lowest == 0 ? 0x00 : 0xf0),
                         std::uint8_t(lowest == 3 ? 0x00 : 0xf1)};
    net.b.nonce_first = {std::uint8_t(lowest == 1 ? 0x00 : 0xf2),
                         std::uint8_t(lowest == 2 ? 0x00 : 0xf3)};
    const auto pool_use = net.b.pools.in_use();
    net.advance(101s);
    consistent(net, 1);
    BOOST_TEST(net.a.engine->stats().rekey_collisions == 1u);
    BOOST_TEST(net.b.engine->stats().rekey_collisions == 1u);
    BOOST_TEST(net.b.pools.in_use() == pool_use);
    BOOST_TEST(net.a.removed.empty());
    // The surviving IKE SA's initiator is the end whose exchange did not hold the lowest
    // nonce; the client's when the gateway's exchange held it (1, 3).
    const bool client_initiated = lowest == 1 || lowest == 3;
    BOOST_TEST((net.sas(net.a).at(0).role == (client_initiated ? ike::sa::Role::Initiator
                                                                : ike::sa::Role::Responder)));
    // It works: a CHILD rekey over it.
    ike::Actions out;
    BOOST_REQUIRE(net.b.engine->expire_child(EspSpi(spi_in_of(net, net.b)), true, false, net.now,
                                             out));
    net.inject(net.b, out);
    net.run();
    consistent(net, 1);
}

BOOST_AUTO_TEST_CASE(ike_rekey_crossing_a_child_rekey) {
    // The client rekeys its CHILD_SA while the gateway rekeys the IKE SA: each answers the
    // other TEMPORARY_FAILURE (§2.25.2) and both try again later, apart.
    Network net;
    establish(net, configs(net, life(100s), never(), never(), life(100s)));
    net.advance(101s);
    BOOST_TEST(net.a.engine->stats().child_rekeyed + net.b.engine->stats().ike_rekeyed == 0u);
    net.advance(60s);
    consistent(net, 1);
    BOOST_TEST(net.a.engine->stats().child_rekeyed == 1u);
    BOOST_TEST(net.b.engine->stats().ike_rekeyed == 1u);
}

BOOST_AUTO_TEST_CASE(child_hard_expiry_crossing_the_peers_rekey) {
    // The gateway's CHILD_SA hits its hard limit (gone at once) while the client rekeys it:
    // the rekey finds nothing (CHILD_SA_NOT_FOUND) and the client drops its half; the IKE SA
    // stays.
    Network net;
    establish(net, configs(net, life(60s), never(), never(), never()));
    net.advance(59900ms);
    ike::Actions out;
    BOOST_REQUIRE(
        net.b.engine->expire_child(EspSpi(spi_in_of(net, net.b)), true, true, net.now, out));
    net.inject(net.b, out);
    net.advance(10s);
    consistent(net, 0);
}

BOOST_AUTO_TEST_CASE(ike_delete_crossing_an_ike_rekey) {
    // The gateway deletes the IKE SA as the client rekeys it: the rekey gets TEMPORARY_FAILURE
    // and the Delete wins; the address goes back to the pool.
    Network net;
    establish(net, configs(net, never(), never(), life(100s), never()));
    net.advance(99900ms);
    ike::Actions out;
    BOOST_REQUIRE(net.b.engine->terminate(net.sas(net.b).at(0).id, net.now, out));
    net.inject(net.b, out);
    net.advance(10s);
    BOOST_TEST_INFO(net.a.log() << net.b.log());
    BOOST_TEST(net.sas(net.a).empty());
    BOOST_TEST(net.sas(net.b).empty());
    BOOST_TEST(net.a.engine->ike_sa_count() == 0u);
    BOOST_TEST(net.b.engine->ike_sa_count() == 0u);
    BOOST_TEST(net.b.pools.in_use() == 0u);
    BOOST_TEST(net.a.engine->stats().ike_rekeyed == 0u);
}

// The n-th message of a CHILD rekey (0 request, 1 response, 2 Delete, 3 its answer) is lost
// once: retransmission carries it through.
BOOST_DATA_TEST_CASE(child_rekey_survives_each_lost_message, boost::unit_test::data::xrange(4),
                     n) {
    Network net;
    establish(net, configs(net, life(60s), never(), never(), never()));
    bool done = false;
    net.filter = lose_nth(net, static_cast<std::size_t>(n), done);
    net.advance(61s);
    net.advance(20s);
    BOOST_TEST(done);
    consistent(net, 1);
    BOOST_TEST(net.a.engine->stats().child_rekeyed == 1u);
    BOOST_TEST(net.a.engine->stats().retransmitted + net.b.engine->stats().retransmitted >= 1u);
}

BOOST_DATA_TEST_CASE(ike_rekey_survives_each_lost_message, boost::unit_test::data::xrange(4), n) {
    Network net;
    establish(net, configs(net, never(), never(), life(100s), never()));
    bool done = false;
    net.filter = lose_nth(net, static_cast<std::size_t>(n), done);
    net.advance(101s);
    // A lost answer to the Delete of the old SA leaves it with its initiator until the
    // retransmissions give up (the peer forgot it), about 45 s.
    net.advance(60s);
    BOOST_TEST(done);
    consistent(net, 1);
    BOOST_TEST(net.a.engine->stats().ike_rekeyed == 1u);
}

BOOST_AUTO_TEST_CASE(replaced_ike_sa_goes_when_its_delete_never_comes) {
    // The client rekeys the IKE SA but its Delete of the old one never arrives (it gives up
    // on it): the gateway deletes the old SA itself after a while, quietly (the user is
    // still connected), and gives up on it too when nobody answers.
    Network net;
    establish(net, configs(net, never(), never(), life(300s), never()));
    net.filter = [&](ike::Datagram& d, const Node& from) {
        auto m = ike::wire::parse_message(d.data);
        return !(&from == &net.a && m && m->header.exchange == ike::ExchangeType::INFORMATIONAL &&
                 !m->header.response);
    };
    net.advance(301s);
    BOOST_TEST(net.b.engine->ike_sa_count() == 2u);
    BOOST_TEST(net.sas(net.b).size() == 1u);
    net.advance(120s);
    consistent(net, 1);
}

BOOST_AUTO_TEST_CASE(hard_ike_lifetime_without_rekey_ends_the_sa) {
    // Neither end rekeys (the client's rekey time is beyond the gateway's hard limit): at the
    // hard lifetime the gateway deletes the IKE SA.
    Network net;
    establish(net, configs(net, never(), never(), never(),
                           {std::chrono::seconds(0), std::chrono::seconds(300),
                            std::chrono::seconds(0)}));
    net.advance(299s);
    BOOST_TEST(net.sas(net.b).size() == 1u);
    net.advance(5s);
    BOOST_TEST_INFO(net.a.log() << net.b.log());
    BOOST_TEST(net.sas(net.b).empty());
    BOOST_TEST(net.sas(net.a).empty());
    BOOST_TEST(net.b.pools.in_use() == 0u);
}

BOOST_AUTO_TEST_SUITE_END()
