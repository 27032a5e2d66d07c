#include "plugins/lua/runtime/sandbox.hpp"

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <utility>

#include "plugins/lua/runtime/context.hpp"
#include "plugins/lua/runtime/environment.hpp"
#include "plugins/lua/runtime/host.hpp"

namespace postern::lua::detail {

namespace {

constexpr std::uint64_t kHookPeriod = 1000;
constexpr const char* kMemoryError = "not enough memory";  // Lua's own message

// The state's setup, in protected mode (see sandbox.hpp).
int install(lua_State* L) {
    Sandbox& sb = *static_cast<Sandbox*>(lua_touserdata(L, 1));
    install_environment(L);
    install_host_functions(L, sb.host_functions());
    install_context(L);
    return 0;
}

int collect(lua_State* L) {
    lua_gc(L, LUA_GCCOLLECT);
    return 0;
}

}  // namespace

Sandbox::Sandbox(const Limits& limits, HostFunctions host, LogSink log)
    : limits_(limits),
      period_(static_cast<int>(std::clamp<std::uint64_t>(limits.instructions, 1, kHookPeriod))),
      host_(std::move(host)),
      log_(std::move(log)) {}

tl::expected<std::unique_ptr<Sandbox>, std::string> Sandbox::create(const Limits& limits,
                                                                    HostFunctions host,
                                                                    LogSink log) {
    std::unique_ptr<Sandbox> sb(new Sandbox(limits, std::move(host), std::move(log)));
    sb->L_ = lua_newstate(&Sandbox::allocate, sb.get());
    if (!sb->L_)
        return tl::unexpected("cannot create a Lua state within the memory limit of " +
                              std::to_string(limits.memory) + " bytes");
    lua_atpanic(sb->L_, &Sandbox::panic);
    // Before anything else, so that every coroutine the script creates inherits it.
    set_hook(sb->L_, sb->period_);
    if (auto r = sb->run(&install, sb.get(), 0); !r)
        return tl::unexpected("cannot set up the Lua state: " + r.error().message);
    return sb;
}

Sandbox::~Sandbox() {
    if (L_) lua_close(L_);  // no script finalizer can run: setmetatable refuses __gc
}

Sandbox& Sandbox::of(lua_State* L) {
    void* ud = nullptr;
    lua_getallocf(L, &ud);
    return *static_cast<Sandbox*>(ud);
}

// lua_Alloc: `osize` is the block's size when `ptr` is set (else a type tag).
void* Sandbox::allocate(void* ud, void* ptr, std::size_t osize, std::size_t nsize) noexcept {
    auto& sb = *static_cast<Sandbox*>(ud);
    const std::size_t old = ptr ? osize : 0;
    if (nsize == 0) {
        std::free(ptr);
        sb.used_ -= old;
        return nullptr;
    }
    if (nsize > old && nsize - old > sb.limits_.memory - std::min(sb.used_, sb.limits_.memory))
        return nullptr;  // over the cap: Lua collects garbage, retries, then raises
    void* p = std::realloc(ptr, nsize);
    if (!p) {
        // Lua assumes shrinking never fails; keep the larger block (and count it as shrunk).
        if (nsize <= old) {
            sb.used_ -= old - nsize;
            return ptr;
        }
        return nullptr;
    }
    sb.used_ = sb.used_ - old + nsize;
    return p;
}

void Sandbox::set_hook(lua_State* L, int count) {
    lua_sethook(L, &Sandbox::hook, LUA_MASKCOUNT | LUA_MASKCALL, count);
}

void Sandbox::hook(lua_State* L, lua_Debug* ar) {
    Sandbox& sb = of(L);
    if (!sb.budget_.armed) return;
    if (ar->event != LUA_HOOKCOUNT) {
        // At a call event level 0 is the callee (a C function has no line); the call is at 1.
        sb.charge(L, 0, 1);
        check_pattern_call(L, ar, sb.patterns_);
        return;
    }
    const int count = lua_gethookcount(L);
    // A coroutine left at 1 by an earlier run that ran out goes back to the period.
    if (!sb.budget_exceeded() && count != sb.period_) set_hook(L, sb.period_);
    sb.charge(L, static_cast<std::uint64_t>(count), 0);
}

void Sandbox::charge(lua_State* L, std::uint64_t instructions, int from_level) {
    Budget& b = budget_;
    if (!b.armed) return;
    if (b.exceeded == Exceeded::none) {
        b.used += instructions;
        if (b.used > limits_.instructions) {
            b.exceeded = Exceeded::instructions;
            std::snprintf(b.message, sizeof b.message, "instruction budget of %" PRIu64 " exceeded",
                          limits_.instructions);
        } else if (std::chrono::steady_clock::now() >= b.deadline) {
            b.exceeded = Exceeded::time;
            std::snprintf(b.message, sizeof b.message, "time budget of %lld ms exceeded",
                          static_cast<long long>(limits_.time.count()));
        } else {
            return;
        }
        b.line = script_line(L, from_level);
        if (L != L_) set_hook(L_, 1);
    }
    // From now on every instruction of this thread raises the error again.
    if (lua_gethookcount(L) != 1) set_hook(L, 1);
    push_location(L, from_level);
    lua_pushstring(L, b.message);
    lua_concat(L, 2);
    lua_error(L);
}

int Sandbox::panic(lua_State* L) {
    // Every use of the state is protected (run()), so this is a bug of the runtime.
    const char* msg = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "(no message)";
    std::fprintf(stderr, "postern: unprotected error in a Lua state: %s\n", msg);
    std::abort();
}

void Sandbox::arm() {
    budget_.armed = true;
    budget_.exceeded = Exceeded::none;
    budget_.used = 0;
    budget_.line = 0;
    budget_.message[0] = '\0';
    budget_.deadline = std::chrono::steady_clock::now() + limits_.time;
    set_hook(L_, period_);  // also restarts its count
}

void Sandbox::disarm() {
    budget_.armed = false;
    set_hook(L_, period_);
}

tl::expected<void, Sandbox::Failure> Sandbox::run(lua_CFunction f, void* data, int nresults) {
    // A host function calling back into its own script would clear the running call's stack.
    if (budget_.armed) return tl::unexpected(Failure{"the script is already running", 0});
    lua_settop(L_, 0);
    lua_pushcfunction(L_, f);  // neither push allocates: the stack always has LUA_MINSTACK slots
    lua_pushlightuserdata(L_, data);
    arm();
    const int status = lua_pcall(L_, 1, nresults, 0);
    disarm();
    if (budget_.exceeded != Exceeded::none) {
        lua_settop(L_, 0);
        return tl::unexpected(Failure{budget_.message, budget_.line});
    }
    if (status == LUA_OK) return {};
    Failure failure = describe_error(status);
    lua_settop(L_, 0);
    return tl::unexpected(std::move(failure));
}

// The error object on top of the stack, read without calling into Lua (no __tostring).
Sandbox::Failure Sandbox::describe_error(int status) const {
    Failure f;
    switch (lua_type(L_, -1)) {
        case LUA_TSTRING: {
            std::size_t len = 0;
            const char* s = lua_tolstring(L_, -1, &len);
            f.message.assign(s, len);
            break;
        }
        case LUA_TNUMBER:
            f.message = lua_isinteger(L_, -1)
                            ? std::to_string(lua_tointegerx(L_, -1, nullptr))
                            : std::to_string(static_cast<double>(lua_tonumberx(L_, -1, nullptr)));
            break;
        default:
            f.message = std::string("(error object is a ") + luaL_typename(L_, -1) + " value)";
            break;
    }
    if (status == LUA_ERRMEM || f.message == kMemoryError) {
        f.message = std::string(kMemoryError) + " (memory limit of " +
                    std::to_string(limits_.memory) + " bytes)";
        f.line = 0;
    }
    return f;
}

void Sandbox::collect_garbage() {
    (void)run(&collect, nullptr, 0);
}

namespace {

// The first level from `from_level` up that is a Lua function with a current line.
bool find_script_level(lua_State* L, int from_level, lua_Debug& ar) {
    for (int level = from_level; lua_getstack(L, level, &ar); ++level) {
        if (lua_getinfo(L, "Sl", &ar) && ar.currentline > 0) return true;
    }
    return false;
}

}  // namespace

int script_line(lua_State* L, int from_level) {
    lua_Debug ar;
    return find_script_level(L, from_level, ar) ? ar.currentline : 0;
}

void push_location(lua_State* L, int from_level) {
    lua_Debug ar;
    if (find_script_level(L, from_level, ar)) {
        lua_pushfstring(L, "%s:%d: ", ar.short_src, ar.currentline);
    } else {
        lua_pushliteral(L, "");
    }
}

int raise_at_script(lua_State* L, const char* message) {
    push_location(L);
    lua_pushstring(L, message);
    lua_concat(L, 2);
    return lua_error(L);
}

void Sandbox::log(const char* text, std::size_t size) noexcept {
    if (!log_) return;
    try {
        log_(std::string_view(text, size));
    } catch (...) {
        // A failing sink must not unwind through Lua's C frames; the line is lost.
    }
}

}  // namespace postern::lua::detail
