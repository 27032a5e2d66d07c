// postern init: the first-use set-up scripts/run calls (files, modes, SANs, the config parses,
// the first user and its printed password, and a second run that changes nothing).
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>

#include <fstream>
#include <regex>

#include <boost/test/unit_test.hpp>

#include "cli_capture.hpp"
#include "daemon/config.hpp"
#include "daemon/ctl/init_command.hpp"
#include "daemon/ctl/user_password.hpp"
#include "db/user_store.hpp"

using namespace postern;
using namespace postern::ctl;
using namespace postern::ctl::test;
namespace fs = std::filesystem;

namespace {

std::string slurp(const fs::path& p) {
    std::ifstream f(p, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(f), {});
}

unsigned mode_of(const fs::path& p) {
    struct stat st {};
    BOOST_TEST_REQUIRE(::stat(p.c_str(), &st) == 0, p);
    return st.st_mode & 0777;
}

// The server certificate's SAN entries (DNS names and IP addresses as text).
std::vector<std::string> san_of(const fs::path& pem) {
    std::vector<std::string> out;
    BIO* b = BIO_new_file(pem.c_str(), "r");
    BOOST_TEST_REQUIRE(b != nullptr);
    X509* x = PEM_read_bio_X509(b, nullptr, nullptr, nullptr);
    BIO_free(b);
    BOOST_TEST_REQUIRE(x != nullptr);
    auto* names =
        static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(x, NID_subject_alt_name, nullptr, nullptr));
    for (int i = 0; names && i < sk_GENERAL_NAME_num(names); ++i) {
        int type = 0;
        auto* v = static_cast<ASN1_STRING*>(
            GENERAL_NAME_get0_value(sk_GENERAL_NAME_value(names, i), &type));
        if (type == GEN_DNS)
            out.push_back("DNS:" +
                          std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(v)),
                                      static_cast<std::size_t>(ASN1_STRING_length(v))));
        else if (type == GEN_IPADD) {
            auto ip = IpAddress::from_bytes(ByteView(
                ASN1_STRING_get0_data(v), static_cast<std::size_t>(ASN1_STRING_length(v))));
            out.push_back("IP:" + (ip ? ip->to_string() : "?"));
        }
    }
    GENERAL_NAMES_free(names);
    X509_free(x);
    return out;
}

struct Setup : TempDir {
    fs::path etc = dir / "etc";
    std::string db = (dir / "var/lib/postern/postern.db").string();
    CliResult run(bool json = false) const {
        std::vector<std::string> args = {
            "--db",      db,           "--socket", (dir / "none.sock").string(), "init",
            "--etc",     etc.string(), "--name",   "vpn.test.example",           "--address",
            "192.0.2.7", "--user",     "alice"};
        if (json) args.insert(args.begin(), "--json");
        return run_cli(args);
    }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(cli_user_init)

BOOST_AUTO_TEST_CASE(first_run_writes_config_pki_and_user_second_run_changes_nothing) {
    Setup s;
    auto r = s.run();
    BOOST_TEST_REQUIRE(r.code == 0, r.err);

    // Files and modes.
    BOOST_TEST(mode_of(s.etc / "postern.toml") == 0644u);
    BOOST_TEST(mode_of(s.etc / "pki") == 0700u);
    BOOST_TEST(mode_of(s.etc / "pki/ca.key") == 0600u);
    BOOST_TEST(mode_of(s.etc / "pki/server.key") == 0600u);
    BOOST_TEST(mode_of(s.etc / "pki/ca.pem") == 0644u);
    BOOST_TEST(mode_of(s.db) == 0600u);
    BOOST_TEST(mode_of(fs::path(s.db).parent_path()) == 0700u);
    BOOST_TEST(
        san_of(s.etc / "pki/server.pem") ==
            (std::vector<std::string>{"DNS:vpn.test.example", "IP:192.0.2.7", "DNS:192.0.2.7"}),
        boost::test_tools::per_element());

    // The config parses and describes an EAP-MSCHAPv2 server with the certificate made here.
    auto cfg = daemon::load_config((s.etc / "postern.toml").string());
    BOOST_TEST_REQUIRE(cfg.has_value(), (cfg ? "" : cfg.error().to_string()));
    BOOST_TEST(cfg->user_db == s.db);
    BOOST_TEST_REQUIRE(cfg->connections.size() == 1u);
    const auto& c = cfg->connections[0];
    BOOST_TEST(c.local_id == "vpn.test.example");
    BOOST_TEST(int(c.local_auth) == int(daemon::AuthKind::Pubkey));
    BOOST_TEST(int(c.remote_auth) == int(daemon::AuthKind::EapMschapv2));
    BOOST_TEST(c.cert == (s.etc / "pki/server.pem").string());
    BOOST_TEST(c.key_file == (s.etc / "pki/server.key").string());
    BOOST_TEST_REQUIRE(cfg->cacerts.size() == 1u);
    BOOST_TEST(cfg->cacerts[0] == (s.etc / "pki/ca.pem").string());

    // The user, with the password printed once.
    std::smatch m;
    BOOST_TEST_REQUIRE(std::regex_search(r.out, m, std::regex("not stored\\): (\\S+)")), r.out);
    const std::string pw = m[1];
    BOOST_TEST(r.count(pw) == 1u);
    BOOST_TEST(r.out.find("Get a client profile: postern profile alice --for "
                          "ios|macos|windows|android|strongswan\n") != std::string::npos,
               r.out);
    {
        auto d = db::Database::open(s.db);
        BOOST_TEST_REQUIRE(d.has_value());
        auto cred = db::UserStore(*d).credentials("alice");
        BOOST_TEST_REQUIRE(cred.has_value());
        auto hash = nt_hash_of(Password(pw));
        BOOST_TEST_REQUIRE(hash.has_value());
        BOOST_TEST(cred->nt_hash.view().size() == 16u);
        BOOST_TEST(std::equal(cred->nt_hash.view().begin(), cred->nt_hash.view().end(),
                              hash->view().begin(), hash->view().end()));
    }

    // Second run: nothing changes, no password.
    const std::string toml = slurp(s.etc / "postern.toml"), ca = slurp(s.etc / "pki/ca.pem"),
                      key = slurp(s.etc / "pki/server.key");
    auto again = s.run();
    BOOST_TEST(again.code == 0, again.err);
    BOOST_TEST(again.out.find("Nothing to do") == 0u, again.out);
    BOOST_TEST(again.out.find("not stored") == std::string::npos);
    auto j = s.run(true);
    BOOST_TEST(j.code == 0, j.err);
    BOOST_TEST(j.json()["changed"] == false);
    BOOST_TEST(j.json()["done"] == nlohmann::json::array());
    BOOST_TEST(j.json()["kept"].size() == 3u);
    BOOST_TEST(!j.json().contains("password"));
    BOOST_TEST(slurp(s.etc / "postern.toml") == toml);
    BOOST_TEST(slurp(s.etc / "pki/ca.pem") == ca);
    BOOST_TEST(slurp(s.etc / "pki/server.key") == key);
}

BOOST_AUTO_TEST_CASE(partial_state_is_completed_or_refused) {
    Setup s;
    BOOST_TEST_REQUIRE(s.run().code == 0);
    // The database lost: a new one with the user, the rest kept.
    fs::remove(s.db);
    const std::string ca = slurp(s.etc / "pki/ca.pem");
    auto r = s.run();
    BOOST_TEST(r.code == 0, r.err);
    BOOST_TEST(r.out.find("added user alice") != std::string::npos, r.out);
    BOOST_TEST(r.out.find("kept " + (s.etc / "postern.toml").string()) != std::string::npos);
    BOOST_TEST(slurp(s.etc / "pki/ca.pem") == ca);
    // A pki folder missing one file is left to the administrator.
    fs::remove(s.etc / "pki/server.key");
    auto partial = s.run();
    BOOST_TEST(partial.code == kFailure);
    BOOST_TEST(partial.err.find("is incomplete (missing " + (s.etc / "pki/server.key").string()) !=
                   std::string::npos,
               partial.err);
}

BOOST_AUTO_TEST_CASE(bad_names_write_nothing) {
    Setup s;
    auto bad = run_cli({"--db", s.db, "init", "--etc", s.etc.string(), "--name", "v.example",
                        "--user", "bad name"});
    BOOST_TEST(bad.code == kUsage);
    BOOST_TEST(!fs::exists(s.etc));
    auto bad_name = run_cli({"--db", s.db, "init", "--etc", s.etc.string(), "--name", "bad name"});
    BOOST_TEST(bad_name.code == kUsage, bad_name.err);
    BOOST_TEST(!fs::exists(s.etc));
    auto bad_addr = run_cli({"--db", s.db, "init", "--etc", s.etc.string(), "--name", "v.example",
                             "--address", "300.1.1.1"});
    BOOST_TEST(bad_addr.code == kUsage, bad_addr.err);
    BOOST_TEST(!fs::exists(s.etc));
}

BOOST_AUTO_TEST_CASE(config_template_uses_the_given_id_and_db) {
    const std::string t = init_config_text("vpn.example.net", "/srv/p.db");
    BOOST_TEST(t.find("local_id = \"vpn.example.net\"") != std::string::npos);
    BOOST_TEST(t.find("user_db = \"/srv/p.db\"") != std::string::npos);
    BOOST_TEST(t.find('@') == std::string::npos);  // no placeholder left
    auto cfg = daemon::parse_config(t, "/etc/postern/postern.toml");
    BOOST_TEST_REQUIRE(cfg.has_value(), (cfg ? "" : cfg.error().to_string()));
    BOOST_TEST(cfg->connections.at(0).remote_id == "%any");
    BOOST_TEST(cfg->pools.size() == 1u);
}

BOOST_AUTO_TEST_SUITE_END()
