// Placeholder until its owner lands the real commands (see commands.hpp).
#include <CLI/CLI.hpp>

#include "daemon/ctl/commands.hpp"

namespace postern::ctl {

void add_pki_commands(CLI::App&, GlobalOptions&) {}

}  // namespace postern::ctl
