// Value <-> the Lua stack. Internal to the runtime (it exposes lua.h).
//
// The two directions differ in how they fail, because Lua reports errors with longjmp:
//   push_value  allocates Lua memory, so it may raise a Lua error (out of memory, nesting too
//               deep). Call it only inside a protected call, from a C frame that holds no C++
//               object with a destructor: a longjmp would skip it. It keeps only references.
//   to_value    uses only Lua API calls that never raise (no allocation, no metamethods: tables
//               are read raw), so it may run anywhere; its errors are values.
#pragma once

#include <string>

#include <lua.hpp>
#include <tl/expected.hpp>

#include "plugins/lua/runtime/value.hpp"

namespace postern::lua::detail {

// Pushes a fresh copy of `v`. May raise a Lua error (see above).
void push_value(lua_State* L, const Value& v);

// The Lua value at `index`. Errors name what could not be converted and where:
// "function", "thread in field a[2].b", "table key of type boolean", "table nested deeper than
// 16 levels", "value larger than 1048576 bytes".
tl::expected<Value, std::string> to_value(lua_State* L, int index);

}  // namespace postern::lua::detail
