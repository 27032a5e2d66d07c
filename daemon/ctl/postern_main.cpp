// postern: the Postern VPN server's admin CLI. Each group of subcommands registers itself
// (daemon/ctl/commands.hpp); this file adds the global options, check-config and runs the app.

#include <CLI/CLI.hpp>

#include <iostream>
#include <string>
#include <vector>

#include "daemon/ctl/cli_util.hpp"
#include "daemon/ctl/commands.hpp"
#include "daemon/load.hpp"
#include "daemon/plugin_set.hpp"

namespace {

void add_check_config(CLI::App& app, postern::ctl::GlobalOptions& opts) {
    auto* check = app.add_subcommand(
        "check-config",
        "validate postern.toml and the files it names (certificates, keys, PSK files) without "
        "starting");
    check->add_option("-c,--config", opts.config, "configuration file")->capture_default_str();
    check->callback([&opts] {
        using namespace postern::daemon;
        auto loaded = load_and_check(opts.config);
        if (!loaded) {
            std::cerr << loaded.error().to_string() << "\n";
            opts.exit_code = postern::ctl::kFailure;
            return;
        }
        const Config& cfg = loaded->config;
        if (auto ok = check_plugins(cfg, loaded->engine); !ok) {
            std::cerr << ok.error().to_string() << "\n";
            opts.exit_code = postern::ctl::kFailure;
            return;
        }
        for (const auto& w : loaded->warnings)
            std::cerr << "warning: " << w << "\n";
        std::cout << opts.config << ": OK (" << cfg.connections.size() << " connection"
                  << (cfg.connections.size() == 1 ? "" : "s") << ", " << cfg.pools.size() << " pool"
                  << (cfg.pools.size() == 1 ? "" : "s") << ")\n";
    });
}

}  // namespace

int main(int argc, char** argv) {
    using namespace postern::ctl;
    CLI::App app{"postern - Postern VPN server administration"};
    app.set_version_flag("--version", "postern 0.1.0");
    GlobalOptions opts;
    add_global_options(app, opts);
    add_check_config(app, opts);
    add_user_commands(app, opts);
    add_pki_commands(app, opts);
    add_profile_command(app, opts);
    add_control_commands(app, opts);
    return run(app, opts, std::vector<std::string>(argv + 1, argv + argc));
}
