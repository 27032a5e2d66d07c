// Certificate authentication between two engines (tests/data/pki):
//
//   HDR, SK { IDi, CERT(alice), CERT(intermediate), IDr, AUTH, SAi2, TSi, TSr }  -->
//                 <--  HDR, SK { IDr, CERT(server), CERT(intermediate), AUTH, SAr2, TSi, TSr }
//
// With SIGNATURE_HASH_ALGORITHMS exchanged both sides use RFC 7427 (method 14); without it
// (as Windows and Apple clients behave) RSA keys use method 1 and ECDSA keys methods 9-11.

#include <boost/test/unit_test.hpp>

#include "configs.hpp"
#include "ike/wire/message.hpp"

using namespace postern;
using namespace postern::scenario;
using ike::EventKind;

namespace {

struct Setup {
    std::string server_cert = "server-rsa.pem", server_key = "server-rsa.key";
    std::string server_id = "vpn.postern.test";
    bool with_intermediate = true;
    bool hash_algorithms = true;
    std::size_t fragment_size = 1280 - 40 - 8 - 4;
};

void start(Network& net, const Setup& s) {
    auto ci = psk_initiator(net);
    auto& c = ci.connections[0];
    c.local_auth = c.remote_auth = ike::AuthClass::PublicKey;
    c.local_chain = {cert("client.pem"), cert("intermediate-ca.pem")};
    c.local_key = key("client.key");
    c.remote_id = pattern(s.server_id);
    ci.trust_anchors = {cert("root-ca.pem")};
    ci.signature_hash_algorithms = s.hash_algorithms;
    ci.fragment_size = s.fragment_size;

    auto cr = psk_responder();
    auto& r = cr.connections[0];
    r.local_auth = r.remote_auth = ike::AuthClass::PublicKey;
    r.local_id = identity(s.server_id);
    r.local_chain = {cert(s.server_cert)};
    if (s.with_intermediate && s.server_cert != "server-ed25519.pem")
        r.local_chain.push_back(cert("intermediate-ca.pem"));
    r.local_key = key(s.server_key);
    r.remote_id = pattern("*@postern.test");
    cr.trust_anchors = {cert("root-ca.pem")};
    cr.signature_hash_algorithms = s.hash_algorithms;
    cr.fragment_size = s.fragment_size;
    net.b.pools.add("clients", "10.99.0.0/24");
    net.start(std::move(ci), std::move(cr));
}

// The AUTH method each side used, read from the IKE_AUTH messages on the wire is not possible
// (they are encrypted); the engines log it with the established event instead. Here we check
// the outcome: both established and the identities are the certificates' ones.
std::string established_text(const Node& n) {
    for (const auto& e : n.events)
        if (e.kind == EventKind::IkeEstablished) return e.text;
    return {};
}

std::string auth_failure(const Node& n) {
    for (const auto& e : n.events)
        if (e.kind == EventKind::AuthFailed) return e.text;
    return {};
}

void expect_established(Network& net) {
    BOOST_TEST_INFO(net.a.log() << net.b.log());
    BOOST_REQUIRE(net.a.has_event(EventKind::IkeEstablished));
    BOOST_REQUIRE(net.b.has_event(EventKind::IkeEstablished));
    BOOST_TEST(net.sas(net.b)[0].remote_identity == "alice@postern.test");
    BOOST_TEST(net.a.installed.size() == 1u);
    BOOST_TEST(net.b.installed.size() == 1u);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(certificates)

BOOST_AUTO_TEST_CASE(rsa_server_ecdsa_client_rfc7427) {
    Network net;
    start(net, Setup{});
    net.initiate("home");
    net.run();
    expect_established(net);
    BOOST_TEST(established_text(net.a).find("with DIGITAL_SIGNATURE") != std::string::npos);
    BOOST_TEST(established_text(net.b).find("with DIGITAL_SIGNATURE") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(classic_methods_without_hash_algorithms) {
    // RSA method 1 (SHA-1) from the server, ECDSA method 9 from the client.
    Network net;
    Setup s;
    s.hash_algorithms = false;
    start(net, s);
    net.initiate("home");
    net.run();
    expect_established(net);
    BOOST_TEST(established_text(net.a).find("with RSA_SIG") != std::string::npos);
    BOOST_TEST(established_text(net.b).find("with ECDSA_SHA256_P256") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(ecdsa_server) {
    Network net;
    Setup s;
    s.server_cert = "server-ecdsa.pem";
    s.server_key = "server-ecdsa.key";
    s.server_id = "ecdsa.postern.test";
    start(net, s);
    net.initiate("home");
    net.run();
    expect_established(net);
}

BOOST_AUTO_TEST_CASE(ed25519_server) {
    Network net;
    Setup s;
    s.server_cert = "server-ed25519.pem";
    s.server_key = "server-ed25519.key";
    s.server_id = "ed25519.postern.test";
    start(net, s);
    net.initiate("home");
    net.run();
    expect_established(net);
}

BOOST_AUTO_TEST_CASE(missing_intermediate_is_not_trusted) {
    Network net;
    Setup s;
    s.with_intermediate = false;  // the server sends only its own certificate
    start(net, s);
    net.initiate("home");
    net.run();
    BOOST_TEST_INFO(net.a.log() << net.b.log());
    BOOST_TEST(auth_failure(net.a).find("not trusted") != std::string::npos, auth_failure(net.a));
    BOOST_TEST(net.sas(net.a).empty());
}

BOOST_AUTO_TEST_CASE(certificates_are_checked_against_the_engine_calendar) {
    // The test PKI is valid 2026-2046. An initiator whose calendar says 2050 finds the
    // server's chain expired; one in 2030 accepts it.
    for (std::time_t when : {std::time_t{2524608000} /* 2050 */, std::time_t{1893456000}}) {
        Network net;
        net.a.wall_clock = [when] { return when; };
        start(net, Setup{});
        net.initiate("home");
        net.run();
        BOOST_TEST_INFO(net.a.log());
        if (when > 2000000000) {
            BOOST_TEST(auth_failure(net.a).find("expired") != std::string::npos,
                       auth_failure(net.a));
        } else {
            BOOST_TEST(net.a.has_event(EventKind::IkeEstablished));
        }
    }
}

BOOST_AUTO_TEST_CASE(identity_not_in_certificate_is_refused) {
    // The server claims an identity its certificate does not carry.
    Network net;
    Setup s;
    s.server_id = "other.postern.test";
    start(net, s);
    net.initiate("home");
    net.run();
    BOOST_TEST_INFO(net.a.log() << net.b.log());
    BOOST_TEST(auth_failure(net.a).find("does not contain identity") != std::string::npos,
               auth_failure(net.a));
    BOOST_TEST(!net.a.has_event(EventKind::IkeEstablished));
}

BOOST_AUTO_TEST_CASE(fragmented_ike_auth_with_small_mtu) {
    // Certificates make IKE_AUTH exceed 500 octets: both directions go out as SKF fragments
    // (RFC 7383) and are reassembled.
    Network net;
    Setup s;
    s.fragment_size = 500;
    start(net, s);
    net.initiate("home");
    net.run();
    expect_established(net);
    std::size_t fragments = 0, biggest = 0;
    for (const auto& d : net.wire) {
        auto m = ike::wire::parse_message(d.data);
        BOOST_REQUIRE(m);
        if (m->encrypted() && m->encrypted()->type == ike::PayloadType::SKF) ++fragments;
        biggest = std::max(biggest, d.data.size());
    }
    BOOST_TEST(fragments >= 4u);
    // IKE_SA_INIT is never fragmented; everything else fits in 500 octets.
    for (const auto& d : net.wire) {
        auto m = ike::wire::parse_message(d.data);
        if (m->header.exchange != ike::ExchangeType::IKE_SA_INIT) BOOST_TEST(d.data.size() <= 500u);
    }
}

BOOST_AUTO_TEST_SUITE_END()
