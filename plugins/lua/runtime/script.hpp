// An administrator's Lua 5.4 script, loaded into a sandbox of its own (issue 6). The `lua`
// plugin loads each configured script once and calls its functions (authorize, on_connect, ...)
// from the IKE thread; nothing here locks, so one Script is used by one thread at a time.
//
//   Script::load(path)   reads the file (text only, at most kMaxSourceSize), builds a fresh
//                        lua_State and runs the top-level chunk once under the budgets: the
//                        chunk defines the functions.
//   call("authorize", ctx_fields)
//                        calls the global function with ONE argument, a context handle whose
//                        fields are ctx_fields (read-only), and returns its first result as a
//                        Value. The handle dies when call() returns.
//
// What a script sees (everything else is absent, see environment.hpp):
//   assert error ipairs next pairs pcall xpcall select tonumber tostring type rawequal rawlen
//   rawget rawset setmetatable getmetatable print collectgarbage("count"),
//   string (no string.dump) table math utf8 coroutine, and the `postern` table of host
//   functions the caller passes. There is no load, dofile, loadfile, require, os, io, debug.
//
// Budgets (Limits) apply to each call and to the top-level chunk: an instruction count and a
// wall-clock time checked every few hundred instructions by a count hook, which coroutines
// inherit; once exceeded, every further instruction raises the error again, so pcall cannot
// catch it and go on, and the call fails whatever the script does. The memory cap is on the
// state's live bytes: an allocation over it fails with Lua's "not enough memory", which a
// script may catch; the state stays usable. After any error the script stays loaded and its
// other functions keep working.
//
// The clock is also read before every function call, so a slow C function of the standard
// library is noticed right after it returns; none runs long: string.rep, table.concat and the
// like are linear in memory the cap bounds, table.sort without a comparator is n log n (about
// 0.5 s for the 2M integers a 32 MiB state holds), and string.find/match/gmatch/gsub refuse
// a call whose worst case exceeds 2^24 steps (pattern_guard.hpp), since Lua's own backtracking
// can take minutes.
//
// Errors carry the script's file and line ("/etc/postern/auth.lua:7: attempt to call a nil
// value (field 'nope')") when Lua knows them, else the file and line 0.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include <tl/expected.hpp>

#include "plugins/lua/runtime/value.hpp"

namespace postern::lua {

namespace detail {
class Sandbox;
}

struct Limits {
    std::uint64_t instructions = 1'000'000;  // Lua VM instructions per call
    std::size_t memory = 32u << 20;          // live bytes of the script's state
    std::chrono::milliseconds time{200};     // wall clock per call
};

struct Error {
    std::string file;  // the script's path
    int line = 0;      // 0: not known
    std::string message;

    // "file:line: message", or "file: message" when the line is not known.
    std::string to_string() const;
};

// A function the script calls as postern.<name>(...). Its arguments are converted like return
// values (no functions, tables at most Value::kMaxDepth deep); an error (or an exception)
// becomes a Lua error "postern.<name>: <error>" at the script's call site.
using HostFunction = std::function<tl::expected<Value, std::string>(std::span<const Value> args)>;
using HostFunctions = std::map<std::string, HostFunction>;

// Where print() goes: one line per print call, its arguments joined by tabs as Lua's print
// does, cut at kMaxLogLine bytes. Without a sink, print is silent.
using LogSink = std::function<void(std::string_view line)>;

class Script {
  public:
    static constexpr std::size_t kMaxSourceSize = 1 << 20;
    static constexpr std::size_t kMaxLogLine = 4096;

    static tl::expected<Script, Error> load(const std::string& path, Limits limits,
                                            HostFunctions host = {}, LogSink log = {});

    Script(Script&&) noexcept;
    Script& operator=(Script&&) noexcept;
    Script(const Script&) = delete;
    Script& operator=(const Script&) = delete;
    ~Script();

    // A global function of that name exists (read raw: no metamethod runs).
    bool defines(std::string_view function) const;

    // Calls the global `function` with a context handle serving `ctx_fields` (a table; any
    // other value gives a handle without fields) and returns its first result, nil if none.
    tl::expected<Value, Error> call(std::string_view function, const Value& ctx_fields);

    const std::string& path() const { return path_; }
    // Live bytes of the state (for logs and tests).
    std::size_t memory_used() const;

  private:
    Script(std::string path, std::string chunk_id, std::unique_ptr<detail::Sandbox> sandbox);

    std::string path_;
    std::string chunk_id_;  // Lua's short form of "@path", the prefix of its error messages
    std::unique_ptr<detail::Sandbox> sandbox_;
};

}  // namespace postern::lua
