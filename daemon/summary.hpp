// Human-readable account of what a loaded configuration serves, printed at start-up.
#pragma once

#include <string>
#include <vector>

#include "daemon/config.hpp"

namespace postern::daemon {

// One entry per line, without newlines (for the log).
std::vector<std::string> describe_lines(const Config& c);
// The same as one text, each line ending in '\n'.
std::string describe(const Config& c);

}  // namespace postern::daemon
