// postern init: first-use set-up (scripts/run calls it when there is no postern.toml).
//
//   <etc>/postern.toml   an EAP-MSCHAPv2 road-warrior connection, server certificate auth
//   <etc>/pki/           CA + server certificate for the host's names and addresses
//   user database        created, with one user and a generated password (printed once)
//
// Each step is skipped when its result exists, so a second run changes nothing.
#pragma once

#include <string>
#include <vector>

#include "daemon/ctl/commands.hpp"

namespace CLI {
class App;
}

namespace postern::ctl {

void add_init_command(CLI::App& app, GlobalOptions& opts);

// The postern.toml init writes (exposed for tests).
std::string init_config_text(const std::string& local_id, const std::string& user_db);

// The host's fully qualified name (gethostname + canonical name) and its first global IPv4
// address (getifaddrs: up, not loopback, not link-local); empty when none.
std::string host_fqdn();
std::string host_first_ipv4();

}  // namespace postern::ctl
