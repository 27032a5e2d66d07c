#include "plugins/lua/runtime/host.hpp"

#include <exception>
#include <utility>

#include "plugins/lua/runtime/convert.hpp"
#include "plugins/lua/runtime/sandbox.hpp"

namespace postern::lua::detail {

namespace {

// Plain C++: calls no Lua function that may raise (to_value never does).
bool invoke(lua_State* L, HostScratch& s, const HostFunction& fn) noexcept {
    try {
        s.args.clear();
        s.error.clear();
        s.result = Value();
        const int n = lua_gettop(L);
        for (int i = 1; i <= n; ++i) {
            auto v = to_value(L, i);
            if (!v) {
                s.error = "bad argument #" + std::to_string(i) + " (" + v.error() + ")";
                return false;
            }
            s.args.push_back(std::move(*v));
        }
        auto r = fn(std::span<const Value>(s.args));
        if (!r) {
            s.error = std::move(r.error());
            return false;
        }
        s.result = std::move(*r);
        return true;
    } catch (const std::exception& e) {
        s.error = e.what();
    } catch (...) {
        s.error = "unknown exception";
    }
    return false;
}

// Upvalues: 1 the HostFunction (light userdata), 2 its name "postern.<name>".
int host_call(lua_State* L) {
    const auto* fn = static_cast<const HostFunction*>(lua_touserdata(L, lua_upvalueindex(1)));
    HostScratch& s = Sandbox::of(L).host_scratch();
    if (!invoke(L, s, *fn)) {
        push_location(L);  // the script's "file:line: ", also when called through pcall
        lua_pushvalue(L, lua_upvalueindex(2));
        lua_pushliteral(L, ": ");
        lua_pushlstring(L, s.error.data(), s.error.size());
        lua_concat(L, 4);
        return lua_error(L);
    }
    push_value(L, s.result);
    return 1;
}

}  // namespace

void install_host_functions(lua_State* L, const HostFunctions& functions) {
    lua_createtable(L, 0, static_cast<int>(functions.size()));
    for (auto it = functions.begin(); it != functions.end(); ++it) {
        const std::string& name = it->first;
        lua_pushlstring(L, name.data(), name.size());
        lua_pushlightuserdata(L, const_cast<HostFunction*>(&it->second));
        lua_pushliteral(L, "postern.");
        lua_pushlstring(L, name.data(), name.size());
        lua_concat(L, 2);
        lua_pushcclosure(L, host_call, 2);
        lua_rawset(L, -3);
    }
    lua_setglobal(L, "postern");
}

}  // namespace postern::lua::detail
