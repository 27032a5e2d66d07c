// postern: the Postern admin CLI. Subcommands arrive with their issues; today: check-config.

#include <CLI/CLI.hpp>

#include <cstdio>

#include "daemon/load.hpp"

int main(int argc, char** argv) {
    CLI::App app{"postern - Postern VPN server administration"};
    app.require_subcommand(1);
    app.set_version_flag("--version", "postern 0.1.0");

    std::string config_path = "/etc/postern/postern.toml";
    auto* check = app.add_subcommand(
        "check-config",
        "validate postern.toml and the files it names (certificates, keys, PSK files) without "
        "starting");
    check->add_option("-c,--config", config_path, "configuration file")->capture_default_str();

    CLI11_PARSE(app, argc, argv);

    if (check->parsed()) {
        using namespace postern::daemon;
        auto loaded = load_and_check(config_path);
        if (!loaded) {
            std::fprintf(stderr, "%s\n", loaded.error().to_string().c_str());
            return 1;
        }
        const Config* cfg = &loaded->config;
        const auto& warnings = loaded->warnings;
        for (const auto& w : warnings)
            std::fprintf(stderr, "warning: %s\n", w.c_str());
        std::printf("%s: OK (%zu connection%s, %zu pool%s)\n", config_path.c_str(),
                    cfg->connections.size(), cfg->connections.size() == 1 ? "" : "s",
                    cfg->pools.size(), cfg->pools.size() == 1 ? "" : "s");
    }
    return 0;
}
