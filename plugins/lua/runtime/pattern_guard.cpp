#include "plugins/lua/runtime/pattern_guard.hpp"

#include <algorithm>
#include <cstdio>
#include <utility>

namespace postern::lua::detail {

namespace {

constexpr std::string_view kSpecials = "^$*+?.([%-";

bool is_quantifier(char c) {
    return c == '*' || c == '+' || c == '-' || c == '?';
}

// Index just past the set starting at p[i] == '['.
std::size_t end_of_set(std::string_view p, std::size_t i) {
    ++i;                                     // '['
    if (i < p.size() && p[i] == '^') ++i;    // complement
    if (i < p.size() && p[i] == ']') ++i;    // a leading ']' is a member
    while (i < p.size() && p[i] != ']') i += p[i] == '%' ? 2 : 1;
    return i < p.size() ? i + 1 : p.size();  // unterminated: Lua reports it
}

std::uint64_t mul(std::uint64_t a, std::uint64_t b) {
    if (a != 0 && b > UINT64_MAX / a) return UINT64_MAX;
    return a * b;
}

// How much of the subject a search from Lua's init argument covers (1-based, negative from
// the end, as lstrlib's posrelat).
std::size_t from_init(lua_Integer init, std::size_t len) {
    if (init > 0) return static_cast<std::size_t>(init) > len ? 0 : len - (init - 1);
    if (init == 0) return len;
    const auto back = static_cast<std::size_t>(-(init + 1)) + 1;
    return back > len ? len : back;
}

}  // namespace

bool is_plain_pattern(std::string_view p) {
    return p.find_first_of(kSpecials) == std::string_view::npos;
}

unsigned backtracking_items(std::string_view p) {
    unsigned q = 0;
    std::size_t i = !p.empty() && p[0] == '^' ? 1 : 0;
    while (i < p.size()) {
        if (p[i] == '(' || p[i] == ')') {
            ++i;
            continue;
        }
        if (p[i] == '%' && i + 1 < p.size() && p[i + 1] == 'b') {
            ++q;  // %bxy scans ahead from every position it is tried at
            i += 4;
            continue;
        }
        if (p[i] == '%' && i + 1 < p.size() && p[i + 1] == 'f') {
            i = i + 2 < p.size() && p[i + 2] == '[' ? end_of_set(p, i + 2) : p.size();
            continue;
        }
        std::size_t next = p[i] == '%' ? i + 2 : p[i] == '[' ? end_of_set(p, i) : i + 1;
        if (next < p.size() && is_quantifier(p[next])) {
            ++q;
            ++next;
        }
        i = next;
    }
    return q;
}

std::uint64_t pattern_cost(std::size_t subject, std::string_view pattern, bool plain) {
    const std::uint64_t n = subject ? subject : 1;
    if (plain || is_plain_pattern(pattern)) return mul(n, pattern.empty() ? 1 : pattern.size());
    // Each start position (one when anchored), times every way the items can divide the rest.
    std::uint64_t cost = pattern.front() == '^' ? 1 : n;
    for (unsigned k = backtracking_items(pattern); k > 0 && cost <= kMaxPatternCost; --k)
        cost = mul(cost, n);
    return std::max(cost, n);
}

PatternFunctions pattern_functions(lua_State* L, int index) {
    index = lua_absindex(L, index);
    PatternFunctions f;
    for (auto [name, slot] : {std::pair{"find", &f.find}, std::pair{"match", &f.match},
                              std::pair{"gmatch", &f.gmatch}, std::pair{"gsub", &f.gsub}}) {
        lua_getfield(L, index, name);
        *slot = lua_tocfunction(L, -1);
        lua_pop(L, 1);
    }
    return f;
}

void check_pattern_call(lua_State* L, lua_Debug* ar, const PatternFunctions& fns) {
    if (!lua_getinfo(L, "f", ar)) return;
    const lua_CFunction called = lua_tocfunction(L, -1);
    lua_pop(L, 1);
    if (!called) return;
    const bool find = called == fns.find;
    if (!find && called != fns.match && called != fns.gmatch && called != fns.gsub) return;
    // The callee's arguments are its first stack slots. Anything but two strings is left to
    // Lua's own argument checks.
    std::size_t len = 0, plen = 0;
    const char* subject = nullptr;
    const char* pattern = nullptr;
    lua_Integer init = 1;
    bool plain = false;
    for (int i = 1; i <= 4; ++i) {
        if (!lua_getlocal(L, ar, i)) break;
        if (i == 1 && lua_type(L, -1) == LUA_TSTRING) subject = lua_tolstring(L, -1, &len);
        if (i == 2 && lua_type(L, -1) == LUA_TSTRING) pattern = lua_tolstring(L, -1, &plen);
        if (i == 3 && called != fns.gsub && lua_isinteger(L, -1)) init = lua_tointeger(L, -1);
        if (i == 4 && find) plain = lua_toboolean(L, -1);
        lua_pop(L, 1);
    }
    if (!subject || !pattern) return;
    const std::size_t n = called == fns.gsub ? len : from_init(init, len);
    const std::string_view p(pattern, plen);
    if (pattern_cost(n, p, plain) <= kMaxPatternCost) return;
    // Only trivially destructible locals here: lua_error does not return (longjmp).
    char what[64];
    if (plain || is_plain_pattern(p))
        std::snprintf(what, sizeof what, "a %zu-octet plain search", plen);
    else
        std::snprintf(what, sizeof what, "%u backtracking items", backtracking_items(p));
    // In a call hook level 0 is the callee, 1 the script that calls it.
    luaL_where(L, 1);
    lua_pushfstring(L,
                    "pattern too costly for the sandbox: %s on a %I-octet subject (at most "
                    "2^24 steps)",
                    what, static_cast<lua_Integer>(n));
    lua_concat(L, 2);
    lua_error(L);
}

}  // namespace postern::lua::detail
