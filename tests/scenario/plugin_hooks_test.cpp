// The engine's plugin hooks between two engines: authorizers (allow, deny, abstain, attributes
// that replace the connection's pool, address, DNS and routes, attributes that do not parse),
// PSK sources (a connection without its own PSK), and what events carry for event sinks.

#include <boost/test/unit_test.hpp>

#include <functional>

#include "configs.hpp"

using namespace postern;
using namespace postern::scenario;
using ike::EventKind;
using plugin::AuthorizeRequest;
using plugin::AuthorizeResult;

namespace {

class FnAuthorizer final : public plugin::Authorizer {
  public:
    explicit FnAuthorizer(std::function<AuthorizeResult(const AuthorizeRequest&)> fn)
        : fn_(std::move(fn)) {}
    AuthorizeResult authorize(const AuthorizeRequest& r) override {
        seen.push_back(r);
        return fn_(r);
    }
    std::vector<AuthorizeRequest> seen;

  private:
    std::function<AuthorizeResult(const AuthorizeRequest&)> fn_;
};

class MapPsk final : public plugin::PskSource {
  public:
    std::map<std::string, std::string> by_remote;
    std::vector<plugin::PskRequest> asked;
    std::optional<SecretBytes> psk(const plugin::PskRequest& r) override {
        asked.push_back(r);
        auto it = by_remote.find(r.remote_identity);
        if (it == by_remote.end()) return std::nullopt;
        return SecretBytes(std::string_view(it->second));
    }
};

void start(Network& net, std::vector<std::shared_ptr<plugin::Authorizer>> authorizers) {
    auto cr = psk_responder();
    cr.authorizers = std::move(authorizers);
    net.b.pools.add("clients", "10.99.0.0/24");
    net.b.pools.add("staff", "10.98.0.0/24");
    net.start(psk_initiator(net), std::move(cr));
    net.initiate("home");
    net.run();
}

}  // namespace

BOOST_AUTO_TEST_SUITE(plugin_hooks)

BOOST_AUTO_TEST_CASE(an_authorizer_sees_the_peer_and_allows_with_attributes) {
    Network net;
    auto a = std::make_shared<FnAuthorizer>([](const AuthorizeRequest&) {
        AuthorizeResult r = AuthorizeResult::allow();
        r.pool = "staff";
        r.dns = std::vector<std::string>{"10.98.0.53"};
        r.routes = std::vector<std::string>{"172.16.0.0/12"};
        r.group = "staff";
        return r;
    });
    start(net, {a});
    BOOST_TEST_INFO(net.a.log() + net.b.log());
    BOOST_TEST(net.b.count(EventKind::IkeEstablished) == 1u);
    BOOST_TEST_REQUIRE(a->seen.size() == 1u);
    const AuthorizeRequest& q = a->seen[0];
    BOOST_TEST(q.connection == "rw");
    BOOST_TEST(q.identity == "alice@postern.test");
    BOOST_TEST(q.user == "alice@postern.test");
    BOOST_TEST(q.auth_method == "psk");
    BOOST_TEST(q.peer == "192.0.2.1:500");
    BOOST_TEST(q.local_identity == "vpn.postern.test");
    BOOST_TEST(q.time > 0);
    // The pool, DNS and routes the authorizer chose, not the connection's.
    auto sas = net.sas(net.b);
    BOOST_TEST_REQUIRE(sas.size() == 1u);
    BOOST_TEST_REQUIRE(sas[0].virtual_ip.has_value());
    BOOST_TEST(sas[0].virtual_ip->to_string() == "10.98.0.1");
    BOOST_TEST(logged(net.a, "peer's DNS server 10.98.0.53"));
    BOOST_TEST(!logged(net.a, "peer's DNS server 10.99.0.1"));
    BOOST_TEST(logged(net.b, "authorized alice@postern.test as group staff, pool staff"));
    // The event carries what sinks need.
    const ike::Event* e = net.b.first(EventKind::IkeEstablished);
    BOOST_TEST_REQUIRE(e != nullptr);
    BOOST_TEST(e->connection == "rw");
    BOOST_TEST(e->auth_method == "psk");
    BOOST_TEST_REQUIRE(e->virtual_ips.size() == 1u);
    BOOST_TEST(e->virtual_ips[0].to_string() == "10.98.0.1");
}

BOOST_AUTO_TEST_CASE(the_chosen_pool_brings_its_dns_and_an_unknown_pool_denies) {
    for (const char* pool : {"staff", "nowhere"}) {
        BOOST_TEST_CONTEXT(pool) {
            Network net;
            auto cr = psk_responder();
            // What the daemon sets from [pools.*]: every pool and its DNS servers.
            cr.pool_dns = {{"clients", {*IpAddress::parse("10.99.0.1")}},
                           {"staff", {*IpAddress::parse("10.98.0.53")}}};
            cr.authorizers = {std::make_shared<FnAuthorizer>([pool](const AuthorizeRequest&) {
                AuthorizeResult r = AuthorizeResult::allow();
                r.pool = pool;
                return r;
            })};
            net.b.pools.add("clients", "10.99.0.0/24");
            net.b.pools.add("staff", "10.98.0.0/24");
            net.start(psk_initiator(net), std::move(cr));
            net.initiate("home");
            net.run();
            BOOST_TEST_INFO(net.a.log() + net.b.log());
            if (std::string(pool) == "staff") {
                BOOST_TEST(net.b.count(EventKind::IkeEstablished) == 1u);
                BOOST_TEST(logged(net.a, "peer's DNS server 10.98.0.53"));
                BOOST_TEST(!logged(net.a, "peer's DNS server 10.99.0.1"));
            } else {
                BOOST_TEST(net.b.count(EventKind::IkeEstablished) == 0u);
                BOOST_TEST(net.b.first(EventKind::AuthFailed)->reason ==
                           "denied: the authorizer's attributes are unusable: pool: no pool "
                           "named \"nowhere\" in the configuration");
            }
        }
    }
}

BOOST_AUTO_TEST_CASE(a_fixed_address_from_the_authorizer) {
    Network net;
    auto a = std::make_shared<FnAuthorizer>([](const AuthorizeRequest&) {
        AuthorizeResult r = AuthorizeResult::allow();
        r.ipv4 = "10.99.0.77";
        return r;
    });
    start(net, {a});
    auto sas = net.sas(net.b);
    BOOST_TEST_REQUIRE(sas.size() == 1u);
    BOOST_TEST(sas[0].virtual_ip->to_string() == "10.99.0.77");
}

BOOST_AUTO_TEST_CASE(a_denial_is_an_authentication_failure_with_its_reason) {
    Network net;
    auto a = std::make_shared<FnAuthorizer>(
        [](const AuthorizeRequest&) { return AuthorizeResult::deny("outside office hours"); });
    start(net, {a});
    BOOST_TEST_INFO(net.a.log() + net.b.log());
    BOOST_TEST(net.b.count(EventKind::IkeEstablished) == 0u);
    BOOST_TEST(net.a.count(EventKind::IkeEstablished) == 0u);
    const ike::Event* f = net.b.first(EventKind::AuthFailed);
    BOOST_TEST_REQUIRE(f != nullptr);
    BOOST_TEST(f->reason == "denied: outside office hours");
    BOOST_TEST(f->identity == "alice@postern.test");
    BOOST_TEST(f->connection == "rw");
    const ike::Event* fi = net.a.first(EventKind::AuthFailed);
    BOOST_TEST_REQUIRE(fi != nullptr);
    BOOST_TEST(fi->text.find("AUTHENTICATION_FAILED") != std::string::npos, fi->text);
    BOOST_TEST(net.b.installed.empty());
    BOOST_TEST(net.b.pools.in_use() == 0u);
}

BOOST_AUTO_TEST_CASE(abstaining_passes_on_and_all_abstaining_allows) {
    {
        Network net;
        auto first = std::make_shared<FnAuthorizer>(
            [](const AuthorizeRequest&) { return AuthorizeResult::abstain(); });
        auto second = std::make_shared<FnAuthorizer>(
            [](const AuthorizeRequest&) { return AuthorizeResult::deny("second says no"); });
        start(net, {first, second});
        BOOST_TEST(first->seen.size() == 1u);
        BOOST_TEST(second->seen.size() == 1u);
        BOOST_TEST(net.b.first(EventKind::AuthFailed)->reason == "denied: second says no");
    }
    {
        Network net;
        auto first = std::make_shared<FnAuthorizer>(
            [](const AuthorizeRequest&) { return AuthorizeResult::allow(); });
        auto second = std::make_shared<FnAuthorizer>(
            [](const AuthorizeRequest&) { return AuthorizeResult::deny("never asked"); });
        start(net, {first, second});
        BOOST_TEST(second->seen.empty());
        BOOST_TEST(net.b.count(EventKind::IkeEstablished) == 1u);
    }
    {
        Network net;
        auto only = std::make_shared<FnAuthorizer>(
            [](const AuthorizeRequest&) { return AuthorizeResult::abstain(); });
        start(net, {only});
        BOOST_TEST(net.b.count(EventKind::IkeEstablished) == 1u);
    }
}

BOOST_AUTO_TEST_CASE(attributes_that_do_not_parse_deny) {
    struct Case {
        const char* what;
        std::function<void(AuthorizeResult&)> set;
        const char* reason;
    };
    for (const Case& k : {
             Case{"ipv4", [](AuthorizeResult& r) { r.ipv4 = "10.99.0.300"; }, "ipv4"},
             Case{"ipv6 given a v4", [](AuthorizeResult& r) { r.ipv6 = "10.99.0.3"; }, "ipv6"},
             Case{"dns", [](AuthorizeResult& r) { r.dns = std::vector<std::string>{"x"}; },
                  "dns"},
             Case{"routes",
                  [](AuthorizeResult& r) { r.routes = std::vector<std::string>{"10.0.0.1/8"}; },
                  "routes"},
             Case{"pool", [](AuthorizeResult& r) { r.pool = ""; }, "pool"},
         }) {
        BOOST_TEST_CONTEXT(k.what) {
            Network net;
            auto a = std::make_shared<FnAuthorizer>([&](const AuthorizeRequest&) {
                AuthorizeResult r = AuthorizeResult::allow();
                k.set(r);
                return r;
            });
            start(net, {a});
            BOOST_TEST(net.b.count(EventKind::IkeEstablished) == 0u);
            const ike::Event* f = net.b.first(EventKind::AuthFailed);
            BOOST_TEST_REQUIRE(f != nullptr);
            BOOST_TEST(f->reason.find(std::string("denied: the authorizer's attributes are "
                                                  "unusable: ") +
                                      k.reason) == 0u,
                       f->reason);
        }
    }
}

BOOST_AUTO_TEST_CASE(psk_sources_serve_connections_without_a_psk) {
    for (bool known : {true, false}) {
        BOOST_TEST_CONTEXT("known " << known) {
            Network net;
            auto ci = psk_initiator(net);
            ci.connections[0].psk = secret("alice's own key, 32 characters!");
            auto cr = psk_responder();
            cr.connections[0].psk = {};  // none of its own
            auto source = std::make_shared<MapPsk>();
            if (known) source->by_remote["alice@postern.test"] = "alice's own key, 32 characters!";
            cr.psk_sources = {source};
            net.b.pools.add("clients", "10.99.0.0/24");
            net.start(std::move(ci), std::move(cr));
            net.initiate("home");
            net.run();
            BOOST_TEST_INFO(net.a.log() + net.b.log());
            BOOST_TEST(net.b.count(EventKind::IkeEstablished) == (known ? 1u : 0u));
            BOOST_TEST(net.a.count(EventKind::IkeEstablished) == (known ? 1u : 0u));
            BOOST_TEST_REQUIRE(!source->asked.empty());
            BOOST_TEST(source->asked[0].connection == "rw");
            BOOST_TEST(source->asked[0].local_identity == "vpn.postern.test");
            BOOST_TEST(source->asked[0].remote_identity == "alice@postern.test");
            if (!known)
                BOOST_TEST(net.b.first(EventKind::AuthFailed)->text.find(
                               "no PSK for alice@postern.test") != std::string::npos);
        }
    }
}

BOOST_AUTO_TEST_SUITE_END()
