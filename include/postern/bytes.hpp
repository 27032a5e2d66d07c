// Common byte-buffer vocabulary shared by every Postern library.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace postern {

using Bytes = std::vector<std::uint8_t>;
using ByteView = std::span<const std::uint8_t>;
using MutableByteView = std::span<std::uint8_t>;

// Lower-case hex without separators ("0a1b").
inline std::string to_hex(ByteView data) {
    static constexpr char kDigits[] = "0123456789abcdef";
    std::string s;
    s.reserve(data.size() * 2);
    for (auto b : data) {
        s.push_back(kDigits[b >> 4]);
        s.push_back(kDigits[b & 0xf]);
    }
    return s;
}

// Parses hex, ignoring ASCII whitespace and ':' separators; returns false on a bad digit or
// an odd number of digits.
inline bool from_hex(std::string_view text, Bytes& out) {
    out.clear();
    int hi = -1;
    for (char c : text) {
        int v;
        if (c >= '0' && c <= '9')
            v = c - '0';
        else if (c >= 'a' && c <= 'f')
            v = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F')
            v = c - 'A' + 10;
        else if (c == ' ' || c == '\n' || c == '\r' || c == '\t' || c == ':')
            continue;
        else
            return false;
        if (hi < 0) {
            hi = v;
        } else {
            out.push_back(static_cast<std::uint8_t>(hi << 4 | v));
            hi = -1;
        }
    }
    return hi < 0;
}

inline Bytes from_hex(std::string_view text) {
    Bytes b;
    if (!from_hex(text, b)) b.clear();
    return b;
}

inline ByteView as_bytes(std::string_view s) {
    return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

}  // namespace postern
