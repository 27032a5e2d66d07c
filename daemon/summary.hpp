// Human-readable account of what a loaded configuration serves, printed at start-up.
#pragma once

#include <string>

#include "daemon/config.hpp"

namespace postern::daemon {

std::string describe(const Config& c);

}  // namespace postern::daemon
