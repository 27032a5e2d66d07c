// Script: loading and its errors, calls and their errors (file:line), the context handle (read
// only, dead after its call), host functions under `postern`, print, moves.
#include <boost/test/unit_test.hpp>

#include "lua_fixture.hpp"

using namespace postern::lua;
using namespace postern::lua::test;

BOOST_AUTO_TEST_SUITE(script_load, *boost::unit_test::timeout(20))

BOOST_AUTO_TEST_CASE(missing_file) {
    TempDir tmp;
    const auto path = (tmp.dir / "absent.lua").string();
    auto s = Script::load(path, small_limits());
    BOOST_TEST_REQUIRE(!s.has_value());
    BOOST_TEST(s.error().to_string() == path + ": cannot open: No such file or directory");
}

BOOST_AUTO_TEST_CASE(too_large_file) {
    TempDir tmp;
    const auto path = tmp.write("big.lua", "--" + std::string(Script::kMaxSourceSize, 'x'));
    auto s = Script::load(path, small_limits());
    BOOST_TEST_REQUIRE(!s.has_value());
    BOOST_TEST(s.error().message == "larger than 1048576 bytes");
}

BOOST_AUTO_TEST_CASE(syntax_error_names_file_and_line) {
    TempDir tmp;
    const auto path = tmp.write("syntax.lua", "function authorize(ctx)\n  local x = = 1\nend\n");
    auto s = Script::load(path, small_limits());
    BOOST_TEST_REQUIRE(!s.has_value());
    BOOST_TEST(s.error().file == path);
    BOOST_TEST(s.error().line == 2);
    BOOST_TEST(s.error().message == "unexpected symbol near '='");
    BOOST_TEST(s.error().to_string() == path + ":2: unexpected symbol near '='");
}

BOOST_AUTO_TEST_CASE(unclosed_function_is_reported_at_eof) {
    TempDir tmp;
    const auto path = tmp.write("eof.lua", "function authorize(ctx)\n  return true\n");
    auto s = Script::load(path, small_limits());
    BOOST_TEST_REQUIRE(!s.has_value());
    BOOST_TEST(s.error().line == 3);
    BOOST_TEST(s.error().message == "'end' expected (to close 'function' at line 1) near <eof>");
}

BOOST_AUTO_TEST_CASE(runtime_error_in_the_top_level_chunk) {
    TempDir tmp;
    const auto path = tmp.write("top.lua", "local t\n\nt.x = 1\n");
    auto s = Script::load(path, small_limits());
    BOOST_TEST_REQUIRE(!s.has_value());
    BOOST_TEST(s.error().line == 3);
    BOOST_TEST(s.error().message == "attempt to index a nil value (local 't')");
}

BOOST_AUTO_TEST_CASE(long_path_is_still_parsed) {
    // Lua shortens chunk names over 60 bytes to "...<tail>" in messages; the error keeps the
    // full path and still finds the line.
    TempDir tmp;
    const auto dir = tmp.dir / std::string(80, 'd');
    std::filesystem::create_directory(dir);
    const auto path = (dir / "script.lua").string();
    std::ofstream(path) << "\n\nerror('nope')\n";
    auto s = Script::load(path, small_limits());
    BOOST_TEST_REQUIRE(!s.has_value());
    BOOST_TEST(s.error().file == path);
    BOOST_TEST(s.error().line == 3);
    BOOST_TEST(s.error().message == "nope");
}

BOOST_AUTO_TEST_CASE(shebang_line_is_skipped_and_lines_keep_their_numbers) {
    Loaded l("#!/usr/bin/env lua\nfunction f() error('here') end -- @here\n");
    const Error e = call_error(l.script, "f");
    BOOST_TEST(e.line == 2);
    BOOST_TEST(e.message == "here");
}

BOOST_AUTO_TEST_CASE(memory_limit_too_small_for_a_state) {
    TempDir tmp;
    Limits limits = small_limits();
    limits.memory = 1024;
    auto s = Script::load(tmp.write("x.lua", ""), limits);
    BOOST_TEST_REQUIRE(!s.has_value());
    BOOST_TEST(s.error().line == 0);
    BOOST_TEST(contains(s.error().message, "1024 bytes"), s.error().message);
}

BOOST_AUTO_TEST_CASE(defines_reports_global_functions_only) {
    Loaded l(R"lua(function authorize(ctx) return true end
local function helper() end
on_connect = function() end
threshold = 5
)lua");
    BOOST_TEST(l.script.defines("authorize"));
    BOOST_TEST(l.script.defines("on_connect"));
    BOOST_TEST(!l.script.defines("helper"));
    BOOST_TEST(!l.script.defines("threshold"));
    BOOST_TEST(!l.script.defines("on_disconnect"));
}

BOOST_AUTO_TEST_CASE(scripts_do_not_share_state) {
    TempDir tmp;
    const auto path = tmp.write("count.lua", "n = 0\nfunction bump() n = n + 1 return n end\n");
    auto a = Script::load(path, small_limits());
    auto b = Script::load(path, small_limits());
    BOOST_TEST_REQUIRE((a && b));
    BOOST_TEST(call_value(*a, "bump") == Value(1));
    BOOST_TEST(call_value(*a, "bump") == Value(2));
    BOOST_TEST(call_value(*b, "bump") == Value(1));
}

BOOST_AUTO_TEST_CASE(moved_script_keeps_working) {
    Loaded l("function f() return 'moved' end\n");
    Script moved = std::move(l.script);
    BOOST_TEST(call_value(moved, "f") == Value("moved"));
    BOOST_TEST(!l.script.defines("f"));  // NOLINT(bugprone-use-after-move): defined as empty
    BOOST_TEST(call_error(l.script, "f").message == "script not loaded");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(script_errors, *boost::unit_test::timeout(20))

constexpr std::string_view kErrors = R"lua(function ok() return "ok" end
function nil_field(ctx)
  local user = ctx.user
  if user == "alice" then
    return true
  end
  return postern_helpers.nope(user) -- @nil-global
end
function nil_method(ctx)
  local t = {}
  t.nope() -- @nil-field
end
function raise() error("denied") end -- @raise
function raise_level0() error("denied", 0) end
function raise_table() error({code = 1}) end
function raise_number() error(42) end
function arith() return {} + 1 end -- @arith
not_a_function = 5
)lua";

BOOST_AUTO_TEST_CASE(runtime_errors_carry_file_and_line) {
    Loaded l(kErrors);
    Error e = call_error(l.script, "nil_method");
    BOOST_TEST(e.file == l.path);
    BOOST_TEST(e.line == l.line("@nil-field"));
    BOOST_TEST(e.message == "attempt to call a nil value (field 'nope')");
    e = call_error(l.script, "nil_field", Value::table({{"user", "bob"}}));
    BOOST_TEST(e.line == l.line("@nil-global"));
    BOOST_TEST(e.message == "attempt to index a nil value (global 'postern_helpers')");
    e = call_error(l.script, "arith");
    BOOST_TEST(e.line == l.line("@arith"));
    BOOST_TEST(e.message == "attempt to perform arithmetic on a table value");
    BOOST_TEST(call_value(l.script, "ok") == Value("ok"));
}

BOOST_AUTO_TEST_CASE(error_values) {
    Loaded l(kErrors);
    Error e = call_error(l.script, "raise");
    BOOST_TEST(e.line == l.line("@raise"));
    BOOST_TEST(e.message == "denied");
    e = call_error(l.script, "raise_level0");
    BOOST_TEST(e.line == 0);
    BOOST_TEST(e.message == "denied");
    BOOST_TEST(e.to_string() == l.path + ": denied");
    BOOST_TEST(call_error(l.script, "raise_table").message == "(error object is a table value)");
    BOOST_TEST(call_error(l.script, "raise_number").message == "42");
}

BOOST_AUTO_TEST_CASE(missing_function) {
    Loaded l(kErrors);
    Error e = call_error(l.script, "authorize");
    BOOST_TEST(e.file == l.path);
    BOOST_TEST(e.line == 0);
    BOOST_TEST(e.message == "function 'authorize' is not defined");
    e = call_error(l.script, "not_a_function");
    BOOST_TEST(e.message == "function 'not_a_function' is not defined");
    BOOST_TEST(call_value(l.script, "ok") == Value("ok"));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(context_handle, *boost::unit_test::timeout(20))

constexpr std::string_view kContext = R"lua(function read(ctx)
  return {user = ctx.user, port = ctx.port, ok = ctx.ok, ratio = ctx.ratio,
          first_group = ctx.groups[1], missing = ctx.missing, [1] = ctx[1]}
end
function fields(ctx)
  local out = {}
  for k, v in pairs(ctx) do
    out[#out + 1] = tostring(k) .. "=" .. (type(v) == "table" and "table" or tostring(v))
  end
  return table.concat(out, ",")
end
function write(ctx)
  ctx.user = "mallory" -- @write
end
function change_copy(ctx)
  local g = ctx.groups
  g[1] = "admins"
  return ctx.groups[1]
end
function describe(ctx) return tostring(ctx) .. " " .. type(ctx) end
function keep(ctx)
  kept = ctx
  kept_reader = coroutine.wrap(function()
    while true do coroutine.yield(ctx.user) end -- @kept_reader
  end)
  return kept_reader()
end
function use_kept() return kept.user end -- @use_kept
function write_kept() kept.user = "x" end -- @write_kept
function iterate_kept() for k in pairs(kept) do end end -- @iterate_kept
function resume_kept() return kept_reader() end -- @resume_kept
function same_call_coroutine(ctx)
  local co = coroutine.wrap(function() return ctx.user end)
  return co()
end
)lua";

Value alice() {
    return Value::table({{"user", "alice"},
                         {"port", 4500},
                         {"ok", true},
                         {"ratio", 0.25},
                         {"groups", Value::array({"staff", "vpn"})}});
}

BOOST_AUTO_TEST_CASE(fields_are_readable) {
    Loaded l(kContext);
    Value ctx = alice();
    std::get<Value::Table>(ctx.data).push_back(Field{1, "one"});
    const Value v = call_value(l.script, "read", ctx);
    BOOST_TEST(v == Value(Value::Table{{1, "one"},
                                       {"first_group", "staff"},
                                       {"ok", true},
                                       {"port", 4500},
                                       {"ratio", 0.25},
                                       {"user", "alice"}}));
    BOOST_TEST(call_value(l.script, "fields", alice()) ==
               Value("groups=table,ok=true,port=4500,ratio=0.25,user=alice"));
    BOOST_TEST(call_value(l.script, "describe", alice()) == Value("postern.context userdata"));
}

BOOST_AUTO_TEST_CASE(no_fields_when_the_context_is_not_a_table) {
    Loaded l(kContext);
    BOOST_TEST(call_value(l.script, "fields", Value()) == Value(""));
    BOOST_TEST(call_value(l.script, "same_call_coroutine", Value("x")) == Value());
}

BOOST_AUTO_TEST_CASE(writes_are_refused) {
    Loaded l(kContext);
    const Error e = call_error(l.script, "write", alice());
    BOOST_TEST(e.line == l.line("@write"));
    BOOST_TEST(e.message == "context is read-only (field 'user')");
    // A table field is a copy: changing it changes nothing the next read sees.
    BOOST_TEST(call_value(l.script, "change_copy", alice()) == Value("staff"));
}

BOOST_AUTO_TEST_CASE(handle_is_usable_in_a_coroutine_during_its_call) {
    Loaded l(kContext);
    BOOST_TEST(call_value(l.script, "same_call_coroutine", alice()) == Value("alice"));
}

BOOST_AUTO_TEST_CASE(handle_is_dead_after_its_call) {
    Loaded l(kContext);
    BOOST_TEST(call_value(l.script, "keep", alice()) == Value("alice"));
    for (const char* f : {"use_kept", "write_kept", "iterate_kept", "resume_kept"}) {
        BOOST_TEST_CONTEXT(f) {
            const Error e = call_error(l.script, f, alice());  // a live handle of its own
            // An error from inside a coroutine is reported where it happened.
            const bool in_coroutine = std::string_view(f) == "resume_kept";
            BOOST_TEST(e.line == l.line(in_coroutine ? "@kept_reader" : std::string("@") + f));
            BOOST_TEST(e.message == "context handle used after its call returned");
        }
    }
    // The script is still fine, and a new handle works.
    BOOST_TEST(call_value(l.script, "keep", Value::table({{"user", "bob"}})) == Value("bob"));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(host_functions, *boost::unit_test::timeout(20))

struct Host {
    std::vector<std::vector<Value>> calls;
    std::vector<std::string> log;

    HostFunctions functions() {
        HostFunctions h;
        h["user"] = [this](std::span<const Value> args) -> tl::expected<Value, std::string> {
            calls.emplace_back(args.begin(), args.end());
            if (args.size() != 1 || !args[0].is_string())
                return tl::unexpected(std::string("expects a name"));
            if (args[0] != Value("alice")) return tl::unexpected(std::string("no such user"));
            return Value::table({{"name", "alice"}, {"groups", Value::array({"staff"})}});
        };
        h["echo"] = [this](std::span<const Value> args) -> tl::expected<Value, std::string> {
            calls.emplace_back(args.begin(), args.end());
            return Value::array(std::vector<Value>(args.begin(), args.end()));
        };
        h["boom"] = [](std::span<const Value>) -> tl::expected<Value, std::string> {
            throw std::runtime_error("kaboom");
        };
        h["deep"] = [](std::span<const Value>) -> tl::expected<Value, std::string> {
            Value v = "bottom";
            for (int i = 0; i < Value::kMaxDepth + 1; ++i)
                v = Value::array({v});
            return v;
        };
        return h;
    }
    LogSink sink() {
        return [this](std::string_view line) { log.emplace_back(line); };
    }
};

constexpr std::string_view kHostScript = R"lua(function lookup(ctx)
  local u = postern.user(ctx.user) -- @lookup
  return u.groups[1]
end
function lookup_caught(ctx)
  local ok, err = pcall(postern.user, ctx.user)
  return err
end
function echo() return postern.echo(nil, true, 7, 0.5, "s", {1, k = "v"}) end
function pass_function() return postern.echo(print) end -- @pass_function
function boom() return postern.boom() end -- @boom
function deep() return postern.deep() end -- @deep
function say() print("hello", 42, nil, true) print() return "said" end
function say_long() print(string.rep("x", 10000)) end
)lua";

BOOST_AUTO_TEST_CASE(called_with_arguments_and_result) {
    Host host;
    Loaded l(kHostScript, small_limits(), host.functions());
    BOOST_TEST(call_value(l.script, "lookup", Value::table({{"user", "alice"}})) == Value("staff"));
    BOOST_TEST_REQUIRE(host.calls.size() == 1u);
    BOOST_TEST(host.calls[0] == std::vector<Value>{Value("alice")});
    // A nil argument keeps its place; in a Lua table it is no entry at all.
    const Value t = Value(Value::Table{{1, 1}, {"k", "v"}});
    BOOST_TEST(call_value(l.script, "echo") ==
               Value(Value::Table{{2, true}, {3, 7}, {4, 0.5}, {5, "s"}, {6, t}}));
    BOOST_TEST_REQUIRE(host.calls.size() == 2u);
    BOOST_TEST(host.calls[1] == (std::vector<Value>{Value(), true, 7, 0.5, "s", t}));
}

BOOST_AUTO_TEST_CASE(errors_become_lua_errors_at_the_call_site) {
    Host host;
    Loaded l(kHostScript, small_limits(), host.functions());
    Error e = call_error(l.script, "lookup", Value::table({{"user", "bob"}}));
    BOOST_TEST(e.file == l.path);
    BOOST_TEST(e.line == l.line("@lookup"));
    BOOST_TEST(e.message == "postern.user: no such user");
    // ... which a script can catch like any Lua error.
    BOOST_TEST(call_value(l.script, "lookup_caught", Value::table({{"user", "bob"}})) ==
               Value(l.path + ":" + std::to_string(l.line("lookup_caught") + 1) +
                     ": postern.user: no such user"));
    e = call_error(l.script, "pass_function");
    BOOST_TEST(e.line == l.line("@pass_function"));
    BOOST_TEST(e.message == "postern.echo: bad argument #1 (function)");
    e = call_error(l.script, "boom");
    BOOST_TEST(e.line == l.line("@boom"));
    BOOST_TEST(e.message == "postern.boom: kaboom");
    e = call_error(l.script, "deep");
    BOOST_TEST(e.line == l.line("@deep"));
    BOOST_TEST(e.message == "value nested deeper than 16 levels");
}

BOOST_AUTO_TEST_CASE(host_function_cannot_call_back_into_its_script) {
    Script* self = nullptr;
    std::string inner;
    HostFunctions host;
    host["again"] = [&](std::span<const Value>) -> tl::expected<Value, std::string> {
        auto r = self->call("ok", Value());
        inner = r ? "returned" : r.error().message;
        return Value("back");
    };
    Loaded l(
        "function ok() return 'ok' end\nfunction outer(ctx) return postern.again() .. ctx.x end\n",
        small_limits(), host);
    self = &l.script;
    BOOST_TEST(call_value(l.script, "outer", Value::table({{"x", "!"}})) == Value("back!"));
    BOOST_TEST(inner == "the script is already running");
    BOOST_TEST(call_value(l.script, "ok") == Value("ok"));
}

BOOST_AUTO_TEST_CASE(print_goes_to_the_log_sink) {
    Host host;
    Loaded l(kHostScript, small_limits(), host.functions(), host.sink());
    BOOST_TEST(call_value(l.script, "say") == Value("said"));
    BOOST_TEST(host.log == (std::vector<std::string>{"hello\t42\tnil\ttrue", ""}));
    call_value(l.script, "say_long");
    BOOST_TEST_REQUIRE(host.log.size() == 3u);
    BOOST_TEST(host.log[2] == std::string(Script::kMaxLogLine, 'x'));
}

BOOST_AUTO_TEST_CASE(print_without_a_sink_is_silent) {
    Loaded l(kHostScript);
    BOOST_TEST(call_value(l.script, "say") == Value("said"));
}

BOOST_AUTO_TEST_CASE(postern_table_is_empty_without_host_functions) {
    Loaded l("function f() return next(postern) end\n");
    BOOST_TEST(call_value(l.script, "f") == Value());
}

BOOST_AUTO_TEST_SUITE_END()
