#include "plugins/lua/runtime/value.hpp"

#include <cmath>
#include <cstdio>
#include <utility>

namespace postern::lua {

namespace {

bool is_identifier(std::string_view s) {
    if (s.empty() || (s[0] >= '0' && s[0] <= '9')) return false;
    for (char c : s) {
        const bool ok =
            c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
        if (!ok) return false;
    }
    return true;
}

void append_quoted(std::string& out, std::string_view s) {
    out += '"';
    for (unsigned char c : s) {
        if (c == '"' || c == '\\') {
            out += '\\';
            out += static_cast<char>(c);
        } else if (c < 0x20 || c >= 0x7f) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\%u", static_cast<unsigned>(c));
            out += buf;
        } else {
            out += static_cast<char>(c);
        }
    }
    out += '"';
}

void append(std::string& out, const Value& v) {
    switch (v.type()) {
        case Value::Type::nil:
            out += "nil";
            return;
        case Value::Type::boolean:
            out += std::get<bool>(v.data) ? "true" : "false";
            return;
        case Value::Type::integer:
            out += std::to_string(std::get<std::int64_t>(v.data));
            return;
        case Value::Type::number: {
            char buf[32];
            std::snprintf(buf, sizeof buf, "%.14g", std::get<double>(v.data));
            out += buf;
            return;
        }
        case Value::Type::string:
            append_quoted(out, std::get<std::string>(v.data));
            return;
        case Value::Type::table:
            break;
    }
    const auto& t = std::get<Value::Table>(v.data);
    out += '{';
    std::int64_t next_index = 1;  // keys 1, 2, ... in order are written as a list
    bool first = true;
    for (const Field& f : t) {
        if (!first) out += ", ";
        first = false;
        if (const auto* i = std::get_if<std::int64_t>(&f.key)) {
            if (*i == next_index) {
                ++next_index;
            } else {
                out += '[' + std::to_string(*i) + "] = ";
            }
        } else {
            const auto& s = std::get<std::string>(f.key);
            if (is_identifier(s)) {
                out += s;
            } else {
                out += '[';
                append_quoted(out, s);
                out += ']';
            }
            out += " = ";
        }
        append(out, f.value);
    }
    out += '}';
}

}  // namespace

std::string_view type_name(Value::Type t) {
    switch (t) {
        case Value::Type::nil:
            return "nil";
        case Value::Type::boolean:
            return "boolean";
        case Value::Type::integer:
            return "integer";
        case Value::Type::number:
            return "number";
        case Value::Type::string:
            return "string";
        case Value::Type::table:
            return "table";
    }
    return "unknown";
}

Value Value::table(std::map<std::string, Value> fields) {
    Table t;
    t.reserve(fields.size());
    for (auto& [k, v] : fields)
        t.push_back(Field{k, std::move(v)});
    return Value(std::move(t));
}

Value Value::array(std::vector<Value> values) {
    Table t;
    t.reserve(values.size());
    std::int64_t i = 1;
    for (auto& v : values)
        t.push_back(Field{i++, std::move(v)});
    return Value(std::move(t));
}

bool Value::truthy() const {
    if (is_nil()) return false;
    if (const auto* b = std::get_if<bool>(&data)) return *b;
    return true;
}

std::optional<bool> Value::as_boolean() const {
    if (const auto* b = std::get_if<bool>(&data)) return *b;
    return std::nullopt;
}

std::optional<std::int64_t> Value::as_integer() const {
    if (const auto* i = std::get_if<std::int64_t>(&data)) return *i;
    if (const auto* d = std::get_if<double>(&data)) {
        // The range check of Lua's lua_numbertointeger: [-2^63, 2^63).
        if (std::floor(*d) == *d && *d >= -9223372036854775808.0 && *d < 9223372036854775808.0)
            return static_cast<std::int64_t>(*d);
    }
    return std::nullopt;
}

std::optional<double> Value::as_number() const {
    if (const auto* i = std::get_if<std::int64_t>(&data)) return static_cast<double>(*i);
    if (const auto* d = std::get_if<double>(&data)) return *d;
    return std::nullopt;
}

std::optional<std::string_view> Value::as_string() const {
    if (const auto* s = std::get_if<std::string>(&data)) return std::string_view(*s);
    return std::nullopt;
}

const Value::Table* Value::as_table() const {
    return std::get_if<Table>(&data);
}

const Value* Value::field(std::string_view key) const {
    const Table* t = as_table();
    if (!t) return nullptr;
    for (const Field& f : *t) {
        if (const auto* s = std::get_if<std::string>(&f.key); s && *s == key) return &f.value;
    }
    return nullptr;
}

const Value* Value::field(std::int64_t key) const {
    const Table* t = as_table();
    if (!t) return nullptr;
    for (const Field& f : *t) {
        if (const auto* i = std::get_if<std::int64_t>(&f.key); i && *i == key) return &f.value;
    }
    return nullptr;
}

std::string Value::to_string() const {
    std::string out;
    append(out, *this);
    return out;
}

bool operator==(const Value& a, const Value& b) {
    return a.data == b.data;
}

}  // namespace postern::lua
