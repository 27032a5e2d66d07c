// Scripts written to a temporary directory and loaded with small budgets, so that every test
// that runs into a limit ends in milliseconds. Every suite has a timeout: a sandbox that lets a
// script loop where no hook runs fails the suite (SIGALRM) instead of hanging it.
#pragma once

#include <stdlib.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <ostream>
#include <sstream>
#include <string>
#include <string_view>

#include <boost/test/unit_test.hpp>

#include "plugins/lua/runtime/script.hpp"

namespace postern::lua {
inline std::ostream& operator<<(std::ostream& os, const Value& v) {
    return os << v.to_string();
}
}  // namespace postern::lua

namespace postern::lua::test {

// 100k instructions take about a millisecond; the time budget is only a safety net here (the
// time-budget tests set their own).
inline Limits small_limits() {
    Limits l;
    l.instructions = 100'000;
    l.memory = 4u << 20;
    l.time = std::chrono::milliseconds(2000);
    return l;
}

// The 1-based number of the first line of `text` containing `marker` (0: none), so tests name
// lines by a comment in the script instead of by a number that drifts.
inline int line_of(std::string_view text, std::string_view marker) {
    const auto at = text.find(marker);
    if (at == std::string_view::npos) return 0;
    int line = 1;
    for (std::size_t i = 0; i < at; ++i)
        if (text[i] == '\n') ++line;
    return line;
}

inline std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

inline std::string data_path(std::string_view name) {
    return std::string(POSTERN_TEST_DATA_DIR) + "/lua/" + std::string(name);
}

struct TempDir {
    std::filesystem::path dir;

    TempDir() {
        char tmpl[] = "/tmp/postern-lua-XXXXXX";
        dir = ::mkdtemp(tmpl);
    }
    ~TempDir() { std::filesystem::remove_all(dir); }

    std::string write(std::string_view name, std::string_view text) {
        const auto path = (dir / name).string();
        std::ofstream(path, std::ios::binary)
            .write(text.data(), static_cast<std::streamsize>(text.size()));
        return path;
    }
};

// A script from text, loaded or failing the test.
struct Loaded {
    TempDir tmp;
    std::string path;
    std::string text;
    Script script;

    Loaded(std::string_view source, Limits limits = small_limits(), HostFunctions host = {},
           LogSink log = {})
        : path(tmp.write("script.lua", source)), text(source), script(load(limits, host, log)) {}

    int line(std::string_view marker) const { return line_of(text, marker); }

  private:
    Script load(Limits limits, HostFunctions& host, LogSink& log) {
        auto s = Script::load(path, limits, std::move(host), std::move(log));
        BOOST_TEST_REQUIRE(s.has_value(), "load failed: " << (s ? "" : s.error().to_string()));
        return std::move(*s);
    }
};

// The error of a call that must fail.
inline Error call_error(Script& s, std::string_view function, const Value& ctx = {}) {
    auto r = s.call(function, ctx);
    BOOST_TEST_REQUIRE(!r.has_value(),
                       function << " returned " << (r ? r->to_string() : "") << ", not an error");
    return r.error();
}

// The value of a call that must succeed.
inline Value call_value(Script& s, std::string_view function, const Value& ctx = {}) {
    auto r = s.call(function, ctx);
    BOOST_TEST_REQUIRE(r.has_value(), function << " failed: " << (r ? "" : r.error().to_string()));
    return std::move(*r);
}

inline long long elapsed_ms(std::chrono::steady_clock::time_point start) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                                 start)
        .count();
}

inline bool contains(std::string_view s, std::string_view part) {
    return s.find(part) != std::string_view::npos;
}

}  // namespace postern::lua::test
