// build_engine_config: from postern.toml to the engine's configuration, reading the files the
// config names. Each test writes its config (and copies the test PKI files it needs) into a
// temporary folder, so relative paths are exercised too.

#include <boost/test/unit_test.hpp>

#include <filesystem>
#include <fstream>

#include "daemon/config.hpp"
#include "daemon/engine_setup.hpp"
#include "ike/policy/identity.hpp"

using namespace postern;
using namespace postern::daemon;
namespace fs = std::filesystem;

namespace {

struct TempDir {
    fs::path path;
    TempDir() {
        char tmpl[] = "/tmp/postern-cfg-XXXXXX";
        path = mkdtemp(tmpl);
        for (const char* f :
             {"root-ca.pem", "intermediate-ca.pem", "server-rsa.pem", "server-rsa.key",
              "server-rsa-chain.pem", "server-ecdsa.key", "server-ecdsa.pem"})
            fs::copy_file(fs::path(POSTERN_TEST_DATA_DIR) / "pki" / f, path / f);
    }
    ~TempDir() { fs::remove_all(path); }
    void write(const std::string& name, const std::string& text) const {
        std::ofstream(path / name) << text;
    }
    // Loads `text` as postern.toml in the folder.
    Config load(const std::string& text) const {
        write("postern.toml", text);
        auto c = load_config((path / "postern.toml").string());
        BOOST_REQUIRE_MESSAGE(c, (c ? "" : c.error().to_string()));
        return *c;
    }
    ConfigError build_error(const std::string& text) const {
        auto e = build_engine_config(load(text));
        BOOST_REQUIRE_MESSAGE(!e, "build_engine_config unexpectedly accepted:\n" << text);
        return e.error();
    }
};

const std::string kPsk =
    "[pools.clients]\nipv4 = \"10.99.0.0/24\"\ndns = [\"10.99.0.1\", \"10.99.0.2\"]\n"
    "[[connections]]\nname = \"rw\"\nlocal_id = \"vpn.postern.test\"\nlocal_auth = \"psk\"\n"
    "remote_auth = \"psk\"\n";

const std::string kCert =
    "[pki]\ncacerts = [\"root-ca.pem\"]\n"                  // 1-2
    "[[connections]]\nname = \"certs\"\n"                   // 3-4
    "local_auth = \"pubkey\"\nremote_auth = \"pubkey\"\n";  // 5-6

}  // namespace

BOOST_AUTO_TEST_SUITE(engine_setup)

BOOST_AUTO_TEST_CASE(psk_connection_inline_with_pools_and_defaults) {
    TempDir d;
    auto c = d.load(kPsk +
                    "psk = \"a long enough pre-shared key\"\npools = [\"clients\"]\n"
                    "dns_domains = [\"corp.example\"]\nsplit_include = [\"10.0.0.0/8\"]\n"
                    "local_ts = [\"10.0.0.0/8\"]\nremote_ts = [\"10.99.0.0/24\"]\n"
                    "fragmentation = false\nike_rekey_time = \"1h\"\n"
                    "child_rekey_bytes = \"1G\"\n");
    std::vector<std::string> warnings;
    auto e = build_engine_config(c, &warnings);
    BOOST_REQUIRE_MESSAGE(e, (e ? "" : e.error().to_string()));
    BOOST_TEST(warnings.empty());
    BOOST_REQUIRE_EQUAL(e->connections.size(), 1u);
    const auto& k = e->connections[0];
    BOOST_TEST(k.name == "rw");
    BOOST_TEST((k.local_auth == ike::AuthClass::Psk && k.remote_auth == ike::AuthClass::Psk));
    BOOST_TEST(ike::policy::to_string(k.local_id) == "vpn.postern.test");
    BOOST_TEST(k.remote_id.text() == "%any");
    BOOST_TEST(k.psk.size() == std::string("a long enough pre-shared key").size());
    BOOST_TEST(k.ike_proposals.size() == kDefaultIkeProposals.size());
    BOOST_TEST(k.esp_proposals.size() == kDefaultEspProposals.size());
    BOOST_TEST(k.pools == std::vector<std::string>{"clients"});
    BOOST_REQUIRE_EQUAL(k.dns.size(), 2u);
    BOOST_TEST(k.dns[1].to_string() == "10.99.0.2");
    BOOST_TEST(k.dns_domains == std::vector<std::string>{"corp.example"});
    BOOST_REQUIRE_EQUAL(k.split_include.size(), 1u);
    BOOST_TEST(k.split_include[0].to_string() == "10.0.0.0/8");
    BOOST_REQUIRE_EQUAL(k.local_ts.size(), 1u);
    BOOST_TEST(k.local_ts[0].to_string() == "10.0.0.0/8");
    BOOST_REQUIRE_EQUAL(k.remote_ts.size(), 1u);
    BOOST_TEST(!k.fragmentation);
    // Rekey times as given; hard limits 10 % later; the jitter a tenth, at most an hour.
    BOOST_TEST(k.ike_life.rekey.count() == 3600);
    BOOST_TEST(k.ike_life.life.count() == 3960);
    BOOST_TEST(k.ike_life.jitter.count() == 360);
    BOOST_TEST(k.child_life.rekey.count() == 26 * 3600);
    BOOST_TEST(k.child_life.jitter.count() == 3600);
    BOOST_TEST(k.child_life.rekey_bytes == 1ull << 30);
    BOOST_TEST(k.child_life.life_bytes == (1ull << 30) / 10 * 11);
    BOOST_TEST(k.reauth_time.count() == 0);
    BOOST_TEST(!k.remote_endpoint.has_value());
    BOOST_TEST(e->trust_anchors.empty());
}

BOOST_AUTO_TEST_CASE(encap_and_client_isolation_reach_the_engine) {
    TempDir d;
    const std::string conn = kPsk + "psk = \"a long enough pre-shared key\"\npools = [\"clients\"]\n";
    // Defaults: no forced encapsulation; clients isolated from the pool except the gateway.
    auto e = build_engine_config(d.load(conn));
    BOOST_REQUIRE_MESSAGE(e, (e ? "" : e.error().to_string()));
    const auto& k = e->connections.at(0);
    BOOST_TEST(!k.force_encap);
    BOOST_TEST(ike::policy::to_string(k.isolated) == "10.99.0.0-10.99.0.253, 10.99.0.255/32");
    // encap = true, client_to_client = true: forced, nothing isolated.
    auto open = build_engine_config(d.load(conn + "encap = true\nclient_to_client = true\n"));
    BOOST_REQUIRE_MESSAGE(open, (open ? "" : open.error().to_string()));
    BOOST_TEST(open->connections.at(0).force_encap);
    BOOST_TEST(open->connections.at(0).isolated.empty());
    // A connection without pools isolates nothing (site to site).
    auto s2s = build_engine_config(d.load(
        "[[connections]]\nname = \"s2s\"\nlocal_id = \"gw.postern.test\"\nlocal_auth = \"psk\"\n"
        "remote_auth = \"psk\"\npsk = \"a long enough pre-shared key\"\n"));
    BOOST_REQUIRE_MESSAGE(s2s, (s2s ? "" : s2s.error().to_string()));
    BOOST_TEST(s2s->connections.at(0).isolated.empty());
    // Not a bool: file, line and key.
    TempDir bad;
    bad.write("postern.toml", conn + "encap = \"yes\"\n");
    auto c = load_config((bad.path / "postern.toml").string());
    BOOST_REQUIRE(!c);
    BOOST_TEST(c.error().key == "connections[0].encap", c.error().to_string());
    BOOST_TEST(c.error().line == 11u, c.error().to_string());
}

BOOST_AUTO_TEST_CASE(server_tuning_reaches_the_engine) {
    TempDir d;
    auto c = d.load(
        "[server]\ncookie_threshold = 5\nhalf_open_timeout = \"10s\"\ndpd_delay = 0\n"
        "nat_keepalive = \"1m\"\nfragment_size = 1000\nretransmit_timeout = \"500ms\"\n"
        "retransmit_tries = 3\nallow_legacy_crypto = true\n");
    auto e = build_engine_config(c);
    BOOST_REQUIRE(e);
    BOOST_TEST(e->cookie_threshold == 5u);
    BOOST_TEST(e->half_open_timeout.count() == 10);
    BOOST_TEST(e->dpd_delay.count() == 0);
    BOOST_TEST(e->nat_keepalive.count() == 60);
    BOOST_TEST(e->fragment_size == 1000u);
    BOOST_TEST(e->retransmit_timeout.count() == 500);
    BOOST_TEST(e->retransmit_tries == 3u);
    BOOST_TEST(e->algorithms.allow_legacy);
}

BOOST_AUTO_TEST_CASE(psk_file_is_relative_to_the_config_and_its_first_line_counts) {
    TempDir d;
    d.write("rw.psk", "first line is the secret\r\nsecond line is not\n");
    auto e = build_engine_config(d.load(kPsk + "psk_file = \"rw.psk\"\n"));
    BOOST_REQUIRE_MESSAGE(e, (e ? "" : e.error().to_string()));
    BOOST_TEST(e->connections[0].psk.size() == std::string("first line is the secret").size());

    d.write("empty.psk", "\nsecret on line two\n");
    auto err = d.build_error(kPsk + "psk_file = \"empty.psk\"\n");
    BOOST_TEST(err.key == "connections[0].psk_file");
    BOOST_TEST(err.line == 9u);
    BOOST_TEST(err.message.find("first line") != std::string::npos, err.message);

    err = d.build_error(kPsk + "psk_file = \"nowhere.psk\"\n");
    BOOST_TEST(err.file == (d.path / "postern.toml").string());
    BOOST_TEST(err.line == 9u);
    BOOST_TEST(err.key == "connections[0].psk_file");
    BOOST_TEST(err.message ==
               "cannot read " + (d.path / "nowhere.psk").string() + ": No such file or directory");
}

BOOST_AUTO_TEST_CASE(psk_problems) {
    TempDir d;
    // No key of its own: built, for a plugin's PSK source to serve (PluginSet::apply refuses
    // it when none is loaded: tests/scenario/plugins).
    auto keyless = build_engine_config(d.load(kPsk));
    BOOST_REQUIRE(keyless);
    BOOST_TEST(keyless->connections[0].psk.empty());

    auto err = d.build_error(
        "[[connections]]\nname = \"rw\"\nlocal_auth = \"psk\"\nremote_auth = \"psk\"\n"
        "psk = \"0123456789abcdef0123\"\n");
    BOOST_TEST(err.key == "connections[0].local_id");
    BOOST_TEST(err.line == 1u);  // not written: the connection's own line

    std::vector<std::string> warnings;
    auto e = build_engine_config(d.load(kPsk + "psk = \"short\"\n"), &warnings);
    BOOST_REQUIRE(e);
    BOOST_REQUIRE_EQUAL(warnings.size(), 1u);
    BOOST_TEST(warnings[0].find("connections[0].psk: the PSK is shorter") != std::string::npos,
               warnings[0]);
}

BOOST_AUTO_TEST_CASE(pubkey_connection_loads_chain_key_and_cas) {
    TempDir d;
    auto e = build_engine_config(d.load(kCert + "cert = \"server-rsa-chain.pem\"\n"
                                                "key = \"server-rsa.key\"\n"
                                                "local_id = \"vpn.postern.test\"\n"
                                                "remote_id = \"*@postern.test\"\n"));
    BOOST_REQUIRE_MESSAGE(e, (e ? "" : e.error().to_string()));
    BOOST_TEST(e->trust_anchors.size() == 1u);
    const auto& k = e->connections[0];
    BOOST_TEST(k.local_chain.size() == 2u);  // end entity, then the intermediate
    BOOST_TEST(k.local_key != nullptr);
    BOOST_TEST(ike::policy::to_string(k.local_id) == "vpn.postern.test");
    BOOST_TEST(k.remote_id.text() == "*@postern.test");
    BOOST_TEST((k.local_auth == ike::AuthClass::PublicKey));
    // An absolute path works as well as a relative one.
    e = build_engine_config(d.load(kCert + "cert = \"" + (d.path / "server-rsa.pem").string() +
                                   "\"\nkey = \"server-rsa.key\"\n"));
    BOOST_REQUIRE_MESSAGE(e, (e ? "" : e.error().to_string()));
}

BOOST_AUTO_TEST_CASE(empty_local_id_comes_from_the_certificate_with_a_warning) {
    TempDir d;
    std::vector<std::string> warnings;
    auto e = build_engine_config(
        d.load(kCert + "cert = \"server-ecdsa.pem\"\nkey = \"server-ecdsa.key\"\n"), &warnings);
    BOOST_REQUIRE_MESSAGE(e, (e ? "" : e.error().to_string()));
    BOOST_TEST(ike::policy::to_string(e->connections[0].local_id) == "ecdsa.postern.test");
    BOOST_REQUIRE_EQUAL(warnings.size(), 1u);
    BOOST_TEST(warnings[0].find("connections[0].local_id: not set; using \"ecdsa.postern.test\"") !=
                   std::string::npos,
               warnings[0]);
}

BOOST_AUTO_TEST_CASE(missing_cert_file_names_file_line_and_key) {
    TempDir d;
    auto err = d.build_error(kCert + "cert = \"gone.pem\"\nkey = \"server-rsa.key\"\n");
    BOOST_TEST(err.to_string() ==
               (d.path / "postern.toml").string() + ":7: connections[0].cert: cannot read " +
                   (d.path / "gone.pem").string() + ": No such file or directory");
    err = d.build_error(kCert + "cert = \"server-rsa.pem\"\nkey = \"gone.key\"\n");
    BOOST_TEST(err.key == "connections[0].key");
    BOOST_TEST(err.line == 8u);
}

BOOST_AUTO_TEST_CASE(broken_files_say_what_is_wrong) {
    TempDir d;
    d.write("junk.pem", "not a certificate\n");
    auto err = d.build_error(kCert + "cert = \"junk.pem\"\nkey = \"server-rsa.key\"\n");
    BOOST_TEST(err.key == "connections[0].cert");
    BOOST_TEST(err.message.find((d.path / "junk.pem").string() + ": ") == 0u, err.message);
    err = d.build_error(kCert + "cert = \"server-rsa.pem\"\nkey = \"server-rsa.pem\"\n");
    BOOST_TEST(err.key == "connections[0].key");
    err = d.build_error("[pki]\ncacerts = [\"root-ca.pem\", \"junk.pem\"]\n");
    BOOST_TEST(err.key == "pki.cacerts[1]");
    BOOST_TEST(err.line == 2u);
    err = d.build_error("[pki]\ncacerts = [\"nope.pem\"]\n");
    BOOST_TEST(err.message.find("No such file") != std::string::npos, err.message);
}

BOOST_AUTO_TEST_CASE(key_must_belong_to_the_certificate) {
    TempDir d;
    auto err = d.build_error(kCert + "cert = \"server-rsa.pem\"\nkey = \"server-ecdsa.key\"\n");
    BOOST_TEST(err.key == "connections[0].key");
    BOOST_TEST(err.line == 8u);
    BOOST_TEST(err.message.find("does not belong to the certificate") != std::string::npos,
               err.message);
}

BOOST_AUTO_TEST_CASE(local_id_must_be_in_the_certificate) {
    TempDir d;
    auto err = d.build_error(kCert +
                             "cert = \"server-rsa.pem\"\nkey = \"server-rsa.key\"\n"
                             "local_id = \"other.postern.test\"\n");
    BOOST_TEST(err.key == "connections[0].local_id");
    BOOST_TEST(err.line == 9u);
    BOOST_TEST(err.message.find("vpn.postern.test") != std::string::npos, err.message);
}

BOOST_AUTO_TEST_CASE(pubkey_needs_cert_key_and_cas) {
    TempDir d;
    auto err = d.build_error(kCert);
    BOOST_TEST(err.key == "connections[0].cert");
    BOOST_TEST(err.line == 3u);
    err = d.build_error(kCert + "cert = \"server-rsa.pem\"\n");
    BOOST_TEST(err.key == "connections[0].key");
    err = d.build_error(
        "[[connections]]\nname = \"a\"\nlocal_auth = \"psk\"\nlocal_id = \"x.test\"\n"
        "psk = \"0123456789abcdef\"\nremote_auth = \"pubkey\"\n");
    BOOST_TEST(err.key == "connections[0].remote_auth");
    BOOST_TEST(err.line == 6u);
    BOOST_TEST(err.message.find("pki.cacerts") != std::string::npos, err.message);
}

BOOST_AUTO_TEST_CASE(eap_connections_reach_the_engine) {
    TempDir d;
    const std::string server = kCert + "cert = \"server-rsa.pem\"\nkey = \"server-rsa.key\"\n";
    using M = ike::EapMethod;
    auto c = d.load(server);
    c.connections[0].remote_auth = AuthKind::EapMschapv2;  // as parsed from remote_auth
    c.connections[0].eap_only = true;
    auto e = build_engine_config(c);
    BOOST_REQUIRE(e);
    BOOST_TEST((e->connections[0].eap_methods == std::vector<M>{M::mschapv2}));
    BOOST_TEST(e->connections[0].eap_only);
    BOOST_TEST((e->connections[0].remote_auth == ike::AuthClass::Eap));
    BOOST_TEST((e->connections[0].local_auth == ike::AuthClass::PublicKey));
    c.connections[0].remote_auth = AuthKind::EapTls;
    e = build_engine_config(c);
    BOOST_REQUIRE(e);
    BOOST_TEST((e->connections[0].eap_methods == std::vector<M>{M::tls}));
    c.connections[0].remote_auth = AuthKind::Eap;
    e = build_engine_config(c);
    BOOST_REQUIRE(e);
    BOOST_TEST((e->connections[0].eap_methods == std::vector<M>{M::mschapv2, M::tls}));
    c.connections[0].eap_methods = {"tls", "mschapv2"};
    e = build_engine_config(c);
    BOOST_REQUIRE(e);
    BOOST_TEST((e->connections[0].eap_methods == std::vector<M>{M::tls, M::mschapv2}));

    c.connections[0].local_auth = AuthKind::EapMschapv2;  // EAP on both sides
    e = build_engine_config(c);
    BOOST_REQUIRE(!e);
    BOOST_TEST(e.error().key == "connections[0].remote_auth");
}

BOOST_AUTO_TEST_CASE(eap_tls_needs_a_certificate_and_cas) {
    TempDir d;
    // The server's TLS certificate is the connection's: local_auth = psk cannot offer TLS.
    auto err = d.build_error(
        "[pki]\ncacerts = [\"root-ca.pem\"]\n[[connections]]\nname = \"a\"\nlocal_id = \"x.test\"\n"
        "local_auth = \"psk\"\npsk = \"0123456789abcdef\"\nremote_auth = \"eap-tls\"\n");
    BOOST_TEST(err.key == "connections[0].local_auth");
    BOOST_TEST(err.message.find("EAP-TLS needs local_auth = pubkey") == 0u, err.message);
    // Without CAs no client certificate could be checked.
    err = d.build_error(
        "[[connections]]\nname = \"a\"\nremote_auth = \"eap\"\ncert = \"server-rsa.pem\"\n"
        "key = \"server-rsa.key\"\n");
    BOOST_TEST(err.key == "connections[0].remote_auth");
    BOOST_TEST(err.line == 3u);
    BOOST_TEST(err.message.find("pki.cacerts") != std::string::npos, err.message);
    // eap_methods = ["mschapv2"] offers no TLS: no CAs needed then.
    auto ok = build_engine_config(d.load(
        "[[connections]]\nname = \"a\"\nremote_auth = \"eap\"\neap_methods = [\"mschapv2\"]\n"
        "cert = \"server-rsa.pem\"\nkey = \"server-rsa.key\"\n"));
    BOOST_REQUIRE_MESSAGE(ok, (ok ? "" : ok.error().to_string()));
    // posternd as an EAP-TLS client presents its cert and key.
    err = d.build_error(
        "[pki]\ncacerts = [\"root-ca.pem\"]\n[[connections]]\nname = \"a\"\n"
        "remote_auth = \"pubkey\"\nlocal_auth = \"eap-tls\"\n");
    BOOST_TEST(err.key == "connections[0].cert");
    BOOST_TEST(err.message == "local_auth = eap-tls needs cert (a PEM file)");
}

BOOST_AUTO_TEST_CASE(initiator_connection) {
    TempDir d;
    auto e = build_engine_config(
        d.load("[[connections]]\nname = \"hq\"\nremote_addrs = [\"192.0.2.10\", \"2001:db8::1\"]\n"
               "remote_port = 4501\nstart = true\nrequest_virtual_ip = true\n"
               "local_id = \"branch.test\"\nremote_id = \"hq.test\"\nlocal_auth = \"psk\"\n"
               "remote_auth = \"psk\"\npsk = \"0123456789abcdef0123\"\n"
               "ike_proposals = [\"aes128gcm16-prfsha256-ecp256\"]\n"));
    BOOST_REQUIRE_MESSAGE(e, (e ? "" : e.error().to_string()));
    const auto& k = e->connections[0];
    BOOST_REQUIRE(k.remote_endpoint.has_value());
    BOOST_TEST(k.remote_endpoint->to_string() == "192.0.2.10:4501");
    BOOST_TEST(k.request_virtual_ip);
    BOOST_TEST(k.remote_id.exact().has_value());
    BOOST_TEST(k.ike_proposals.size() == 1u);
}

BOOST_AUTO_TEST_CASE(example_config_builds) {
    auto c = load_config(POSTERN_SOURCE_DIR "/conf/postern.toml");
    BOOST_REQUIRE(c);
    auto e = build_engine_config(*c);
    BOOST_REQUIRE_MESSAGE(e, (e ? "" : e.error().to_string()));
    BOOST_TEST(e->connections.size() == 1u);
    BOOST_TEST(e->connections[0].dns.size() == 1u);
}

BOOST_AUTO_TEST_SUITE_END()
