// The values that cross between C++ and a Lua script: nil, boolean, integer, number, string and
// table. Functions, userdata and threads never cross: a script returning one gets an error
// ("bad return value: function"), so no Lua object outlives the call that produced it.
//
// A table is an ordered list of key/value pairs, the keys integers or strings. Lua's own order
// of a table is unspecified; tables converted from Lua come back sorted (integer keys
// ascending, then string keys bytewise), so results are deterministic. Converting to Lua makes a
// fresh table each time: a script can change the copy it got, never the C++ value.
//
//   C++                          Lua
//   Value{}                      nil
//   Value{true}                  true
//   Value{std::int64_t{7}}       7          (math.type(x) == "integer")
//   Value{0.5}                   0.5        (math.type(x) == "float")
//   Value{"text"}                "text"     (any bytes)
//   Value::table({{"a", 1}})     {a = 1}
//   Value::array({"x", "y"})     {"x", "y"}
//
// Conversion from Lua is bounded: at most kMaxDepth nested tables (which also ends cycles) and
// kMaxBytes in all (kEntryCost per value plus the strings' lengths).
#pragma once

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace postern::lua {

struct Field;

struct Value {
    using Key = std::variant<std::int64_t, std::string>;
    using Table = std::vector<Field>;

    enum class Type { nil, boolean, integer, number, string, table };

    static constexpr int kMaxDepth = 16;
    static constexpr std::size_t kMaxBytes = 1 << 20;
    static constexpr std::size_t kEntryCost = 16;

    std::variant<std::monostate, bool, std::int64_t, double, std::string, Table> data;

    // The constructors are defined below Field: a complete Field is needed for the variant's
    // cleanup (clang instantiates it where a constructor is defined).
    Value() = default;
    Value(std::nullptr_t);
    Value(bool b);
    // Any integer type; an unsigned one above INT64_MAX wraps, as in Lua.
    template <std::integral I>
    requires(!std::same_as<I, bool>) Value(I i);
    Value(double d);
    Value(std::string s);
    Value(std::string_view s);
    Value(const char* s);
    Value(Table t);

    // {name = value, ...} in the map's (sorted) order.
    static Value table(std::map<std::string, Value> fields);
    // {[1] = values[0], [2] = values[1], ...}
    static Value array(std::vector<Value> values);

    Type type() const { return static_cast<Type>(data.index()); }
    bool is_nil() const { return type() == Type::nil; }
    bool is_boolean() const { return type() == Type::boolean; }
    bool is_integer() const { return type() == Type::integer; }
    bool is_number() const { return type() == Type::number; }  // a float; see as_number()
    bool is_string() const { return type() == Type::string; }
    bool is_table() const { return type() == Type::table; }
    // Lua's truth: everything but nil and false.
    bool truthy() const;

    std::optional<bool> as_boolean() const;
    // An integer, or a float with an exact integer value (as Lua's math.tointeger).
    std::optional<std::int64_t> as_integer() const;
    // An integer or a float, as a double.
    std::optional<double> as_number() const;
    std::optional<std::string_view> as_string() const;
    const Table* as_table() const;

    // The value under `key` of a table; nullptr for a missing key or a value that is no table.
    const Value* field(std::string_view key) const;
    const Value* field(std::int64_t key) const;

    // A Lua-like literal for logs and test messages: {1, "a", x = true}.
    std::string to_string() const;

    friend bool operator==(const Value&, const Value&);
};

struct Field {
    Value::Key key;
    Value value;

    friend bool operator==(const Field&, const Field&) = default;
};

inline Value::Value(std::nullptr_t) {}
inline Value::Value(bool b) : data(b) {}
template <std::integral I>
requires(!std::same_as<I, bool>) inline Value::Value(I i) : data(static_cast<std::int64_t>(i)) {}
inline Value::Value(double d) : data(d) {}
inline Value::Value(std::string s) : data(std::move(s)) {}
inline Value::Value(std::string_view s) : data(std::string(s)) {}
inline Value::Value(const char* s) : data(std::string(s)) {}
inline Value::Value(Table t) : data(std::move(t)) {}

std::string_view type_name(Value::Type t);

}  // namespace postern::lua
