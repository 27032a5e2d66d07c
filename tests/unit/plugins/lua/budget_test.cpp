// The budgets and the memory cap: every runaway script ends within its limit with a clear error
// at the line where it was stopped, pcall and coroutines cannot get around it, and the next
// call of a good function works.
#include <chrono>

#include <boost/test/unit_test.hpp>

#include "lua_fixture.hpp"

using namespace postern::lua;
using namespace postern::lua::test;

namespace {

constexpr std::string_view kRunaways = R"lua(function ok() return "ok" end

function loop()
  local n = 0
  while true do n = n + 1 end -- @loop
end

function loop_in_coroutine()
  local co = coroutine.create(function()
    while true do end -- @co-loop
  end)
  local ok, err = coroutine.resume(co)
  return "resume returned " .. tostring(ok) .. " " .. tostring(err)
end

function loop_in_wrap()
  local f = coroutine.wrap(function()
    while true do end -- @wrap-loop
  end)
  f()
  return "wrap returned"
end

-- The budget error is caught and the script loops again: still stopped.
function pcall_loop()
  local caught = 0
  while true do
    local ok = pcall(function() while true do end end)
    caught = caught + 1
  end
end

-- Caught, and the function returns normally: the call fails all the same.
function pcall_return()
  local ok, err = pcall(function() while true do end end)
  return "escaped: " .. tostring(err)
end

-- A message handler that loops.
function xpcall_handler_loops()
  return xpcall(function() while true do end end, function() while true do end end)
end

-- The coroutine catches the error itself and loops on; the main thread keeps resuming.
function coroutine_pcall_loop()
  local co = coroutine.wrap(function()
    while true do
      pcall(function() while true do end end)
      coroutine.yield()
    end
  end)
  while true do pcall(co) end
end

-- Coroutines made before the budget ran out, resumed after.
function many_coroutines()
  local cos = {}
  for i = 1, 50 do
    cos[i] = coroutine.create(function()
      while true do pcall(function() for _ = 1, 10 do end end) coroutine.yield() end
    end)
  end
  while true do
    for i = 1, #cos do pcall(coroutine.resume, cos[i]) end
  end
end

-- A to-be-closed variable whose __close loops (runs while the error unwinds).
function close_loops()
  local x <close> = setmetatable({}, {__close = function() while true do end end})
  while true do end
end

-- Coroutines killed by the budget with a looping __close pending: coroutine.wrap closes them
-- on error, coroutine.close does when asked, here or in a later call.
function close_in_wrap()
  local f = coroutine.wrap(function()
    local x <close> = setmetatable({}, {__close = function() while true do end end})
    while true do end
  end)
  f()
end

function close_in_create()
  dead = coroutine.create(function()
    local x <close> = setmetatable({}, {__close = function() while true do end end})
    while true do end
  end)
  coroutine.resume(dead)
  return coroutine.close(dead)
end

function close_dead_later()
  return coroutine.close(dead)
end

function half_budget()
  local n = 0
  for i = 1, 15000 do n = n + i end -- about 60% of 100k instructions
  return n
end
)lua";

}  // namespace

BOOST_AUTO_TEST_SUITE(budgets, *boost::unit_test::timeout(20))

BOOST_AUTO_TEST_CASE(infinite_loop_stops_at_the_instruction_budget_with_its_line) {
    Loaded l(kRunaways);
    const auto start = std::chrono::steady_clock::now();
    const Error e = call_error(l.script, "loop");
    BOOST_TEST(e.file == l.path);
    BOOST_TEST(e.line == l.line("@loop"));
    BOOST_TEST(e.message == "instruction budget of 100000 exceeded");
    BOOST_TEST(e.to_string() == l.path + ":" + std::to_string(l.line("@loop")) +
                                    ": instruction budget of 100000 exceeded");
    BOOST_TEST(elapsed_ms(start) < 500);
    BOOST_TEST(call_value(l.script, "ok") == Value("ok"));
}

BOOST_AUTO_TEST_CASE(budget_is_per_call) {
    Loaded l(kRunaways);
    BOOST_TEST(call_value(l.script, "half_budget") == Value(std::int64_t{15000} * 15001 / 2));
    BOOST_TEST(call_value(l.script, "half_budget") == Value(std::int64_t{15000} * 15001 / 2));
}

BOOST_AUTO_TEST_CASE(time_budget_stops_a_loop_the_instruction_budget_would_allow) {
    Limits limits = small_limits();
    limits.instructions = 1'000'000'000'000;
    limits.time = std::chrono::milliseconds(50);
    Loaded l(kRunaways, limits);
    const auto start = std::chrono::steady_clock::now();
    const Error e = call_error(l.script, "loop");
    const auto took = elapsed_ms(start);
    BOOST_TEST(e.message == "time budget of 50 ms exceeded");
    BOOST_TEST(e.line == l.line("@loop"));
    BOOST_TEST(took >= 50);
    BOOST_TEST(took < 1000);
    BOOST_TEST(call_value(l.script, "ok") == Value("ok"));
}

// Each table.sort of 200k integers is one instruction and ~15 ms of C: the clock is read at
// every call, not only every 1000 instructions (which would be some 250 sorts, seconds).
BOOST_AUTO_TEST_CASE(time_budget_is_checked_at_each_call_of_a_slow_c_function) {
    Limits limits = small_limits();
    limits.instructions = 1'000'000'000'000;
    limits.memory = 32u << 20;
    limits.time = std::chrono::milliseconds(100);
    Loaded l(R"lua(function sort_forever()
  local t = {}
  for i = 1, 200000 do t[i] = i end
  while true do table.sort(t) end -- @sort
end
)lua",
             limits);
    const auto start = std::chrono::steady_clock::now();
    const Error e = call_error(l.script, "sort_forever");
    BOOST_TEST(elapsed_ms(start) < 2000);  // ~11 s if the clock were read every 1000 instructions
    BOOST_TEST(e.message == "time budget of 100 ms exceeded");
    BOOST_TEST(e.line == l.line("@sort"));
}

BOOST_AUTO_TEST_CASE(loop_in_a_coroutine_is_stopped_create_resume) {
    Loaded l(kRunaways);
    const Error e = call_error(l.script, "loop_in_coroutine");
    BOOST_TEST(e.message == "instruction budget of 100000 exceeded");
    BOOST_TEST(e.line == l.line("@co-loop"));
    BOOST_TEST(call_value(l.script, "ok") == Value("ok"));
}

BOOST_AUTO_TEST_CASE(loop_in_a_coroutine_is_stopped_wrap) {
    Loaded l(kRunaways);
    const Error e = call_error(l.script, "loop_in_wrap");
    BOOST_TEST(e.message == "instruction budget of 100000 exceeded");
    BOOST_TEST(e.line == l.line("@wrap-loop"));
    BOOST_TEST(call_value(l.script, "ok") == Value("ok"));
}

BOOST_AUTO_TEST_CASE(pcall_cannot_reset_the_budget) {
    Loaded l(kRunaways);
    for (const char* f :
         {"pcall_loop", "pcall_return", "xpcall_handler_loops", "coroutine_pcall_loop",
          "many_coroutines", "close_loops", "close_in_wrap", "close_in_create"}) {
        BOOST_TEST_CONTEXT(f) {
            const auto start = std::chrono::steady_clock::now();
            const Error e = call_error(l.script, f);
            BOOST_TEST(e.message == "instruction budget of 100000 exceeded");
            BOOST_TEST(e.line > 0);
            BOOST_TEST(elapsed_ms(start) < 500);
            BOOST_TEST(call_value(l.script, "ok") == Value("ok"));
        }
    }
}

BOOST_AUTO_TEST_CASE(coroutine_killed_by_the_budget_closes_under_the_budget_later) {
    Loaded l(kRunaways);
    BOOST_TEST(call_error(l.script, "close_in_create").message ==
               "instruction budget of 100000 exceeded");
    // Its variables were closed when it died: closing it now only reports how it died.
    BOOST_TEST(call_value(l.script, "close_dead_later") == Value(false));
}

BOOST_AUTO_TEST_CASE(xpcall_and_coroutines_behave_as_in_lua_within_the_budget) {
    // The wrapped xpcall still calls its handler and lets a coroutine yield through it; the
    // wrapped coroutine.create/wrap still pass values both ways.
    Loaded l(R"lua(function normal()
  local ok, msg = xpcall(function() error("boom") end, function(m) return "handled: " .. m end)
  local co = coroutine.wrap(function(x)
    local y = coroutine.yield(x + 1)
    return xpcall(function() return coroutine.yield(y * 2) + 1 end, print)
  end)
  local a = co(1)
  local b = co(10)
  local ok2, c = co(100)
  local t = coroutine.create(function() error({code = 7}) end)
  local ok3, err = coroutine.resume(t)
  return table.concat({tostring(ok), msg, a, b, tostring(ok2), c, tostring(ok3), err.code,
                       coroutine.status(t)}, " ")
end
)lua");
    BOOST_TEST(call_value(l.script, "normal") ==
               Value("false handled: " + l.path + ":2: boom 2 20 true 101 false 7 dead"));
}

BOOST_AUTO_TEST_CASE(coroutine_stopped_in_one_call_works_in_the_next) {
    // A coroutine that was interrupted is dead; one that was suspended still runs, at the
    // normal hook period again.
    Loaded l(R"lua(
function make()
  gen = coroutine.wrap(function()
    local i = 0
    while true do i = i + 1 coroutine.yield(i) end
  end)
  gen()
  while true do end
end
function next_value()
  local v
  for _ = 1, 1000 do v = gen() end
  return v
end
)lua");
    BOOST_TEST(call_error(l.script, "make").message == "instruction budget of 100000 exceeded");
    BOOST_TEST(call_value(l.script, "next_value") == Value(1001));
}

BOOST_AUTO_TEST_CASE(top_level_infinite_loop_fails_load) {
    TempDir tmp;
    const std::string text = "local x = 1\nwhile true do x = x + 1 end -- @top\n";
    const auto path = tmp.write("top.lua", text);
    auto s = Script::load(path, small_limits());
    BOOST_TEST_REQUIRE(!s.has_value());
    BOOST_TEST(s.error().file == path);
    BOOST_TEST(s.error().line == 2);
    BOOST_TEST(s.error().message == "instruction budget of 100000 exceeded");
}

BOOST_AUTO_TEST_CASE(top_level_memory_bomb_fails_load) {
    TempDir tmp;
    const auto path = tmp.write("bomb.lua", "big = string.rep('x', 1e9)\n");
    auto s = Script::load(path, small_limits());
    BOOST_TEST_REQUIRE(!s.has_value());
    BOOST_TEST(s.error().message == "not enough memory (memory limit of 4194304 bytes)");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(memory, *boost::unit_test::timeout(20))

constexpr std::string_view kBombs = R"lua(function ok() return "ok" end

function rep_bomb()
  return #string.rep("x", 1e9)
end

function rep_bomb_caught()
  local ok, err = pcall(string.rep, "x", 1e9)
  return err
end

function table_bomb()
  local t = {}
  for i = 1, 1e9 do t[i] = i end
end

function table_move_bomb()
  local t = {1}
  while true do table.move(t, 1, #t, #t + 1) end
end

function string_concat_bomb()
  local s = "x"
  while true do s = s .. s end
end

function keep_a_little()
  kept = string.rep("y", 100000)
  return #kept
end

function deep_recursion()
  local function down(n) return down(n + 1) + 1 end -- @down
  return down(1)
end

function c_recursion()
  local function f()
    local ok, err = pcall(f)
    if not ok then error(err, 0) end
  end
  f()
end

function metamethod_recursion()
  local t = setmetatable({}, {})
  getmetatable(t).__index = function(self, k) return self[k] end
  return t.x
end
)lua";

Limits bomb_limits() {
    Limits l = small_limits();
    l.instructions = 10'000'000;  // the cap, not the budget, must stop these
    return l;
}

BOOST_AUTO_TEST_CASE(string_rep_bomb_is_refused_and_the_state_stays_usable) {
    Loaded l(kBombs, bomb_limits());
    const std::size_t before = l.script.memory_used();
    const Error e = call_error(l.script, "rep_bomb");
    BOOST_TEST(e.message == "not enough memory (memory limit of 4194304 bytes)");
    BOOST_TEST(e.file == l.path);
    BOOST_TEST(call_value(l.script, "ok") == Value("ok"));
    // A script may catch the error; it gets Lua's message.
    BOOST_TEST(call_value(l.script, "rep_bomb_caught") == Value("not enough memory"));
    BOOST_TEST(l.script.memory_used() < before + 64 * 1024);
}

BOOST_AUTO_TEST_CASE(table_growth_bombs_are_stopped_at_the_cap) {
    Loaded l(kBombs, bomb_limits());
    for (const char* f : {"table_bomb", "table_move_bomb", "string_concat_bomb"}) {
        BOOST_TEST_CONTEXT(f) {
            const Error e = call_error(l.script, f);
            BOOST_TEST(e.message == "not enough memory (memory limit of 4194304 bytes)");
            BOOST_TEST(l.script.memory_used() <= 4u << 20);
            // The garbage was collected: a modest allocation works again.
            BOOST_TEST(call_value(l.script, "keep_a_little") == Value(100000));
            BOOST_TEST(call_value(l.script, "ok") == Value("ok"));
        }
    }
}

BOOST_AUTO_TEST_CASE(deep_recursion_ends_with_an_error) {
    Limits limits = bomb_limits();
    limits.memory = 64u << 20;  // room for Lua's own limit of 1,000,000 stack slots
    Loaded l(kBombs, limits);
    const Error e = call_error(l.script, "deep_recursion");
    BOOST_TEST(e.line == l.line("@down"));
    BOOST_TEST(contains(e.message, "stack overflow"), e.message);
    BOOST_TEST(call_value(l.script, "ok") == Value("ok"));
}

BOOST_AUTO_TEST_CASE(deep_recursion_with_a_small_cap_ends_at_the_cap) {
    Loaded l(kBombs, bomb_limits());
    const Error e = call_error(l.script, "deep_recursion");
    BOOST_TEST(e.message == "not enough memory (memory limit of 4194304 bytes)");
    BOOST_TEST(call_value(l.script, "ok") == Value("ok"));
}

BOOST_AUTO_TEST_CASE(c_stack_recursion_ends_with_an_error) {
    Loaded l(kBombs, bomb_limits());
    // Each level is a C call (pcall, a metamethod), which Lua counts (LUAI_MAXCCALLS = 200).
    for (const char* f : {"c_recursion", "metamethod_recursion"}) {
        BOOST_TEST_CONTEXT(f) {
            const Error e = call_error(l.script, f);
            BOOST_TEST(contains(e.message, "stack overflow"), e.message);
        }
    }
    BOOST_TEST(call_value(l.script, "ok") == Value("ok"));
}

BOOST_AUTO_TEST_SUITE_END()
