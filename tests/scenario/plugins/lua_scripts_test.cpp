// The lua plugin deciding logins between two engines: authorize allows with attributes or
// denies with a reason, psk supplies keys, eap_secret supplies passwords, the event functions
// see connects and failures; a script error denies with file:line and the next login is served;
// reload swaps scripts, and a script that no longer loads keeps its previous version. The
// conf/lua examples run here too.
#include "fixture.hpp"

using namespace postern;
using namespace postern::scenario;
using namespace postern::scenario::plugins;
using ike::EventKind;

namespace {

std::string lua_config(const std::string& scripts, const std::string& more = {},
                       bool with_psk = true) {
    return "[plugins]\n" + plugin_paths() + "load = [\"psk\", \"lua\"]\n[plugins.lua]\nscripts = [" +
           scripts + "]\n" + more + rw_connection(with_psk);
}

const ike::Event* failure(const Gateway& g) {
    return g.net->b.first(EventKind::AuthFailed);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(lua_scripts)

BOOST_AUTO_TEST_CASE(authorize_allows_with_attributes_and_denies_with_a_reason) {
    Gateway g;
    g.dir.write("policy.lua", R"lua(
function authorize(ctx)
  if ctx.identity == "alice@postern.test" then
    assert(ctx.auth_method == "psk" and ctx.connection == "rw")
    assert(ctx.peer_address == "192.0.2.1" and ctx.local_identity == "vpn.postern.test")
    return {pool = "staff", dns = {"10.98.0.53"}, routes = {"172.16.0.0/12"}, group = "staff"}
  end
  return "only alice today"
end
)lua");
    BOOST_REQUIRE(!g.load(lua_config("\"policy.lua\"")));
    g.login("alice@postern.test");
    BOOST_TEST_INFO(g.log_text());
    BOOST_TEST(g.net->b.count(EventKind::IkeEstablished) == 1u);
    auto sas = g.net->sas(g.net->b);
    BOOST_TEST_REQUIRE(sas.size() == 1u);
    BOOST_TEST(sas[0].virtual_ip->to_string() == "10.98.0.1");
    BOOST_TEST(g.net->a.log().find("peer's DNS server 10.98.0.53") != std::string::npos);

    g.login("bob@postern.test");
    BOOST_TEST(g.net->b.count(EventKind::IkeEstablished) == 0u);
    BOOST_TEST_REQUIRE(failure(g) != nullptr);
    BOOST_TEST(failure(g)->reason == "denied: only alice today");
}

BOOST_AUTO_TEST_CASE(a_script_error_denies_logs_file_and_line_and_serving_goes_on) {
    Gateway g;
    const std::string path = g.dir.write("broken.lua", "function authorize(ctx)\n"
                                                       "  local x = nil\n"
                                                       "  return x.field\n"  // line 3
                                                       "end\n");
    BOOST_REQUIRE(!g.load(lua_config("\"broken.lua\"")));
    for (int i = 0; i < 2; ++i) {
        g.login("alice@postern.test");
        BOOST_TEST(g.net->b.count(EventKind::IkeEstablished) == 0u);
        BOOST_TEST_REQUIRE(failure(g) != nullptr);
        BOOST_TEST(failure(g)->reason.find("denied: script error: " + path + ":3:") == 0u,
                   failure(g)->reason);
    }
    BOOST_TEST(g.has_log("authorize: " + path + ":3:"), g.log_text());
}

BOOST_AUTO_TEST_CASE(bad_return_values_and_budgets_deny) {
    struct Case {
        const char* what;
        const char* body;
        const char* reason;
        const char* logged;
    };
    for (const Case& k : {
             Case{"a number", "return 42", "bad return value", "authorize returned integer"},
             Case{"an unknown key", "return {pool = 'staff', colour = 'red'}", "bad return value",
                  "unknown key \"colour\""},
             Case{"a bad address", "return {ipv4 = '10.98.0.300'}",
                  "the authorizer's attributes are unusable: ipv4", nullptr},
             Case{"an endless loop", "while true do end", "script error:",
                  "instruction budget of 100000 exceeded"},
             Case{"a memory bomb", "return string.rep('x', 1 << 30)", "script error:",
                  "not enough memory"},
         }) {
        BOOST_TEST_CONTEXT(k.what) {
            Gateway g;
            g.dir.write("s.lua", std::string("function authorize(ctx)\n  ") + k.body + "\nend\n");
            BOOST_REQUIRE(!g.load(lua_config("\"s.lua\"", "instructions = 100000\nmemory_mb = 4\n")));
            g.login("alice@postern.test");
            BOOST_TEST(g.net->b.count(EventKind::IkeEstablished) == 0u);
            BOOST_TEST_REQUIRE(failure(g) != nullptr);
            BOOST_TEST(failure(g)->reason.find(k.reason) != std::string::npos, failure(g)->reason);
            if (k.logged) BOOST_TEST(g.has_log(k.logged), g.log_text());
        }
    }
}

BOOST_AUTO_TEST_CASE(abstaining_scripts_pass_on_to_the_next) {
    Gateway g;
    g.dir.write("a.lua", "function authorize(ctx) return nil end\n");
    g.dir.write("b.lua", "function authorize(ctx) return {pool = 'staff'} end\n");
    BOOST_REQUIRE(!g.load(lua_config("\"a.lua\", \"b.lua\"")));
    g.login("alice@postern.test");
    auto sas = g.net->sas(g.net->b);
    BOOST_TEST_REQUIRE(sas.size() == 1u, g.log_text());
    BOOST_TEST(sas[0].virtual_ip->to_string() == "10.98.0.1");
}

BOOST_AUTO_TEST_CASE(psk_and_events_from_scripts) {
    Gateway g;
    g.dir.write("keys.lua", R"lua(
local KEYS = {["alice@postern.test"] = "alice's key from lua, 24"}
function psk(ctx) return KEYS[ctx.identity] end
function on_connect(ctx)
  postern.emit({event = "connect", user = ctx.user, addresses = ctx.virtual_ips,
                method = ctx.auth_method})
end
function on_auth_failure(ctx)
  postern.emit({event = "failure", identity = ctx.identity, reason = ctx.reason})
end
)lua");
    BOOST_REQUIRE(!g.load(lua_config("\"keys.lua\"", "events_file = \"events.jsonl\"\n", false)));
    g.login("alice@postern.test", "alice's key from lua, 24");
    BOOST_TEST(g.net->b.count(EventKind::IkeEstablished) == 1u, g.log_text());
    g.login("mallory@postern.test", "alice's key from lua, 24");
    BOOST_TEST(g.net->b.count(EventKind::IkeEstablished) == 0u);
    const std::string events = g.dir.read("events.jsonl");
    BOOST_TEST(events.find(R"("addresses":["10.99.0.1"])") != std::string::npos, events);
    BOOST_TEST(events.find(R"("event":"connect")") != std::string::npos, events);
    BOOST_TEST(events.find(R"("method":"psk")") != std::string::npos, events);
    BOOST_TEST(events.find(R"("identity":"mallory@postern.test")") != std::string::npos, events);
    BOOST_TEST(events.find(R"("time":)") != std::string::npos, events);
}

BOOST_AUTO_TEST_CASE(eap_secret_logs_users_in_with_passwords_from_a_script) {
    Gateway g;
    g.dir.write("users.lua", R"lua(
function eap_secret(ctx)
  if ctx.user == "carol" then return {password = "carol's password", groups = {"staff"}} end
  if ctx.user == "dave" then return {password = "x", enabled = false} end
  return nil
end
function authorize(ctx)
  for _, g in ipairs(ctx.groups) do if g == "staff" then return {pool = "staff"} end end
  return "not staff"
end
)lua");
    BOOST_REQUIRE(!g.load(
        "[plugins]\n" + plugin_paths() +
        "load = [\"x509\", \"eap-mschapv2\", \"lua\"]\n[plugins.lua]\nscripts = [\"users.lua\"]\n"
        "[pools.clients]\nipv4 = \"10.99.0.0/24\"\n[pools.staff]\nipv4 = \"10.98.0.0/24\"\n"
        "[pki]\ncacerts = [\"" + pki_path("root-ca.pem") + "\"]\n"
        "[[connections]]\nname = \"users\"\nlocal_id = \"vpn.postern.test\"\n"
        "remote_auth = \"eap-mschapv2\"\npools = [\"clients\"]\ncert = \"" +
        pki_path("server-rsa-chain.pem") + "\"\nkey = \"" + pki_path("server-rsa.key") + "\"\n"));
    for (const char* user : {"carol", "dave"}) {
        BOOST_TEST_CONTEXT(user) {
            g.net = std::make_unique<Network>();
            auto ci = psk_initiator(*g.net);
            auto& c = ci.connections[0];
            c.local_auth = ike::AuthClass::Eap;
            c.remote_auth = ike::AuthClass::PublicKey;
            c.local_id = identity("192.0.2.1");
            c.eap_identity = user;
            c.eap_password = secret(std::string(user) == "carol" ? "carol's password" : "x");
            ci.trust_anchors = {cert("root-ca.pem")};
            g.net->b.pools.add("clients", "10.99.0.0/24");
            g.net->b.pools.add("staff", "10.98.0.0/24");
            g.net->start(std::move(ci), g.responder());
            g.net->initiate("home");
            g.net->run();
            BOOST_TEST_INFO(g.log_text());
            if (std::string(user) == "carol") {
                BOOST_TEST(g.net->b.count(EventKind::IkeEstablished) == 1u);
                auto sas = g.net->sas(g.net->b);
                BOOST_TEST_REQUIRE(sas.size() == 1u);
                BOOST_TEST(sas[0].virtual_ip->to_string() == "10.98.0.1");
            } else {
                BOOST_TEST(g.net->b.count(EventKind::IkeEstablished) == 0u);
                BOOST_TEST_REQUIRE(failure(g) != nullptr);
                BOOST_TEST(failure(g)->reason == "disabled");
            }
        }
    }
}

BOOST_AUTO_TEST_CASE(reload_swaps_scripts_and_a_broken_one_keeps_its_previous_version) {
    Gateway g;
    const std::string path = g.dir.write("policy.lua", "function authorize(ctx) return true end\n");
    BOOST_REQUIRE(!g.load(lua_config("\"policy.lua\"")));
    g.login("alice@postern.test");
    BOOST_TEST(g.net->b.count(EventKind::IkeEstablished) == 1u);

    g.dir.write("policy.lua", "function authorize(ctx) return 'closed for maintenance' end\n");
    auto notes = g.plugins->reload(g.config);
    BOOST_TEST(notes.empty());
    g.login("alice@postern.test");
    BOOST_TEST(g.net->b.count(EventKind::IkeEstablished) == 0u);
    BOOST_TEST(failure(g)->reason == "denied: closed for maintenance");

    g.dir.write("policy.lua", "function authorize(ctx)\n  return true\n-- no end\n");
    notes = g.plugins->reload(g.config);
    BOOST_TEST_REQUIRE(notes.size() == 1u);
    BOOST_TEST(notes[0].find("plugin lua: reload: " + path + ":4: 'end' expected") == 0u,
               notes[0]);
    BOOST_TEST(notes[0].find("(the previous version keeps running)") != std::string::npos);
    g.login("alice@postern.test");
    BOOST_TEST(failure(g)->reason == "denied: closed for maintenance");  // still the old one
}

BOOST_AUTO_TEST_CASE(a_script_that_does_not_load_refuses_start_up_with_file_and_line) {
    Gateway g;
    const std::string path = g.dir.write("bad.lua", "function authorize(ctx\n  return true\nend\n");
    auto err = g.load(lua_config("\"bad.lua\""));
    BOOST_REQUIRE(err);
    BOOST_TEST(err->key == "plugins.lua.scripts");
    BOOST_TEST(err->message.find(path + ":2:") == 0u, err->message);
}

// The examples shipped in conf/lua, against logins.
BOOST_AUTO_TEST_CASE(the_shipped_examples) {
    const std::string conf = std::string(POSTERN_SOURCE_DIR) + "/conf/lua/";
    {
        // lockout.lua: five failures lock the identity out even with the right key.
        Gateway g;
        BOOST_REQUIRE(!g.load(lua_config("\"" + conf + "lockout.lua\"")));
        for (int i = 0; i < 5; ++i) {
            g.login("alice@postern.test", "not the right key at all");
            BOOST_TEST(g.net->b.count(EventKind::IkeEstablished) == 0u);
        }
        g.login("alice@postern.test");
        BOOST_TEST(g.net->b.count(EventKind::IkeEstablished) == 0u);
        BOOST_TEST_REQUIRE(failure(g) != nullptr);
        BOOST_TEST(failure(g)->reason.find("denied: locked out after 5 failed logins") == 0u,
                   failure(g)->reason);
        BOOST_TEST(g.has_log("locking out alice@postern.test after 5 failures"), g.log_text());
        g.login("bob@postern.test");  // others are not locked out
        BOOST_TEST(g.net->b.count(EventKind::IkeEstablished) == 1u);
    }
    {
        // device_psks.lua: a device's own key; an unknown device gets none.
        Gateway g;
        BOOST_REQUIRE(!g.load(lua_config("\"" + conf + "device_psks.lua\"", {}, false)));
        g.login("phone.alice@example.com", "alice's phone: a long random key 1");
        BOOST_TEST(g.net->b.count(EventKind::IkeEstablished) == 1u, g.log_text());
        g.login("tablet.alice@example.com", "alice's phone: a long random key 1");
        BOOST_TEST(g.net->b.count(EventKind::IkeEstablished) == 0u);
    }
    {
        // notify.lua: a JSON line per connect.
        Gateway g;
        BOOST_REQUIRE(!g.load(lua_config("\"" + conf + "notify.lua\"",
                                         "events_file = \"events.jsonl\"\n")));
        g.login("alice@postern.test");
        BOOST_TEST(g.dir.read("events.jsonl").find(R"("event":"connect")") != std::string::npos);
    }
    {
        // office_hours.lua (first: it only refuses) and pools_by_group.lua need groups:
        // without a user store nobody is in one, so office_hours refuses.
        Gateway g;
        BOOST_REQUIRE(!g.load(lua_config("\"" + conf + "office_hours.lua\", \"" + conf +
                                         "pools_by_group.lua\"")));
        g.login("alice@postern.test");
        BOOST_TEST(g.net->b.count(EventKind::IkeEstablished) == 0u);
        BOOST_TEST(failure(g)->reason == "denied: not in staff or contractors");
    }
}

BOOST_AUTO_TEST_SUITE_END()
