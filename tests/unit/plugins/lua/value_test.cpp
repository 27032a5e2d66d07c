// Value: its helpers, and conversion both ways through a script (return values, host function
// arguments and results), with the limits on what comes back from Lua.
#include <limits>

#include <boost/test/unit_test.hpp>

#include "lua_fixture.hpp"

using namespace postern::lua;
using namespace postern::lua::test;

BOOST_AUTO_TEST_SUITE(value, *boost::unit_test::timeout(20))

BOOST_AUTO_TEST_CASE(accessors) {
    BOOST_TEST(Value().is_nil());
    BOOST_TEST(Value(nullptr).is_nil());
    BOOST_TEST((Value(true).as_boolean() == std::optional<bool>(true)));
    BOOST_TEST(Value(7).is_integer());
    BOOST_TEST(Value(std::uint16_t{7}) == Value(7));
    BOOST_TEST((Value(7).as_integer() == std::optional<std::int64_t>(7)));
    BOOST_TEST((Value(7).as_number() == std::optional<double>(7.0)));
    BOOST_TEST(Value(2.0).is_number());
    BOOST_TEST((Value(2.0).as_integer() == std::optional<std::int64_t>(2)));
    BOOST_TEST(!Value(2.5).as_integer());
    BOOST_TEST(!Value(1e300).as_integer());
    BOOST_TEST((Value("x").as_string() == std::optional<std::string_view>("x")));
    BOOST_TEST(!Value(1).as_string());
    BOOST_TEST(!Value("1").as_integer());  // no string coercion
    BOOST_TEST(Value(std::string("a\0b", 3)).as_string()->size() == 3u);
    BOOST_TEST(!Value(false).truthy());
    BOOST_TEST(!Value().truthy());
    BOOST_TEST(Value(0).truthy());
    BOOST_TEST(Value("").truthy());
    BOOST_TEST(type_name(Value(0.5).type()) == "number");
}

BOOST_AUTO_TEST_CASE(tables_and_fields) {
    const Value t = Value::table({{"user", "alice"}, {"groups", Value::array({"staff", "vpn"})}});
    BOOST_TEST_REQUIRE(t.is_table());
    BOOST_TEST(t.as_table()->size() == 2u);
    BOOST_TEST(*t.field("user") == Value("alice"));
    BOOST_TEST(*t.field("groups")->field(2) == Value("vpn"));
    BOOST_TEST(t.field("missing") == nullptr);
    BOOST_TEST(t.field(1) == nullptr);
    BOOST_TEST(Value("x").field("x") == nullptr);
    BOOST_TEST(t.to_string() == R"({groups = {"staff", "vpn"}, user = "alice"})");
    BOOST_TEST(Value(Value::Table{{3, 1}, {"a b", "\n"}}).to_string() ==
               R"({[3] = 1, ["a b"] = "\10"})");
}

constexpr std::string_view kReturns = R"lua(function nothing() end
function several() return 1, 2 end
function scalars()
  return {n = nil, t = true, f = false, i = 42, neg = -7, big = math.maxinteger,
          x = 0.5, whole = 2.0, s = "a\0b", empty = ""}
end
function nested()
  return {list = {"a", "b", {deep = true}}, [10] = "ten", [-1] = "minus", map = {}}
end
function mixed_order() return {z = 1, [3] = "c", a = 2, [1] = "a", [2] = "b"} end
function huge_number() return math.huge end
function returns_function() return print end
function returns_thread() return coroutine.create(print) end
function returns_context(ctx) return ctx end
function nested_function() return {handlers = {on_connect = function() end}} end
function function_in_list() return {list = {1, 2, print}} end
function boolean_key() return {[true] = 1} end
function float_key() return {[1.5] = 1} end
function integral_float_key() return {[2.0] = "two"} end
function cycle() local t = {} t.self = t return t end
function depth(n)
  local t = "leaf"
  for _ = 1, n do t = {t} end
  return t
end
function big_string(n) return string.rep("x", n) end
function many_entries(n)
  local t = {}
  for i = 1, n do t[i] = i end
  return t
end
function echo(ctx) return postern.echo(ctx.value) end
)lua";

BOOST_AUTO_TEST_CASE(every_type_comes_back) {
    Loaded l(kReturns);
    BOOST_TEST(call_value(l.script, "nothing") == Value());
    BOOST_TEST(call_value(l.script, "several") == Value(1));
    BOOST_TEST(call_value(l.script, "scalars") ==
               Value(Value::Table{{"big", std::int64_t{9223372036854775807}},
                                  {"empty", ""},
                                  {"f", false},
                                  {"i", 42},
                                  {"neg", -7},
                                  {"s", std::string("a\0b", 3)},
                                  {"t", true},
                                  {"whole", 2.0},
                                  {"x", 0.5}}));
    const Value nested = call_value(l.script, "nested");
    BOOST_TEST(nested == Value(Value::Table{
                             {-1, "minus"},
                             {10, "ten"},
                             {"list", Value::array({"a", "b", Value::table({{"deep", true}})})},
                             {"map", Value(Value::Table{})}}));
    BOOST_TEST(nested.field("list")->field(3)->field("deep")->truthy());
    BOOST_TEST(call_value(l.script, "integral_float_key") == Value(Value::Table{{2, "two"}}));
    BOOST_TEST(call_value(l.script, "huge_number").as_number().value_or(0) ==
               std::numeric_limits<double>::infinity());
}

BOOST_AUTO_TEST_CASE(tables_come_back_in_a_fixed_order) {
    Loaded l(kReturns);
    BOOST_TEST(call_value(l.script, "mixed_order").to_string() ==
               R"({"a", "b", "c", a = 2, z = 1})");
}

BOOST_AUTO_TEST_CASE(lua_only_values_are_refused) {
    Loaded l(kReturns);
    const std::pair<const char*, const char*> cases[] = {
        {"returns_function", "bad return value: function"},
        {"returns_thread", "bad return value: thread"},
        {"returns_context", "bad return value: userdata"},
        {"nested_function", "bad return value: function in field handlers.on_connect"},
        {"function_in_list", "bad return value: function in field list[3]"},
        {"boolean_key", "bad return value: table key of type boolean"},
        {"float_key", "bad return value: table key of type number (not an integer)"},
    };
    for (const auto& [function, message] : cases) {
        BOOST_TEST_CONTEXT(function) {
            const Error e = call_error(l.script, function);
            BOOST_TEST(e.file == l.path);
            BOOST_TEST(e.line == 0);
            BOOST_TEST(e.message == message);
        }
    }
    BOOST_TEST(call_value(l.script, "several") == Value(1));
}

BOOST_AUTO_TEST_CASE(depth_limit) {
    Loaded l(kReturns);
    BOOST_TEST(call_error(l.script, "cycle").message ==
               "bad return value: table nested deeper than 16 levels in field "
               "self.self.self.self.self.self.self.self.self.self.self.self.self.self.self.self");
    auto ctx = [](int n) { return Value::table({{"n", n}}); };
    // call() passes one argument, the context; depth(n) reads n through it.
    Loaded d(
        "function depth(ctx)\n  local t = 'leaf'\n  for _ = 1, ctx.n do t = {t} end\n"
        "  return t\nend\n");
    const Value sixteen = call_value(d.script, "depth", ctx(Value::kMaxDepth));
    const Value* v = &sixteen;
    for (int i = 0; i < Value::kMaxDepth; ++i)
        v = v->field(1);
    BOOST_TEST(*v == Value("leaf"));
    BOOST_TEST(contains(call_error(d.script, "depth", ctx(Value::kMaxDepth + 1)).message,
                        "table nested deeper than 16 levels"));
}

BOOST_AUTO_TEST_CASE(size_limit) {
    Loaded l(
        "function big(ctx) return string.rep('x', ctx.n) end\n"
        "function many(ctx) local t = {} for i = 1, ctx.n do t[i] = i end return t end\n");
    const auto n = [](std::size_t v) { return Value::table({{"n", v}}); };
    BOOST_TEST(
        call_value(l.script, "big", n(Value::kMaxBytes - Value::kEntryCost)).as_string()->size() ==
        Value::kMaxBytes - Value::kEntryCost);
    BOOST_TEST(call_error(l.script, "big", n(Value::kMaxBytes)).message ==
               "bad return value: value larger than 1048576 bytes");
    Limits roomy = small_limits();
    roomy.instructions = 10'000'000;
    Loaded m(l.text, roomy);
    BOOST_TEST(call_error(m.script, "many", n(Value::kMaxBytes / Value::kEntryCost / 2)).message ==
               "bad return value: value larger than 1048576 bytes");
    BOOST_TEST(call_value(m.script, "many", n(1000)).as_table()->size() == 1000u);
}

BOOST_AUTO_TEST_CASE(values_round_trip_through_lua) {
    HostFunctions host;
    host["echo"] = [](std::span<const Value> args) -> tl::expected<Value, std::string> {
        return args.empty() ? Value() : args[0];
    };
    Loaded l(kReturns, small_limits(), host);
    const Value samples[] = {
        Value(),
        Value(true),
        Value(std::int64_t{-9223372036854775807 - 1}),
        Value(-0.125),
        Value(std::string("\xff\0\x01", 3)),
        Value::table({{"a", Value::array({1, 2.5, "x", false})}, {"b", Value::table({})}}),
    };
    for (const Value& v : samples) {
        BOOST_TEST_CONTEXT(v.to_string()) {
            BOOST_TEST(call_value(l.script, "echo", Value::table({{"value", v}})) == v);
        }
    }
}

BOOST_AUTO_TEST_SUITE_END()
