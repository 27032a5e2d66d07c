// Schema-checked reading of one TOML table; internal to the config loader.
#pragma once

#include <charconv>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <toml++/toml.h>

#include "daemon/config.hpp"

namespace postern::daemon {

// Reads one TOML table against a schema: typed getters record which keys were consumed, and
// finish() rejects any key nobody asked for (a misspelt key is an error, not silently ignored).
// The first error wins; later getters return defaults.
class TableReader {
  public:
    TableReader(const toml::table& t, std::string path, const std::string& file,
                std::optional<ConfigError>& err, KeyLines* lines = nullptr)
        : t_(t), path_(std::move(path)), file_(file), err_(err), lines_(lines) {}

    std::string key_path(std::string_view k) const {
        return path_.empty() ? std::string(k) : path_ + "." + std::string(k);
    }

    void fail(const toml::node* n, std::string key, std::string msg) {
        if (err_) return;
        std::uint32_t line = n ? n->source().begin.line : t_.source().begin.line;
        err_ = ConfigError{file_, line, std::move(key), std::move(msg)};
    }

    // Marks the key as known and records where it (and each element of an array) was written.
    const toml::node* get(std::string_view k) {
        seen_.insert(std::string(k));
        const toml::node* n = t_.get(k);
        if (n && lines_) {
            (*lines_)[key_path(k)] = n->source().begin.line;
            if (auto* arr = n->as_array())
                for (std::size_t i = 0; i < arr->size(); ++i)
                    (*lines_)[key_path(k) + "[" + std::to_string(i) + "]"] =
                        arr->get(i)->source().begin.line;
        }
        return n;
    }

    // An integer in [lo, hi].
    void integer(std::string_view k, std::uint32_t& out, std::int64_t lo, std::int64_t hi) {
        auto* n = get(k);
        if (!n) return;
        auto v = n->value<std::int64_t>();
        if (!v || *v < lo || *v > hi) {
            fail(n, key_path(k),
                 "expected an integer " + std::to_string(lo) + "-" + std::to_string(hi));
            return;
        }
        out = static_cast<std::uint32_t>(*v);
    }

    // A file path; relative paths are resolved against `dir` (the config file's folder).
    void path(std::string_view k, std::string& out, const std::string& dir) {
        str(k, out);
        if (!out.empty() && out.front() != '/' && !dir.empty()) out = dir + "/" + out;
    }

    void str(std::string_view k, std::string& out, bool required = false) {
        auto* n = get(k);
        if (!n) {
            if (required) fail(nullptr, key_path(k), "missing (required)");
            return;
        }
        if (auto v = n->value<std::string>())
            out = *v;
        else
            fail(n, key_path(k), "expected a string, got " + type_name(*n));
    }

    void boolean(std::string_view k, bool& out) {
        auto* n = get(k);
        if (!n) return;
        if (auto v = n->value_exact<bool>())
            out = *v;
        else
            fail(n, key_path(k), "expected true or false, got " + type_name(*n));
    }

    void port(std::string_view k, std::uint16_t& out) {
        auto* n = get(k);
        if (!n) return;
        auto v = n->value<std::int64_t>();
        if (!v || *v < 1 || *v > 65535) {
            fail(n, key_path(k), "expected a port number 1-65535");
            return;
        }
        out = static_cast<std::uint16_t>(*v);
    }

    void strings(std::string_view k, std::vector<std::string>& out) {
        auto* n = get(k);
        if (!n) return;
        auto* arr = n->as_array();
        if (!arr) {
            fail(n, key_path(k), "expected an array of strings, got " + type_name(*n));
            return;
        }
        out.clear();
        for (std::size_t i = 0; i < arr->size(); ++i) {
            const toml::node& e = *arr->get(i);
            if (auto v = e.value<std::string>())
                out.push_back(*v);
            else {
                fail(&e, key_path(k) + "[" + std::to_string(i) + "]",
                     "expected a string, got " + type_name(e));
                return;
            }
        }
    }

    // "90s", "30m", "8h", "1d" or a plain number of seconds. `allow_zero` for durations
    // where 0 switches something off.
    void duration(std::string_view k, std::uint32_t& out, bool allow_zero = false) {
        duration_in(k, out, 1000, allow_zero);
    }
    // As duration() but in milliseconds, and "500ms" is accepted too.
    void duration_ms(std::string_view k, std::uint32_t& out) { duration_in(k, out, 1, false); }

    // A byte or packet count: an integer, or a string with a binary suffix ("500M", "2G",
    // "64k"); 0 = unlimited.
    void volume(std::string_view k, std::uint64_t& out) {
        auto* n = get(k);
        if (!n) return;
        if (auto v = n->value<std::int64_t>()) {
            if (*v < 0)
                fail(n, key_path(k), "expected a count of 0 or more");
            else
                out = static_cast<std::uint64_t>(*v);
            return;
        }
        auto s = n->value<std::string>();
        std::uint64_t num = 0;
        auto [p, ec] = s ? std::from_chars(s->data(), s->data() + s->size(), num)
                         : std::from_chars_result{nullptr, std::errc::invalid_argument};
        std::string_view unit = s ? std::string_view(p, static_cast<std::size_t>(
                                                            s->data() + s->size() - p))
                                  : std::string_view();
        const unsigned shift = unit == ""    ? 0
                               : unit == "k" ? 10
                               : unit == "M" ? 20
                               : unit == "G" ? 30
                               : unit == "T" ? 40
                                             : 64;
        if (!s || ec != std::errc() || shift == 64 || (shift && num >> (64 - shift))) {
            fail(n, key_path(k), "expected a count such as 1000000, \"500M\" or \"2G\"");
            return;
        }
        out = num << shift;
    }

    // A key that no longer exists: an error naming what replaced it.
    void renamed(std::string_view k, const std::string& instead) {
        if (auto* n = get(k)) fail(n, key_path(k), "renamed: use " + instead);
    }

    void finish() {
        for (auto&& [k, v] : t_) {
            if (!seen_.count(std::string(k.str()))) fail(&v, key_path(k.str()), "unknown key");
        }
    }

    static std::string type_name(const toml::node& n) {
        switch (n.type()) {
            case toml::node_type::table:
                return "a table";
            case toml::node_type::array:
                return "an array";
            case toml::node_type::string:
                return "a string";
            case toml::node_type::integer:
                return "an integer";
            case toml::node_type::floating_point:
                return "a number";
            case toml::node_type::boolean:
                return "a boolean";
            default:
                return "a date/time";
        }
    }

    const toml::table& table() const { return t_; }

  private:
    // `unit_ms`: milliseconds per unit of `out` (1000 = seconds, 1 = milliseconds).
    void duration_in(std::string_view k, std::uint32_t& out, std::uint64_t unit_ms,
                     bool allow_zero) {
        auto* n = get(k);
        if (!n) return;
        const std::uint64_t min = allow_zero ? 0 : 1;
        if (auto v = n->value<std::int64_t>()) {
            if (*v < static_cast<std::int64_t>(min) || *v > 0xffffffffLL)
                fail(n, key_path(k), "duration out of range");
            else
                out = static_cast<std::uint32_t>(*v);
            return;
        }
        auto s = n->value<std::string>();
        const char* example =
            unit_ms == 1 ? "\"2s\", \"500ms\" or 2000 (milliseconds)" : "\"8h\", \"30m\" or 3600";
        if (!s || s->empty()) {
            fail(n, key_path(k), std::string("expected a duration such as ") + example);
            return;
        }
        std::uint64_t num = 0;
        auto [p, ec] = std::from_chars(s->data(), s->data() + s->size(), num);
        std::string_view unit(p, static_cast<std::size_t>(s->data() + s->size() - p));
        std::uint64_t ms = unit == "ms"                ? 1
                           : unit == "" || unit == "s" ? 1000
                           : unit == "m"               ? 60000
                           : unit == "h"               ? 3600000
                           : unit == "d"               ? 86400000
                                                       : 0;
        if (unit.empty()) ms = unit_ms;  // a bare number is in the key's own unit
        const std::uint64_t total_ms = num <= 0xffffffffULL ? num * ms : ~std::uint64_t{0};
        if (ec != std::errc() || ms == 0 || num < min || total_ms % unit_ms != 0 ||
            total_ms / unit_ms > 0xffffffffULL) {
            fail(n, key_path(k),
                 "bad duration \"" + *s + "\" (use " +
                     (unit_ms == 1 ? "ms, s, m, h or d" : "s, m, h or d") + ")");
            return;
        }
        out = static_cast<std::uint32_t>(total_ms / unit_ms);
    }

    const toml::table& t_;
    std::string path_;
    const std::string& file_;
    std::optional<ConfigError>& err_;
    KeyLines* lines_;
    std::set<std::string> seen_;
};

}  // namespace postern::daemon
