// Lets Boost.Test print the IKE registry enums (ExchangeType, NotifyType, EncrId, ...) by name
// in failure messages. Shared by every ike test module.
#pragma once

#include <ostream>
#include <type_traits>

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
