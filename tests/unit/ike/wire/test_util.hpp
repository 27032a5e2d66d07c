// Helpers shared by the ike/wire tests.
#pragma once

#include <boost/test/unit_test.hpp>

#include <fstream>
#include <ostream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>

#include "ike/wire/message.hpp"
#include "postern/bytes.hpp"

// Boost.Test prints values of failed comparisons by their registry names.
#include "../enum_print.hpp"

namespace wire_test {

using namespace postern;
using namespace postern::ike;
using namespace postern::ike::wire;

// Hex to bytes; whitespace and ':' allowed; throws on a typo so a bad fixture is loud.
inline Bytes hex(std::string_view text) {
    Bytes b;
    if (!from_hex(text, b)) throw std::invalid_argument("bad hex in test: " + std::string(text));
    return b;
}

inline Bytes repeat(std::uint8_t v, std::size_t n) {
    return Bytes(n, v);
}

inline Bytes concat(std::initializer_list<Bytes> parts) {
    Bytes out;
    for (const auto& p : parts)
        out.insert(out.end(), p.begin(), p.end());
    return out;
}

// Reads a hex fixture, dropping '#' comments to the end of the line.
inline Bytes load_hex_file(const std::string& path) {
    std::ifstream in(path);
    if (!in) throw std::runtime_error("cannot open " + path);
    std::string line, text;
    while (std::getline(in, line))
        text += line.substr(0, line.find('#')) + "\n";
    return hex(text);
}

inline Bytes fixture(const std::string& name) {
    return load_hex_file(std::string(POSTERN_TEST_DATA_DIR) + "/ike/wire/" + name);
}

// A payload body wrapped in a generic header (the only payload of its chain).
inline Bytes frame(ByteView body, PayloadType next = PayloadType::NONE, bool critical = false) {
    auto len = body.size() + 4;
    Bytes out{static_cast<std::uint8_t>(next), static_cast<std::uint8_t>(critical ? 0x80 : 0),
              static_cast<std::uint8_t>(len >> 8), static_cast<std::uint8_t>(len)};
    out.insert(out.end(), body.begin(), body.end());
    return out;
}

// Golden check for one payload: the body bytes parse to `expected`, and serializing `expected`
// gives back exactly the same framed bytes.
template <class T>
void check_golden(PayloadType type, std::string_view body_hex, const T& expected,
                  PayloadType next = PayloadType::NONE) {
    Bytes framed = frame(hex(body_hex), next);
    auto parsed = parse_payload_chain(type, framed, 0);
    BOOST_TEST_REQUIRE(parsed.has_value(), (parsed ? "" : parsed.error().reason));
    BOOST_TEST_REQUIRE(parsed->size() == 1u);
    const Payload& p = parsed->front();
    BOOST_TEST(p.type == type);
    BOOST_TEST(!p.critical);
    const T* body = p.get<T>();
    BOOST_TEST_REQUIRE(body != nullptr);
    BOOST_TEST((*body == expected));
    Payload built{type, false, expected};
    BOOST_TEST(to_hex(serialize_payload_chain(std::span(&built, 1))) == to_hex(framed));
}

// Parses `body_hex` as a payload of `type`; returns the error (fails the test if it parsed).
inline ParseError expect_error(PayloadType type, std::string_view body_hex,
                               PayloadType next = PayloadType::NONE) {
    Bytes framed = frame(hex(body_hex), next);
    auto parsed = parse_payload_chain(type, framed, 0);
    BOOST_TEST_REQUIRE(!parsed.has_value());
    return parsed.error();
}

}  // namespace wire_test
