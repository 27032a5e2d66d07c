// Lets Boost.Test print the IKE registry enums in failure messages.
#pragma once

#include <ostream>
#include <type_traits>

#include "ike/crypto/algorithms.hpp"
#include "ike/wire/constants.hpp"

namespace postern::ike {

template <typename E>
requires std::is_enum_v<E> && requires(E e) {
    to_string(e);
}
std::ostream& operator<<(std::ostream& os, E e) {
    return os << to_string(e);
}

}  // namespace postern::ike

namespace postern::ike::crypto {
inline std::ostream& operator<<(std::ostream& os, const EncrTransform& e) {
    return os << to_string(e.id) << "/" << e.key_bits;
}
}  // namespace postern::ike::crypto
