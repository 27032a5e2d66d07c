#include "plugins/lua/runtime/script.hpp"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>
#include <utility>

#include "plugins/lua/runtime/context.hpp"
#include "plugins/lua/runtime/convert.hpp"
#include "plugins/lua/runtime/sandbox.hpp"

namespace postern::lua {

using detail::Sandbox;

namespace {

// ---- the protected parts of load() and call(). Their data are plain structs of pointers,
// filled and read by the C++ code around Sandbox::run.

struct LoadJob {
    const char* source;
    std::size_t size;
    const char* chunkname;      // "@path"
    char chunk_id[LUA_IDSIZE];  // out: Lua's short form of chunkname, as in error messages
};

int load_chunk(lua_State* L) {
    auto& job = *static_cast<LoadJob*>(lua_touserdata(L, 1));
    // An empty chunk of the same name tells how Lua abbreviates the name in messages; this
    // works even when the script itself does not compile.
    if (luaL_loadbufferx(L, "", 0, job.chunkname, "t") != LUA_OK) return lua_error(L);
    lua_Debug ar;
    lua_getinfo(L, ">S", &ar);
    std::memcpy(job.chunk_id, ar.short_src, sizeof job.chunk_id);
    // Text only: "t" refuses a binary chunk even if one got past the check in load().
    if (luaL_loadbufferx(L, job.source, job.size, job.chunkname, "t") != LUA_OK)
        return lua_error(L);
    lua_call(L, 0, 0);
    return 0;
}

struct CallJob {
    const char* function;  // NUL-terminated
    std::uint64_t serial;
};

int call_function(lua_State* L) {
    const auto& job = *static_cast<const CallJob*>(lua_touserdata(L, 1));
    lua_pushglobaltable(L);
    lua_pushstring(L, job.function);
    if (lua_rawget(L, -2) != LUA_TFUNCTION) {
        lua_pushfstring(L, "function '%s' is not defined", job.function);
        return lua_error(L);
    }
    detail::push_context(L, job.serial);
    lua_call(L, 1, 1);
    return 1;
}

// ---- reading the file

tl::expected<std::string, std::string> read_source(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return tl::unexpected(std::string("cannot open: ") + std::strerror(errno));
    std::string text;
    text.resize(Script::kMaxSourceSize + 1);
    in.read(text.data(), static_cast<std::streamsize>(text.size()));
    if (in.bad()) return tl::unexpected(std::string("cannot read: ") + std::strerror(errno));
    text.resize(static_cast<std::size_t>(in.gcount()));
    if (text.size() > Script::kMaxSourceSize)
        return tl::unexpected("larger than " + std::to_string(Script::kMaxSourceSize) + " bytes");
    // Lua's precompiled chunks start with ESC ("\x1bLua"); lua_load would say "attempt to load
    // a binary chunk (mode is 't')".
    if (!text.empty() && text[0] == LUA_SIGNATURE[0])
        return tl::unexpected(
            std::string("a precompiled (binary) chunk; only Lua source is accepted"));
    // A "#!" first line is skipped as lua(1) does; its newline stays for the line numbers.
    if (!text.empty() && text[0] == '#') {
        const auto eol = text.find('\n');
        text.erase(0, eol == std::string::npos ? text.size() : eol);
    }
    return text;
}

// "chunk_id:12: message" -> {path, 12, "message"}; anything else -> {path, 0, whole}. An error
// that crossed coroutine.wrap has one prefix per crossing ("chunk:30: chunk:12: message"): the
// innermost line, where it happened, is kept.
Error to_error(const std::string& path, std::string_view chunk_id, Sandbox::Failure f) {
    if (f.line) return Error{path, *f.line, std::move(f.message)};
    std::string_view m = f.message;
    int line = 0;
    while (!chunk_id.empty() && m.substr(0, chunk_id.size()) == chunk_id &&
           m.substr(chunk_id.size(), 1) == ":") {
        std::string_view rest = m.substr(chunk_id.size() + 1);
        int n = 0;
        std::size_t digits = 0;
        while (digits < rest.size() && digits < 9 && rest[digits] >= '0' && rest[digits] <= '9')
            n = n * 10 + (rest[digits++] - '0');
        if (digits == 0 || rest.substr(digits, 1) != ":") break;
        rest.remove_prefix(digits + 1);
        if (!rest.empty() && rest[0] == ' ') rest.remove_prefix(1);
        line = n;
        m = rest;
    }
    return Error{path, line, std::string(m)};
}

}  // namespace

std::string Error::to_string() const {
    if (line > 0) return file + ":" + std::to_string(line) + ": " + message;
    return file + ": " + message;
}

Script::Script(std::string path, std::string chunk_id, std::unique_ptr<Sandbox> sandbox)
    : path_(std::move(path)), chunk_id_(std::move(chunk_id)), sandbox_(std::move(sandbox)) {}

Script::Script(Script&&) noexcept = default;
Script& Script::operator=(Script&&) noexcept = default;
Script::~Script() = default;

tl::expected<Script, Error> Script::load(const std::string& path, Limits limits, HostFunctions host,
                                         LogSink log) {
    auto source = read_source(path);
    if (!source) return tl::unexpected(Error{path, 0, std::move(source.error())});
    auto sandbox = Sandbox::create(limits, std::move(host), std::move(log));
    if (!sandbox) return tl::unexpected(Error{path, 0, std::move(sandbox.error())});

    const std::string chunkname = "@" + path;
    LoadJob job{source->data(), source->size(), chunkname.c_str(), {}};
    auto r = (*sandbox)->run(&load_chunk, &job, 0);
    if (!r) return tl::unexpected(to_error(path, job.chunk_id, std::move(r.error())));
    return Script(path, job.chunk_id, std::move(*sandbox));
}

bool Script::defines(std::string_view function) const {
    if (!sandbox_) return false;
    // A raw scan of the globals: no allocation, no metamethod, so no protected run is needed.
    lua_State* L = sandbox_->state();
    if (!lua_checkstack(L, 3)) return false;
    bool found = false;
    lua_pushglobaltable(L);
    lua_pushnil(L);
    while (lua_next(L, -2) != 0) {
        if (lua_type(L, -2) == LUA_TSTRING) {
            std::size_t len = 0;
            const char* name = lua_tolstring(L, -2, &len);
            if (std::string_view(name, len) == function) found = lua_type(L, -1) == LUA_TFUNCTION;
        }
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
    return found;
}

tl::expected<Value, Error> Script::call(std::string_view function, const Value& ctx_fields) {
    if (!sandbox_) return tl::unexpected(Error{path_, 0, "script not loaded"});
    if (sandbox_->running())  // from one of its own host functions
        return tl::unexpected(Error{path_, 0, "the script is already running"});
    if (function.find('\0') != std::string_view::npos)
        return tl::unexpected(Error{path_, 0, "bad function name"});
    const std::string name(function);
    detail::ContextSlot& slot = sandbox_->context();
    slot.live = ++slot.last;
    slot.fields = &ctx_fields;
    CallJob job{name.c_str(), slot.live};
    auto r = sandbox_->run(&call_function, &job, 1);
    slot.live = 0;  // the handle is dead from here on
    slot.fields = nullptr;
    if (!r) {
        sandbox_->collect_garbage();
        return tl::unexpected(to_error(path_, chunk_id_, std::move(r.error())));
    }
    lua_State* L = sandbox_->state();
    auto value = detail::to_value(L, -1);
    lua_settop(L, 0);
    if (!value) return tl::unexpected(Error{path_, 0, "bad return value: " + value.error()});
    return std::move(*value);
}

std::size_t Script::memory_used() const {
    return sandbox_ ? sandbox_->memory_used() : 0;
}

}  // namespace postern::lua
