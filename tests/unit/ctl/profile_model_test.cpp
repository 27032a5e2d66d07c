// Helpers of `postern profile`: name-based UUIDs, encodings, lifetimes, and the proposal mapping
// for each client (GCM-first and CBC-only servers, PFS, legacy, nothing suitable).
#include <boost/test/unit_test.hpp>

#include "daemon/ctl/profile_model.hpp"
#include "daemon/ctl/profile_proposals.hpp"
#include "profile_test_util.hpp"

using namespace postern::ctl::profile;
using namespace postern::ctl::profile::test;

BOOST_AUTO_TEST_SUITE(profile_model)

BOOST_AUTO_TEST_CASE(uuid_v5_matches_rfc4122_known_answer) {
    // Python: uuid.uuid5(uuid.NAMESPACE_DNS, "python.org")
    BOOST_TEST(uuid_v5("6ba7b810-9dad-11d1-80b4-00c04fd430c8", "python.org") ==
               "886313e1-3b8a-5372-9b90-0c9aee199e5d");
}

BOOST_AUTO_TEST_CASE(profile_uuids_are_stable_and_distinct) {
    const auto a = gcm_input("alice"), b = gcm_input("bob");
    BOOST_TEST(profile_uuid(a, "vpn") == profile_uuid(gcm_input("alice"), "vpn"));
    BOOST_TEST(profile_uuid(a, "vpn") != profile_uuid(b, "vpn"));
    BOOST_TEST(profile_uuid(a, "vpn") != profile_uuid(a, "ca"));
    auto other_server = a;
    other_server.server_identity = "vpn2.postern.test";
    BOOST_TEST(profile_uuid(a, "vpn") != profile_uuid(other_server, "vpn"));
    const std::string u = profile_uuid(a, "vpn");
    BOOST_TEST(u.size() == 36u);
    BOOST_TEST(u[14] == '5');                                                    // version
    BOOST_TEST((u[19] == '8' || u[19] == '9' || u[19] == 'a' || u[19] == 'b'));  // variant
}

BOOST_AUTO_TEST_CASE(encodings) {
    const std::string text = "foobar";
    postern::Bytes bytes(text.begin(), text.end());
    BOOST_TEST(base64(bytes) == "Zm9vYmFy");
    BOOST_TEST(base64(postern::Bytes(bytes.begin(), bytes.begin() + 4)) == "Zm9vYg==");
    BOOST_TEST(base64_lines(bytes, 4) == "Zm9v\nYmFy\n");
    BOOST_TEST(xml_escape("a<b>&\"c'") == "a&lt;b&gt;&amp;&quot;c&apos;");
    BOOST_TEST(ps_quote("o'brien") == "'o''brien'");
}

BOOST_AUTO_TEST_CASE(client_lifetimes_are_shorter_than_the_servers) {
    BOOST_TEST(client_lifetime_minutes(24 * 3600) == 1410u);
    BOOST_TEST(client_lifetime_minutes(48 * 3600) == 1410u);  // Apple's maximum is 1440
    BOOST_TEST(client_lifetime_minutes(8 * 3600) == 450u);
    BOOST_TEST(client_lifetime_minutes(3600) == 30u);
    BOOST_TEST(client_lifetime_minutes(20 * 60) == 10u);
}

BOOST_AUTO_TEST_CASE(targets_parse) {
    BOOST_TEST((parse_target("ios") == Target::ios));
    BOOST_TEST((parse_target("strongswan") == Target::strongswan));
    BOOST_TEST(!parse_target("iOS").has_value());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(profile_proposals)

BOOST_AUTO_TEST_CASE(gcm_first_server) {
    const auto in = gcm_input();
    auto apple = choose_apple(in);
    BOOST_TEST_REQUIRE(apple.has_value());
    BOOST_TEST(apple->ike.encryption == "AES-256-GCM");
    BOOST_TEST(apple->ike.integrity == "SHA2-256");  // the PRF for an AEAD IKE SA
    BOOST_TEST(apple->ike.dh_group == 19);
    BOOST_TEST(apple->child.encryption == "AES-256-GCM");
    BOOST_TEST(apple->child.integrity.empty());
    BOOST_TEST(!apple->pfs);

    // Windows 10 has no AES-GCM for IKE: the first AES-CBC proposal wins.
    auto win = choose_windows(in);
    BOOST_TEST_REQUIRE(win.has_value());
    BOOST_TEST(win->encryption_method == "AES256");
    BOOST_TEST(win->integrity_check_method == "SHA256");
    BOOST_TEST(win->dh_group == "ECP256");
    BOOST_TEST(win->ike_source == "aes256-sha256-ecp256");
    BOOST_TEST(!win->ike_gcm);
    BOOST_TEST(win->cipher_transform == "GCMAES256");
    BOOST_TEST(win->authentication_transform == "GCMAES256");
    BOOST_TEST(win->pfs_group == "None");

    auto android = check_android_native(in);
    BOOST_TEST(android.ike.value_or("") == "aes256-sha256-modp2048");
    BOOST_TEST(android.esp.value_or("") == "aes256gcm16");

    auto sw = choose_strongswan(in);
    BOOST_TEST(sw->ike == "aes256gcm16-prfsha256-ecp256");
    BOOST_TEST(sw->esp == "aes256gcm16");
}

BOOST_AUTO_TEST_CASE(cbc_only_server) {
    const auto in = cbc_input();
    auto apple = choose_apple(in);
    BOOST_TEST_REQUIRE(apple.has_value());
    BOOST_TEST(apple->ike.encryption == "AES-128");
    BOOST_TEST(apple->ike.integrity == "SHA2-384");
    BOOST_TEST(apple->ike.dh_group == 14);
    BOOST_TEST(apple->child.encryption == "AES-128");
    BOOST_TEST(apple->child.integrity == "SHA2-256");
    auto win = choose_windows(in);
    BOOST_TEST_REQUIRE(win.has_value());
    BOOST_TEST(win->encryption_method == "AES128");
    BOOST_TEST(win->integrity_check_method == "SHA384");
    BOOST_TEST(win->dh_group == "Group14");
    BOOST_TEST(win->cipher_transform == "AES128");
    BOOST_TEST(win->authentication_transform == "SHA256128");
}

BOOST_AUTO_TEST_CASE(gcm_only_ike_needs_windows_11) {
    auto in = gcm_input();
    in.ike_proposals = {"aes128gcm16-prfsha384-ecp384"};
    auto win = choose_windows(in);
    BOOST_TEST_REQUIRE(win.has_value());
    BOOST_TEST(win->encryption_method == "GCMAES128");
    BOOST_TEST(win->integrity_check_method == "SHA384");
    BOOST_TEST(win->dh_group == "ECP384");
    BOOST_TEST(win->ike_gcm);
}

BOOST_AUTO_TEST_CASE(later_algorithms_inside_one_proposal_are_used) {
    auto in = gcm_input();
    // Apple has no 3072-bit MODP and no SHA-1; the second KE and integrity of the string fit.
    in.ike_proposals = {"aes256-sha1-sha512-modp3072-ecp384"};
    in.allow_legacy = true;
    auto apple = choose_apple(in);
    BOOST_TEST_REQUIRE(apple.has_value());
    BOOST_TEST(apple->ike.encryption == "AES-256");
    BOOST_TEST(apple->ike.integrity == "SHA2-512");
    BOOST_TEST(apple->ike.dh_group == 20);
}

BOOST_AUTO_TEST_CASE(esp_with_mandatory_pfs) {
    auto in = gcm_input();
    in.esp_proposals = {"aes256gcm16-ecp384"};
    auto apple = choose_apple(in);
    BOOST_TEST_REQUIRE(apple.has_value());
    BOOST_TEST(apple->pfs);
    BOOST_TEST(apple->child.dh_group == 20);
    auto win = choose_windows(in);
    BOOST_TEST_REQUIRE(win.has_value());
    BOOST_TEST(win->pfs_group == "ECP384");
    // Android's built-in client never does PFS.
    BOOST_TEST(!check_android_native(in).esp.has_value());
}

BOOST_AUTO_TEST_CASE(nothing_suitable_is_an_error_naming_the_client) {
    auto in = gcm_input();
    in.ike_proposals = {"aes256-sha256-modp3072"};
    auto apple = choose_apple(in);
    BOOST_TEST_REQUIRE(!apple.has_value());
    BOOST_TEST(apple.error().exit_code == 1);
    BOOST_TEST(apple.error().message.find("Apple (iOS/macOS)") != std::string::npos);
    BOOST_TEST(apple.error().message.find("aes256-sha256-modp3072") != std::string::npos);
    BOOST_TEST(apple.error().message.find("supports") != std::string::npos);
    auto win = choose_windows(in);
    BOOST_TEST_REQUIRE(!win.has_value());
    BOOST_TEST(win.error().message.find("Windows") != std::string::npos);
    // ... and the generators pass the error on.
    BOOST_TEST(!generate(Target::ios, in).has_value());
    BOOST_TEST(!generate(Target::windows, in).has_value());
    // Android's built-in client takes modp3072.
    BOOST_TEST(check_android_native(in).ike.value_or("") == "aes256-sha256-modp3072");

    in = gcm_input();
    in.esp_proposals = {"chacha20poly1305"};
    BOOST_TEST(!choose_apple(in).has_value());
    BOOST_TEST(!choose_windows(in).has_value());
    BOOST_TEST(choose_strongswan(in).has_value());
}

BOOST_AUTO_TEST_CASE(legacy_windows_defaults_with_allow_legacy) {
    auto in = gcm_input();
    in.allow_legacy = true;
    in.ike_proposals = {"aes256-sha1-modp1024"};
    in.esp_proposals = {"aes256-sha1"};
    auto win = choose_windows(in);
    BOOST_TEST_REQUIRE(win.has_value());
    BOOST_TEST(win->integrity_check_method == "SHA1");
    BOOST_TEST(win->dh_group == "Group2");
    BOOST_TEST(win->authentication_transform == "SHA196");
    BOOST_TEST(!choose_apple(in).has_value());  // iOS 26 dropped SHA-1 and group 2
}

BOOST_AUTO_TEST_SUITE_END()
