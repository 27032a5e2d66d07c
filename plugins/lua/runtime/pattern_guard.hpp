// A cost bound on string.find, string.match, string.gmatch and string.gsub. Internal to the
// runtime.
//
// Lua's matcher (lstrlib.c) runs to its end inside one VM instruction, out of the count hook's
// reach, and it backtracks: one pattern item with a quantifier (*, +, -, ?) or a %b makes a
// search quadratic in the subject's length, each further one multiplies by the length again,
// so ("a"):rep(1000):find(".-.-.-b") takes minutes. The sandbox keeps Lua's own functions and,
// from the call hook (which sees every call before it runs), refuses a call whose worst case is
// out of bounds:
//
//   q = the pattern's backtracking items, n = the subject's length (from init on)
//   special pattern:   n^(q+1) <= kMaxPatternCost (anchored with ^: n^q)
//   plain find, or a pattern without special characters:  n * pattern length <= kMaxPatternCost
//
// kMaxPatternCost (2^24) keeps one call in the tens of milliseconds; a loop of such calls is
// bounded by the instruction and time budgets between them. What a script usually does (split
// "user@domain", trim spaces, match an address, gsub over a line of a few KiB) fits easily; a
// refused call raises "pattern too costly for the sandbox: ..." at the script's line. gmatch is
// judged when the iterator is made.
#pragma once

#include <cstdint>
#include <string_view>

#include <lua.hpp>

namespace postern::lua::detail {

inline constexpr std::uint64_t kMaxPatternCost = std::uint64_t{1} << 24;

// Backtracking items of a Lua pattern (a single-character class followed by *, +, - or ?, and
// each %b); malformed patterns count what they can (Lua reports them itself).
unsigned backtracking_items(std::string_view pattern);
// Whether Lua treats the pattern as plain text (no special character).
bool is_plain_pattern(std::string_view pattern);
// The worst case as above, saturating.
std::uint64_t pattern_cost(std::size_t subject, std::string_view pattern, bool plain);

// The four functions as the string library made them (compared by C function pointer).
struct PatternFunctions {
    lua_CFunction find = nullptr, match = nullptr, gmatch = nullptr, gsub = nullptr;
};
// Takes them from the string library table at `index`.
PatternFunctions pattern_functions(lua_State* L, int index);
// From the call hook: when the function being called (`ar`) is one of them and its arguments
// make the call too costly, raises the error at the caller's line. Otherwise does nothing.
void check_pattern_call(lua_State* L, lua_Debug* ar, const PatternFunctions& fns);

}  // namespace postern::lua::detail
