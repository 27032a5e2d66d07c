#include <boost/test/unit_test.hpp>

#include <cstdio>

#include "daemon/config.hpp"

using namespace postern::daemon;

namespace {

ConfigError error_of(std::string_view text) {
    auto r = parse_config(text, "test.toml");
    BOOST_REQUIRE_MESSAGE(!r, "config unexpectedly accepted:\n" << text);
    return r.error();
}

}  // namespace

BOOST_AUTO_TEST_SUITE(config)

BOOST_AUTO_TEST_CASE(example_config_loads) {
    auto c = load_config(POSTERN_SOURCE_DIR "/conf/postern.toml");
    BOOST_REQUIRE_MESSAGE(c, (c ? "" : c.error().to_string()));
    BOOST_TEST(c->connections.size() == 1u);
    BOOST_TEST(c->connections[0].name == "roadwarriors");
    BOOST_TEST(c->connections[0].ike_lifetime_s == 86400u);
    BOOST_TEST(c->pools.at(0).ipv4 == "10.99.0.0/24");
    BOOST_TEST(!c->allow_legacy_crypto);
}

BOOST_AUTO_TEST_CASE(missing_file_names_the_file) {
    auto r = load_config("/nonexistent/postern.toml");
    BOOST_REQUIRE(!r);
    BOOST_TEST(r.error().to_string() == "/nonexistent/postern.toml: cannot open file");
}

BOOST_AUTO_TEST_CASE(syntax_error_names_the_line) {
    auto e = error_of("[server]\nport = 500\nlisten = [\"a\"\n");
    BOOST_TEST(e.file == "test.toml");
    BOOST_TEST(e.line >= 3u);
}

BOOST_AUTO_TEST_CASE(unknown_key_names_line_and_key) {
    auto e = error_of("[server]\nport = 500\nlisten_addr = \"x\"\n");
    BOOST_TEST(e.line == 3u);
    BOOST_TEST(e.key == "server.listen_addr");
    BOOST_TEST(e.message == "unknown key");
    BOOST_TEST(e.to_string() == "test.toml:3: server.listen_addr: unknown key");
}

BOOST_AUTO_TEST_CASE(wrong_types_and_values_are_reported_where_they_are) {
    BOOST_TEST(error_of("[server]\n\nport = 70000\n").line == 3u);
    BOOST_TEST(error_of("[server]\nport = 70000\n").key == "server.port");
    BOOST_TEST(error_of("[server]\ndataplane = \"dpdk\"\n").key == "server.dataplane");
    BOOST_TEST(error_of("[server]\nallow_legacy_crypto = \"yes\"\n").message ==
               "expected true or false, got a string");
    auto e = error_of("[pools.a]\nipv4 = \"10.0.0.0/33\"\n");
    BOOST_TEST(e.key == "pools.a.ipv4");
    BOOST_TEST(e.line == 2u);
    e = error_of("[pools.a]\nipv4 = \"10.0.0.0/24\"\ndns = [\"10.0.0.1\", \"nope\"]\n");
    BOOST_TEST(e.key == "pools.a.dns[1]");
}

BOOST_AUTO_TEST_CASE(connection_errors_name_the_connection_index) {
    auto e = error_of("[[connections]]\nname = \"a\"\n[[connections]]\nlocal_id = \"x\"\n");
    BOOST_TEST(e.key == "connections[1].name");
    BOOST_TEST(e.message == "missing (required)");
    e = error_of("[[connections]]\nname = \"a\"\npools = [\"nowhere\"]\n");
    BOOST_TEST(e.key == "connections[0].pools");
    BOOST_TEST(e.line == 3u);
    e = error_of("[[connections]]\nname = \"a\"\nremote_auth = \"radius\"\n");
    BOOST_TEST(e.key == "connections[0].remote_auth");
    e = error_of("[[connections]]\nname = \"a\"\nike_lifetime = \"8y\"\n");
    BOOST_TEST(e.key == "connections[0].ike_lifetime");
    e = error_of("[[connections]]\nname = \"a\"\nlocal_ts = [\"10.0.0.0/8\", \"::/129\"]\n");
    BOOST_TEST(e.key == "connections[0].local_ts[1]");
}

BOOST_AUTO_TEST_CASE(durations_accept_units) {
    auto c = parse_config(
        "[[connections]]\nname = \"a\"\nike_lifetime = \"90m\"\n"
        "child_lifetime = 120\n",
        "t.toml");
    BOOST_REQUIRE(c);
    BOOST_TEST(c->connections[0].ike_lifetime_s == 5400u);
    BOOST_TEST(c->connections[0].child_lifetime_s == 120u);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(config_proposals)

BOOST_AUTO_TEST_CASE(proposals_are_parsed_and_legacy_needs_the_switch) {
    const char* legacy =
        "[server]\nallow_legacy_crypto = %s\n[[connections]]\nname = \"w\"\n"
        "ike_proposals = [\"aes256-sha256-modp2048\", \"aes256-sha1-modp1024\"]\n"
        "esp_proposals = [\"aes256-sha1\"]\n";
    char buf[512];
    std::snprintf(buf, sizeof buf, legacy, "false");
    auto r = parse_config(buf, "t.toml");
    BOOST_REQUIRE(!r);
    BOOST_TEST(r.error().key == "connections[0].ike_proposals[1]");
    BOOST_TEST(r.error().line == 5u);
    BOOST_TEST(r.error().message.find("allow_legacy") != std::string::npos, r.error().message);
    std::snprintf(buf, sizeof buf, legacy, "true");
    auto ok = parse_config(buf, "t.toml");
    BOOST_TEST(ok.has_value(), (ok ? "" : ok.error().to_string()));

    auto bad = parse_config(
        "[[connections]]\nname = \"a\"\nesp_proposals = [\"aes256gcm16\", "
        "\"aes257-sha256\"]\n",
        "t.toml");
    BOOST_REQUIRE(!bad);
    BOOST_TEST(bad.error().key == "connections[0].esp_proposals[1]");
    BOOST_TEST(bad.error().message.find("aes257") != std::string::npos, bad.error().message);
    // IKE proposals need a key exchange method; ESP ones may omit it.
    auto noke = parse_config("[[connections]]\nname = \"a\"\nike_proposals = [\"aes256-sha256\"]\n",
                             "t.toml");
    BOOST_TEST(!noke.has_value());
}

BOOST_AUTO_TEST_SUITE_END()
