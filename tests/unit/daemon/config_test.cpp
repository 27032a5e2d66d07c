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
    BOOST_TEST(c->connections[0].ike_rekey_s == 26 * 3600u);
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
    e = error_of("[[connections]]\nname = \"a\"\nike_rekey_time = \"8y\"\n");
    BOOST_TEST(e.key == "connections[0].ike_rekey_time");
    // The keys of earlier versions say what replaced them.
    e = error_of("[[connections]]\nname = \"a\"\nike_lifetime = \"8h\"\n");
    BOOST_TEST(e.key == "connections[0].ike_lifetime");
    BOOST_TEST(e.message.find("ike_rekey_time") != std::string::npos, e.message);
    // A hard lifetime that would end the SA before its rekey.
    e = error_of("[[connections]]\nname = \"a\"\nchild_rekey_time = \"1h\"\n"
                 "child_life_time = \"30m\"\n");
    BOOST_TEST(e.key == "connections[0].child_life_time");
    BOOST_TEST(e.line == 4u);
    e = error_of("[[connections]]\nname = \"a\"\nchild_rekey_bytes = \"12X\"\n");
    BOOST_TEST(e.key == "connections[0].child_rekey_bytes");
    e = error_of("[[connections]]\nname = \"a\"\nlocal_ts = [\"10.0.0.0/8\", \"::/129\"]\n");
    BOOST_TEST(e.key == "connections[0].local_ts[1]");
}

BOOST_AUTO_TEST_CASE(durations_accept_units) {
    auto c = parse_config(
        "[[connections]]\nname = \"a\"\nike_rekey_time = \"90m\"\n"
        "child_rekey_time = 120\nreauth_time = \"0\"\nchild_rekey_bytes = \"500M\"\n"
        "child_life_packets = 1000000\n",
        "t.toml");
    BOOST_REQUIRE(c);
    BOOST_TEST(c->connections[0].ike_rekey_s == 5400u);
    BOOST_TEST(c->connections[0].child_rekey_s == 120u);
    BOOST_TEST(c->connections[0].reauth_s == 0u);
    BOOST_TEST(c->connections[0].child_rekey_bytes == 500ull << 20);
    BOOST_TEST(c->connections[0].child_life_packets == 1000000u);
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

BOOST_AUTO_TEST_SUITE(config_keys)

BOOST_AUTO_TEST_CASE(server_tuning_and_log_levels) {
    auto c = parse_config(
        "[server]\nlisten = [\"127.0.0.1\", \"::1\"]\ncookie_threshold = 0\n"
        "proposal_preference = \"client\"\n"
        "half_open_timeout = \"1m\"\ndpd_delay = 0\nnat_keepalive = \"0s\"\n"
        "fragment_size = 1400\nretransmit_timeout = \"1500ms\"\nretransmit_tries = 7\n"
        "[log]\nike = \"debug\"\ndp = \"warn\"\n",
        "/etc/postern/t.toml");
    BOOST_REQUIRE_MESSAGE(c, (c ? "" : c.error().to_string()));
    BOOST_TEST(c->dir == "/etc/postern");
    BOOST_TEST(c->cookie_threshold == 0u);
    BOOST_TEST(!c->prefer_server_proposals);
    BOOST_TEST(c->half_open_timeout_s == 60u);
    BOOST_TEST(c->dpd_delay_s == 0u);
    BOOST_TEST(c->nat_keepalive_s == 0u);
    BOOST_TEST(c->fragment_size == 1400u);
    BOOST_TEST(c->retransmit_timeout_ms == 1500u);
    BOOST_TEST(c->retransmit_tries == 7u);
    BOOST_TEST(c->log.ike == "debug");
    BOOST_TEST(c->log.dp == "warn");
    BOOST_TEST(c->log.net.empty());
    BOOST_TEST(c->lines.at("server.fragment_size") == 8u);
    BOOST_TEST(c->lines.at("log.dp") == 13u);
    // A bare number of retransmit_timeout is milliseconds.
    auto ms = parse_config("[server]\nretransmit_timeout = 250\n", "t.toml");
    BOOST_REQUIRE(ms);
    BOOST_TEST(ms->retransmit_timeout_ms == 250u);
}

BOOST_AUTO_TEST_CASE(dos_protection_keys) {
    auto d = parse_config("", "t.toml");
    BOOST_REQUIRE(d);
    BOOST_TEST(d->init_rate_per_address == 10u);
    BOOST_TEST(d->half_open_per_address == 5u);
    BOOST_TEST(d->half_open_limit == 1024u);
    BOOST_TEST(d->max_ike_sas_per_identity == 0u);
    BOOST_TEST(d->max_peer_certs == 8u);
    BOOST_TEST(d->max_peer_cert_bytes == 65536u);
    auto c = parse_config(
        "[server]\ninit_rate_per_address = 3\nhalf_open_per_address = 0\nhalf_open_limit = 64\n"
        "max_ike_sas_per_identity = 2\nmax_peer_certs = 4\nmax_peer_cert_bytes = 8192\n"
        "[[connections]]\nname = \"a\"\nlocal_auth = \"psk\"\nremote_auth = \"psk\"\n"
        "psk = \"0123456789abcdef0123456789\"\nlocal_id = \"gw\"\nmax_ike_sas_per_identity = 1\n"
        "[[connections]]\nname = \"b\"\nlocal_auth = \"psk\"\nremote_auth = \"psk\"\n"
        "psk = \"0123456789abcdef0123456789\"\nlocal_id = \"gw\"\n",
        "t.toml");
    BOOST_REQUIRE_MESSAGE(c, (c ? "" : c.error().to_string()));
    BOOST_TEST(c->init_rate_per_address == 3u);
    BOOST_TEST(c->half_open_per_address == 0u);
    BOOST_TEST(c->half_open_limit == 64u);
    BOOST_TEST(c->max_ike_sas_per_identity == 2u);
    BOOST_TEST(c->max_peer_certs == 4u);
    BOOST_TEST(c->max_peer_cert_bytes == 8192u);
    BOOST_REQUIRE(c->connections.size() == 2u);
    BOOST_TEST(c->connections[0].max_ike_sas_per_identity.value_or(99) == 1u);
    BOOST_TEST(!c->connections[1].max_ike_sas_per_identity);
    // The hard cap sits above the cookie threshold; the error names the file, line and key.
    auto e = error_of("[server]\ncookie_threshold = 100\nhalf_open_limit = 50\n");
    BOOST_TEST(e.key == "server.half_open_limit");
    BOOST_TEST(e.line == 3u);
    BOOST_TEST(e.message.find("cookie_threshold (100)") != std::string::npos);
    BOOST_TEST(parse_config("[server]\nhalf_open_limit = 0\ncookie_threshold = 100\n", "t.toml")
                   .has_value());
    BOOST_TEST(error_of("[server]\nmax_peer_certs = 65\n").key == "server.max_peer_certs");
    BOOST_TEST(error_of("[server]\ninit_rate_per_address = -1\n").key ==
               "server.init_rate_per_address");
}

BOOST_AUTO_TEST_CASE(server_values_are_checked) {
    BOOST_TEST(error_of("[server]\nhalf_open_timeout = 0\n").key == "server.half_open_timeout");
    BOOST_TEST(error_of("[server]\nhalf_open_timeout = \"500ms\"\n").key ==
               "server.half_open_timeout");
    BOOST_TEST(error_of("[server]\nretransmit_timeout = \"1.5s\"\n").key ==
               "server.retransmit_timeout");
    BOOST_TEST(error_of("[server]\ncookie_threshold = -1\n").key == "server.cookie_threshold");
    BOOST_TEST(error_of("[server]\nproposal_preference = \"peer\"\n").key ==
               "server.proposal_preference");
    BOOST_TEST(error_of("[server]\nfragment_size = 100\n").message ==
               "expected an integer 576-65000");
    BOOST_TEST(error_of("[server]\nretransmit_tries = 0\n").key == "server.retransmit_tries");
    BOOST_TEST(error_of("[server]\nlisten = [\"0.0.0.0\", \"eth0\"]\n").key == "server.listen[1]");
    BOOST_TEST(error_of("[server]\nport = 4500\n").key == "server.natt_port");
    BOOST_TEST(error_of("[log]\nike = \"loud\"\n").key == "log.ike");
    auto e = error_of("[log]\nike = \"info\"\nssl = \"info\"\n");
    BOOST_TEST(e.to_string() == "test.toml:3: log.ssl: unknown key");
}

BOOST_AUTO_TEST_CASE(pki_cacerts_are_resolved_and_old_keys_explained) {
    auto c = parse_config("[pki]\ncacerts = [\"ca.pem\", \"/abs/other.pem\"]\n", "/etc/p/p.toml");
    BOOST_REQUIRE(c);
    BOOST_TEST(c->cacerts == (std::vector<std::string>{"/etc/p/ca.pem", "/abs/other.pem"}));
    auto e = error_of("[pki]\nserver_cert = \"/etc/postern/pki/server.pem\"\n");
    BOOST_TEST(e.key == "pki.server_cert");
    BOOST_TEST(e.message.find("cacerts") != std::string::npos, e.message);
}

BOOST_AUTO_TEST_CASE(connection_keys) {
    auto c = parse_config(
        "[pools.p]\nipv4 = \"10.1.0.0/24\"\n"
        "[[connections]]\nname = \"a\"\nlocal_id = \"C=CH, O=Test, CN=vpn\"\n"
        "remote_id = \"*.example.com\"\nlocal_auth = \"pubkey\"\nremote_auth = \"eap-tls\"\n"
        "cert = \"pki/a.pem\"\nkey = \"/keys/a.key\"\npools = [\"p\"]\n"
        "dns_domains = [\"example.com\"]\nsplit_include = [\"10.0.0.0/8\", \"fd00::/8\"]\n"
        "local_ts = [\"10.0.0.0/8\"]\nremote_ts = [\"10.1.0.0/24\"]\n"
        "remote_addrs = [\"192.0.2.1\"]\nremote_port = 4500\nrequest_virtual_ip = true\n"
        "start = true\nfragmentation = false\n"
        "[[connections]]\nname = \"b\"\npsk_file = \"b.psk\"\n",
        "/etc/postern/postern.toml");
    BOOST_REQUIRE_MESSAGE(c, (c ? "" : c.error().to_string()));
    const auto& a = c->connections[0];
    BOOST_TEST(a.where == "connections[0]");
    BOOST_TEST(a.line == 3u);
    BOOST_TEST((a.remote_auth == AuthKind::EapTls));
    BOOST_TEST(a.cert == "/etc/postern/pki/a.pem");
    BOOST_TEST(a.key_file == "/keys/a.key");
    BOOST_TEST(a.split_include.size() == 2u);
    BOOST_TEST(a.remote_addrs.at(0) == "192.0.2.1");
    BOOST_TEST(a.remote_port == 4500u);
    BOOST_TEST(a.request_virtual_ip);
    BOOST_TEST(a.start);
    BOOST_TEST(!a.fragmentation);
    BOOST_TEST(c->connections[1].psk_file == "/etc/postern/b.psk");
    BOOST_TEST(c->connections[1].remote_port == 500u);  // server.port
    BOOST_TEST((c->connections[1].remote_auth == AuthKind::Pubkey));
}

BOOST_AUTO_TEST_CASE(connection_values_are_checked) {
    const std::string head = "[[connections]]\nname = \"a\"\n";
    auto key = [&](const std::string& more) { return error_of(head + more).key; };
    BOOST_TEST(key("local_id = \"keyid:zz\"\n") == "connections[0].local_id");
    BOOST_TEST(key("remote_id = \"\"\n") == "connections[0].remote_id");
    BOOST_TEST(key("psk = \"x\"\npsk_file = \"y\"\n") == "connections[0].psk_file");
    BOOST_TEST(key("psk = \"\"\n") == "connections[0].psk");
    BOOST_TEST(key("psk = 12345\n") == "connections[0].psk");
    BOOST_TEST(key("split_include = [\"10.0.0.1/8\"]\n") == "connections[0].split_include[0]");
    BOOST_TEST(key("remote_ts = [\"10.0.0.0/8\", \"x\"]\n") == "connections[0].remote_ts[1]");
    BOOST_TEST(key("remote_addrs = [\"vpn.example.com\"]\n") == "connections[0].remote_addrs[0]");
    BOOST_TEST(key("remote_port = 0\n") == "connections[0].remote_port");
    BOOST_TEST(key("start = true\n") == "connections[0].start");
    BOOST_TEST(key("request_virtual_ip = 1\n") == "connections[0].request_virtual_ip");
    BOOST_TEST(key("dns_domains = [\"a b\"]\n") == "connections[0].dns_domains[0]");
    BOOST_TEST(key("certificate = \"x\"\n") == "connections[0].certificate");
    auto e = error_of(head + "[[connections]]\nname = \"a\"\n");
    BOOST_TEST(e.key == "connections[1].name");
    BOOST_TEST(e.line == 4u);
    BOOST_TEST(e.message.find("already exists") != std::string::npos, e.message);
}

BOOST_AUTO_TEST_CASE(eap_keys) {
    auto c = parse_config(
        "[[connections]]\nname = \"a\"\nremote_auth = \"eap\"\neap_methods = [\"tls\", \"mschapv2\"]\n",
        "/etc/postern/postern.toml");
    BOOST_REQUIRE_MESSAGE(c, (c ? "" : c.error().to_string()));
    BOOST_TEST((c->connections[0].remote_auth == AuthKind::Eap));
    BOOST_TEST((c->connections[0].eap_methods == std::vector<std::string>{"tls", "mschapv2"}));

    // The TLS version is the eap-tls plugin's setting now.
    auto e = error_of("[server]\neap_tls_max_version = \"1.3\"\n");
    BOOST_TEST(e.key == "server.eap_tls_max_version");
    BOOST_TEST(e.message.find("[plugins.eap-tls] max_version") != std::string::npos);
    const std::string head = "[[connections]]\nname = \"a\"\n";
    e = error_of(head + "remote_auth = \"eap\"\neap_methods = [\"tls\", \"md5\"]\n");
    BOOST_TEST(e.key == "connections[0].eap_methods[1]");
    BOOST_TEST(e.line == 4u);
    BOOST_TEST(e.message == "unknown EAP method \"md5\" (mschapv2, tls)");
    e = error_of(head + "remote_auth = \"eap\"\neap_methods = [\"tls\", \"tls\"]\n");
    BOOST_TEST(e.message == "\"tls\" is listed twice");
    e = error_of(head + "remote_auth = \"eap-tls\"\neap_methods = [\"tls\"]\n");
    BOOST_TEST(e.key == "connections[0].eap_methods");
    BOOST_TEST(e.message.find("only with remote_auth = \"eap\"") == 0u, e.message);
    e = error_of(head + "local_auth = \"eap\"\n");
    BOOST_TEST(e.key == "connections[0].local_auth");
    BOOST_TEST(e.line == 3u);
}

BOOST_AUTO_TEST_SUITE_END()
