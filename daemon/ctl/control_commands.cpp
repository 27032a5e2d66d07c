// Placeholder until its owner lands the real commands (see commands.hpp).
#include <CLI/CLI.hpp>

#include "daemon/ctl/commands.hpp"

namespace postern::ctl {

void add_control_commands(CLI::App&, GlobalOptions&) {}

std::optional<std::string> end_user_sas(const GlobalOptions&, const std::string&) {
    return std::nullopt;
}
}  // namespace postern::ctl
