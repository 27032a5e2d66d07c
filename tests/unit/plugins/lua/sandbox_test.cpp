// Escapes from the sandbox (tests/data/lua/escapes.lua): each attempt fails with an exact error
// at its line, and the script's other functions keep working. Plus the binary chunks that
// Script::load refuses.
#include <lua.hpp>

#include <boost/test/unit_test.hpp>

#include "lua_fixture.hpp"

using namespace postern::lua;
using namespace postern::lua::test;

namespace {

struct Escapes {
    std::string path = data_path("escapes.lua");
    std::string text = read_file(path);
    Script script = load();

    Script load() {
        auto s = Script::load(path, small_limits());
        BOOST_TEST_REQUIRE(s.has_value(), (s ? "" : s.error().to_string()));
        return std::move(*s);
    }

    // Calls `function`, which must fail at the line marked "@function" with `message`.
    void refused(const std::string& function, const std::string& message) {
        BOOST_TEST_CONTEXT(function) {
            const Error e = call_error(script, function);
            BOOST_TEST(e.file == path);
            BOOST_TEST(e.line == line_of(text, "@" + function));
            BOOST_TEST(e.message == message);
            BOOST_TEST(call_value(script, "ok") == Value("ok"));
        }
    }
};

// Bytecode from a plain (unsandboxed) Lua state, as luac would write it.
std::string real_bytecode() {
    lua_State* L = luaL_newstate();
    std::string out;
    if (luaL_loadstring(L, "return os.execute('id')") == LUA_OK) {
        lua_dump(
            L,
            [](lua_State*, const void* p, std::size_t n, void* ud) {
                static_cast<std::string*>(ud)->append(static_cast<const char*>(p), n);
                return 0;
            },
            &out, 0);
    }
    lua_close(L);
    return out;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(sandbox, *boost::unit_test::timeout(20))

BOOST_FIXTURE_TEST_CASE(only_whitelisted_globals_exist, Escapes) {
    BOOST_TEST(call_value(script, "globals") ==
               Value("assert collectgarbage coroutine error getmetatable ipairs math next pairs "
                     "pcall postern print rawequal rawget rawlen rawset select setmetatable "
                     "string table tonumber tostring type utf8 xpcall"));
}

BOOST_FIXTURE_TEST_CASE(os_io_require_package_are_absent, Escapes) {
    refused("os_execute", "attempt to index a nil value (global 'os')");
    refused("io_open", "attempt to index a nil value (global 'io')");
    refused("require_os", "attempt to call a nil value (global 'require')");
    refused("package_loadlib", "attempt to index a nil value (global 'package')");
    BOOST_TEST(call_value(script, "env_swap") == Value());
}

BOOST_FIXTURE_TEST_CASE(no_loader_exists, Escapes) {
    refused("do_file", "attempt to call a nil value (global 'dofile')");
    refused("load_file", "attempt to call a nil value (global 'loadfile')");
    refused("load_text", "attempt to call a nil value (global 'load')");
    refused("load_string", "attempt to call a nil value (global 'loadstring')");
    refused("string_dump", "attempt to call a nil value (field 'dump')");
    BOOST_TEST(call_value(script, "bytecode_loaders") == Value(""));
}

BOOST_FIXTURE_TEST_CASE(debug_library_is_absent, Escapes) {
    refused("debug_sethook", "attempt to index a nil value (global 'debug')");
    refused("debug_getregistry", "attempt to index a nil value (global 'debug')");
    refused("warn_call", "attempt to call a nil value (global 'warn')");
}

BOOST_FIXTURE_TEST_CASE(string_metatable_is_locked, Escapes) {
    refused("string_metatable", "attempt to index a boolean value");
    refused("write_string_metatable", "attempt to index a boolean value");
    BOOST_TEST(call_value(script, "string_metatable_value") == Value(false));
    BOOST_TEST(call_value(script, "string_methods") == Value("ABCxxx"));
}

BOOST_FIXTURE_TEST_CASE(collectgarbage_only_counts, Escapes) {
    refused("collect_stop", R"(collectgarbage: only "count" is allowed here, not "stop")");
    refused("collect_default", R"(collectgarbage: only "count" is allowed here, not "collect")");
    BOOST_TEST(call_value(script, "collect_count") == Value("float"));
}

// A finalizer would run with hooks off (at any allocation, and in lua_close): refused.
BOOST_FIXTURE_TEST_CASE(gc_metamethods_are_refused, Escapes) {
    refused("gc_metamethod", "setmetatable: __gc metamethods are not allowed");
}

BOOST_AUTO_TEST_CASE(real_bytecode_file_is_refused_at_load) {
    const std::string bytecode = real_bytecode();
    BOOST_TEST_REQUIRE(bytecode.substr(0, 4) == std::string("\x1bLua"));
    TempDir tmp;
    const auto path = tmp.write("compiled.luac", bytecode);
    auto s = Script::load(path, small_limits());
    BOOST_TEST_REQUIRE(!s.has_value());
    BOOST_TEST(s.error().file == path);
    BOOST_TEST(s.error().line == 0);
    BOOST_TEST(s.error().message == "a precompiled (binary) chunk; only Lua source is accepted");
}

BOOST_AUTO_TEST_CASE(anything_starting_with_esc_is_refused_at_load) {
    TempDir tmp;
    for (const std::string& text :
         {std::string("\x1bLua\x54garbage"), std::string("\x1breturn 1")}) {
        auto s = Script::load(tmp.write("x.lua", text), small_limits());
        BOOST_TEST_REQUIRE(!s.has_value());
        BOOST_TEST(s.error().message ==
                   "a precompiled (binary) chunk; only Lua source is accepted");
    }
}

BOOST_AUTO_TEST_CASE(context_metatable_is_locked) {
    Loaded l(R"lua(function mt(ctx) return getmetatable(ctx) end
function set(ctx) setmetatable(ctx, {}) end -- @set
function raw(ctx) rawset(ctx, "user", "mallory") end -- @raw
)lua");
    BOOST_TEST(call_value(l.script, "mt") == Value(false));
    Error e = call_error(l.script, "set");
    BOOST_TEST(e.line == l.line("@set"));
    BOOST_TEST(e.message ==
               "bad argument #1 to 'setmetatable' (table expected, got postern.context)");
    e = call_error(l.script, "raw");
    BOOST_TEST(e.line == l.line("@raw"));
    BOOST_TEST(e.message == "bad argument #1 to 'rawset' (table expected, got postern.context)");
}

BOOST_AUTO_TEST_SUITE_END()
