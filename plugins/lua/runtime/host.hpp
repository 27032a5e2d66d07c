// The `postern` table: the host functions the caller of Script::load passes, as C closures.
// Internal to the runtime.
//
//   postern.user("alice")  -->  host_call (a C function, Lua frames above and below it)
//                                 invoke():  arguments -> std::vector<Value> in HostScratch,
//                                            the std::function, result or error -> HostScratch;
//                                            returns before any Lua call that may raise
//                                 then: push the result, or raise "postern.user: <error>"
//                                 with the script's file:line in front
//
// The split keeps C++ objects with destructors (the arguments, the result, the error text) out
// of the frame Lua may longjmp through: they live in the sandbox's HostScratch until the next
// host call. Exceptions from the std::function are caught in invoke() and become the error.
#pragma once

#include <lua.hpp>

#include "plugins/lua/runtime/script.hpp"

namespace postern::lua::detail {

// Sets the global `postern` to a table of the functions. `functions` must outlive the state
// (the closures point at its elements). Raises Lua errors: protected mode.
void install_host_functions(lua_State* L, const HostFunctions& functions);

}  // namespace postern::lua::detail
