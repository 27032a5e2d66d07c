// posternd's PluginSet with the build's plugins: what loads by default and what it provides,
// and every refusal naming the plugin and, where it comes from postern.toml, file, line and key.
#include "fixture.hpp"

#include "db/audit_log.hpp"
#include "db/database.hpp"

using namespace postern;
using namespace postern::scenario::plugins;

BOOST_AUTO_TEST_SUITE(plugin_set)

BOOST_AUTO_TEST_CASE(the_default_set_provides_what_the_built_in_methods_did) {
    Gateway g("[plugins]\n" + plugin_paths() + rw_connection());
    BOOST_TEST((g.plugins->names() ==
                std::vector<std::string>{"x509", "psk", "eap-mschapv2", "eap-tls"}));
    ike::EngineConfig e = g.responder();
    std::vector<int> types;
    for (const auto& f : e.eap_factories)
        types.push_back(f->type());
    BOOST_TEST((types == std::vector<int>{26, 13}));
    BOOST_TEST(e.verifier != nullptr);
    BOOST_TEST(e.psk_sources.size() == 1u);  // the psk plugin's
    BOOST_TEST(e.authorizers.empty());
    BOOST_TEST(g.has_log("loaded plugin eap-tls"), g.log_text());
    g.login("alice@postern.test");
    BOOST_TEST(g.net->b.count(ike::EventKind::IkeEstablished) == 1u, g.log_text());
}

BOOST_AUTO_TEST_CASE(refusals_name_the_plugin_and_the_line) {
    struct Case {
        const char* what;
        std::string toml;
        const char* key;
        unsigned line;
        const char* message;
    };
    const std::string head = "[plugins]\n" + plugin_paths();  // lines 1-2
    for (const Case& k : {
             Case{"missing", head + "load = [\"x509\", \"nope\"]\n", "plugins.load[1]", 3,
                  "plugin nope: no postern-nope.so (looked in "},
             Case{"another API version", head + "load = [\"badversion\"]\n", "plugins.load[0]", 3,
                  "was built for plugin API version 42, this posternd has version 3: rebuild it"},
             Case{"not a plugin", head + "load = [\"noentry\"]\n", "plugins.load[0]", 3,
                  "has no postern_plugin_entry (not a plugin?)"},
             Case{"unknown key", head + "[plugins.eap-tls]\nmax_versoin = \"1.3\"\n",
                  "plugins.eap-tls.max_versoin", 4, "unknown key (max_version, fragment_size)"},
             Case{"bad value", head + "[plugins.eap-tls]\nmax_version = \"2.0\"\n",
                  "plugins.eap-tls.max_version", 4, "expected \"1.2\" or \"1.3\", got \"2.0\""},
             Case{"wrong type", head + "[plugins.eap-mschapv2]\nserver_name = 7\n",
                  "plugins.eap-mschapv2.server_name", 4, "expected a string"},
             Case{"lua without scripts", head + "load = [\"lua\"]\n[plugins.lua]\ntime_ms = 5\n",
                  "plugins.lua.scripts", 4, "list at least one script"},
         }) {
        BOOST_TEST_CONTEXT(k.what) {
            Gateway g;
            auto err = g.load(k.toml + rw_connection());
            BOOST_REQUIRE(err.has_value());
            BOOST_TEST(err->key == k.key);
            BOOST_TEST(err->line == k.line);
            BOOST_TEST(err->message.find(k.message) != std::string::npos, err->message);
            BOOST_TEST(err->file == (g.dir.path / "postern.toml").string());
        }
    }
}

BOOST_AUTO_TEST_CASE(connections_that_need_what_no_plugin_provides) {
    // An EAP-TLS connection without the eap-tls plugin.
    Gateway g("[plugins]\n" + plugin_paths() + "load = [\"x509\", \"eap-mschapv2\"]\n" +
              "[pki]\ncacerts = [\"" + scenario::pki_path("root-ca.pem") + "\"]\n" +
              "[[connections]]\nname = \"certs\"\nremote_auth = \"eap-tls\"\ncert = \"" +
              scenario::pki_path("server-rsa.pem") + "\"\nkey = \"" +
              scenario::pki_path("server-rsa.key") + "\"\n");
    auto e = daemon::build_engine_config(g.config);
    BOOST_REQUIRE(e);
    auto ok = g.plugins->apply(*e, g.config);
    BOOST_REQUIRE(!ok);
    BOOST_TEST(ok.error().key == "connections[0].remote_auth");
    BOOST_TEST(ok.error().line == 8u);
    BOOST_TEST(ok.error().message ==
               "no loaded plugin provides eap-tls (add \"eap-tls\" to [plugins] load)");

    // A PSK connection without a key and no plugin with keys.
    Gateway h("[plugins]\n" + plugin_paths() + "load = [\"x509\"]\n" + rw_connection(false));
    auto f = daemon::build_engine_config(h.config);
    BOOST_REQUIRE(f);
    auto refused = h.plugins->apply(*f, h.config);
    BOOST_REQUIRE(!refused);
    BOOST_TEST(refused.error().message.find("psk authentication needs psk or psk_file, or a "
                                            "plugin that provides pre-shared keys") == 0u);
}

BOOST_AUTO_TEST_CASE(check_mode_registers_what_it_would_without_opening_anything) {
    // sqlite-users as the only source of PSKs: in check mode it opens no database but still
    // registers its PSK source, so the keyless connection passes as it would in posternd.
    Gateway g;
    const std::string toml = "[server]\nuser_db = \"" + (g.dir.path / "users.db").string() +
                             "\"\n[plugins]\n" + plugin_paths() +
                             "load = [\"sqlite-users\"]\n" + rw_connection(false);
    g.dir.write("postern.toml", toml);
    auto c = daemon::load_config((g.dir.path / "postern.toml").string());
    BOOST_REQUIRE(c);
    auto e = daemon::build_engine_config(*c);
    BOOST_REQUIRE(e);
    auto ok = daemon::check_plugins(*c, *e);
    BOOST_TEST(ok.has_value(), (ok ? "" : ok.error().to_string()));
    BOOST_TEST(!fs::exists(g.dir.path / "users.db"));
}

BOOST_AUTO_TEST_CASE(the_audit_log_is_written_once_per_loop_turn) {
    // sqlite-users keeps audit rows until EventSink::flush (posternd: once per event-loop
    // turn) and writes them then, in one transaction.
    Gateway g;
    const std::string path = (g.dir.path / "users.db").string();
    auto loaded = g.load("[server]\nuser_db = \"" + path + "\"\n[plugins]\n" + plugin_paths() +
                         "load = [\"sqlite-users\", \"psk\"]\n[plugins.psk.secrets]\n"
                         "\"alice@postern.test\" = \"alice's key, long enough\"\n" +
                         rw_connection(false));
    BOOST_REQUIRE_MESSAGE(!loaded, (loaded ? loaded->to_string() : ""));
    auto rows = [&] {
        auto db = db::Database::open(path);
        BOOST_REQUIRE(db);
        auto r = db::AuditLog(*db).recent(10);
        BOOST_REQUIRE(r);
        return *r;
    };
    g.login("alice@postern.test", "alice's key, long enough");
    BOOST_TEST(g.net->b.count(ike::EventKind::IkeEstablished) == 1u, g.log_text());
    BOOST_TEST(rows().empty());
    g.plugins->flush_events();
    auto after = rows();
    BOOST_TEST_REQUIRE(after.size() == 1u);
    BOOST_TEST(after[0].identity == "alice@postern.test");
    BOOST_TEST((after[0].event == db::AuditEvent::login_ok));
    g.plugins->flush_events();  // nothing new: nothing written twice
    BOOST_TEST(rows().size() == 1u);
}

BOOST_AUTO_TEST_CASE(reload_reports_what_it_kept) {
    Gateway g;
    g.dir.write("postern.toml", "");
    BOOST_REQUIRE(!g.load("[plugins]\n" + plugin_paths() + "load = [\"psk\"]\n" +
                          "[plugins.psk.secrets]\n\"alice@postern.test\" = \"alice's key, long "
                          "enough\"\n" + rw_connection(false)));
    // A key too short: the psk plugin keeps the previous keys and says so.
    g.dir.write("postern.toml", "[plugins]\n" + plugin_paths() + "load = [\"psk\", \"eap-tls\"]\n" +
                                    "[plugins.psk.secrets]\n\"alice@postern.test\" = \"short\"\n"
                                    "[plugins.eap-tls]\nfragment_size = \"big\"\n" +
                                    rw_connection(false));
    auto next = daemon::load_config((g.dir.path / "postern.toml").string());
    BOOST_REQUIRE(next);
    auto notes = g.plugins->reload(*next);
    BOOST_TEST_REQUIRE(notes.size() == 2u);
    BOOST_TEST(notes[0] == "plugin eap-tls: added to the load list; loads at the next restart");
    BOOST_TEST(notes[1].find("plugin psk: reload: ") == 0u, notes[1]);
    BOOST_TEST(notes[1].find("shorter than 16 characters (the previous keys stay)") !=
                   std::string::npos,
               notes[1]);
    g.login("alice@postern.test", "alice's key, long enough");
    BOOST_TEST(g.net->b.count(ike::EventKind::IkeEstablished) == 1u, g.log_text());
}

BOOST_AUTO_TEST_CASE(per_identity_keys_from_the_psk_plugin) {
    Gateway g;
    g.dir.write("bob.psk", "bob's key from a file\n");
    auto loaded = g.load("[plugins]\n" + plugin_paths() + "load = [\"psk\"]\n" +
                         "[plugins.psk.secrets]\n\"alice@postern.test\" = \"alice's key, long "
                         "enough\"\n\"bob@postern.test\" = \"file:bob.psk\"\n" +
                         rw_connection(false));
    BOOST_REQUIRE_MESSAGE(!loaded, (loaded ? loaded->to_string() : ""));
    g.login("alice@postern.test", "alice's key, long enough");
    BOOST_TEST(g.net->b.count(ike::EventKind::IkeEstablished) == 1u, g.log_text());
    g.login("bob@postern.test", "bob's key from a file");
    BOOST_TEST(g.net->b.count(ike::EventKind::IkeEstablished) == 1u, g.log_text());
    g.login("carol@postern.test", "anything at all, 16+");
    BOOST_TEST(g.net->b.count(ike::EventKind::IkeEstablished) == 0u);
    // Short keys are refused at start.
    Gateway h;
    auto err = h.load("[plugins]\n" + plugin_paths() + "load = [\"psk\"]\n" +
                      "[plugins.psk.secrets]\n\"x\" = \"short\"\n" + rw_connection(false));
    BOOST_REQUIRE(err);
    BOOST_TEST(err->message.find("shorter than 16 characters") != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()
