// One script's lua_State and what bounds it: the allocator with its memory cap, the count hook
// with the instruction and time budgets, and the protected runs every use of the state goes
// through. Internal to the runtime.
//
// Memory. lua_newstate gets an allocator that counts the state's live bytes; a request that
// would take them over Limits::memory returns NULL, and Lua (after an emergency collection)
// raises "not enough memory". Shrinking never fails, as Lua requires.
//
// Budgets. The hook runs every `period` instructions (1000, or the whole budget if smaller) and
// at every function call, on the main thread and on every coroutine: lua_newthread copies the
// creating thread's hook, and the hook is set before any script code runs. At a count event it
// adds the thread's count to the run's total; at both it reads the clock (a vDSO call). The call
// event bounds how late a slow C function is noticed: one table.sort of a big table is one
// instruction, and a loop of them would otherwise see the clock once per ~250 sorts.
//
// Once either budget is spent the run is marked exceeded and the hook count of the running
// thread and of the main thread drops to 1, so the next instruction of either raises the budget
// error again: a pcall catching it gets nowhere, its caller's next instruction raises it anew,
// and the error climbs to the run. Another coroutine of the script learns it at its own next
// hook. The run then fails with the budget error whatever came out of lua_pcall. (Lua runs no
// hook inside a hook, and the error is raised from one: environment.hpp says how the script
// code that could run in that window is kept out.)
//
// Protected runs. Lua reports errors with longjmp, which must not cross a C++ frame holding an
// object with a destructor. So every use of the state that may raise (anything that allocates,
// runs script code or metamethods) happens inside run(), in C functions whose frames hold only
// pointers, references and integers; C++ work that allocates happens before or after, or in a
// separate function that has returned before any Lua call that may raise.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <lua.hpp>
#include <tl/expected.hpp>

#include "plugins/lua/runtime/pattern_guard.hpp"
#include "plugins/lua/runtime/script.hpp"

namespace postern::lua::detail {

// The call whose context handle is alive (see context.hpp).
struct ContextSlot {
    std::uint64_t live = 0;  // serial of the live handle; 0: none
    std::uint64_t last = 0;  // serial last handed out
    const Value* fields = nullptr;
};

// Where a host function's arguments and result wait while Lua may longjmp (see host.hpp).
struct HostScratch {
    std::vector<Value> args;
    Value result;
    std::string error;
};

class Sandbox {
  public:
    // How a run failed. `line` is set when the runtime knows it (budget errors: where the script
    // was interrupted; 0 for memory errors); otherwise `message` is Lua's, possibly starting with
    // "chunk:line:".
    struct Failure {
        std::string message;
        std::optional<int> line;
    };

    // A state with the hook, the whitelisted environment, the `postern` table of `host` and the
    // context metatable.
    static tl::expected<std::unique_ptr<Sandbox>, std::string> create(const Limits& limits,
                                                                      HostFunctions host,
                                                                      LogSink log);
    ~Sandbox();
    Sandbox(const Sandbox&) = delete;
    Sandbox& operator=(const Sandbox&) = delete;

    static Sandbox& of(lua_State* L);

    lua_State* state() const { return L_; }
    const Limits& limits() const { return limits_; }
    std::size_t memory_used() const { return used_; }

    // Empties the stack and calls f(lightuserdata data) in protected mode under fresh budgets.
    // On success f's `nresults` results are on the stack, from index 1. Refused while a run is
    // going on (a host function calling back into its script).
    tl::expected<void, Failure> run(lua_CFunction f, void* data, int nresults);
    bool running() const { return budget_.armed; }
    // A full collection, so that the next call starts with only what the script keeps.
    void collect_garbage();

    // ---- for the C functions of the state
    // Adds `instructions` to the run's count and reads the clock. When a budget is (or was
    // already) spent, raises the budget error at the script's line (push_location(L,
    // from_level)) and drops the hook count of L and of the main thread to 1. The hook calls
    // it.
    void charge(lua_State* L, std::uint64_t instructions, int from_level);
    // The running run's budget is spent: the hook raises on every instruction (see above).
    bool budget_exceeded() const { return budget_.exceeded != Exceeded::none; }
    ContextSlot& context() { return context_; }
    HostScratch& host_scratch() { return host_scratch_; }
    const HostFunctions& host_functions() const { return host_; }
    // string.find/match/gmatch/gsub, whose calls the call hook checks (pattern_guard.hpp).
    void set_pattern_functions(PatternFunctions f) { patterns_ = f; }
    void log(const char* text, std::size_t size) noexcept;

  private:
    enum class Exceeded { none, instructions, time };
    struct Budget {
        bool armed = false;
        Exceeded exceeded = Exceeded::none;
        std::uint64_t used = 0;
        std::chrono::steady_clock::time_point deadline;
        int line = 0;        // where the script was when it ran out
        char message[96]{};  // "instruction budget of N exceeded", "time budget of N ms exceeded"
    };

    Sandbox(const Limits& limits, HostFunctions host, LogSink log);

    static void* allocate(void* ud, void* ptr, std::size_t osize, std::size_t nsize) noexcept;
    static void hook(lua_State* L, lua_Debug* ar);
    static void set_hook(lua_State* L, int count);
    static int panic(lua_State* L);
    void arm();
    void disarm();
    Failure describe_error(int status) const;

    Limits limits_;
    int period_;  // instructions between two hook calls
    HostFunctions host_;
    LogSink log_;
    std::size_t used_ = 0;
    lua_State* L_ = nullptr;
    Budget budget_;
    ContextSlot context_;
    HostScratch host_scratch_;
    PatternFunctions patterns_;
};

// Pushes "chunk:line: " of the innermost Lua function running on L from stack level
// `from_level` up (skipping C functions such as pcall or pairs between it and the caller), or
// "" when there is none. luaL_where looks at one level only. Raises Lua errors (it allocates).
void push_location(lua_State* L, int from_level = 1);
// The line push_location would name; 0 for none. Never raises.
int script_line(lua_State* L, int from_level);

// Raises `message` as a Lua error at the script's location (push_location). Never returns.
int raise_at_script(lua_State* L, const char* message);

}  // namespace postern::lua::detail
