// Lets Boost.Test print the IKE registry enums in failure messages.
#pragma once

#include <ostream>

#include "../enum_print.hpp"
#include "ike/crypto/algorithms.hpp"

namespace postern::ike::crypto {
inline std::ostream& operator<<(std::ostream& os, const EncrTransform& e) {
    return os << to_string(e.id) << "/" << e.key_bits;
}
}  // namespace postern::ike::crypto
