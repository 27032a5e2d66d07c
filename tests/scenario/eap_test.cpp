// EAP-MSCHAPv2 in IKE_AUTH (RFC 7296 §2.16) between two engines: the responder signs with its
// certificate and checks the initiator's password against a user table (the daemon's is
// SQLite); both finish with an AUTH keyed by the MSK. Also RFC 5998 EAP-only, Android's empty
// EAP identity, and every way a login fails, with the reason the audit log gets.

#include <boost/test/unit_test.hpp>

#include <map>
#include <set>

#include "configs.hpp"
#include "ike/eap/mschapv2.hpp"

using namespace postern;
using namespace postern::scenario;
using ike::EventKind;

namespace {

struct Account {
    std::string password;
    bool enabled = true;
};

struct Setup {
    std::string eap_identity = "alice";
    std::string password = "correct horse";
    bool initiator_eap_only = false;
    bool responder_eap_only = false;
    std::map<std::string, Account> users{{"alice", {"correct horse", true}},
                                         {"bob", {"bob's secret", false}}};
};

// Who the responder looked up, in order (the IKE thread calls it once per conversation).
struct Lookups {
    std::vector<std::string> names;
};

void start(Network& net, const Setup& s, Lookups* seen = nullptr) {
    auto ci = psk_initiator(net);
    auto& c = ci.connections[0];
    c.local_auth = ike::AuthClass::Eap;
    c.remote_auth = ike::AuthClass::PublicKey;
    c.local_id = identity("192.0.2.1");  // like Windows: IDi is the client's address
    c.eap_identity = s.eap_identity;
    c.eap_password = secret(s.password);
    c.eap_only = s.initiator_eap_only;
    ci.trust_anchors = {cert("root-ca.pem")};

    auto cr = psk_responder();
    auto& r = cr.connections[0];
    r.local_auth = ike::AuthClass::PublicKey;
    r.remote_auth = ike::AuthClass::Eap;
    r.local_chain = {cert("server-rsa.pem"), cert("intermediate-ca.pem")};
    r.local_key = key("server-rsa.key");
    r.eap_only = s.responder_eap_only;
    auto users = s.users;
    cr.eap_users = [users, seen](std::string_view name) {
        if (seen) seen->names.emplace_back(name);
        auto it = users.find(std::string(name));
        if (it == users.end()) return ike::eap::UserRecord::unknown_user();
        if (!it->second.enabled) return ike::eap::UserRecord::disabled_user();
        return ike::eap::UserRecord::found(*ike::eap::nt_password_hash(it->second.password));
    };
    net.b.pools.add("clients", "10.99.0.0/24");
    net.start(std::move(ci), std::move(cr));
}

}  // namespace

BOOST_AUTO_TEST_SUITE(eap)

BOOST_AUTO_TEST_CASE(mschapv2_login_establishes_with_a_virtual_ip) {
    Network net;
    Lookups seen;
    start(net, Setup{}, &seen);
    net.initiate("home");
    net.run();
    BOOST_TEST_INFO(net.a.log() + net.b.log());
    BOOST_TEST(net.a.count(EventKind::IkeEstablished) == 1u);
    BOOST_TEST(net.b.count(EventKind::IkeEstablished) == 1u);
    BOOST_TEST(net.b.count(EventKind::AuthFailed) == 0u);
    BOOST_TEST(seen.names == std::vector<std::string>{"alice"});
    // IKE_SA_INIT, IKE_AUTH with IDi, Identity, Challenge response, Success response, AUTH.
    BOOST_TEST(net.sent_by(net.a) == 6u);
    // The responder's first IKE_AUTH reply carries its certificate chain in two fragments.
    BOOST_TEST(net.sent_by(net.b) == 7u);

    auto r = net.sas(net.b);
    BOOST_TEST_REQUIRE(r.size() == 1u);
    BOOST_TEST(r[0].user == "alice");
    BOOST_TEST(r[0].remote_identity == "192.0.2.1");
    BOOST_TEST_REQUIRE(r[0].virtual_ip.has_value());
    BOOST_TEST(r[0].virtual_ip->to_string() == "10.99.0.1");
    BOOST_TEST(r[0].established_at.has_value());
    BOOST_TEST(net.b.installed.size() == 1u);
    BOOST_TEST(net.a.installed.size() == 1u);
    // Both data planes got the same keys for each direction.
    BOOST_TEST(net.a.installed[0].out.spi.value() == net.b.installed[0].in.spi.value());

    const ike::Event* ok = net.b.first(EventKind::IkeEstablished);
    BOOST_TEST(ok->user == "alice");
    BOOST_TEST(ok->identity == "alice");
    BOOST_TEST_REQUIRE(ok->peer.has_value());
    BOOST_TEST(ok->peer->to_string() == "192.0.2.1:500");
    BOOST_TEST(ok->text.find("EAP-MSCHAPv2 as alice") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(wrong_password_is_refused_with_authentication_failed) {
    Network net;
    Setup s;
    s.password = "wrong";
    start(net, s);
    net.initiate("home");
    net.run();
    BOOST_TEST_INFO(net.a.log() + net.b.log());
    BOOST_TEST(net.a.count(EventKind::IkeEstablished) == 0u);
    BOOST_TEST(net.b.count(EventKind::IkeEstablished) == 0u);
    BOOST_TEST(net.sas(net.b).empty());
    BOOST_TEST(net.sas(net.a).empty());
    BOOST_TEST(net.b.installed.empty());
    BOOST_TEST(net.b.pools.in_use() == 0u);
    const ike::Event* f = net.b.first(EventKind::AuthFailed);
    BOOST_TEST_REQUIRE(f != nullptr);
    BOOST_TEST(f->reason == "bad_password");
    BOOST_TEST(f->identity == "alice");
    BOOST_TEST(f->user == "alice");
    BOOST_TEST(f->peer.has_value());
    // The initiator heard why: EAP-Failure with AUTHENTICATION_FAILED.
    const ike::Event* fi = net.a.first(EventKind::AuthFailed);
    BOOST_TEST_REQUIRE(fi != nullptr);
    BOOST_TEST(fi->text.find("AUTHENTICATION_FAILED") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(unknown_user_is_refused_and_not_named_as_an_account) {
    Network net;
    Setup s;
    s.eap_identity = "mallory";
    start(net, s);
    net.initiate("home");
    net.run();
    const ike::Event* f = net.b.first(EventKind::AuthFailed);
    BOOST_TEST_REQUIRE(f != nullptr);
    BOOST_TEST(f->reason == "unknown_user");
    BOOST_TEST(f->identity == "mallory");
    BOOST_TEST(f->user.empty());
    BOOST_TEST(net.sas(net.b).empty());
    BOOST_TEST(net.a.count(EventKind::IkeEstablished) == 0u);
}

BOOST_AUTO_TEST_CASE(disabled_user_is_refused) {
    Network net;
    Setup s;
    s.eap_identity = "bob";
    s.password = "bob's secret";  // right password, but the account is disabled
    start(net, s);
    net.initiate("home");
    net.run();
    const ike::Event* f = net.b.first(EventKind::AuthFailed);
    BOOST_TEST_REQUIRE(f != nullptr);
    BOOST_TEST(f->reason == "disabled");
    BOOST_TEST(f->user == "bob");
    BOOST_TEST(net.sas(net.b).empty());
}

BOOST_AUTO_TEST_CASE(empty_eap_identity_falls_back_to_idi) {
    // Android's native client answers the Identity request with nothing: the IDi is the
    // account name then.
    Network net;
    Setup s;
    s.eap_identity = "";
    s.users["192.0.2.1"] = Account{"correct horse", true};
    Lookups seen;
    start(net, s, &seen);
    net.initiate("home");
    net.run();
    BOOST_TEST_INFO(net.b.log());
    BOOST_TEST(net.b.count(EventKind::IkeEstablished) == 1u);
    BOOST_TEST(seen.names == std::vector<std::string>{"192.0.2.1"});
    BOOST_TEST(net.sas(net.b).at(0).user == "192.0.2.1");
}

BOOST_AUTO_TEST_CASE(eap_only_when_both_sides_want_it) {
    Network net;
    Setup s;
    s.initiator_eap_only = s.responder_eap_only = true;
    start(net, s);
    net.initiate("home");
    net.run();
    BOOST_TEST_INFO(net.a.log() + net.b.log());
    BOOST_TEST(net.b.count(EventKind::IkeEstablished) == 1u);
    const ike::Event* a = net.a.first(EventKind::IkeEstablished);
    BOOST_TEST_REQUIRE(a != nullptr);
    BOOST_TEST(a->text.find("EAP-only (MSK)") != std::string::npos);
    BOOST_TEST(net.b.first(EventKind::IkeEstablished)->text.find("(EAP-only)") !=
               std::string::npos);
}

BOOST_AUTO_TEST_CASE(eap_only_request_is_answered_with_a_signature_unless_allowed) {
    // The client asks for EAP-only; the server is not configured for it and signs anyway
    // (what iOS with AuthenticationMethod None meets on most servers).
    Network net;
    Setup s;
    s.initiator_eap_only = true;
    start(net, s);
    net.initiate("home");
    net.run();
    BOOST_TEST(net.b.count(EventKind::IkeEstablished) == 1u);
    const ike::Event* a = net.a.first(EventKind::IkeEstablished);
    BOOST_TEST_REQUIRE(a != nullptr);
    BOOST_TEST(a->text.find("its certificate") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(responder_signs_unless_the_client_asked_for_eap_only) {
    // eap_only on the server only permits RFC 5998: without the client's notify it signs.
    Network net;
    Setup s;
    s.responder_eap_only = true;
    start(net, s);
    net.initiate("home");
    net.run();
    BOOST_TEST(net.b.count(EventKind::IkeEstablished) == 1u);
    BOOST_TEST(net.a.first(EventKind::IkeEstablished)->text.find("its certificate") !=
               std::string::npos);
}

BOOST_AUTO_TEST_CASE(psk_peer_does_not_reach_an_eap_connection) {
    // A peer that sends AUTH (PSK) is matched only against connections that do not want EAP.
    Network net;
    auto ci = psk_initiator(net);
    auto cr = psk_responder();
    cr.connections[0].remote_auth = ike::AuthClass::Eap;
    cr.connections[0].local_auth = ike::AuthClass::PublicKey;
    cr.connections[0].local_chain = {cert("server-rsa.pem")};
    cr.connections[0].local_key = key("server-rsa.key");
    net.b.pools.add("clients", "10.99.0.0/24");
    net.start(std::move(ci), std::move(cr));
    net.initiate("home");
    net.run();
    BOOST_TEST(net.b.count(EventKind::IkeEstablished) == 0u);
    const ike::Event* f = net.b.first(EventKind::AuthFailed);
    BOOST_TEST_REQUIRE(f != nullptr);
    BOOST_TEST(f->text.find("no connection for") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(lost_eap_messages_are_retransmitted) {
    // Drop the first copy of every IKE_AUTH datagram the initiator sends: retransmission
    // (same message ID, cached response on the responder) carries the conversation through.
    Network net;
    start(net, Setup{});
    std::set<std::string> seen_once;
    net.filter = [&](ike::Datagram& d, const Node& from) {
        if (from.name != "initiator") return true;
        // The first copy of each distinct datagram is lost; its retransmission gets through.
        return !seen_once.insert(std::string(d.data.begin(), d.data.end())).second;
    };
    net.initiate("home");
    net.advance(std::chrono::seconds(40));
    BOOST_TEST_INFO(net.a.log() + net.b.log());
    BOOST_TEST(net.b.count(EventKind::IkeEstablished) == 1u);
    BOOST_TEST(net.a.count(EventKind::IkeEstablished) == 1u);
    BOOST_TEST(net.dropped > 4u);
}

BOOST_AUTO_TEST_SUITE_END()
