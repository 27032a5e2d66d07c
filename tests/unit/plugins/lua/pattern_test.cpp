// string.find/match/gmatch/gsub: the sandbox's guarded ones give the same results and errors as
// Lua's own (the same script run in a plain lua_State) for what is within bounds, and refuse a
// pathological pattern at once instead of running for minutes.
#include <lua.hpp>

#include <boost/test/unit_test.hpp>

#include "lua_fixture.hpp"
#include "plugins/lua/runtime/pattern_guard.hpp"

using namespace postern::lua;
using namespace postern::lua::test;

namespace {

// Each case's results (or error) as one string: "n:r1|r2|...".
constexpr std::string_view kCases = R"lua(
local S = "hello world from Lua 5.4, user=alice; groups=[staff,vpn] (x(y)z) 192.168.1.20"
local function all(it)
  local out = {}
  for a, b in it do out[#out + 1] = tostring(a) .. "," .. tostring(b) end
  return table.concat(out, ";")
end
local cases = {
  function() return S:find("o") end,
  function() return S:find("o", 6) end,
  function() return S:find("o w", 1, true) end,
  function() return S:find(".", 1, true) end,
  function() return S:find("%d+") end,
  function() return ("ip 192.168.1.20"):find("(%d+)%.(%d+)%.(%d+)%.(%d+)") end,
  function() return S:find("^hello") end,
  function() return S:find("^world") end,
  function() return S:find("%d+$") end,
  function() return S:find("()ll()") end,
  function() return S:find("", 10) end,
  function() return S:find("", 1000) end,
  function() return S:find("x", -5) end,
  function() return S:find("1", 0) end,
  function() return S:find("1", -1000) end,
  function() return S:find("[%w_]+=([%w_]+)") end,
  function() return S:find("%b()") end,
  function() return S:find("%f[%a]%a+", 10) end,
  function() return S:find("[^%s]+", 20) end,
  function() return S:find("[a-c]") end,
  function() return ("a]b"):find("[]]") end,
  function() return ("a-b"):find("[a%-]+") end,
  function() return ("a\0b"):find("\0", 1, true) end,
  function() return ("a\0b"):find("%z") end,
  function() return ("a.b"):find(".", 1, true) end,
  function() return S:match("user=(%w+)") end,
  function() return S:match("groups=%[(.-)%]") end,
  function() return S:match("(h)(e)(l)(l)(o)") end,
  function() return S:match("(l+)") end,
  function() return S:match("l-o") end,
  function() return S:match("l*o") end,
  function() return S:match("lo?") end,
  function() return S:match("x?h") end,
  function() return S:match("((%a+) (%a+))") end,
  function() return ("abab"):match("(ab)%1") end,
  function() return ("  trim me  "):match("^%s*(.-)%s*$") end,
  function() return ("key = value"):match("^(%w+)%s*=%s*(%w+)$") end,
  function() return S:match("%u%l+") end,
  function() return S:match("%p+") end,
  function() return S:match("%x+", 5) end,
  function() return S:match("%g+") end,
  function() return ("THE (quick) fox"):match("%f[%a]%a+%f[%A]") end,
  function() return ("hello"):match("()", 3) end,
  function() return ("hello"):match(".-(l+)(.*)") end,
  function() return ("hello"):match("l+", -3) end,
  function() return ("[[x]]"):match("%[(%b[])%]") end,
  function() return all(("a=1, b=2, c=3"):gmatch("(%w+)=(%w+)")) end,
  function() return all(("abc"):gmatch("")) end,
  function() return all(("abc"):gmatch("()")) end,
  function() return all(("one two  three"):gmatch("%a+")) end,
  function() return all(S:gmatch("%d+", 60)) end,
  function() return all(("abc"):gmatch("x*")) end,
  function() return S:gsub("o", "0") end,
  function() return S:gsub("(%w+)", "<%1>") end,
  function() return S:gsub("%w+", "%0%0", 3) end,
  function() return ("abc"):gsub("", "-") end,
  function() return ("hello world"):gsub("(o)", {o = "0"}) end,
  function() return ("hello world"):gsub("%w+", string.upper) end,
  function() return ("hello world"):gsub("%w+", function() return nil end) end,
  function() return ("hello world"):gsub("%w+", function(w) return #w end) end,
  function() return ("abc"):gsub("%w", "%%") end,
  function() return ("abc"):gsub("(b)", "%1%1") end,
  function() return ("abc"):gsub("()b", "%1") end,
  function() return ("abc"):gsub("^a", "X") end,
  function() return ("aaa"):gsub("^a", "X") end,
  function() return ("hello world"):gsub("o", "0", 1) end,
  function() return ("x"):gsub("x", 5) end,
  function() return ("abc"):gsub("b", {b = 5}) end,
  function() return ("abc"):gsub("b", {}) end,
  function() return ("abc"):gsub("b", {b = {}}) end,
  function() return ("abc"):gsub("%w", "%2") end,
  function() return ("abc"):gsub("%w", "%x") end,
  function() return ("abc"):gsub("b", true) end,
  function() return ("x"):find("%") end,
  function() return ("x"):find("[a") end,
  function() return ("x"):find("(x") end,
  function() return ("x"):find("x)") end,
  function() return ("x"):find("%1") end,
  function() return ("x"):find("%b") end,
  function() return ("x"):find("%fx") end,
  function() return ("a"):rep(40):find(("(a)"):rep(33)) end,
  function() return pcall(string.find, "x", "%") end,
  function() return string.find() end,
  function() return string.gsub("x") end,
  function() return string.gmatch() end,
}
local function pack(...)
  local out = {}
  for i = 1, select("#", ...) do out[i] = tostring((select(i, ...))) end
  return select("#", ...) .. ":" .. table.concat(out, "|")
end
function run()
  local out = {}
  for i, f in ipairs(cases) do out[i] = pack(pcall(f)) end
  return out
end
)lua";

std::vector<std::string> strings_of(const Value& v) {
    std::vector<std::string> out;
    if (const auto* t = v.as_table())
        for (const Field& f : *t)
            out.emplace_back(f.value.as_string().value_or("<not a string>"));
    return out;
}

// The same script in a plain lua_State with Lua's own string library.
std::vector<std::string> run_in_plain_lua(const std::string& path, std::string_view text) {
    std::vector<std::string> out;
    lua_State* L = luaL_newstate();
    luaL_openlibs(L);
    const std::string chunkname = "@" + path;
    if (luaL_loadbufferx(L, text.data(), text.size(), chunkname.c_str(), "t") == LUA_OK &&
        lua_pcall(L, 0, 0, 0) == LUA_OK && lua_getglobal(L, "run") == LUA_TFUNCTION &&
        lua_pcall(L, 0, 1, 0) == LUA_OK) {
        const auto n = static_cast<lua_Integer>(luaL_len(L, -1));
        for (lua_Integer i = 1; i <= n; ++i) {
            lua_geti(L, -1, i);
            out.emplace_back(lua_tostring(L, -1));
            lua_pop(L, 1);
        }
    }
    lua_close(L);
    return out;
}

constexpr std::string_view kPathological = R"lua(function ok() return "ok" end
function find_bad() return ("a"):rep(1000):find(".-.-.-b") end -- @find_bad
function match_bad() return ("a"):rep(1000):match("(.-)(.-)(.-)b") end -- @match_bad
function gmatch_bad()
  for x in ("a"):rep(1000):gmatch(".-.-.-b") do end -- @gmatch_bad
end
function gsub_bad() return (("a"):rep(1000):gsub(".-.-.-b", "")) end -- @gsub_bad
function plain_bad()
  local s = ("a"):rep(1000000)
  return s:find(("a"):rep(500000) .. "b", 1, true) -- @plain_bad
end
function pcall_bad()
  while true do pcall(string.find, ("a"):rep(1000), ".-.-.-b") end
end
function ordinary()
  local s = ("word "):rep(800)  -- 4000 octets: one quantifier fits the 2^24 bound
  local n = select(2, s:gsub("%s+", " "))
  local count = 0
  for _ in s:gmatch("%a+") do count = count + 1 end
  return n + count
end
)lua";

}  // namespace

BOOST_AUTO_TEST_SUITE(patterns, *boost::unit_test::timeout(20))

BOOST_AUTO_TEST_CASE(same_results_and_errors_as_lua) {
    Loaded l(kCases);
    const std::vector<std::string> ours = strings_of(call_value(l.script, "run"));
    const std::vector<std::string> luas = run_in_plain_lua(l.path, kCases);
    BOOST_TEST_REQUIRE(luas.size() == 85u);
    BOOST_TEST_REQUIRE(ours.size() == luas.size());
    for (std::size_t i = 0; i < ours.size(); ++i) {
        BOOST_TEST_CONTEXT("case " << i + 1) {
            BOOST_TEST(ours[i] == luas[i]);
        }
    }
    // A few outcomes spelled out, so that the comparison cannot pass on two empty runs.
    BOOST_TEST(ours[5] == "7:true|4|15|192|168|1|20");
    BOOST_TEST(ours[26] == "2:true|staff,vpn");
    BOOST_TEST(ours[46] == "2:true|a,1;b,2;c,3");
    BOOST_TEST(ours[73] == "2:false|" + l.path + ":" +
                               std::to_string(l.line(R"(("x"):find("%"))")) +
                               ": malformed pattern (ends with '%')");
}

BOOST_AUTO_TEST_CASE(pathological_patterns_are_refused_at_once) {
    Loaded l(kPathological);
    struct Case {
        const char* function;
        const char* what;
    };
    for (const Case& k : {Case{"find_bad", "3 backtracking items on a 1000-octet subject"},
                          Case{"match_bad", "3 backtracking items on a 1000-octet subject"},
                          Case{"gmatch_bad", "3 backtracking items on a 1000-octet subject"},
                          Case{"gsub_bad", "3 backtracking items on a 1000-octet subject"},
                          Case{"plain_bad", "a 500001-octet plain search on a 1000000-octet"}}) {
        BOOST_TEST_CONTEXT(k.function) {
            const auto start = std::chrono::steady_clock::now();
            const Error e = call_error(l.script, k.function);
            BOOST_TEST(elapsed_ms(start) < 500);
            BOOST_TEST(e.message.find(std::string("pattern too costly for the sandbox: ") +
                                      k.what) == 0u,
                       e.message);
            BOOST_TEST(e.line == l.line(std::string("@") + k.function));
            BOOST_TEST(call_value(l.script, "ok") == Value("ok"));
        }
    }
    // Caught and retried in a loop: the instruction budget ends it.
    BOOST_TEST(call_error(l.script, "pcall_bad").message ==
               "instruction budget of 100000 exceeded");
}

BOOST_AUTO_TEST_CASE(the_cost_model) {
    using namespace postern::lua::detail;
    BOOST_TEST(backtracking_items("abc") == 0u);
    BOOST_TEST(backtracking_items("^(%w+)@(.+)$") == 2u);
    BOOST_TEST(backtracking_items("[*+-]") == 0u);   // quantifier characters inside a set
    BOOST_TEST(backtracking_items("%*a") == 0u);     // an escaped one
    BOOST_TEST(backtracking_items("%d?%d?") == 2u);
    BOOST_TEST(backtracking_items("%b()") == 1u);
    BOOST_TEST(backtracking_items("%f[%w]%w+") == 1u);
    BOOST_TEST(backtracking_items("[%]]*x") == 1u);
    BOOST_TEST(is_plain_pattern("hello world"));
    BOOST_TEST(!is_plain_pattern("a.b"));
    BOOST_TEST(pattern_cost(100, "a.b", false) == 100u);
    BOOST_TEST(pattern_cost(100, "a.-b", false) == 10000u);
    BOOST_TEST(pattern_cost(100, "a.b", true) == 300u);
    BOOST_TEST(pattern_cost(1u << 20, ".-.-.-.-.-.-.-.-.-", false) > kMaxPatternCost);
    // An e-mail split on a 255-octet identity, an IPv4 address taken apart, and one quantifier
    // on 4 KiB are within bounds; four quantifiers on a 77-octet sentence are not.
    BOOST_TEST(pattern_cost(255, "^([^@]+)@(.+)$", false) <= kMaxPatternCost);
    BOOST_TEST(pattern_cost(21, "^(%d+)%.(%d+)%.(%d+)%.(%d+):(%d+)$", false) <= kMaxPatternCost);
    BOOST_TEST(pattern_cost(4096, "%s+", false) <= kMaxPatternCost);
    BOOST_TEST(pattern_cost(77, "(%d+)%.(%d+)%.(%d+)%.(%d+)", false) > kMaxPatternCost);
}

BOOST_AUTO_TEST_CASE(ordinary_matching_fits_the_budget) {
    Loaded l(kPathological);
    BOOST_TEST(call_value(l.script, "ordinary") == Value(1600));
}

BOOST_AUTO_TEST_SUITE_END()
