// EAP-TLS in IKE_AUTH (RFC 7296 §2.16, RFC 5216, RFC 9190) between two engines: the responder
// signs with its certificate and runs TLS with the client's certificate inside EAP; both finish
// with an AUTH keyed by the TLS-derived MSK. Also a connection offering both methods (the
// client picks by Nak), the refusals with their audit reasons, and loss mid-conversation.

#include <boost/test/unit_test.hpp>

#include <map>
#include <set>

#include "configs.hpp"
#include "ike/eap/mschapv2.hpp"

using namespace postern;
using namespace postern::scenario;
using ike::EapMethod;
using ike::EventKind;

namespace {

struct Setup {
    std::string eap_identity = "alice@postern.test";
    EapMethod client_method = EapMethod::tls;
    std::vector<EapMethod> offered{EapMethod::tls};
    std::string client_cert = "client.pem";
    std::string client_key = "client.key";
    std::uint16_t client_max = 0x0304;
    std::uint16_t server_max = 0x0303;
    // Account -> enabled; every account's password is "correct horse".
    std::map<std::string, bool> users{{"alice@postern.test", true}, {"alice", true}};
    unsigned max_rounds = 32;
};

void start(Network& net, const Setup& s, std::vector<std::string>* asked = nullptr) {
    auto ci = psk_initiator(net);
    auto& c = ci.connections[0];
    c.local_auth = ike::AuthClass::Eap;
    c.remote_auth = ike::AuthClass::PublicKey;
    c.eap_methods = {s.client_method};
    c.local_id = identity("192.0.2.1");  // like Windows: IDi is the client's address
    c.eap_identity = s.eap_identity;
    c.eap_password = secret("correct horse");
    c.local_chain = {cert(s.client_cert), cert("intermediate-ca.pem")};
    c.local_key = key(s.client_key);
    ci.trust_anchors = {cert("root-ca.pem")};
    ci.eap_tls_max_version = s.client_max;

    auto cr = psk_responder();
    auto& r = cr.connections[0];
    r.local_auth = ike::AuthClass::PublicKey;
    r.remote_auth = ike::AuthClass::Eap;
    r.eap_methods = s.offered;
    r.local_chain = {cert("server-rsa.pem"), cert("intermediate-ca.pem")};
    r.local_key = key("server-rsa.key");
    cr.trust_anchors = {cert("root-ca.pem")};
    cr.eap_factories = {ike::eap::mschapv2_method(), ike::eap::tls_method({s.server_max})};
    cr.eap_max_rounds = s.max_rounds;
    auto users = s.users;
    cr.eap_users = [users, asked](std::string_view name) {
        if (asked) asked->emplace_back(name);
        auto it = users.find(std::string(name));
        if (it == users.end()) return ike::eap::UserRecord::unknown_user();
        if (!it->second) return ike::eap::UserRecord::disabled_user();
        return ike::eap::UserRecord::found(*ike::eap::nt_password_hash("correct horse"));
    };
    net.b.pools.add("clients", "10.99.0.0/24");
    net.start(std::move(ci), std::move(cr));
}

void expect_login(Network& net, const std::string& how) {
    BOOST_TEST_INFO(net.a.log() + net.b.log());
    BOOST_TEST(net.a.count(EventKind::IkeEstablished) == 1u);
    BOOST_TEST(net.b.count(EventKind::IkeEstablished) == 1u);
    BOOST_TEST(net.b.count(EventKind::AuthFailed) == 0u);
    auto r = net.sas(net.b);
    BOOST_TEST_REQUIRE(r.size() == 1u);
    BOOST_TEST_REQUIRE(r[0].virtual_ip.has_value());
    BOOST_TEST(r[0].virtual_ip->to_string() == "10.99.0.1");
    BOOST_TEST(net.b.installed.size() == 1u);
    BOOST_TEST(net.a.installed.size() == 1u);
    const ike::Event* ok = net.b.first(EventKind::IkeEstablished);
    BOOST_TEST_REQUIRE(ok != nullptr);
    BOOST_TEST(ok->text.find(how) != std::string::npos, ok->text);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(eap_tls)

BOOST_AUTO_TEST_CASE(tls_12_and_13_logins_establish_with_a_virtual_ip) {
    for (std::uint16_t server_max : {0x0303, 0x0304}) {
        BOOST_TEST_CONTEXT("server max " << std::hex << server_max) {
            Network net;
            Setup s;
            s.server_max = server_max;
            std::vector<std::string> asked;
            start(net, s, &asked);
            net.initiate("home");
            net.run();
            expect_login(net, "EAP-TLS as alice@postern.test");
            BOOST_TEST(net.sas(net.b)[0].user == "alice@postern.test");
            BOOST_TEST((asked == std::vector<std::string>{"alice@postern.test"}));
            const std::string log = net.b.log();
            BOOST_TEST(log.find(server_max == 0x0304 ? "TLSv1.3" : "TLSv1.2") != std::string::npos,
                       log);
            // Every request of the initiator fits one datagram (1024-octet EAP-TLS fragments),
            // and the conversation stays well inside eap_max_rounds.
            BOOST_TEST(net.sent_by(net.a) <= 16u);
            for (const auto& d : net.wire)
                if (d.local == net.a.address) BOOST_TEST(d.data.size() <= 1280u);
        }
    }
}

BOOST_AUTO_TEST_CASE(both_methods_offered_each_client_gets_its_own) {
    for (EapMethod client : {EapMethod::tls, EapMethod::mschapv2}) {
        BOOST_TEST_CONTEXT((client == EapMethod::tls ? "tls" : "mschapv2")) {
            Network net;
            Setup s;
            s.offered = {EapMethod::mschapv2, EapMethod::tls};
            s.client_method = client;
            if (client == EapMethod::mschapv2) s.eap_identity = "alice";
            start(net, s);
            net.initiate("home");
            net.run();
            expect_login(net, client == EapMethod::tls ? "EAP-TLS as alice@postern.test"
                                                       : "EAP-MSCHAPv2 as alice");
        }
    }
}

BOOST_AUTO_TEST_CASE(refusals_carry_their_audit_reason) {
    struct Case {
        const char* what;
        Setup setup;
        const char* reason;
        const char* account;  // named in the AuthFailed event when the account exists
    };
    Setup disabled;
    disabled.users["alice@postern.test"] = false;
    Setup unknown;
    unknown.users.erase("alice@postern.test");
    Setup other_account;
    other_account.eap_identity = "alice2@postern.test";
    other_account.users["alice2@postern.test"] = true;
    Setup untrusted;
    untrusted.client_cert = "other-server.pem";
    untrusted.client_key = "other-server.key";
    untrusted.eap_identity = "vpn.postern.test";
    Setup wrong_method;  // a password client against a TLS-only connection: Nak, nothing left
    wrong_method.client_method = EapMethod::mschapv2;
    for (const Case& k : {
             Case{"disabled", disabled, "disabled", "alice@postern.test"},
             Case{"unknown", unknown, "unknown_user", ""},
             Case{"certificate of another account", other_account, "bad_certificate", ""},
             Case{"untrusted", untrusted, "bad_certificate", ""},
             Case{"no common method", wrong_method, "protocol_error", ""},
         }) {
        BOOST_TEST_CONTEXT(k.what) {
            Network net;
            start(net, k.setup);
            net.initiate("home");
            net.advance(std::chrono::seconds(5));
            BOOST_TEST_INFO(net.a.log() + net.b.log());
            BOOST_TEST(net.b.count(EventKind::IkeEstablished) == 0u);
            BOOST_TEST(net.a.count(EventKind::IkeEstablished) == 0u);
            BOOST_TEST(net.b.count(EventKind::AuthFailed) == 1u);
            const ike::Event* f = net.b.first(EventKind::AuthFailed);
            BOOST_TEST_REQUIRE(f != nullptr);
            BOOST_TEST(f->reason == k.reason);
            BOOST_TEST(f->user == k.account);
            BOOST_TEST(net.sas(net.b).empty());
            BOOST_TEST(net.b.installed.empty());
        }
    }
}

BOOST_AUTO_TEST_CASE(lost_messages_mid_handshake_are_retransmitted) {
    // The first copy of every IKE_AUTH datagram the initiator sends is lost; the responder's
    // cached responses and the initiator's retransmissions carry the TLS flights through.
    Network net;
    start(net, Setup{});
    std::set<std::string> seen_once;
    net.filter = [&](ike::Datagram& d, const Node& from) {
        if (from.name != "initiator") return true;
        return !seen_once.insert(std::string(d.data.begin(), d.data.end())).second;
    };
    net.initiate("home");
    net.advance(std::chrono::seconds(90));
    expect_login(net, "EAP-TLS as alice@postern.test");
    BOOST_TEST(net.dropped > 8u);
}

BOOST_AUTO_TEST_CASE(a_round_bound_stops_the_conversation) {
    // With eap_max_rounds below what TLS needs, the responder gives up: an unauthenticated peer
    // cannot keep it busy.
    Network net;
    Setup s;
    s.max_rounds = 3;
    start(net, s);
    net.initiate("home");
    net.advance(std::chrono::seconds(5));
    BOOST_TEST_INFO(net.a.log() + net.b.log());
    BOOST_TEST(net.b.count(EventKind::IkeEstablished) == 0u);
    const ike::Event* f = net.b.first(EventKind::AuthFailed);
    BOOST_TEST_REQUIRE(f != nullptr);
    BOOST_TEST(f->reason == "protocol_error");
    BOOST_TEST(f->text.find("more than 3 round trips") != std::string::npos, f->text);
}

BOOST_AUTO_TEST_SUITE_END()
