// The context handle a script function gets as its argument. Internal to the runtime.
//
// A full userdata holding only the serial number of the call it was made for; its metatable
// (shared, protected: getmetatable(ctx) is false) serves the call's fields:
//
//   ctx.user, ctx[1]      __index     the field, converted afresh (a table field is a copy)
//   ctx.user = "x"        __newindex  error "context is read-only (field 'user')"
//   pairs(ctx)            __pairs     the fields in their order
//   tostring(ctx)         __tostring  "postern.context"
//
// The fields themselves stay in C++: the sandbox's ContextSlot points at the Value that
// Script::call was given, for as long as that call runs. A handle whose serial is not the live
// one (a script kept it in a global, an upvalue or a coroutine, and uses it in a later call)
// raises "context handle used after its call returned" on every access: like Envoy's Lua
// filters, the handle dies with its scope instead of pointing at freed memory.
#pragma once

#include <cstdint>

#include <lua.hpp>

namespace postern::lua::detail {

inline constexpr const char* kDeadContext = "context handle used after its call returned";

// Registers the handles' metatable. Raises Lua errors: protected mode.
void install_context(lua_State* L);

// Pushes a new handle for the call with this serial (ContextSlot::live). Raises Lua errors.
void push_context(lua_State* L, std::uint64_t serial);

}  // namespace postern::lua::detail
