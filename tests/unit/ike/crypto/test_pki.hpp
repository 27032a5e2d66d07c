// The test PKI of tests/data/pki (see its README), for the certificate cache tests.
#pragma once

#include <boost/test/unit_test.hpp>

#include <ctime>
#include <fstream>
#include <sstream>
#include <string>

#include "ike/crypto/x509.hpp"

namespace postern::ike::crypto::test_pki {

// Inside every test certificate's validity (2026-01-01 .. 2046-01-01).
inline constexpr std::time_t kNow = 1893456000;        // 2030-01-01T00:00:00Z
inline constexpr std::time_t kNotBefore = 1767225600;  // 2026-01-01: every CA and server
inline constexpr std::time_t kNotAfter = 2398377600;   // 2046-01-01

inline std::string read_text(const std::string& relative) {
    std::ifstream in(std::string(POSTERN_TEST_DATA_DIR) + "/" + relative, std::ios::binary);
    BOOST_REQUIRE_MESSAGE(in, "cannot open " << relative);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

inline Certificate pki(const std::string& name) {
    auto c = Certificate::from_pem(read_text("pki/" + name + ".pem"));
    BOOST_REQUIRE_MESSAGE(c, name << ": " << c.error());
    return *c;
}

inline Bytes der(const std::string& name) {
    return pki(name).der();
}

}  // namespace postern::ike::crypto::test_pki
