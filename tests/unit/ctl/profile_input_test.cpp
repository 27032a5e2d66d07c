// From a postern.toml (conf/postern.toml's shape, with an EAP-MSCHAPv2 connection and the test
// PKI) to a ProfileInput, then every target generated from it.
#include <boost/test/unit_test.hpp>

#include <nlohmann/json.hpp>

#include "daemon/config.hpp"
#include "daemon/ctl/profile_input.hpp"
#include "daemon/ctl/profile_model.hpp"
#include "profile_test_util.hpp"

using namespace postern::ctl::profile;
using namespace postern::ctl::profile::test;

namespace {

// The file name only places relative paths: "../pki/x" is tests/data/pki/x.
const std::string kConfigPath = std::string(POSTERN_SOURCE_DIR) + "/tests/data/config/profile.toml";

const char* const kConfig = R"(
[server]
allow_legacy_crypto = false

[pki]
cacerts = ["../pki/other-ca.pem", "../pki/root-ca.pem"]

[pools.clients]
ipv4 = "10.99.0.0/24"
dns = ["10.99.0.1"]

[[connections]]
name = "site"
local_id = "vpn.postern.test"
local_auth = "psk"
remote_auth = "psk"
psk = "a-long-enough-pre-shared-key"

[[connections]]
name = "certs"
local_auth = "pubkey"
remote_auth = "pubkey"
cert = "../pki/server-rsa-chain.pem"
key = "../pki/server-rsa.key"

[[connections]]
name = "roadwarriors"
local_auth = "pubkey"
remote_auth = "eap-mschapv2"
cert = "../pki/server-rsa-chain.pem"
key = "../pki/server-rsa.key"
ike_proposals = ["aes256gcm16-prfsha256-ecp256", "aes256-sha256-ecp256", "aes256-sha256-modp2048"]
esp_proposals = ["aes256gcm16", "aes256-sha256"]
pools = ["clients"]
local_ts = ["0.0.0.0/0"]
ike_rekey_time = "12h"

[[connections]]
name = "dn"
local_id = "C=CH, O=Postern Test, CN=vpn.postern.test"
local_auth = "pubkey"
remote_auth = "eap-mschapv2"
cert = "../pki/server-rsa-chain.pem"
key = "../pki/server-rsa.key"
)";

postern::daemon::Config config() {
    auto c = postern::daemon::parse_config(kConfig, kConfigPath);
    if (!c) throw std::runtime_error(c.error().to_string());
    return *c;
}

Result<ProfileInput> input(InputRequest req, std::vector<std::string>* warnings = nullptr) {
    std::vector<std::string> w;
    auto r = profile_input(config(), req, w);
    if (warnings) *warnings = w;
    return r;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(profile_input_from_config)

BOOST_AUTO_TEST_CASE(first_eap_connection_identity_from_certificate) {
    std::vector<std::string> warnings;
    auto in = input({"alice", "", "", {}, {}}, &warnings);
    BOOST_TEST_REQUIRE(in.has_value(), (in ? "" : in.error().message));
    BOOST_TEST(in->connection == "roadwarriors");
    BOOST_TEST((in->auth == ClientAuth::eap_mschapv2));
    BOOST_TEST(in->server_identity == "vpn.postern.test");  // first dNSName of the certificate
    BOOST_TEST(in->server_address == "vpn.postern.test");
    BOOST_TEST(in->server_cert_cn == "vpn.postern.test");
    BOOST_TEST(in->server_cert_issuer_cn == "Postern Test Intermediate CA");
    BOOST_TEST(in->server_cert_type.empty());  // RSA
    // The CA the server's chain ends at, not the first of cacerts.
    BOOST_TEST(in->ca_der == root_ca().der());
    BOOST_TEST(in->ca_common_name == "Postern Test Root CA");
    BOOST_TEST(in->ike_proposals.size() == 3u);
    BOOST_TEST(in->ike_lifetime_s == 12u * 3600);
    BOOST_TEST(in->want_ipv4);
    BOOST_TEST(!in->want_ipv6);
    BOOST_TEST(warnings.empty());
}

BOOST_AUTO_TEST_CASE(explicit_connection_server_and_errors) {
    auto in = input({"alice", "certs", "192.0.2.1", {}, {}});
    BOOST_TEST_REQUIRE(in.has_value());
    BOOST_TEST((in->auth == ClientAuth::pubkey));
    BOOST_TEST(in->server_address == "192.0.2.1");
    BOOST_TEST(in->server_identity == "vpn.postern.test");
    BOOST_TEST(in->ike_proposals.size() >= 1u);  // the defaults

    auto unknown = input({"alice", "nope", "", {}, {}});
    BOOST_TEST_REQUIRE(!unknown.has_value());
    BOOST_TEST(unknown.error().exit_code == 3);
    auto psk = input({"alice", "site", "", {}, {}});
    BOOST_TEST_REQUIRE(!psk.has_value());
    BOOST_TEST(psk.error().message.find("pre-shared keys") != std::string::npos);
    auto dn = input({"alice", "dn", "", {}, {}});
    BOOST_TEST_REQUIRE(!dn.has_value());
    BOOST_TEST(dn.error().message.find("not a DNS name") != std::string::npos);
    BOOST_TEST(!input({"bad\nname", "", "", {}, {}}).has_value());
}

BOOST_AUTO_TEST_CASE(server_address_not_in_certificate_warns) {
    std::vector<std::string> warnings;
    auto in = input({"alice", "", "other.example", {}, {}}, &warnings);
    BOOST_TEST_REQUIRE(in.has_value());
    BOOST_TEST_REQUIRE(warnings.size() == 1u);
    BOOST_TEST(warnings[0].find("is not a name in the server certificate") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(every_target_from_the_config) {
    auto in = input({"alice", "", "", {}, {}});
    BOOST_TEST_REQUIRE(in.has_value());
    for (auto t :
         {Target::ios, Target::macos, Target::windows, Target::android, Target::strongswan}) {
        auto p = generate(t, *in);
        BOOST_TEST_REQUIRE(p.has_value(), std::string(to_string(t)));
        BOOST_TEST(!p->files.empty());
        BOOST_TEST(p->files[0].content.find("vpn.postern.test") != std::string::npos);
    }
    const auto top = parse_plist(generate(Target::ios, *in)->files[0].content);
    const PValue* vpn = nullptr;
    for (const auto& p : top["PayloadContent"].array())
        if (p["PayloadType"].str() == "com.apple.vpn.managed") vpn = &p;
    BOOST_TEST_REQUIRE(vpn != nullptr);
    BOOST_TEST((*vpn)["IKEv2"]["RemoteIdentifier"].str() == "vpn.postern.test");
    BOOST_TEST((*vpn)["IKEv2"]["IKESecurityAssociationParameters"]["LifeTimeInMinutes"].integer() ==
               690);
    const auto j = nlohmann::json::parse(generate(Target::android, *in)->files[0].content);
    BOOST_TEST(j["remote"]["cert"].get<std::string>() == base64(root_ca().der()));
}

BOOST_AUTO_TEST_SUITE_END()
