// The globals a script sees. Internal to the runtime.
//
// Only the base, string, table, math, utf8 and coroutine libraries are opened (never io, os,
// package or debug), then the global table is cut down to a whitelist:
//
//   kept as Lua has them   assert error ipairs next pairs pcall xpcall select tonumber tostring
//                          type rawequal rawlen rawget rawset getmetatable
//                          string table math utf8 coroutine
//   replaced               print           -> the host's LogSink (or nothing)
//                          collectgarbage  -> "count" only; anything else is an error
//                          setmetatable    -> refuses a metatable with a __gc field
//                          xpcall          -> skips the message handler once the budget
//                                             is spent
//                          coroutine.create, coroutine.wrap
//                                          -> the body runs under a pcall of its own
//                          string.find, match, gmatch, gsub
//                                          -> Lua's, refused when too costly (pattern_guard.hpp)
//   removed                load loadfile dofile require warn _G _VERSION, string.dump
//
// Why each change:
//   - No loader exists, so no chunk (text or binary) enters the state after the script itself,
//     which Script::load reads in text mode. Bytecode is refused everywhere because there is
//     nowhere to give it.
//   - __gc: Lua runs finalizers with hooks off (lgc.c GCTM), at any allocation and in
//     lua_close, so a finalizer could loop forever out of the budgets' reach. Lua marks an
//     object for finalization only when setmetatable sees a __gc field, so refusing it there
//     is enough. (__close runs with hooks on and stays allowed.)
//   - The budget error is raised from the count hook, and Lua runs no hook inside a hook: until
//     a pcall on the same thread catches the error, that thread runs without hooks. An xpcall
//     message handler runs in that window (before unwinding), and so do the __close
//     metamethods of a coroutine the error killed when coroutine.wrap or coroutine.close
//     closes it. Hence the guarded handler, and the pcall inside every coroutine, which
//     restores the hooks (and closes the body's variables under them) before the error
//     goes on to kill the coroutine.
//   - The string metatable is shared by every string; its __metatable field is set to false,
//     so getmetatable("") returns false instead of the table a script could alter.
//   - collectgarbage("stop") would let garbage pile up to the cap; "count" is harmless.
//
// Not bounded by the hook: one call of a C function runs to its end, though the call hook
// reads the clock before each. string.rep, concat, format, table.concat/unpack/move and utf8
// are linear in memory the cap bounds; table.sort without a comparator is n log n on at most
// the cap's worth of entries (about half a second for 1M integers in a 32 MiB state).
// Pattern matching backtracks without bound ("a"):rep(1000):find(".-.-.-b") takes minutes in
// Lua's lstrlib), so string.find/match/gmatch/gsub refuse calls whose worst case is too costly
// before Lua's own functions run (pattern_guard.hpp).
#pragma once

#include <lua.hpp>

namespace postern::lua::detail {

// Opens the libraries and installs the whitelisted globals. Raises Lua errors: protected mode.
void install_environment(lua_State* L);

}  // namespace postern::lua::detail
