// ControlService (daemon/control_service.hpp) against a real ike::Engine: the responder of the
// scenario harness (tests/scenario/harness.hpp), built from a postern.toml in a temporary folder
// the way posternd builds it, with the harness's initiator establishing real SAs over the
// in-memory network and a fake clock.

#include <boost/test/unit_test.hpp>

#include <filesystem>
#include <fstream>

#include "daemon/config.hpp"
#include "daemon/control_service.hpp"
#include "daemon/dataplane_log.hpp"
#include "daemon/engine_setup.hpp"
#include "ike/eap/eap_method.hpp"
#include "tests/scenario/configs.hpp"

using namespace postern;
using namespace postern::daemon;
using namespace postern::daemon::control;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

// The harness's responder as posternd would configure it ("rw", PSK, pool "clients").
const std::string kRw =
    "[pools.clients]\nipv4 = \"10.99.0.0/24\"\n"
    "[[connections]]\nname = \"rw\"\nlocal_id = \"vpn.postern.test\"\nlocal_auth = \"psk\"\n"
    "remote_auth = \"psk\"\npsk = \"correct horse battery staple\"\npools = [\"clients\"]\n";
const std::string kOther =
    "[[connections]]\nname = \"other\"\nlocal_id = \"other.postern.test\"\n"
    "local_auth = \"psk\"\nremote_auth = \"psk\"\npsk = \"another secret that is long\"\n";

struct Gateway {
    fs::path dir;
    scenario::Network net;
    RecordingDataPlane dp;
    std::unique_ptr<ControlService> service;
    Peer root{1, 0, 0};

    bool eap_lookup = false;  // the user lookup the plugins give the engine
    std::vector<std::string> plugin_reloads;  // files the plugins were given on reload
    std::optional<ConfigError> refuse_prepare;  // what the plugins say about a reloaded file

    explicit Gateway(const std::string& toml) {
        char tmpl[] = "/tmp/postern-control-XXXXXX";
        dir = mkdtemp(tmpl);
        write(toml);
        auto cfg = load_config(file());
        BOOST_REQUIRE_MESSAGE(cfg, (cfg ? "" : cfg.error().to_string()));
        auto engine = build_engine_config(*cfg);
        BOOST_REQUIRE_MESSAGE(engine, (engine ? "" : engine.error().to_string()));
        // What posternd's plugins do to every EngineConfig (PluginSet::apply), at start-up
        // and on reload.
        auto prepare = [this](ike::EngineConfig& e,
                              const Config&) -> tl::expected<void, ConfigError> {
            if (refuse_prepare) return tl::unexpected(*refuse_prepare);
            e.eap_users = [this](std::string_view) {
                eap_lookup = true;
                return ike::eap::UserRecord::unknown_user();
            };
            return {};
        };
        BOOST_REQUIRE(prepare(*engine, *cfg));
        net.b.pools.add("clients", "10.99.0.0/24");
        net.start(scenario::psk_initiator(net), std::move(*engine));
        ControlTarget t;
        t.engine = net.b.engine.get();
        t.dataplane = &dp;
        t.apply = [this](ike::Actions& out) { net.inject(net.b, out); };
        t.now = [this] { return net.now; };
        t.prepare_engine = prepare;
        t.reload_plugins = [this](const Config& c) {
            plugin_reloads.push_back(c.file);
            return std::vector<std::string>{"plugin lua: reload: test.lua:3: boom (the "
                                            "previous version keeps running)"};
        };
        service = std::make_unique<ControlService>(std::move(t), *cfg);
    }
    ~Gateway() { fs::remove_all(dir); }

    std::string file() const { return (dir / "postern.toml").string(); }
    void write(const std::string& toml) const { std::ofstream(file()) << toml; }

    // The initiator connects; the responder's IKE SA id.
    std::uint64_t establish() {
        net.initiate("home");
        net.run();
        auto sas = net.sas(net.b);
        BOOST_REQUIRE_MESSAGE(sas.size() == 1u, net.a.log() + net.b.log());
        BOOST_REQUIRE((sas[0].state == ike::sa::IkeSaState::Established));
        return sas[0].id;
    }

    json ask(const std::string& line) {
        const std::string reply = service->handle_line(line, root);
        BOOST_TEST(reply.back() == '\n');
        auto r = parse_reply(reply.substr(0, reply.size() - 1));
        BOOST_REQUIRE_MESSAGE(r, line + " -> " + reply);
        return *r;
    }
    Error ask_error(const std::string& line) {
        const std::string reply = service->handle_line(line, root);
        auto r = parse_reply(reply.substr(0, reply.size() - 1));
        BOOST_REQUIRE_MESSAGE(!r, line + " -> " + reply);
        return r.error();
    }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(control_service)

BOOST_AUTO_TEST_CASE(no_sas) {
    Gateway g(kRw);
    const json status = g.ask(R"({"cmd":"status"})");
    BOOST_TEST(status["version"] == kVersion);
    BOOST_TEST(status["ike_sas"]["total"] == 0);
    BOOST_TEST(status["ike_sas"]["by_state"].empty());
    BOOST_TEST(status["child_sas"] == 0);
    BOOST_TEST(status["config"] == g.file());
    BOOST_TEST(status["dataplane"] == g.dp.name());
    BOOST_TEST(status["engine"].contains("established"));

    BOOST_TEST(g.ask(R"({"cmd":"sa.list"})")["sas"].empty());
    const json kill = g.ask(R"({"cmd":"sa.kill","ids":[5]})");
    BOOST_TEST(kill["killed"].empty());
    BOOST_TEST(kill["not_found"] == json::parse("[5]"));
    BOOST_TEST(g.ask(R"({"cmd":"sa.kill","user":"alice"})")["killed"].empty());

    BOOST_TEST(to_string(g.ask_error(R"({"cmd":"nope"})").code) == "unknown_command");
    BOOST_TEST(to_string(g.ask_error("{").code) == "malformed");
}

BOOST_AUTO_TEST_CASE(lists_an_established_sa) {
    Gateway g(kRw);
    const auto id = g.establish();
    g.net.advance(std::chrono::seconds(3), std::chrono::seconds(1));

    const json sas = g.ask(R"({"cmd":"sa.list"})")["sas"];
    BOOST_REQUIRE(sas.size() == 1u);
    const json& sa = sas[0];
    BOOST_TEST(sa["id"] == id);
    BOOST_TEST(sa["user"] == "alice@postern.test");
    BOOST_TEST(sa["remote_identity"] == "alice@postern.test");
    BOOST_TEST(sa["connection"] == "rw");
    BOOST_TEST(sa["state"] == "ESTABLISHED");
    BOOST_TEST(sa["role"] == "responder");
    BOOST_TEST(sa["peer"] == "192.0.2.1:500");
    BOOST_TEST(sa["local"] == "192.0.2.2:500");
    BOOST_REQUIRE(sa["virtual_ips"].size() == 1u);
    BOOST_TEST(sa["virtual_ips"][0].get<std::string>().rfind("10.99.0.", 0) == 0u);
    BOOST_TEST(sa["ike_algorithms"].get<std::string>().find("AES_GCM_16") != std::string::npos,
               sa["ike_algorithms"].dump());
    BOOST_TEST(sa["established"] == true);
    BOOST_TEST(sa["uptime_s"] == 3);
    BOOST_TEST(sa["spi_i"].get<std::string>().size() == 16u);
    BOOST_TEST(sa["bytes_in"] == 0);
    BOOST_REQUIRE(sa["child_sas"].size() == 1u);
    const json& child = sa["child_sas"][0];
    BOOST_TEST(child["algorithms"].get<std::string>().find("AES_GCM_16") != std::string::npos,
               child.dump());
    BOOST_TEST(child["installed"] == true);
    BOOST_TEST(child["spi_in"].get<std::string>().size() == 8u);
    BOOST_TEST(!child["remote_ts"].empty());

    BOOST_TEST(g.ask(R"({"cmd":"sa.list","user":"alice@postern.test"})")["sas"].size() == 1u);
    BOOST_TEST(g.ask(R"({"cmd":"sa.list","user":"bob"})")["sas"].empty());

    const json status = g.ask(R"({"cmd":"status"})");
    BOOST_TEST(status["ike_sas"]["total"] == 1);
    BOOST_TEST(status["ike_sas"]["by_state"]["ESTABLISHED"] == 1);
    BOOST_TEST(status["child_sas"] == 1);
    BOOST_TEST(status["engine"]["established"] == 1);
}

BOOST_AUTO_TEST_CASE(kill_by_user_sends_the_delete) {
    Gateway g(kRw);
    const auto id = g.establish();
    BOOST_TEST(g.ask(R"({"cmd":"sa.kill","user":"bob"})")["killed"].empty());
    const json kill = g.ask(R"({"cmd":"sa.kill","user":"alice@postern.test"})");
    BOOST_TEST(kill["killed"] == json::array({id}));
    BOOST_TEST(kill["user"] == "alice@postern.test");
    g.net.run();
    BOOST_TEST(g.net.a.has_event(ike::EventKind::IkeDeleted), g.net.a.log());
    BOOST_TEST(g.net.sas(g.net.a).empty());
    BOOST_TEST(g.net.sas(g.net.b).empty());
    BOOST_TEST(g.ask(R"({"cmd":"sa.list"})")["sas"].empty());
}

BOOST_AUTO_TEST_CASE(kill_by_id) {
    Gateway g(kRw);
    const auto id = g.establish();
    const json kill = g.ask(json{{"cmd", "sa.kill"}, {"ids", {id, id + 100}}}.dump());
    BOOST_TEST(kill["killed"] == json::array({id}));
    BOOST_TEST(kill["not_found"] == json::array({id + 100}));
    g.net.run();
    BOOST_TEST(g.net.sas(g.net.b).empty());
    BOOST_TEST(g.net.a.has_event(ike::EventKind::IkeDeleted), g.net.a.log());
}

BOOST_AUTO_TEST_CASE(reload_keeps_unchanged_connections_and_deletes_removed_ones) {
    Gateway g(kRw);
    const auto id = g.establish();

    g.write(kRw + kOther);
    json r = g.ask(R"({"cmd":"reload"})");
    BOOST_TEST(r["kept"] == 1);
    BOOST_TEST(r["deleted"] == 0);
    BOOST_TEST(r["added"] == json::array({"other"}));
    BOOST_TEST(r["removed"].empty());
    BOOST_TEST(r["needs_restart"].empty());
    BOOST_TEST(r["file"] == g.file());
    auto sas = g.net.sas(g.net.b);
    BOOST_REQUIRE(sas.size() == 1u);
    BOOST_TEST(sas[0].id == id);
    BOOST_TEST(g.net.b.engine->config().connections.size() == 2u);
    BOOST_TEST(g.service->running().connections.size() == 2u);
    // The plugins' components are given to the reloaded engine too, and the plugins their
    // new settings; what they say is reported.
    BOOST_REQUIRE(g.net.b.engine->config().eap_users);
    g.net.b.engine->config().eap_users("x");
    BOOST_TEST(g.eap_lookup);
    BOOST_TEST(g.plugin_reloads == std::vector<std::string>{g.file()});
    BOOST_TEST(r["warnings"].dump().find("plugin lua: reload: test.lua:3: boom") !=
                   std::string::npos,
               r.dump());

    // A reloaded file the plugins refuse (a connection needing a method none provides)
    // changes nothing.
    g.refuse_prepare = ConfigError{g.file(), 3, "connections[1].remote_auth", "no plugin"};
    g.write(kRw);
    Error refused = g.ask_error(R"({"cmd":"reload"})");
    BOOST_TEST(refused.message.find("no plugin") != std::string::npos, refused.message);
    BOOST_TEST(g.net.b.engine->config().connections.size() == 2u);
    g.refuse_prepare.reset();

    g.write("[pools.clients]\nipv4 = \"10.99.0.0/24\"\n" + kOther);
    r = g.ask(R"({"cmd":"reload"})");
    BOOST_TEST(r["kept"] == 0);
    BOOST_TEST(r["deleted"] == 1);
    BOOST_TEST(r["removed"] == json::array({"rw"}));
    BOOST_TEST(g.net.sas(g.net.b).empty());
    g.net.run();
    BOOST_TEST(g.net.a.has_event(ike::EventKind::IkeDeleted), g.net.a.log());
}

BOOST_AUTO_TEST_CASE(reload_error_changes_nothing) {
    Gateway g(kRw);
    g.establish();
    g.write(kRw + "bogus_key = 1\n");
    const Error e = g.ask_error(R"({"cmd":"reload"})");
    BOOST_TEST(to_string(e.code) == "reload_failed");
    BOOST_TEST(e.message.find("postern.toml:10: connections[0].bogus_key: unknown key") !=
                   std::string::npos,
               e.message);
    BOOST_TEST(g.net.sas(g.net.b).size() == 1u);
    BOOST_TEST(g.service->running().connections.size() == 1u);

    // A file it names that cannot be read is an error too, with the key's line.
    std::string missing = kRw;
    missing.replace(missing.find("psk = "), std::string("psk = ").size(), "psk_file = ");
    missing.replace(missing.find("\"correct horse"), 30, "\"missing.txt\"");
    g.write(missing);
    const Error f = g.ask_error(R"({"cmd":"reload"})");
    BOOST_TEST(f.message.find("missing.txt") != std::string::npos, f.message);
    BOOST_TEST(g.net.sas(g.net.b).size() == 1u);
}

BOOST_AUTO_TEST_CASE(reload_reports_what_needs_a_restart) {
    Gateway g(kRw);
    g.establish();
    g.write("[server]\nport = 1500\nlisten = [\"127.0.0.1\"]\n" +
            std::string("[pools.clients]\nipv4 = \"10.98.0.0/24\"\n[pools.extra]\nipv4 = "
                        "\"10.97.0.0/24\"\n") +
            kRw.substr(kRw.find("[[connections]]")));
    const json r = g.ask(R"({"cmd":"reload"})");
    BOOST_TEST(r["kept"] == 1);
    std::string all;
    for (const auto& n : r["needs_restart"])
        all += n.get<std::string>() + "\n";
    BOOST_TEST(all.find("server.port: needs a restart (running: 500; in the file: 1500)") !=
                   std::string::npos,
               all);
    BOOST_TEST(all.find("server.listen: needs a restart (running: []; in the file: "
                        "[127.0.0.1])") != std::string::npos,
               all);
    BOOST_TEST(all.find("pools.clients: needs a restart (running: [10.99.0.0/24]; in the file: "
                        "[10.98.0.0/24])") != std::string::npos,
               all);
    BOOST_TEST(all.find("pools.extra: a new pool needs a restart") != std::string::npos, all);
    // What needs a restart stays as it runs.
    BOOST_TEST(g.service->running().ike_port == 500);
    BOOST_TEST(g.service->running().listen.empty());
    BOOST_TEST(g.service->running().pools.front().ipv4 == "10.99.0.0/24");
}

BOOST_AUTO_TEST_CASE(keep_restart_only_sets_back_what_cannot_change) {
    Config running, next;
    running.pools = {Pool{"a", "10.0.0.0/24", "", {"10.0.0.1"}},
                     Pool{"gone", "10.1.0.0/24", "", {}}};
    next.pools = {Pool{"a", "10.0.0.0/24", "", {"10.0.0.53"}}};
    next.natt_port = 4501;
    next.dataplane = DataPlaneKind::Userspace;
    next.control_socket = "/tmp/other.sock";
    const auto notes = keep_restart_only(running, next);
    BOOST_TEST(notes.size() == 4u);
    BOOST_TEST(next.natt_port == 4500);
    BOOST_TEST((next.dataplane == DataPlaneKind::Auto));
    BOOST_TEST(next.control_socket.empty());
    // DNS servers of a pool may change; a removed pool stays.
    BOOST_REQUIRE(next.pools.size() == 2u);
    BOOST_TEST(next.pools[0].dns == std::vector<std::string>{"10.0.0.53"});
    BOOST_TEST(next.pools[1].name == "gone");

    Config same = running;
    BOOST_TEST(keep_restart_only(running, same).empty());
}

BOOST_AUTO_TEST_SUITE_END()
