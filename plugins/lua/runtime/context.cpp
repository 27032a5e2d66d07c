#include "plugins/lua/runtime/context.hpp"

#include <cstring>

#include "plugins/lua/runtime/convert.hpp"
#include "plugins/lua/runtime/sandbox.hpp"

// Every function here runs in protected mode and may raise: frames hold no C++ object with a
// destructor (see sandbox.hpp).

namespace postern::lua::detail {

namespace {

constexpr const char* kContextType = "postern.context";

// The fields of the live handle at `index`; raises for a dead one.
const Value& live_fields(lua_State* L, int index) {
    const void* block = luaL_checkudata(L, index, kContextType);
    std::uint64_t serial = 0;
    std::memcpy(&serial, block, sizeof serial);
    const ContextSlot& slot = Sandbox::of(L).context();
    if (serial == 0 || serial != slot.live || slot.fields == nullptr)
        raise_at_script(L, kDeadContext);
    return *slot.fields;
}

// The field under the key at `key_index`, or nullptr (no such field, or a key that is neither
// an integer nor a string).
const Value* lookup(lua_State* L, const Value& fields, int key_index) {
    switch (lua_type(L, key_index)) {
        case LUA_TSTRING: {
            std::size_t len = 0;
            const char* s = lua_tolstring(L, key_index, &len);
            return fields.field(std::string_view(s, len));
        }
        case LUA_TNUMBER:
            if (!lua_isinteger(L, key_index)) return nullptr;
            return fields.field(static_cast<std::int64_t>(lua_tointegerx(L, key_index, nullptr)));
        default:
            return nullptr;
    }
}

int context_index(lua_State* L) {
    const Value& fields = live_fields(L, 1);
    const Value* v = lookup(L, fields, 2);
    if (v) {
        push_value(L, *v);
    } else {
        lua_pushnil(L);
    }
    return 1;
}

int context_newindex(lua_State* L) {
    live_fields(L, 1);
    if (lua_type(L, 2) == LUA_TSTRING) {
        lua_pushfstring(L, "context is read-only (field '%s')", lua_tostring(L, 2));
        return raise_at_script(L, lua_tostring(L, -1));
    }
    return raise_at_script(L, "context is read-only");
}

// next(ctx, key) over the fields in their order: the position after `key`'s.
int context_next(lua_State* L) {
    const Value& fields = live_fields(L, 1);
    const Value::Table* t = fields.as_table();
    const std::size_t n = t ? t->size() : 0;
    std::size_t at = 0;
    if (!lua_isnoneornil(L, 2)) {
        const Value* previous = lookup(L, fields, 2);
        while (at < n && &(*t)[at].value != previous)
            ++at;
        if (at == n) return luaL_error(L, "invalid key to 'next'");
        ++at;
    }
    if (at >= n) {
        lua_pushnil(L);
        return 1;
    }
    const Field& f = (*t)[at];
    if (const auto* i = std::get_if<std::int64_t>(&f.key)) {
        lua_pushinteger(L, static_cast<lua_Integer>(*i));
    } else {
        const std::string& s = *std::get_if<std::string>(&f.key);
        lua_pushlstring(L, s.data(), s.size());
    }
    push_value(L, f.value);
    return 2;
}

int context_pairs(lua_State* L) {
    live_fields(L, 1);
    lua_pushcfunction(L, context_next);
    lua_pushvalue(L, 1);
    lua_pushnil(L);
    return 3;
}

int context_tostring(lua_State* L) {
    lua_pushstring(L, kContextType);
    return 1;
}

}  // namespace

void install_context(lua_State* L) {
    luaL_newmetatable(L, kContextType);  // also sets __name, used in Lua's error messages
    const luaL_Reg methods[] = {
        {"__index", context_index}, {"__newindex", context_newindex},
        {"__pairs", context_pairs}, {"__tostring", context_tostring},
        {nullptr, nullptr},
    };
    luaL_setfuncs(L, methods, 0);
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "__metatable");
    lua_pop(L, 1);
}

void push_context(lua_State* L, std::uint64_t serial) {
    void* block = lua_newuserdatauv(L, sizeof serial, 0);
    std::memcpy(block, &serial, sizeof serial);
    luaL_setmetatable(L, kContextType);
}

}  // namespace postern::lua::detail
