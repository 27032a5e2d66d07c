#include "plugins/lua/runtime/convert.hpp"

#include <algorithm>
#include <utility>

namespace postern::lua::detail {

namespace {

// ---- C++ -> Lua. Only references and integers live in these frames (see convert.hpp).

void push_key(lua_State* L, const Value::Key& key) {
    if (const auto* i = std::get_if<std::int64_t>(&key)) {
        lua_pushinteger(L, static_cast<lua_Integer>(*i));
    } else {
        const std::string& s = *std::get_if<std::string>(&key);
        lua_pushlstring(L, s.data(), s.size());
    }
}

void push_at(lua_State* L, const Value& v, int depth) {
    switch (v.type()) {
        case Value::Type::nil:
            lua_pushnil(L);
            return;
        case Value::Type::boolean:
            lua_pushboolean(L, *std::get_if<bool>(&v.data) ? 1 : 0);
            return;
        case Value::Type::integer:
            lua_pushinteger(L, static_cast<lua_Integer>(*std::get_if<std::int64_t>(&v.data)));
            return;
        case Value::Type::number:
            lua_pushnumber(L, static_cast<lua_Number>(*std::get_if<double>(&v.data)));
            return;
        case Value::Type::string: {
            const std::string& s = *std::get_if<std::string>(&v.data);
            lua_pushlstring(L, s.data(), s.size());
            return;
        }
        case Value::Type::table:
            break;
    }
    if (depth >= Value::kMaxDepth)
        luaL_error(L, "value nested deeper than %d levels", Value::kMaxDepth);
    luaL_checkstack(L, 3, "value nested too deeply");
    const Value::Table& t = *std::get_if<Value::Table>(&v.data);
    int narr = 0;
    for (std::size_t i = 0; i < t.size(); ++i)
        if (std::holds_alternative<std::int64_t>(t[i].key)) ++narr;
    lua_createtable(L, narr, static_cast<int>(t.size()) - narr);
    for (std::size_t i = 0; i < t.size(); ++i) {
        push_key(L, t[i].key);
        push_at(L, t[i].value, depth + 1);
        lua_rawset(L, -3);
    }
}

// ---- Lua -> C++. No call here raises a Lua error, so C++ objects are safe.

struct Reader {
    lua_State* L;
    std::size_t left = Value::kMaxBytes;

    bool charge(std::size_t bytes) {
        if (bytes > left) return false;
        left -= bytes;
        return true;
    }
};

std::string too_large() {
    return "value larger than " + std::to_string(Value::kMaxBytes) + " bytes";
}

// Adds the key's path segment to an error from inside a table: "function" -> "function in
// field a", then "function in field x.a" one level up.
std::string in_field(std::string error, const Value::Key& key) {
    std::string segment;
    if (const auto* i = std::get_if<std::int64_t>(&key)) {
        segment = "[" + std::to_string(*i) + "]";
    } else {
        segment = *std::get_if<std::string>(&key);
    }
    static constexpr std::string_view kMarker = " in field ";
    const auto at = error.find(kMarker);
    if (at == std::string::npos) return error + std::string(kMarker) + segment;
    std::string rest = error.substr(at + kMarker.size());
    const bool bracket = !rest.empty() && rest[0] == '[';
    return error.substr(0, at) + std::string(kMarker) + segment + (bracket ? "" : ".") + rest;
}

tl::expected<Value::Key, std::string> read_key(Reader& r, int index) {
    switch (lua_type(r.L, index)) {
        case LUA_TNUMBER: {
            int is_int = 0;
            const lua_Integer i = lua_tointegerx(r.L, index, &is_int);
            // Lua stores float keys with an integer value as integers, so only 1.5, nan... fail.
            if (!is_int || !lua_isinteger(r.L, index))
                return tl::unexpected(std::string("table key of type number (not an integer)"));
            if (!r.charge(Value::kEntryCost)) return tl::unexpected(too_large());
            return Value::Key(static_cast<std::int64_t>(i));
        }
        case LUA_TSTRING: {
            std::size_t len = 0;
            const char* s = lua_tolstring(r.L, index, &len);
            if (!r.charge(Value::kEntryCost + len)) return tl::unexpected(too_large());
            return Value::Key(std::string(s, len));
        }
        default:
            return tl::unexpected("table key of type " +
                                  std::string(lua_typename(r.L, lua_type(r.L, index))));
    }
}

bool key_less(const Field& a, const Field& b) {
    const auto* ai = std::get_if<std::int64_t>(&a.key);
    const auto* bi = std::get_if<std::int64_t>(&b.key);
    if (ai && bi) return *ai < *bi;
    if (ai || bi) return ai != nullptr;  // integers first
    return *std::get_if<std::string>(&a.key) < *std::get_if<std::string>(&b.key);
}

tl::expected<Value, std::string> read(Reader& r, int index, int depth) {
    lua_State* L = r.L;
    const int type = lua_type(L, index);
    if (type != LUA_TTABLE && !r.charge(Value::kEntryCost)) return tl::unexpected(too_large());
    switch (type) {
        case LUA_TNIL:
            return Value();
        case LUA_TBOOLEAN:
            return Value(lua_toboolean(L, index) != 0);
        case LUA_TNUMBER:
            if (lua_isinteger(L, index))
                return Value(static_cast<std::int64_t>(lua_tointegerx(L, index, nullptr)));
            return Value(static_cast<double>(lua_tonumberx(L, index, nullptr)));
        case LUA_TSTRING: {
            std::size_t len = 0;
            const char* s = lua_tolstring(L, index, &len);  // a string already: no allocation
            if (!r.charge(len)) return tl::unexpected(too_large());
            return Value(std::string(s, len));
        }
        case LUA_TTABLE:
            break;
        default:
            return tl::unexpected(std::string(lua_typename(L, type)));
    }
    if (depth >= Value::kMaxDepth)
        return tl::unexpected("table nested deeper than " + std::to_string(Value::kMaxDepth) +
                              " levels");
    if (!r.charge(Value::kEntryCost)) return tl::unexpected(too_large());
    // lua_checkstack returns 0 instead of raising when the stack cannot grow.
    if (!lua_checkstack(L, 3)) return tl::unexpected(std::string("Lua stack exhausted"));
    const int t = lua_absindex(L, index);
    Value::Table out;
    lua_pushnil(L);
    while (lua_next(L, t) != 0) {  // raw traversal: no metamethods
        auto key = read_key(r, -2);
        if (!key) {
            lua_pop(L, 2);
            return tl::unexpected(std::move(key.error()));
        }
        auto value = read(r, -1, depth + 1);
        if (!value) {
            lua_pop(L, 2);
            if (value.error() == too_large())  // the whole value's fault, not this field's
                return tl::unexpected(std::move(value.error()));
            return tl::unexpected(in_field(std::move(value.error()), *key));
        }
        out.push_back(Field{std::move(*key), std::move(*value)});
        lua_pop(L, 1);
    }
    std::sort(out.begin(), out.end(), key_less);
    return Value(std::move(out));
}

}  // namespace

void push_value(lua_State* L, const Value& v) {
    push_at(L, v, 0);
}

tl::expected<Value, std::string> to_value(lua_State* L, int index) {
    Reader r{L};
    return read(r, index, 0);
}

}  // namespace postern::lua::detail
