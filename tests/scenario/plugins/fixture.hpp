// A gateway configured from a postern.toml written into a temporary folder, with the plugins
// of the build loaded through posternd's PluginSet and applied to the responder engine, facing
// the scenario harness's initiator. What posternd does at start-up, minus the sockets.
#pragma once

#include <boost/test/unit_test.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "daemon/config.hpp"
#include "daemon/engine_setup.hpp"
#include "daemon/plugin_set.hpp"
#include "tests/scenario/configs.hpp"

namespace postern::scenario::plugins {

namespace fs = std::filesystem;

struct TempDir {
    fs::path path;
    TempDir() {
        char tmpl[] = "/tmp/postern-plugins-XXXXXX";
        path = mkdtemp(tmpl);
    }
    ~TempDir() { fs::remove_all(path); }
    std::string write(const std::string& name, const std::string& text) const {
        fs::create_directories((path / name).parent_path());
        std::ofstream(path / name) << text;
        return (path / name).string();
    }
    std::string read(const std::string& name) const {
        std::ifstream in(path / name);
        std::stringstream ss;
        ss << in.rdbuf();
        return ss.str();
    }
};

// [plugins] path: the build's plugins, then the test plugins posternd must refuse.
inline std::string plugin_paths() {
    return std::string("path = [\"") + POSTERN_PLUGIN_BUILD_DIR + "\", \"" +
           POSTERN_TEST_PLUGIN_DIR + "\"]\n";
}

// A PSK road-warrior connection "rw" (psk given or not), pools clients and staff.
inline std::string rw_connection(bool with_psk = true) {
    return "[pools.clients]\nipv4 = \"10.99.0.0/24\"\ndns = [\"10.99.0.1\"]\n"
           "[pools.staff]\nipv4 = \"10.98.0.0/24\"\n"
           "[[connections]]\nname = \"rw\"\nlocal_id = \"vpn.postern.test\"\n"
           "local_auth = \"psk\"\nremote_auth = \"psk\"\npools = [\"clients\"]\n" +
           std::string(with_psk ? "psk = \"correct horse battery staple\"\n" : "");
}

struct Gateway {
    TempDir dir;
    daemon::Config config;
    std::unique_ptr<daemon::PluginSet> plugins;
    std::vector<std::string> logged;  // what plugins logged
    std::unique_ptr<Network> net;     // the last login's

    // Loads `toml` with its plugins; failures are test failures.
    explicit Gateway(const std::string& toml) {
        auto err = load(toml);
        BOOST_REQUIRE_MESSAGE(!err, (err ? err->to_string() : ""));
    }
    Gateway() = default;

    // Loads `toml` (written as postern.toml) and its plugins; the error when something refuses.
    std::optional<daemon::ConfigError> load(const std::string& toml) {
        const std::string file = dir.write("postern.toml", toml);
        auto c = daemon::load_config(file);
        if (!c) return c.error();
        config = std::move(*c);
        daemon::PluginSet::Options o;
        o.log = [this](plugin::LogLevel, const std::string& text) { logged.push_back(text); };
        auto set = daemon::PluginSet::load(config, o);
        if (!set) return set.error();
        plugins = std::move(*set);
        return std::nullopt;
    }

    // The responder built from the file with what the plugins registered.
    ike::EngineConfig responder() {
        auto e = daemon::build_engine_config(config);
        BOOST_REQUIRE_MESSAGE(e, (e ? "" : e.error().to_string()));
        auto ok = plugins->apply(*e, config);
        BOOST_REQUIRE_MESSAGE(ok, (ok ? "" : ok.error().to_string()));
        return std::move(*e);
    }

    // One login by `identity` with `psk` (a fresh engine pair each time); events go to the
    // plugins' sinks as posternd's loop hands them.
    void login(const std::string& identity, const std::string& psk = "correct horse battery staple") {
        net = std::make_unique<Network>();
        auto ci = psk_initiator(*net);
        ci.connections[0].local_id = scenario::identity(identity);
        ci.connections[0].psk = secret(psk);
        net->b.pools.add("clients", "10.99.0.0/24");
        net->b.pools.add("staff", "10.98.0.0/24");
        net->start(std::move(ci), responder());
        net->initiate("home");
        net->run();
        for (const auto& e : net->b.events)
            plugins->dispatch(e);
    }

    bool has_log(const std::string& text) const {
        for (const auto& l : logged)
            if (l.find(text) != std::string::npos) return true;
        return false;
    }
    std::string log_text() const {
        std::string s;
        for (const auto& l : logged)
            s += "  plugin: " + l + "\n";
        return net ? s + net->a.log() + net->b.log() : s;
    }
};

}  // namespace postern::scenario::plugins
