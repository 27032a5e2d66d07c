// Each generator of `postern profile` from a ProfileInput built here: the Apple plist parses
// and carries the server's identity and proposals, the .sswan is JSON with the app's keys, the
// PowerShell script names the CA, server and constants, the swanctl snippet holds proposals
// that parse and a well-formed structure.
#include <boost/test/unit_test.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>

#include "daemon/ctl/profile_model.hpp"
#include "ike/crypto/algorithms.hpp"
#include "profile_test_util.hpp"

using namespace postern::ctl::profile;
using namespace postern::ctl::profile::test;

namespace {

const ProfileFile& file_of(const Profile& p, const std::string& kind) {
    for (const auto& f : p.files)
        if (f.kind == kind) return f;
    throw std::runtime_error("no file of kind " + kind);
}

bool contains(const std::string& text, const std::string& what) {
    return text.find(what) != std::string::npos;
}

PValue apple_plist(const ProfileInput& in, bool macos = false) {
    auto p = generate_apple(in, macos);
    if (!p) throw std::runtime_error(p.error().message);
    BOOST_TEST(p->files.size() == 1u);
    return parse_plist(file_of(*p, "mobileconfig").content);
}

const PValue& payload(const PValue& top, const std::string& type) {
    for (const auto& p : top["PayloadContent"].array())
        if (p["PayloadType"].str() == type) return p;
    throw std::runtime_error("no payload " + type);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(profile_apple)

BOOST_AUTO_TEST_CASE(ios_profile_for_a_gcm_first_server) {
    const auto in = gcm_input();
    const PValue top = apple_plist(in);
    BOOST_TEST(top["PayloadType"].str() == "Configuration");
    BOOST_TEST(top["PayloadVersion"].integer() == 1);
    BOOST_TEST(!top.has("PayloadScope"));
    BOOST_TEST(top["PayloadContent"].array().size() == 2u);

    const PValue& vpn = payload(top, "com.apple.vpn.managed");
    BOOST_TEST(vpn["VPNType"].str() == "IKEv2");
    const PValue& ike = vpn["IKEv2"];
    BOOST_TEST(ike["RemoteAddress"].str() == "vpn.postern.test");
    BOOST_TEST(ike["RemoteIdentifier"].str() == "vpn.postern.test");
    BOOST_TEST(ike["LocalIdentifier"].str() == "alice");
    BOOST_TEST(ike["AuthenticationMethod"].str() == "None");
    BOOST_TEST(ike["ExtendedAuthEnabled"].integer() == 1);
    BOOST_TEST(ike["AuthName"].str() == "alice");
    BOOST_TEST(!ike.has("AuthPassword"));  // the device asks; Postern has only the NT hash
    BOOST_TEST(ike["EnablePFS"].integer() == 0);
    BOOST_TEST(ike["DeadPeerDetectionRate"].str() == "Medium");
    BOOST_TEST(ike["DisableMOBIKE"].integer() == 0);
    BOOST_TEST(ike["DisableRedirect"].integer() == 1);
    BOOST_TEST(ike["OnDemandEnabled"].integer() == 0);
    BOOST_TEST(ike["ServerCertificateCommonName"].str() == "vpn.postern.test");
    BOOST_TEST(ike["ServerCertificateIssuerCommonName"].str() == "Postern Test Intermediate CA");
    const PValue& ike_sa = ike["IKESecurityAssociationParameters"];
    BOOST_TEST(ike_sa["EncryptionAlgorithm"].str() == "AES-256-GCM");
    BOOST_TEST(ike_sa["IntegrityAlgorithm"].str() == "SHA2-256");
    BOOST_TEST(ike_sa["DiffieHellmanGroup"].integer() == 19);
    BOOST_TEST(ike_sa["LifeTimeInMinutes"].integer() == 1410);
    const PValue& child = ike["ChildSecurityAssociationParameters"];
    BOOST_TEST(child["EncryptionAlgorithm"].str() == "AES-256-GCM");
    BOOST_TEST(!child.has("IntegrityAlgorithm"));
    BOOST_TEST(child["LifeTimeInMinutes"].integer() == 1410);  // the server rekeys its CHILD_SAs at 26 h
    BOOST_TEST(vpn["IPv4"]["OverridePrimary"].integer() == 1);

    const PValue& ca = payload(top, "com.apple.security.root");
    BOOST_TEST(ca["PayloadContent"].is_data);
    BOOST_TEST(ca["PayloadContent"].data == base64(root_ca().der()));
}

BOOST_AUTO_TEST_CASE(cbc_only_server_maps_integrity) {
    const PValue top = apple_plist(cbc_input());
    const PValue& ike = payload(top, "com.apple.vpn.managed")["IKEv2"];
    BOOST_TEST(ike["IKESecurityAssociationParameters"]["EncryptionAlgorithm"].str() == "AES-128");
    BOOST_TEST(ike["IKESecurityAssociationParameters"]["IntegrityAlgorithm"].str() == "SHA2-384");
    BOOST_TEST(ike["IKESecurityAssociationParameters"]["DiffieHellmanGroup"].integer() == 14);
    BOOST_TEST(ike["ChildSecurityAssociationParameters"]["EncryptionAlgorithm"].str() == "AES-128");
    BOOST_TEST(ike["ChildSecurityAssociationParameters"]["IntegrityAlgorithm"].str() == "SHA2-256");
}

BOOST_AUTO_TEST_CASE(uuids_are_stable_across_runs_and_differ_between_users) {
    const PValue a1 = apple_plist(gcm_input("alice"));
    const PValue a2 = apple_plist(gcm_input("alice"));
    const PValue b = apple_plist(gcm_input("bob"));
    BOOST_TEST(a1["PayloadUUID"].str() == a2["PayloadUUID"].str());
    BOOST_TEST(a1["PayloadUUID"].str() != b["PayloadUUID"].str());
    BOOST_TEST(payload(a1, "com.apple.vpn.managed")["PayloadUUID"].str() ==
               payload(a2, "com.apple.vpn.managed")["PayloadUUID"].str());
    BOOST_TEST(payload(a1, "com.apple.vpn.managed")["PayloadUUID"].str() !=
               payload(b, "com.apple.vpn.managed")["PayloadUUID"].str());
    BOOST_TEST(a1["PayloadUUID"].str() !=
               payload(a1, "com.apple.vpn.managed")["PayloadUUID"].str());
    // Byte for byte the same profile.
    BOOST_TEST(generate_apple(gcm_input(), false)->files[0].content ==
               generate_apple(gcm_input(), false)->files[0].content);
}

BOOST_AUTO_TEST_CASE(macos_is_system_scoped) {
    const PValue top = apple_plist(gcm_input(), true);
    BOOST_TEST(top["PayloadScope"].str() == "System");
}

BOOST_AUTO_TEST_CASE(xml_special_characters_are_escaped) {
    auto in = gcm_input("a&b<c>\"d'");
    in.connection = "r&d";
    const PValue top = apple_plist(in);
    const PValue& ike = payload(top, "com.apple.vpn.managed")["IKEv2"];
    BOOST_TEST(ike["AuthName"].str() == "a&b<c>\"d'");
    BOOST_TEST(ike["LocalIdentifier"].str() == "a&b<c>\"d'");
}

BOOST_AUTO_TEST_CASE(split_tunnel_and_pfs) {
    auto in = gcm_input();
    in.remote_ts = {"10.0.0.0/8"};
    in.esp_proposals = {"aes256gcm16-modp2048"};
    auto p = generate_apple(in, false);
    BOOST_TEST_REQUIRE(p.has_value());
    BOOST_TEST(!p->warnings.empty());
    const PValue top = parse_plist(p->files[0].content);
    const PValue& vpn = payload(top, "com.apple.vpn.managed");
    BOOST_TEST(vpn["IPv4"]["OverridePrimary"].integer() == 0);
    BOOST_TEST(vpn["IKEv2"]["EnablePFS"].integer() == 1);
    BOOST_TEST(vpn["IKEv2"]["ChildSecurityAssociationParameters"]["DiffieHellmanGroup"].integer() ==
               14);
}

BOOST_AUTO_TEST_CASE(certificate_users_need_p12) {
    auto in = gcm_input();
    in.auth = ClientAuth::eap_tls;
    auto p = generate_apple(in, false);
    BOOST_TEST_REQUIRE(!p.has_value());
    BOOST_TEST(p.error().message.find("--p12") != std::string::npos);
    in.p12 = {1, 2, 3};
    const PValue top = apple_plist(in);
    const PValue& p12 = payload(top, "com.apple.security.pkcs12");
    BOOST_TEST(p12["PayloadContent"].data == "AQID");
    const PValue& ike = payload(top, "com.apple.vpn.managed")["IKEv2"];
    BOOST_TEST(ike["PayloadCertificateUUID"].str() == p12["PayloadUUID"].str());
    BOOST_TEST(ike["ExtendedAuthEnabled"].integer() == 1);
    in.auth = ClientAuth::pubkey;
    const PValue top2 = apple_plist(in);
    BOOST_TEST(payload(top2, "com.apple.vpn.managed")["IKEv2"]["AuthenticationMethod"].str() ==
               "Certificate");
}

BOOST_AUTO_TEST_CASE(the_reader_refuses_broken_xml) {
    BOOST_CHECK_THROW(parse_plist("<plist version=\"1.0\"><dict></dict></plist>"),
                      std::runtime_error);
    std::string good = generate_apple(gcm_input(), false)->files[0].content;
    BOOST_CHECK_NO_THROW(parse_plist(good));
    std::string bad = good;
    bad.replace(bad.find("<string>alice</string>"), 22, "<string>al&ice</string>");
    BOOST_CHECK_THROW(parse_plist(bad), std::runtime_error);
    BOOST_CHECK_THROW(parse_plist(good.substr(0, good.size() / 2)), std::runtime_error);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(profile_android)

BOOST_AUTO_TEST_CASE(sswan_has_the_apps_keys) {
    auto p = generate_android(gcm_input());
    BOOST_TEST_REQUIRE(p.has_value());
    const auto j = nlohmann::json::parse(file_of(*p, "sswan").content);
    BOOST_TEST(j["uuid"].get<std::string>() == profile_uuid(gcm_input(), "sswan"));
    BOOST_TEST(j["name"].get<std::string>() == "Postern VPN (vpn.postern.test)");
    BOOST_TEST(j["type"].get<std::string>() == "ikev2-eap");
    BOOST_TEST(j["remote"]["addr"].get<std::string>() == "vpn.postern.test");
    BOOST_TEST(j["remote"]["id"].get<std::string>() == "vpn.postern.test");
    BOOST_TEST(j["remote"]["cert"].get<std::string>() == base64(root_ca().der()));
    BOOST_TEST(j["local"]["eap_id"].get<std::string>() == "alice");
    BOOST_TEST(!j["local"].contains("password"));
    BOOST_TEST(j["ike-proposal"].get<std::string>() == "aes256gcm16-prfsha256-ecp256");
    BOOST_TEST(j["esp-proposal"].get<std::string>() == "aes256gcm16");
    BOOST_TEST(!j.contains("split-tunneling"));
    // The app's strings are strongSwan proposals: they parse.
    BOOST_TEST(postern::ike::crypto::parse_proposal(j["ike-proposal"].get<std::string>(),
                                                    postern::ike::ProtocolId::IKE, {})
                   .has_value());

    const std::string txt = file_of(*p, "android-txt").content;
    BOOST_TEST(contains(txt, "IKEv2/IPSec MSCHAPv2"));
    BOOST_TEST(contains(txt, "Server address:"));
    BOOST_TEST(contains(txt, "vpn.postern.test"));
    BOOST_TEST(contains(txt, "IPSec identifier:"));
    BOOST_TEST(contains(txt, "(received from server)"));
    BOOST_TEST(contains(txt, "Postern Test Root CA"));
    BOOST_TEST(contains(txt, "BEGIN CERTIFICATE"));
    BOOST_TEST(!contains(txt, "WARNING"));
    BOOST_TEST(file_of(*p, "ca").content.rfind("-----BEGIN CERTIFICATE-----", 0) == 0u);
}

BOOST_AUTO_TEST_CASE(native_client_warnings) {
    auto in = gcm_input();
    in.ike_proposals = {"aes256gcm16-prfsha256-ecp256"};  // no group Android offers
    in.server_address = "192.0.2.1";
    auto p = generate_android(in);
    BOOST_TEST_REQUIRE(p.has_value());
    BOOST_TEST(p->warnings.size() == 2u);
    const std::string txt = file_of(*p, "android-txt").content;
    BOOST_TEST(contains(txt, "cannot connect"));
    BOOST_TEST(contains(txt, "differs from the server identity"));
    const auto j = nlohmann::json::parse(file_of(*p, "sswan").content);
    BOOST_TEST(j["remote"]["addr"].get<std::string>() == "192.0.2.1");
    BOOST_TEST(j["remote"]["id"].get<std::string>() == "vpn.postern.test");
}

BOOST_AUTO_TEST_CASE(uuid_differs_between_users) {
    const auto a = nlohmann::json::parse(generate_android(gcm_input("alice"))->files[0].content);
    const auto b = nlohmann::json::parse(generate_android(gcm_input("bob"))->files[0].content);
    BOOST_TEST(a["uuid"] != b["uuid"]);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(profile_windows)

BOOST_AUTO_TEST_CASE(script_references_ca_server_and_constants) {
    auto p = generate_windows(gcm_input());
    BOOST_TEST_REQUIRE(p.has_value());
    const std::string s = file_of(*p, "ps1").content;
    // The CA, folded into lines: compare without line breaks.
    std::string flat;
    std::remove_copy_if(s.begin(), s.end(), std::back_inserter(flat),
                        [](char c) { return c == '\r' || c == '\n'; });
    BOOST_TEST(contains(flat, base64(root_ca().der())));
    BOOST_TEST(contains(s, "Cert:\\LocalMachine\\Root"));
    BOOST_TEST(contains(s, "$Server = 'vpn.postern.test'"));
    BOOST_TEST(contains(s, "-TunnelType IKEv2"));
    BOOST_TEST(contains(s, "-AuthenticationMethod Eap"));
    BOOST_TEST(contains(s, "New-EapConfiguration"));
    BOOST_TEST(contains(s, "-EncryptionLevel Required"));
    BOOST_TEST(contains(s, "-RememberCredential"));
    BOOST_TEST(contains(s, "Remove-VpnConnection -Name $Name -Force"));
    BOOST_TEST(
        contains(s, "-EncryptionMethod AES256 -IntegrityCheckMethod SHA256 -DHGroup ECP256"));
    BOOST_TEST(contains(
        s, "-CipherTransformConstants GCMAES256 -AuthenticationTransformConstants GCMAES256"));
    BOOST_TEST(contains(s, "-PfsGroup None -Force"));
    BOOST_TEST(contains(s, "NegotiateDH2048_AES256"));
    BOOST_TEST(!contains(s, "allow_legacy_crypto = true"));
    BOOST_TEST(!contains(s, "-SplitTunneling"));
}

BOOST_AUTO_TEST_CASE(certificates_go_to_the_store_windows_looks_in) {
    // EAP-TLS with -UserCertificate: the user's store; machine certificates: the machine's.
    auto in = gcm_input();
    in.p12 = {1, 2, 3};
    in.auth = ClientAuth::eap_tls;
    auto p = generate_windows(in);
    BOOST_TEST_REQUIRE(p.has_value());
    std::string s = file_of(*p, "ps1").content;
    BOOST_TEST(contains(s, "-CertStoreLocation Cert:\\CurrentUser\\My"));
    BOOST_TEST(contains(s, "New-EapConfiguration -Tls -UserCertificate -VerifyServerIdentity"));
    BOOST_TEST(!contains(s, "Cert:\\LocalMachine\\My"));
    in.auth = ClientAuth::pubkey;
    p = generate_windows(in);
    BOOST_TEST_REQUIRE(p.has_value());
    s = file_of(*p, "ps1").content;
    BOOST_TEST(contains(s, "-CertStoreLocation Cert:\\LocalMachine\\My"));
}

BOOST_AUTO_TEST_CASE(cbc_only_and_legacy) {
    auto in = cbc_input();
    in.allow_legacy = true;
    in.remote_ts = {"10.0.0.0/8"};
    auto p = generate_windows(in);
    BOOST_TEST_REQUIRE(p.has_value());
    const std::string s = p->files[0].content;
    BOOST_TEST(
        contains(s, "-EncryptionMethod AES128 -IntegrityCheckMethod SHA384 -DHGroup Group14"));
    BOOST_TEST(contains(
        s, "-CipherTransformConstants AES128 -AuthenticationTransformConstants SHA256128"));
    BOOST_TEST(contains(s, "allow_legacy_crypto = true"));
    BOOST_TEST(contains(s, "-SplitTunneling"));
    BOOST_TEST(
        contains(s, "Add-VpnConnectionRoute -ConnectionName $Name -DestinationPrefix 10.0.0.0/8"));
}

BOOST_AUTO_TEST_CASE(quotes_in_names_stay_inside_strings) {
    auto in = gcm_input("o'brien");
    auto p = generate_windows(in);
    BOOST_TEST_REQUIRE(p.has_value());
    BOOST_TEST(contains(p->files[0].content, "'o''brien'"));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(profile_strongswan)

namespace {

// The snippet's key = value lines, keyed by their section path; throws on anything that is
// not swanctl.conf syntax (strongSwan's own parser needs charon, which needs root).
std::map<std::string, std::string> swanctl_values(const std::string& text) {
    std::map<std::string, std::string> out;
    std::vector<std::string> path;
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line)) {
        bool quoted = false;
        for (std::size_t i = 0; i < line.size(); ++i) {
            if (line[i] == '"') quoted = !quoted;
            if (line[i] == '#' && !quoted) {
                line.erase(i);
                break;
            }
        }
        auto b = line.find_first_not_of(' ');
        if (b == std::string::npos) continue;
        line = line.substr(b);
        while (!line.empty() && line.back() == ' ')
            line.pop_back();
        if (line == "}") {
            if (path.empty()) throw std::runtime_error("unbalanced }");
            path.pop_back();
        } else if (line.size() > 2 && line.substr(line.size() - 2) == " {") {
            path.push_back(line.substr(0, line.size() - 2));
        } else if (auto eq = line.find(" = "); eq != std::string::npos) {
            std::string key;
            for (const auto& p : path)
                key += p + ".";
            out[key + line.substr(0, eq)] = line.substr(eq + 3);
        } else {
            throw std::runtime_error("not swanctl syntax: " + line);
        }
    }
    if (!path.empty()) throw std::runtime_error("unclosed section");
    return out;
}

std::vector<std::string> split(const std::string& s) {
    std::vector<std::string> out;
    std::string cur;
    std::istringstream in(s);
    while (std::getline(in, cur, ','))
        out.push_back(cur);
    return out;
}

}  // namespace

BOOST_AUTO_TEST_CASE(snippet_structure_and_proposals) {
    auto p = generate_strongswan(gcm_input());
    BOOST_TEST_REQUIRE(p.has_value());
    const std::string s = file_of(*p, "swanctl").content;
    const auto v = swanctl_values(s);
    BOOST_TEST(v.at("connections.rw.version") == "2");
    BOOST_TEST(v.at("connections.rw.remote_addrs") == "vpn.postern.test");
    BOOST_TEST(v.at("connections.rw.vips") == "0.0.0.0,::");
    BOOST_TEST(v.at("connections.rw.local.auth") == "eap-mschapv2");
    BOOST_TEST(v.at("connections.rw.local.eap_id") == "alice");
    BOOST_TEST(v.at("connections.rw.remote.auth") == "pubkey");
    BOOST_TEST(v.at("connections.rw.remote.id") == "vpn.postern.test");
    BOOST_TEST(v.at("connections.rw.remote.cacerts") == "postern-vpn.postern.test-ca.pem");
    BOOST_TEST(v.at("connections.rw.children.rw.remote_ts") == "0.0.0.0/0,::/0");
    BOOST_TEST(v.at("connections.rw.children.rw.start_action") == "none");
    BOOST_TEST(v.at("secrets.eap-alice.id") == "alice");
    BOOST_TEST(v.at("secrets.eap-alice.secret") == "\"<password>\"");
    // Rekeying before the server would (26 h / 26 h): strongSwan's 4 h / 1 h.
    BOOST_TEST(v.at("connections.rw.rekey_time") == "14400s");
    BOOST_TEST(v.at("connections.rw.children.rw.rekey_time") == "3600s");

    const auto ike = split(v.at("connections.rw.proposals"));
    BOOST_TEST(ike == gcm_input().ike_proposals);
    for (const auto& prop : ike)
        BOOST_TEST(postern::ike::crypto::parse_proposal(prop, postern::ike::ProtocolId::IKE, {})
                       .has_value());
    const auto esp = split(v.at("connections.rw.children.rw.esp_proposals"));
    BOOST_TEST(esp == gcm_input().esp_proposals);
    for (const auto& prop : esp)
        BOOST_TEST(postern::ike::crypto::parse_proposal(prop, postern::ike::ProtocolId::ESP, {})
                       .has_value());
    BOOST_TEST(file_of(*p, "ca").content == pem_certificate(root_ca().der()));
}

BOOST_AUTO_TEST_CASE(selectors_families_and_short_lifetimes) {
    auto in = cbc_input();
    in.remote_ts = {"10.1.0.0/16", "fd00:1::/64"};
    in.want_ipv6 = false;
    in.ike_lifetime_s = 2 * 3600;
    in.child_lifetime_s = 1800;
    const auto v = swanctl_values(generate_strongswan(in)->files[0].content);
    BOOST_TEST(v.at("connections.rw.vips") == "0.0.0.0");
    BOOST_TEST(v.at("connections.rw.children.rw.remote_ts") == "10.1.0.0/16,fd00:1::/64");
    BOOST_TEST(v.at("connections.rw.rekey_time") == "5400s");
    BOOST_TEST(v.at("connections.rw.children.rw.rekey_time") == "900s");
    BOOST_TEST(v.at("connections.rw.proposals") == "aes128-sha384-modp2048");
}

BOOST_AUTO_TEST_SUITE_END()
