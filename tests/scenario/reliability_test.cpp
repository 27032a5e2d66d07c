// What happens when the network or the peer misbehaves: cookies under load, lost and
// duplicated messages, malformed and out-of-window messages, NAT on the path, silent peers.

#include <boost/test/unit_test.hpp>

#include "configs.hpp"
#include "ike/wire/message.hpp"

using namespace postern;
using namespace postern::scenario;
using ike::EventKind;

namespace {

ike::ExchangeType exchange_of(const ike::Datagram& d) {
    auto m = ike::wire::parse_message(d.data);
    return m ? m->header.exchange : ike::ExchangeType::IKE_SESSION_RESUME;
}
bool is_request(const ike::Datagram& d) {
    auto m = ike::wire::parse_message(d.data);
    return m && !m->header.response;
}

void establish(Network& net, ike::EngineConfig ci, ike::EngineConfig cr) {
    net.b.pools.add("clients", "10.99.0.0/24");
    net.start(std::move(ci), std::move(cr));
    net.initiate("home");
    net.run();
}

}  // namespace

BOOST_AUTO_TEST_SUITE(reliability)

BOOST_AUTO_TEST_CASE(cookie_round_trip) {
    //   HDR, SAi1, KEi, Ni  -->            <-- HDR, N(COOKIE)
    //   HDR, N(COOKIE), SAi1, KEi, Ni -->  <-- HDR, SAr1, KEr, Nr ...
    Network net;
    auto cr = psk_responder();
    cr.cookie_threshold = 0;  // demand cookies from everyone
    establish(net, psk_initiator(net), std::move(cr));
    BOOST_TEST_INFO(net.a.log() << net.b.log());
    BOOST_TEST(net.b.engine->stats().cookies_sent == 1u);
    BOOST_REQUIRE(net.a.has_event(EventKind::IkeEstablished));
    BOOST_REQUIRE(net.b.has_event(EventKind::IkeEstablished));
    // The retried request starts with N(COOKIE).
    auto m = ike::wire::parse_message(net.wire.at(2).data);
    BOOST_REQUIRE(m);
    BOOST_TEST((m->payloads.front().type == ike::PayloadType::N));
    BOOST_TEST(
        (m->payloads.front().get<ike::wire::NotifyPayload>()->type == ike::NotifyType::COOKIE));
}

BOOST_AUTO_TEST_CASE(wrong_cookie_creates_no_state) {
    Network net;
    auto cr = psk_responder();
    cr.cookie_threshold = 0;
    net.filter = [](ike::Datagram& d, const Node& from) {
        // Corrupt the cookie the initiator echoes: the responder must answer with a fresh
        // COOKIE again and never create an SA.
        if (from.name == "initiator" && exchange_of(d) == ike::ExchangeType::IKE_SA_INIT) {
            auto m = ike::wire::parse_message(d.data);
            if (m && !m->payloads.empty() && m->payloads.front().type == ike::PayloadType::N) {
                auto* n = m->payloads.front().get<ike::wire::NotifyPayload>();
                n->data.back() ^= 0x01;
                d.data = ike::wire::serialize(*m);
            }
        }
        return true;
    };
    establish(net, psk_initiator(net), std::move(cr));
    BOOST_TEST_INFO(net.a.log() << net.b.log());
    BOOST_TEST(!net.b.has_event(EventKind::IkeEstablished));
    BOOST_TEST(net.sas(net.b).empty());
    BOOST_TEST(net.b.engine->stats().cookies_sent >= 2u);
}

BOOST_AUTO_TEST_CASE(lost_ike_auth_request_is_retransmitted) {
    Network net;
    int dropped = 0;
    net.filter = [&](ike::Datagram& d, const Node& from) {
        if (from.name == "initiator" && exchange_of(d) == ike::ExchangeType::IKE_AUTH &&
            dropped < 2) {
            ++dropped;
            return false;
        }
        return true;
    };
    establish(net, psk_initiator(net), psk_responder());
    BOOST_TEST(!net.a.has_event(EventKind::IkeEstablished));
    net.advance(10s);  // 2 s, then 3.6 s: the third transmission gets through
    BOOST_TEST_INFO(net.a.log() << net.b.log());
    BOOST_REQUIRE(net.a.has_event(EventKind::IkeEstablished));
    BOOST_REQUIRE(net.b.has_event(EventKind::IkeEstablished));
    BOOST_TEST(net.a.engine->stats().retransmitted == 2u);
    BOOST_TEST(net.b.installed.size() == 1u);
}

BOOST_AUTO_TEST_CASE(lost_response_answered_from_cache) {
    // The responder's IKE_AUTH response is lost once; the initiator retransmits its request
    // and the responder replays the cached response without processing the request again
    // (one CHILD_SA, one virtual IP).
    Network net;
    bool lost = false;
    net.filter = [&](ike::Datagram& d, const Node& from) {
        if (from.name == "responder" && exchange_of(d) == ike::ExchangeType::IKE_AUTH && !lost) {
            lost = true;
            return false;
        }
        return true;
    };
    establish(net, psk_initiator(net), psk_responder());
    BOOST_REQUIRE(net.b.has_event(EventKind::IkeEstablished));
    BOOST_REQUIRE(!net.a.has_event(EventKind::IkeEstablished));
    const Bytes first_response = [&] {
        for (const auto& d : net.wire)
            if (exchange_of(d) == ike::ExchangeType::IKE_AUTH && !is_request(d)) return d.data;
        return Bytes{};
    }();
    net.advance(3s);
    BOOST_TEST_INFO(net.a.log() << net.b.log());
    BOOST_REQUIRE(net.a.has_event(EventKind::IkeEstablished));
    BOOST_TEST(net.b.engine->stats().retransmitted == 1u);
    BOOST_TEST(net.b.installed.size() == 1u);
    BOOST_TEST(net.b.pools.in_use() == 1u);
    std::size_t responses = 0;
    for (const auto& d : net.wire)
        if (exchange_of(d) == ike::ExchangeType::IKE_AUTH && !is_request(d)) {
            ++responses;
            BOOST_TEST(to_hex(d.data) == to_hex(first_response));  // byte-identical replay
        }
    BOOST_TEST(responses == 2u);
}

BOOST_AUTO_TEST_CASE(duplicate_ike_sa_init_gets_the_same_answer) {
    Network net;
    net.filter = [&](ike::Datagram& d, const Node& from) {
        (void)d;
        (void)from;
        return true;
    };
    net.b.pools.add("clients", "10.99.0.0/24");
    net.start(psk_initiator(net), psk_responder());
    net.initiate("home");
    // Deliver the IKE_SA_INIT request twice before anything else.
    const auto req = net.wire.at(0);
    ike::Actions o1, o2;
    net.b.engine->on_datagram({req.remote, req.local, req.data}, net.now, o1);
    net.b.engine->on_datagram({req.remote, req.local, req.data}, net.now, o2);
    BOOST_REQUIRE_EQUAL(o1.send.size(), 1u);
    BOOST_REQUIRE_EQUAL(o2.send.size(), 1u);
    BOOST_TEST(to_hex(o1.send[0].data) == to_hex(o2.send[0].data));
    BOOST_TEST(net.sas(net.b).size() == 1u);
}

BOOST_AUTO_TEST_CASE(malformed_and_out_of_window_messages) {
    Network net;
    establish(net, psk_initiator(net), psk_responder());
    BOOST_REQUIRE(net.b.has_event(EventKind::IkeEstablished));
    const auto& st = net.b.engine->stats();
    const auto auth_req = [&] {
        for (const auto& d : net.wire)
            if (exchange_of(d) == ike::ExchangeType::IKE_AUTH && is_request(d)) return d;
        throw std::runtime_error("no IKE_AUTH");
    }();
    const ike::Datagram in{auth_req.remote, auth_req.local, auth_req.data};
    ike::Actions out;

    // Garbage: dropped and counted, nothing sent.
    auto before = st.dropped_malformed;
    net.b.engine->on_datagram({in.local, in.remote, Bytes{1, 2, 3}}, net.now, out);
    BOOST_TEST(st.dropped_malformed == before + 1);
    BOOST_TEST(out.send.empty());

    // A message ID far ahead of the window: dropped silently (RFC 7296 §2.3).
    auto m = ike::wire::parse_message(in.data);
    BOOST_REQUIRE(m);
    Bytes ahead = in.data;
    ahead[20] = 0x00, ahead[21] = 0x00, ahead[22] = 0x00, ahead[23] = 0x09;  // message ID 9
    before = st.dropped_window;
    net.b.engine->on_datagram({in.local, in.remote, ahead}, net.now, out);
    BOOST_TEST(st.dropped_window == before + 1);
    BOOST_TEST(out.send.empty());

    // Message ID 2 (the next one) but a flipped ciphertext bit: fails integrity, dropped
    // silently and counted, no answer (§2.21.2).
    Bytes tampered = in.data;
    tampered[23] = 0x02;
    before = st.dropped_integrity;
    net.b.engine->on_datagram({in.local, in.remote, tampered}, net.now, out);
    BOOST_TEST(st.dropped_integrity == before + 1);
    BOOST_TEST(out.send.empty());

    // An unknown SPI: dropped and counted.
    Bytes unknown = in.data;
    unknown[8] ^= 0xff;
    before = st.dropped_unknown_spi;
    net.b.engine->on_datagram({in.local, in.remote, unknown}, net.now, out);
    BOOST_TEST(st.dropped_unknown_spi == before + 1);

    // The IKE SA survived all of it.
    BOOST_TEST((net.sas(net.b).at(0).state == ike::sa::IkeSaState::Established));
}

BOOST_AUTO_TEST_CASE(nat_on_the_path_floats_to_4500) {
    // A NAT rewrites the initiator's address and port; both ends detect it from NAT-D,
    // IKE_AUTH moves to port 4500 and the CHILD_SA uses UDP encapsulation (RFC 3948).
    Network net;
    const Endpoint public_addr = endpoint("198.51.100.7", 61000);
    const Endpoint public_natt = endpoint("198.51.100.7", 61001);
    net.filter = [&](ike::Datagram& d, const Node& from) {
        if (from.name == "initiator") {
            d.remote = d.remote.port == 500 ? public_addr : public_natt;
        } else if (d.local == public_addr || d.local == public_natt) {
            d.local = Endpoint{net.a.address.address,
                               d.local == public_addr ? std::uint16_t(500) : std::uint16_t(4500)};
        }
        return true;
    };
    // The responder's replies go to the NAT's public address, which the network maps back.
    establish(net, psk_initiator(net), psk_responder());
    BOOST_TEST_INFO(net.a.log() << net.b.log());
    BOOST_REQUIRE(net.b.has_event(EventKind::IkeEstablished));
    auto sb = net.sas(net.b).at(0);
    BOOST_TEST(sb.nat_remote);
    BOOST_TEST(!sb.nat_local);
    BOOST_TEST((sb.remote == public_natt));
    BOOST_TEST(sb.local.port == 4500);
    auto sa_ = net.sas(net.a).at(0);
    BOOST_TEST(sa_.nat_local);
    BOOST_REQUIRE_EQUAL(net.b.installed.size(), 1u);
    BOOST_TEST(net.b.installed[0].in.udp_encap);
    BOOST_TEST((net.b.installed[0].out.dst == public_natt));
    // The initiator, behind the NAT, sends keepalives.
    std::size_t keepalives = 0;
    net.advance(25s);
    for (const auto& d : net.wire)
        keepalives += d.data.size() == 1 && d.data[0] == 0xff;
    BOOST_TEST(keepalives >= 1u);
}

BOOST_AUTO_TEST_CASE(silent_peer_is_detected_and_deleted) {
    // DPD: after dpd_delay without traffic the responder sends an empty INFORMATIONAL; the
    // initiator has vanished, so after the retransmissions the IKE SA goes, with its CHILD_SA
    // and its virtual IP.
    Network net;
    auto cr = psk_responder();
    cr.dpd_delay = 30s;
    cr.retransmit_tries = 3;
    establish(net, psk_initiator(net), std::move(cr));
    BOOST_REQUIRE(net.b.has_event(EventKind::IkeEstablished));
    net.filter = [](ike::Datagram&, const Node&) { return false; };  // the initiator is gone
    net.advance(31s);
    BOOST_TEST(net.b.engine->stats().sent >= 3u);
    BOOST_TEST(!net.b.has_event(EventKind::IkeDeleted));
    net.advance(20s);  // 2 s + 3.6 s + 6.5 s of retransmissions, then give up
    BOOST_TEST_INFO(net.b.log());
    BOOST_TEST(net.b.has_event(EventKind::IkeDeleted));
    BOOST_TEST(net.sas(net.b).empty());
    BOOST_TEST(net.b.removed.size() == 1u);
    BOOST_TEST(net.b.pools.in_use() == 0u);
}

BOOST_AUTO_TEST_CASE(liveness_check_is_answered) {
    Network net;
    auto cr = psk_responder();
    cr.dpd_delay = 30s;
    auto ci = psk_initiator(net);
    ci.dpd_delay = 0s;
    establish(net, std::move(ci), std::move(cr));
    net.advance(35s);
    BOOST_TEST_INFO(net.a.log() << net.b.log());
    std::size_t informational = 0;
    for (const auto& d : net.wire)
        informational += exchange_of(d) == ike::ExchangeType::INFORMATIONAL;
    BOOST_TEST(informational == 2u);  // one check, one answer
    BOOST_TEST(net.sas(net.b).size() == 1u);
    BOOST_TEST(net.b.engine->stats().retransmitted == 0u);
}

BOOST_AUTO_TEST_CASE(no_liveness_check_while_esp_arrives) {
    // ESP that keeps arriving proves the peer alive: no empty INFORMATIONAL while it does;
    // once it stops, the check follows dpd_delay after the last packet.
    Network net;
    ike::TimePoint last_esp = net.now;
    bool flowing = true;
    std::size_t asked = 0;
    auto cr = psk_responder();
    cr.dpd_delay = 30s;
    cr.inbound_idle = [&](EspSpi) -> std::optional<std::chrono::seconds> {
        ++asked;
        if (flowing) last_esp = net.now;
        return std::chrono::duration_cast<std::chrono::seconds>(net.now - last_esp);
    };
    auto ci = psk_initiator(net);
    ci.dpd_delay = 0s;
    establish(net, std::move(ci), std::move(cr));
    auto informational = [&] {
        std::size_t n = 0;
        for (const auto& d : net.wire)
            n += exchange_of(d) == ike::ExchangeType::INFORMATIONAL;
        return n;
    };
    net.advance(100s);
    BOOST_TEST_INFO(net.a.log() << net.b.log());
    BOOST_TEST(informational() == 0u);
    BOOST_TEST(asked >= 3u);
    BOOST_TEST(net.b.engine->stats().dpd_skipped >= 3u);
    flowing = false;  // the last packet arrives now
    last_esp = net.now;
    const ike::TimePoint stopped = net.now;
    net.advance(25s);
    BOOST_TEST(informational() == 0u);
    net.advance(10s);
    BOOST_TEST(informational() == 2u);  // one check, one answer
    BOOST_TEST((net.now - stopped >= 30s));
    BOOST_TEST(net.sas(net.b).size() == 1u);
}

BOOST_AUTO_TEST_CASE(half_open_sa_expires) {
    Network net;
    net.filter = [](ike::Datagram& d, const Node& from) {
        return !(from.name == "initiator" && exchange_of(d) == ike::ExchangeType::IKE_AUTH);
    };
    auto cr = psk_responder();
    cr.half_open_timeout = 30s;
    establish(net, psk_initiator(net), std::move(cr));
    BOOST_TEST(net.sas(net.b).size() == 1u);
    net.advance(31s);
    BOOST_TEST(net.sas(net.b).empty());
    BOOST_TEST(net.b.engine->stats().half_open_expired == 1u);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(bad_input)

BOOST_AUTO_TEST_CASE(higher_major_version_is_answered_with_invalid_major_version) {
    Network net;
    net.b.pools.add("clients", "10.99.0.0/24");
    net.start(psk_initiator(net), psk_responder());
    net.initiate("home");
    ike::Datagram req = net.wire.at(0);
    req.data[17] = 0x30;  // IKEv3.0
    ike::Actions out;
    net.b.engine->on_datagram({req.remote, req.local, req.data}, net.now, out);
    BOOST_REQUIRE_EQUAL(out.send.size(), 1u);
    auto m = ike::wire::parse_message(out.send[0].data);
    BOOST_REQUIRE(m);
    BOOST_TEST(m->header.major_version == 2u);
    BOOST_TEST(m->header.response);
    BOOST_TEST(m->header.message_id.value() == 0u);
    BOOST_TEST((m->header.initiator_spi ==
                ike::wire::parse_message(net.wire.at(0).data)->header.initiator_spi));
    BOOST_REQUIRE(ike::wire::find_notify(m->payloads, ike::NotifyType::INVALID_MAJOR_VERSION));
    BOOST_TEST(net.sas(net.b).empty());
    // A *response* of a higher version is dropped without an answer.
    req.data[19] |= 0x20;
    ike::Actions out2;
    net.b.engine->on_datagram({req.remote, req.local, req.data}, net.now, out2);
    BOOST_TEST(out2.send.empty());
}

BOOST_AUTO_TEST_CASE(ike_sa_init_missing_ke_creates_no_state) {
    Network net;
    net.start(psk_initiator(net), psk_responder());
    net.initiate("home");
    auto m = ike::wire::parse_message(net.wire.at(0).data);
    BOOST_REQUIRE(m);
    std::vector<ike::wire::Payload> kept;
    for (auto& p : m->payloads)
        if (p.type != ike::PayloadType::KE) kept.push_back(p);
    m->payloads = kept;
    const Bytes bad = ike::wire::serialize(*m);
    ike::Actions out;
    net.b.engine->on_datagram({net.b.address, net.a.address, bad}, net.now, out);
    BOOST_TEST(out.send.empty());
    BOOST_TEST(net.sas(net.b).empty());
    BOOST_TEST(net.b.engine->stats().dropped_malformed == 1u);
}

BOOST_AUTO_TEST_SUITE_END()
