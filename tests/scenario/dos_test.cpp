// DoS protection (ike/admission.hpp, ike/exchange/auth_limits.cpp): the per-address rate limit
// and half-open cap on IKE_SA_INIT, the total half-open cap above the cookie threshold, the
// bounded tables behind them, IKE SAs per identity, certificate chain caps in IKE_AUTH and
// garbage dropped before parsing. Each case first shows the request admitted where the limit
// does not apply, so that a limit that never bites fails the case.

#include <boost/test/unit_test.hpp>

#include <set>

#include "configs.hpp"
#include "ike/admission.hpp"
#include "ike/crypto/ke.hpp"
#include "ike/eap/mschapv2.hpp"
#include "ike/policy/proposal_select.hpp"
#include "ike/wire/message.hpp"

using namespace postern;
using namespace postern::scenario;
using ike::EventKind;

namespace {

// Syntactically valid IKE_SA_INITs (X25519, AES-GCM-256, PRF-SHA256) from chosen addresses,
// straight into a responder engine: what a flood of spoofed sources looks like.
class Flood {
  public:
    explicit Flood(ike::Engine& responder) : engine_(responder) {
        auto ke = ike::crypto::KeyExchange::generate(ike::KeId::CURVE25519);
        ke_.assign(ke->public_value().begin(), ke->public_value().end());
    }

    static Endpoint source(unsigned n) {
        return endpoint(
            "198.51." + std::to_string(100 + (n >> 8) % 100) + "." + std::to_string(n & 0xff), 500);
    }

    Bytes request(std::uint64_t spi, const Bytes& cookie = {}) const {
        ike::wire::Message m;
        m.header.initiator_spi = IkeSpi(spi);
        m.header.exchange = ike::ExchangeType::IKE_SA_INIT;
        m.header.initiator = true;
        if (!cookie.empty())
            m.payloads.push_back(ike::wire::make_notify(ike::NotifyType::COOKIE, cookie));
        m.payloads.push_back(
            {ike::PayloadType::SA, false,
             ike::policy::build_sa_payload(
                 std::vector{proposal("aes256gcm16-prfsha256-x25519", ike::ProtocolId::IKE)},
                 ike::ProtocolId::IKE, {})});
        m.payloads.push_back(
            {ike::PayloadType::KE, false, ike::wire::KePayload{ike::KeId::CURVE25519, ke_}});
        m.payloads.push_back({ike::PayloadType::NONCE, false,
                              ike::wire::NoncePayload{Bytes(32, static_cast<std::uint8_t>(spi))}});
        return ike::wire::serialize(m);
    }

    // Sends one request from `from`; returns what the responder answered (nothing: dropped).
    // `again`: the SPI (and so the nonce) of an earlier request, to return its cookie.
    std::vector<ike::Datagram> send(const Endpoint& from, ike::TimePoint now,
                                    const Bytes& cookie = {}, std::uint64_t again = 0) {
        ike::Actions out;
        const std::uint64_t spi = again ? again : ++spi_;
        engine_.on_datagram({endpoint("192.0.2.2", 500), from, request(spi, cookie)}, now, out);
        return out.send;
    }
    std::uint64_t last_spi() const { return spi_; }

    static bool is_cookie(const std::vector<ike::Datagram>& answer) {
        if (answer.size() != 1) return false;
        auto m = ike::wire::parse_message(answer[0].data);
        return m && ike::wire::find_notify(m->payloads, ike::NotifyType::COOKIE) != nullptr;
    }
    static Bytes cookie_of(const std::vector<ike::Datagram>& answer) {
        auto m = ike::wire::parse_message(answer.at(0).data);
        return ike::wire::find_notify(m->payloads, ike::NotifyType::COOKIE)->data;
    }

  private:
    ike::Engine& engine_;
    Bytes ke_;
    std::uint64_t spi_ = 0x1000;
};

// A responder with every DoS limit off, for cases to switch on the one they test.
ike::EngineConfig open_responder() {
    auto cr = psk_responder();
    cr.cookie_threshold = 1000000;
    cr.init_rate_per_address = 0;
    cr.half_open_per_address = 0;
    cr.half_open_limit = 0;
    return cr;
}

void establish_once(Network& net) {
    net.initiate("home");
    net.run();
}

}  // namespace

BOOST_AUTO_TEST_SUITE(dos)

BOOST_AUTO_TEST_CASE(rate_limit_per_source_address) {
    Network net;
    auto cr = open_responder();
    cr.init_rate_per_address = 3;
    net.start(psk_initiator(net), std::move(cr));
    Flood flood(*net.b.engine);
    const auto attacker = Flood::source(1);
    std::size_t answered = 0;
    for (int i = 0; i < 10; ++i)
        answered += !flood.send(attacker, net.now).empty();
    BOOST_TEST(answered == 3u);  // the burst, then nothing
    const auto& st = net.b.engine->stats();
    BOOST_TEST(st.dropped_init_rate == 7u);
    // Another address is not affected; the attacker's bucket refills with time.
    BOOST_TEST(!flood.send(Flood::source(2), net.now).empty());
    BOOST_TEST(flood.send(attacker, net.now + 100ms).empty());
    BOOST_TEST(!flood.send(attacker, net.now + 400ms).empty());
    BOOST_TEST(st.dropped_init_rate == 8u);
}

BOOST_AUTO_TEST_CASE(rate_limiter_table_is_bounded) {
    Network net;
    auto cr = open_responder();
    cr.init_rate_per_address = 1;
    cr.init_rate_table_size = 100;
    net.start(psk_initiator(net), std::move(cr));
    Flood flood(*net.b.engine);
    for (unsigned i = 0; i < 1000; ++i)
        flood.send(Flood::source(i), net.now);
    BOOST_TEST(net.b.engine->admission_tables().rated_addresses == 100u);
    // Half-open SAs expire, and the per-address table with them.
    BOOST_TEST(net.b.engine->admission_tables().half_open_addresses == 1000u);
    net.advance(31s, 1s);
    BOOST_TEST(net.b.engine->admission_tables().half_open_addresses == 0u);
    BOOST_TEST(net.b.engine->admission_tables().half_open == 0u);
    BOOST_TEST(net.b.engine->ike_sa_count() == 0u);
}

BOOST_AUTO_TEST_CASE(forgotten_address_starts_with_a_full_bucket) {
    ike::InitAdmission a({/*rate*/ 2, /*table*/ 2, 0, 0});
    const auto t = ike::TimePoint{} + 1000s;
    const auto x = *IpAddress::parse("192.0.2.10"), y = *IpAddress::parse("192.0.2.11"),
               z = *IpAddress::parse("192.0.2.12");
    using V = ike::InitAdmission::Verdict;
    BOOST_TEST((a.check(x, 0, t) == V::admit));
    BOOST_TEST((a.check(x, 0, t) == V::admit));
    BOOST_TEST((a.check(x, 0, t) == V::rate_limited));
    BOOST_TEST((a.check(y, 0, t) == V::admit));
    BOOST_TEST((a.check(z, 0, t) == V::admit));  // x, heard from longest ago, is forgotten
    BOOST_TEST(a.addresses_rated() == 2u);
    BOOST_TEST((a.check(x, 0, t) == V::admit));
}

BOOST_AUTO_TEST_CASE(ipv6_sources_count_per_64) {
    ike::InitAdmission a({/*rate*/ 1, /*table*/ 100, /*per address*/ 1, 0});
    const auto t = ike::TimePoint{} + 1000s;
    using V = ike::InitAdmission::Verdict;
    const auto x = *IpAddress::parse("2001:db8:1:2::1"),
               y = *IpAddress::parse("2001:db8:1:2:ffff::9"),
               z = *IpAddress::parse("2001:db8:1:3::1");
    BOOST_TEST((a.check(x, 0, t) == V::admit));
    BOOST_TEST((a.check(y, 0, t) == V::rate_limited));  // the same /64: the same bucket
    BOOST_TEST((a.check(z, 0, t) == V::admit));
    a.opened(z);
    BOOST_TEST((a.check(*IpAddress::parse("2001:db8:1:3::2"), 0, t + 5s) == V::per_address));
    a.closed(*IpAddress::parse("2001:db8:1:3:aaaa::"));  // any address of the /64 closes it
    BOOST_TEST(a.addresses_half_open() == 0u);
    // IPv4 addresses are their own.
    BOOST_TEST((a.check(*IpAddress::parse("192.0.2.1"), 0, t) == V::admit));
    BOOST_TEST((a.check(*IpAddress::parse("192.0.2.2"), 0, t) == V::admit));
}

BOOST_AUTO_TEST_CASE(half_open_cap_per_source_address) {
    Network net;
    auto cr = open_responder();
    cr.half_open_per_address = 2;
    cr.half_open_timeout = 5s;
    net.b.pools.add("clients", "10.99.0.0/24");
    net.start(psk_initiator(net), std::move(cr));
    Flood flood(*net.b.engine);
    // Two half-open SAs from the client's own address (spoofed), then the third is dropped.
    BOOST_TEST(!flood.send(net.a.address, net.now).empty());
    BOOST_TEST(!flood.send(net.a.address, net.now).empty());
    BOOST_TEST(flood.send(net.a.address, net.now).empty());
    BOOST_TEST(net.b.engine->stats().dropped_half_open_address == 1u);
    BOOST_TEST(!flood.send(Flood::source(7), net.now).empty());  // others are not blocked
    // The real client is blocked too until the half-open SAs expire; its retransmissions
    // then get through.
    establish_once(net);
    BOOST_TEST(!net.a.has_event(EventKind::IkeEstablished));
    BOOST_TEST(net.b.engine->stats().dropped_half_open_address == 2u);
    net.advance(20s);
    BOOST_TEST_INFO(net.a.log() << net.b.log());
    BOOST_TEST(net.a.has_event(EventKind::IkeEstablished));
    BOOST_TEST(net.b.has_event(EventKind::IkeEstablished));
    // Established SAs are not half-open: the address may start new ones.
    BOOST_TEST(net.b.engine->admission_tables().half_open_addresses == 0u);
}

BOOST_AUTO_TEST_CASE(total_half_open_cap_above_the_cookie_threshold) {
    // Cookies stop spoofed sources; the cap stops attackers that return them.
    Network net;
    auto cr = open_responder();
    cr.cookie_threshold = 2;
    cr.half_open_limit = 3;
    cr.half_open_timeout = 10s;  // before the client's last retransmission
    net.b.pools.add("clients", "10.99.0.0/24");
    net.start(psk_initiator(net), std::move(cr));
    Flood flood(*net.b.engine);
    BOOST_TEST(!Flood::is_cookie(flood.send(Flood::source(1), net.now)));
    BOOST_TEST(!Flood::is_cookie(flood.send(Flood::source(2), net.now)));
    auto c3 = flood.send(Flood::source(3), net.now);
    const auto spi3 = flood.last_spi();
    auto c4 = flood.send(Flood::source(4), net.now);
    const auto spi4 = flood.last_spi();
    BOOST_REQUIRE(Flood::is_cookie(c3));
    BOOST_REQUIRE(Flood::is_cookie(c4));
    BOOST_TEST(net.b.engine->admission_tables().half_open == 2u);
    // Source 3 returns its cookie: a third SA. Source 4 does too: over the cap, dropped.
    auto r3 = flood.send(Flood::source(3), net.now, Flood::cookie_of(c3), spi3);
    BOOST_TEST((r3.size() == 1u && !Flood::is_cookie(r3)));
    BOOST_TEST(net.b.engine->admission_tables().half_open == 3u);
    BOOST_TEST(flood.send(Flood::source(4), net.now, Flood::cookie_of(c4), spi4).empty());
    BOOST_TEST(net.b.engine->stats().dropped_half_open_total == 1u);
    // So is a real client now, until the half-open SAs expire.
    establish_once(net);
    BOOST_TEST(!net.b.has_event(EventKind::IkeEstablished));
    BOOST_TEST(net.b.engine->stats().dropped_half_open_total == 2u);
    BOOST_TEST(net.b.engine->stats().cookies_sent == 2u);
    net.advance(20s);
    BOOST_TEST_INFO(net.a.log() << net.b.log());
    BOOST_TEST(net.b.has_event(EventKind::IkeEstablished));
}

BOOST_AUTO_TEST_CASE(total_half_open_cap_drops_beyond_it) {
    Network net;
    auto cr = open_responder();
    cr.half_open_limit = 3;
    net.start(psk_initiator(net), std::move(cr));
    Flood flood(*net.b.engine);
    for (unsigned i = 0; i < 3; ++i)
        BOOST_TEST(!flood.send(Flood::source(i), net.now).empty());
    BOOST_TEST(flood.send(Flood::source(3), net.now).empty());
    BOOST_TEST(flood.send(Flood::source(4), net.now).empty());
    BOOST_TEST(net.b.engine->stats().dropped_half_open_total == 2u);
    BOOST_TEST(net.b.engine->ike_sa_count() == 3u);
    // Once they expire, new requests are served again.
    net.advance(31s, 1s);
    BOOST_TEST(!flood.send(Flood::source(5), net.now).empty());
}

BOOST_AUTO_TEST_CASE(reload_changes_the_limits) {
    Network net;
    auto cr = open_responder();
    cr.half_open_limit = 1;
    net.start(psk_initiator(net), cr);
    Flood flood(*net.b.engine);
    BOOST_TEST(!flood.send(Flood::source(1), net.now).empty());
    BOOST_TEST(flood.send(Flood::source(2), net.now).empty());
    cr.half_open_limit = 0;
    ike::Actions out;
    net.b.engine->reload(cr, net.now, out);
    BOOST_TEST(!flood.send(Flood::source(3), net.now).empty());
    cr.init_rate_per_address = 1;
    net.b.engine->reload(cr, net.now, out);
    BOOST_TEST(!flood.send(Flood::source(4), net.now).empty());
    BOOST_TEST(flood.send(Flood::source(4), net.now).empty());
    BOOST_TEST(net.b.engine->stats().dropped_half_open_total == 1u);
    BOOST_TEST(net.b.engine->stats().dropped_init_rate == 1u);
}

BOOST_AUTO_TEST_CASE(ike_sas_per_identity) {
    for (int per_connection : {-1, 1, 2}) {
        BOOST_TEST_CONTEXT("connection limit " << per_connection) {
            Network net;
            auto cr = psk_responder();
            // -1: the server's limit of 1; 1: the connection's, the server's being none;
            // 2: the connection's 2 over the server's 1.
            cr.max_ike_sas_per_identity = per_connection == 1 ? 0 : 1;
            if (per_connection > 0)
                cr.connections[0].max_ike_sas_per_identity = static_cast<unsigned>(per_connection);
            net.b.pools.add("clients", "10.99.0.0/24");
            net.start(psk_initiator(net), std::move(cr));
            establish_once(net);
            establish_once(net);
            BOOST_TEST_INFO(net.a.log() << net.b.log());
            const std::size_t allowed = per_connection == 2 ? 2 : 1;
            BOOST_TEST(net.b.count(EventKind::IkeEstablished) == allowed);
            BOOST_TEST(net.sas(net.b).size() == allowed);
            BOOST_TEST(net.b.engine->stats().refused_sa_limit == 2 - allowed);
            if (allowed == 1) {
                const auto* f = net.b.first(EventKind::AuthFailed);
                BOOST_REQUIRE(f);
                BOOST_TEST(f->reason == "sa_limit");
                BOOST_TEST(f->identity == "alice@postern.test");
                BOOST_TEST(net.a.count(EventKind::AuthFailed) == 1u);  // AUTHENTICATION_FAILED
            }
        }
    }
}

BOOST_AUTO_TEST_CASE(ike_sa_limit_frees_on_delete_and_ignores_rekeys) {
    Network net;
    auto ci = psk_initiator(net);
    ci.connections[0].ike_life = {100s, 200s, 0s};
    ci.dpd_delay = 0s;
    auto cr = psk_responder();
    cr.max_ike_sas_per_identity = 1;
    cr.dpd_delay = 0s;
    net.b.pools.add("clients", "10.99.0.0/24");
    net.start(std::move(ci), std::move(cr));
    establish_once(net);
    BOOST_REQUIRE(net.b.count(EventKind::IkeEstablished) == 1u);
    net.advance(101s);  // the client rekeys its IKE SA: still one SA, nothing refused
    BOOST_TEST(net.b.engine->stats().ike_rekeyed == 1u);
    BOOST_TEST(net.b.engine->stats().refused_sa_limit == 0u);
    BOOST_TEST(net.sas(net.b).size() == 1u);
    establish_once(net);  // a second one is refused
    BOOST_TEST(net.b.engine->stats().refused_sa_limit == 1u);
    // Once the first is deleted, the identity may log in again.
    ike::Actions out;
    BOOST_REQUIRE(net.a.engine->terminate(net.sas(net.a).at(0).id, net.now, out));
    net.inject(net.a, out);
    net.run();
    BOOST_TEST(net.sas(net.b).empty());
    establish_once(net);
    BOOST_TEST_INFO(net.a.log() << net.b.log());
    BOOST_TEST(net.b.count(EventKind::IkeEstablished) == 2u);
    BOOST_TEST(net.b.engine->stats().refused_sa_limit == 1u);
}

BOOST_AUTO_TEST_CASE(ike_sas_per_eap_identity) {
    // With EAP the identity is the EAP identity: two users behind one IDi (Windows sends its
    // address) are two identities; the same user twice is one.
    Network net;
    auto ci = psk_initiator(net);
    auto base = ci.connections[0];
    base.local_auth = ike::AuthClass::Eap;
    base.remote_auth = ike::AuthClass::PublicKey;
    base.local_id = identity("192.0.2.1");
    ci.connections.clear();
    for (const auto& [name, user] : {std::pair{"alice1", "alice"}, std::pair{"alice2", "alice"},
                                     std::pair{"carol", "carol"}}) {
        auto c = base;
        c.name = name;
        c.eap_identity = user;
        c.eap_password = secret("pw of " + std::string(user));
        ci.connections.push_back(std::move(c));
    }
    ci.trust_anchors = {cert("root-ca.pem")};
    auto cr = psk_responder();
    auto& r = cr.connections[0];
    r.local_auth = ike::AuthClass::PublicKey;
    r.remote_auth = ike::AuthClass::Eap;
    r.local_chain = {cert("server-rsa.pem"), cert("intermediate-ca.pem")};
    r.local_key = key("server-rsa.key");
    cr.max_ike_sas_per_identity = 1;
    cr.eap_users = [](std::string_view name) {
        return ike::eap::UserRecord::found(
            *ike::eap::nt_password_hash("pw of " + std::string(name)));
    };
    net.b.pools.add("clients", "10.99.0.0/24");
    net.start(std::move(ci), std::move(cr));
    for (const char* c : {"alice1", "alice2", "carol"}) {
        net.initiate(c);
        net.run();
    }
    BOOST_TEST_INFO(net.a.log() << net.b.log());
    BOOST_TEST(net.b.count(EventKind::IkeEstablished) == 2u);
    BOOST_TEST(net.b.engine->stats().refused_sa_limit == 1u);
    const auto* f = net.b.first(EventKind::AuthFailed);
    BOOST_REQUIRE(f);
    BOOST_TEST(f->reason == "sa_limit");
    BOOST_TEST(f->user == "alice");
    std::set<std::string> users;
    for (const auto& sa : net.sas(net.b))
        users.insert(sa.user);
    BOOST_TEST((users == std::set<std::string>{"alice", "carol"}));
}

BOOST_AUTO_TEST_CASE(sa_in_eap_counts_as_half_open) {
    // Until the peer has authenticated (here: stuck in its EAP conversation) its SA counts
    // against its address's half-open cap and the total, not only until IKE_AUTH starts.
    Network net;
    auto ci = psk_initiator(net);
    auto& c = ci.connections[0];
    c.local_auth = ike::AuthClass::Eap;
    c.remote_auth = ike::AuthClass::PublicKey;
    c.local_id = identity("192.0.2.1");
    c.eap_identity = "alice";
    c.eap_password = secret("pw");
    ci.trust_anchors = {cert("root-ca.pem")};
    auto cr = open_responder();
    cr.half_open_per_address = 1;
    cr.half_open_limit = 2;
    auto& r = cr.connections[0];
    r.local_auth = ike::AuthClass::PublicKey;
    r.remote_auth = ike::AuthClass::Eap;
    r.local_chain = {cert("server-rsa.pem"), cert("intermediate-ca.pem")};
    r.local_key = key("server-rsa.key");
    cr.eap_users = [](std::string_view) {
        return ike::eap::UserRecord::found(*ike::eap::nt_password_hash("pw"));
    };
    net.filter = [](ike::Datagram& d, const Node& from) {
        auto m = ike::wire::parse_message(d.data);
        // The client's EAP answers (IKE_AUTH requests after the first) never arrive.
        return !(from.name == "initiator" && m &&
                 m->header.exchange == ike::ExchangeType::IKE_AUTH && !m->header.response &&
                 m->header.message_id.value() >= 2);
    };
    net.b.pools.add("clients", "10.99.0.0/24");
    net.start(std::move(ci), std::move(cr));
    establish_once(net);
    BOOST_TEST_INFO(net.a.log() << net.b.log());
    BOOST_REQUIRE(net.sas(net.b).size() == 1u);
    BOOST_TEST(!net.b.has_event(EventKind::IkeEstablished));
    BOOST_TEST(net.b.engine->admission_tables().half_open == 1u);
    Flood flood(*net.b.engine);
    BOOST_TEST(flood.send(net.a.address, net.now).empty());
    BOOST_TEST(net.b.engine->stats().dropped_half_open_address == 1u);
    BOOST_TEST(!flood.send(Flood::source(1), net.now).empty());
    BOOST_TEST(flood.send(Flood::source(2), net.now).empty());
    BOOST_TEST(net.b.engine->stats().dropped_half_open_total == 1u);
    // Once it ends (established at last, or timed out), it no longer counts.
    net.filter = nullptr;
    net.advance(31s, 1s);
    BOOST_TEST(net.b.engine->admission_tables().half_open == 0u);
    BOOST_TEST(net.b.engine->admission_tables().half_open_addresses == 0u);
}

BOOST_AUTO_TEST_CASE(certificate_chain_caps) {
    struct Case {
        unsigned max_certs;
        std::size_t max_bytes;
        bool accepted;
    };
    // The client sends two certificates (its own and the intermediate CA's), about 2 KB.
    for (const Case& k : {Case{8, 64 * 1024, true}, Case{1, 64 * 1024, false}, Case{8, 600, false},
                          Case{2, 0, true}}) {
        BOOST_TEST_CONTEXT("max_peer_certs " << k.max_certs << " max_peer_cert_bytes "
                                             << k.max_bytes) {
            Network net;
            auto ci = psk_initiator(net);
            auto& c = ci.connections[0];
            c.local_auth = c.remote_auth = ike::AuthClass::PublicKey;
            c.local_chain = {cert("client.pem"), cert("intermediate-ca.pem")};
            c.local_key = key("client.key");
            ci.trust_anchors = {cert("root-ca.pem")};
            auto cr = psk_responder();
            auto& r = cr.connections[0];
            r.local_auth = r.remote_auth = ike::AuthClass::PublicKey;
            r.local_chain = {cert("server-rsa.pem"), cert("intermediate-ca.pem")};
            r.local_key = key("server-rsa.key");
            r.remote_id = pattern("*@postern.test");
            cr.trust_anchors = {cert("root-ca.pem")};
            cr.max_peer_certs = k.max_certs;
            cr.max_peer_cert_bytes = k.max_bytes;
            net.b.pools.add("clients", "10.99.0.0/24");
            net.start(std::move(ci), std::move(cr));
            establish_once(net);
            BOOST_TEST_INFO(net.a.log() << net.b.log());
            BOOST_TEST(net.b.has_event(EventKind::IkeEstablished) == k.accepted);
            BOOST_TEST(net.b.engine->stats().refused_cert_chain == (k.accepted ? 0u : 1u));
            if (!k.accepted) {
                const auto* f = net.b.first(EventKind::AuthFailed);
                BOOST_REQUIRE(f);
                BOOST_TEST(f->text.find("refused (max_peer_cert") != std::string::npos);
            }
        }
    }
}

BOOST_AUTO_TEST_CASE(garbage_dropped_before_parsing) {
    Network net;
    net.start(psk_initiator(net), psk_responder());
    Flood flood(*net.b.engine);
    const Bytes good = flood.request(42);
    Bytes short_one(good.begin(), good.begin() + 20);
    Bytes wrong_length = good;
    wrong_length.push_back(0);  // Length field one short of the datagram
    Bytes zeros(100, 0);
    ike::Actions out;
    for (const Bytes* d : {&short_one, &wrong_length, &zeros})
        net.b.engine->on_datagram({net.b.address, Flood::source(1), *d}, net.now, out);
    const auto& st = net.b.engine->stats();
    BOOST_TEST(st.dropped_garbage == 3u);
    BOOST_TEST(st.dropped_malformed == 3u);
    BOOST_TEST(out.send.empty());
    BOOST_TEST(out.events.empty());  // no per-packet text to build
    // The well-formed request itself is served.
    net.b.engine->on_datagram({net.b.address, Flood::source(1), good}, net.now, out);
    BOOST_TEST(out.send.size() == 1u);
    BOOST_TEST(st.dropped_garbage == 3u);
}

BOOST_AUTO_TEST_CASE(defaults_admit_a_client_and_stop_a_flood) {
    // The shipped defaults: cookies at 64 half-open SAs, 5 per address, 10/s per address.
    Network net;
    net.b.pools.add("clients", "10.99.0.0/24");
    net.start(psk_initiator(net), psk_responder());
    Flood flood(*net.b.engine);
    std::size_t cookies = 0, sas = 0, dropped = 0;
    // 100 sources, 20 requests each at once: a burst of 10 each passes the rate limit; 64 SAs,
    // then cookies.
    for (unsigned i = 0; i < 2000; ++i) {
        auto r = flood.send(Flood::source(i % 100), net.now);
        if (r.empty())
            ++dropped;
        else if (Flood::is_cookie(r))
            ++cookies;
        else
            ++sas;
    }
    BOOST_TEST(sas == 64u);
    BOOST_TEST(cookies == 1000u - 64u);
    BOOST_TEST(dropped == 1000u);
    BOOST_TEST(net.b.engine->stats().dropped_init_rate == 1000u);
    BOOST_TEST(net.b.engine->admission_tables().half_open == 64u);
    establish_once(net);
    BOOST_TEST_INFO(net.b.log().substr(0, 2000));
    BOOST_TEST(net.b.has_event(EventKind::IkeEstablished));
}

BOOST_AUTO_TEST_SUITE_END()
