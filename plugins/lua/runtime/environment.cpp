#include "plugins/lua/runtime/environment.hpp"

#include <algorithm>
#include <cstring>

#include "plugins/lua/runtime/pattern_guard.hpp"
#include "plugins/lua/runtime/sandbox.hpp"

// Every function here runs in protected mode and may raise: frames hold no C++ object with a
// destructor (see sandbox.hpp).

namespace postern::lua::detail {

namespace {

constexpr const char* kKeptGlobals[] = {
    "assert", "error",  "ipairs",    "next",         "pairs",          "pcall",
    "xpcall", "select", "tonumber",  "tostring",     "type",           "rawequal",
    "rawlen", "rawget", "rawset",    "getmetatable", "string",         "table",
    "math",   "utf8",   "coroutine", "print",        "collectgarbage", "setmetatable",
};

bool kept(const char* name) {
    for (const char* k : kKeptGlobals)
        if (std::strcmp(k, name) == 0) return true;
    return false;
}

// print(...): tostring of each argument, joined by tabs, to the host's sink.
int sandbox_print(lua_State* L) {
    const int n = lua_gettop(L);
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    for (int i = 1; i <= n; ++i) {
        if (i > 1) luaL_addchar(&b, '\t');
        luaL_tolstring(L, i, nullptr);  // honours __tostring, under the budgets
        luaL_addvalue(&b);
    }
    luaL_pushresult(&b);
    std::size_t len = 0;
    const char* s = lua_tolstring(L, -1, &len);
    Sandbox::of(L).log(s, std::min(len, Script::kMaxLogLine));
    return 0;
}

// collectgarbage("count"): the state's memory in KiB, as Lua's. Nothing else.
int sandbox_collectgarbage(lua_State* L) {
    const char* opt = luaL_optstring(L, 1, "collect");
    if (std::strcmp(opt, "count") != 0)
        return luaL_error(L, "collectgarbage: only \"count\" is allowed here, not \"%s\"", opt);
    const int kib = lua_gc(L, LUA_GCCOUNT);
    const int rest = lua_gc(L, LUA_GCCOUNTB);
    lua_pushnumber(L, static_cast<lua_Number>(kib) + static_cast<lua_Number>(rest) / 1024);
    return 1;
}

// setmetatable(t, mt) as lbaselib's, refusing a metatable that has a __gc field.
int sandbox_setmetatable(lua_State* L) {
    const int t = lua_type(L, 2);
    luaL_checktype(L, 1, LUA_TTABLE);
    luaL_argexpected(L, t == LUA_TNIL || t == LUA_TTABLE, 2, "nil or table");
    if (t == LUA_TTABLE) {
        lua_pushliteral(L, "__gc");
        const int gc = lua_rawget(L, 2);
        lua_pop(L, 1);
        if (gc != LUA_TNIL) return luaL_error(L, "setmetatable: __gc metamethods are not allowed");
    }
    if (luaL_getmetafield(L, 1, "__metatable") != LUA_TNIL)
        return luaL_error(L, "cannot change a protected metatable");
    lua_settop(L, 2);
    lua_setmetatable(L, 1);
    return 1;
}

// ---- Lua code that would run with hooks off. Lua calls no hook while a hook runs, and the
// budget error is raised from inside the hook, so until a pcall catches it (luaD_pcall and
// finishpcallk restore the flag) the raising thread runs without hooks. Two kinds of script
// code could run in that window: an xpcall message handler (called before unwinding), and the
// __close metamethods of a coroutine that the error killed (coroutine.wrap and coroutine.close
// close them on a thread still without hooks). Both would loop out of the budget's reach.

// xpcall's message handler, wrapped: once the budget is spent the error goes through as is.
// Upvalue 1: the script's handler.
int guarded_handler(lua_State* L) {
    if (Sandbox::of(L).budget_exceeded()) {
        lua_settop(L, 1);
        return 1;
    }
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, lua_gettop(L) - 1, 1);
    return 1;
}

int finish_xpcall(lua_State* L, int status, lua_KContext extra) {
    if (status != LUA_OK && status != LUA_YIELD) {
        lua_pushboolean(L, 0);
        lua_pushvalue(L, -2);
        return 2;
    }
    return lua_gettop(L) - static_cast<int>(extra);
}

// xpcall(f, msgh, ...) as lbaselib's, with msgh wrapped in guarded_handler.
int sandbox_xpcall(lua_State* L) {
    const int n = lua_gettop(L);
    luaL_checktype(L, 2, LUA_TFUNCTION);
    lua_pushvalue(L, 2);
    lua_pushcclosure(L, guarded_handler, 1);
    lua_replace(L, 2);
    lua_pushboolean(L, 1);  // first result
    lua_pushvalue(L, 1);    // the function
    lua_rotate(L, 3, 2);    // both below the function's arguments
    const int status = lua_pcallk(L, n - 2, LUA_MULTRET, 2, 2, finish_xpcall);
    return finish_xpcall(L, status, 2);
}

// The body of every coroutine: the script's function (upvalue 1) under a pcall on the
// coroutine's own thread, so a budget error is caught there (hooks back on, its __close
// variables closed under the budget) before it is raised again to kill the coroutine.
int finish_body(lua_State* L, int status, lua_KContext) {
    if (status != LUA_OK && status != LUA_YIELD) return lua_error(L);
    return lua_gettop(L);
}

int coroutine_body(lua_State* L) {
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    const int status = lua_pcallk(L, lua_gettop(L) - 1, LUA_MULTRET, 0, 0, finish_body);
    return finish_body(L, status, 0);
}

// coroutine.create(f) / coroutine.wrap(f) (upvalue 1: Lua's) on coroutine_body.
int sandbox_coroutine_new(lua_State* L) {
    luaL_checktype(L, 1, LUA_TFUNCTION);
    lua_settop(L, 1);
    lua_pushcclosure(L, coroutine_body, 1);
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, 1, 1);
    return 1;
}

void open_libraries(lua_State* L) {
    static const luaL_Reg kLibraries[] = {
        {LUA_GNAME, luaopen_base},       {LUA_STRLIBNAME, luaopen_string},
        {LUA_TABLIBNAME, luaopen_table}, {LUA_MATHLIBNAME, luaopen_math},
        {LUA_UTF8LIBNAME, luaopen_utf8}, {LUA_COLIBNAME, luaopen_coroutine},
    };
    for (const luaL_Reg& lib : kLibraries) {
        luaL_requiref(L, lib.name, lib.func, 1);
        lua_pop(L, 1);
    }
}

// Clears every global that is not whitelisted (clearing fields during lua_next is allowed).
void trim_globals(lua_State* L) {
    lua_pushglobaltable(L);
    const int g = lua_gettop(L);
    lua_pushnil(L);
    while (lua_next(L, g) != 0) {
        lua_pop(L, 1);
        if (lua_type(L, -1) != LUA_TSTRING || !kept(lua_tostring(L, -1))) {
            lua_pushvalue(L, -1);
            lua_pushnil(L);
            lua_rawset(L, g);
        }
    }
    lua_pop(L, 1);
}

}  // namespace

void install_environment(lua_State* L) {
    open_libraries(L);
    trim_globals(L);

    lua_pushglobaltable(L);
    lua_pushcfunction(L, sandbox_print);
    lua_setfield(L, -2, "print");
    lua_pushcfunction(L, sandbox_collectgarbage);
    lua_setfield(L, -2, "collectgarbage");
    lua_pushcfunction(L, sandbox_setmetatable);
    lua_setfield(L, -2, "setmetatable");
    lua_pushcfunction(L, sandbox_xpcall);
    lua_setfield(L, -2, "xpcall");

    lua_getfield(L, -1, LUA_COLIBNAME);
    static const char* const kMakers[] = {"create", "wrap"};
    for (const char* name : kMakers) {
        lua_getfield(L, -1, name);
        lua_pushcclosure(L, sandbox_coroutine_new, 1);
        lua_setfield(L, -2, name);
    }
    lua_pop(L, 1);

    lua_getfield(L, -1, LUA_STRLIBNAME);
    lua_pushnil(L);
    lua_setfield(L, -2, "dump");
    Sandbox::of(L).set_pattern_functions(pattern_functions(L, -1));
    lua_pop(L, 2);

    // getmetatable("") returns false; the string library stays reachable as `string`.
    lua_pushliteral(L, "");
    lua_getmetatable(L, -1);
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "__metatable");
    lua_pop(L, 2);
}

}  // namespace postern::lua::detail
