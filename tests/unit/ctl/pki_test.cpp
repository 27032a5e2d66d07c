// postern pki init|issue: the files are parsed back with OpenSSL and every property the
// clients depend on is checked. RSA 3072 key generation is slow, so one CA, server and pair of
// client certificates are made once for the whole suite (pki() below).
#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>

#include <fstream>
#include <regex>
#include <set>

#include <boost/test/unit_test.hpp>

#include "cli_capture.hpp"
#include "daemon/ctl/pki.hpp"
#include "postern/net.hpp"

using namespace postern;
using namespace postern::ctl;
using namespace postern::ctl::test;
namespace fs = std::filesystem;

namespace {

template <class T, void (*F)(T*)>
struct Free {
    void operator()(T* p) const { F(p); }
};
using Cert = std::unique_ptr<X509, Free<X509, X509_free>>;
using Pkey = std::unique_ptr<EVP_PKEY, Free<EVP_PKEY, EVP_PKEY_free>>;
using P12 = std::unique_ptr<PKCS12, Free<PKCS12, PKCS12_free>>;

Cert read_cert(const fs::path& p) {
    std::unique_ptr<BIO, Free<BIO, BIO_free_all>> b(BIO_new_file(p.c_str(), "r"));
    BOOST_TEST_REQUIRE(b.get() != nullptr, p);
    Cert c(PEM_read_bio_X509(b.get(), nullptr, nullptr, nullptr));
    BOOST_TEST_REQUIRE(c.get() != nullptr, p);
    return c;
}

Pkey read_key(const fs::path& p) {
    std::unique_ptr<BIO, Free<BIO, BIO_free_all>> b(BIO_new_file(p.c_str(), "r"));
    BOOST_TEST_REQUIRE(b.get() != nullptr, p);
    Pkey k(PEM_read_bio_PrivateKey(b.get(), nullptr, nullptr, nullptr));
    BOOST_TEST_REQUIRE(k.get() != nullptr, p);
    return k;
}

P12 read_p12(const fs::path& p) {
    std::unique_ptr<BIO, Free<BIO, BIO_free_all>> b(BIO_new_file(p.c_str(), "rb"));
    BOOST_TEST_REQUIRE(b.get() != nullptr, p);
    P12 x(d2i_PKCS12_bio(b.get(), nullptr));
    BOOST_TEST_REQUIRE(x.get() != nullptr, p);
    return x;
}

unsigned mode_of(const fs::path& p) {
    struct stat st {};
    BOOST_TEST_REQUIRE(::stat(p.c_str(), &st) == 0, p);
    return st.st_mode & 0777;
}

std::string cn_of(X509* x) {
    char buf[256] = {};
    X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, buf, sizeof buf);
    return buf;
}

// subjectAltName entries as "DNS:...", "IP:...", "email:...".
std::set<std::string> san_of(X509* x) {
    std::set<std::string> out;
    auto* names =
        static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(x, NID_subject_alt_name, nullptr, nullptr));
    if (!names) return out;
    for (int i = 0; i < sk_GENERAL_NAME_num(names); ++i) {
        const GENERAL_NAME* gn = sk_GENERAL_NAME_value(names, i);
        int type = 0;
        auto* v = static_cast<ASN1_STRING*>(GENERAL_NAME_get0_value(gn, &type));
        const std::string text(reinterpret_cast<const char*>(ASN1_STRING_get0_data(v)),
                               static_cast<std::size_t>(ASN1_STRING_length(v)));
        if (type == GEN_DNS) out.insert("DNS:" + text);
        if (type == GEN_EMAIL) out.insert("email:" + text);
        if (type == GEN_IPADD) {
            auto ip = IpAddress::from_bytes(ByteView(
                ASN1_STRING_get0_data(v), static_cast<std::size_t>(ASN1_STRING_length(v))));
            BOOST_TEST_REQUIRE(ip.has_value());
            out.insert("IP:" + ip->to_string());
        }
    }
    GENERAL_NAMES_free(names);
    return out;
}

// Extended key usages as dotted OIDs.
std::set<std::string> eku_of(X509* x) {
    std::set<std::string> out;
    auto* eku =
        static_cast<EXTENDED_KEY_USAGE*>(X509_get_ext_d2i(x, NID_ext_key_usage, nullptr, nullptr));
    if (!eku) return out;
    for (int i = 0; i < sk_ASN1_OBJECT_num(eku); ++i) {
        char buf[80];
        OBJ_obj2txt(buf, sizeof buf, sk_ASN1_OBJECT_value(eku, i), 1);
        out.insert(buf);
    }
    EXTENDED_KEY_USAGE_free(eku);
    return out;
}

bool critical(X509* x, int nid) {
    const int i = X509_get_ext_by_NID(x, nid, -1);
    BOOST_TEST_REQUIRE(i >= 0, OBJ_nid2sn(nid));
    return X509_EXTENSION_get_critical(X509_get_ext(x, i)) == 1;
}

// X509_verify_cert of leaf against the CA alone, for `purpose`.
bool verifies(X509* ca, X509* leaf, int purpose) {
    X509_STORE* store = X509_STORE_new();
    X509_STORE_add_cert(store, ca);
    X509_STORE_CTX* ctx = X509_STORE_CTX_new();
    X509_STORE_CTX_init(ctx, store, leaf, nullptr);
    X509_STORE_CTX_set_purpose(ctx, purpose);
    const bool ok = X509_verify_cert(ctx) == 1;
    if (!ok)
        BOOST_TEST_MESSAGE(
            "verify: " << X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx)));
    X509_STORE_CTX_free(ctx);
    X509_STORE_free(store);
    return ok;
}

bool same_key_id(const ASN1_OCTET_STRING* a, const ASN1_OCTET_STRING* b) {
    return a && b && ASN1_OCTET_STRING_cmp(a, b) == 0;
}

const char* kOidServerAuth = "1.3.6.1.5.5.7.3.1";
const char* kOidClientAuth = "1.3.6.1.5.5.7.3.2";
const char* kOidIkeIntermediate = "1.3.6.1.5.5.8.2.2";

// Made once: pki init, an RSA client (generated p12 password) and an ECDSA one (from stdin).
struct Pki {
    TempDir tmp;
    fs::path dir = tmp.dir / "pki";
    CliResult init, issue_rsa, issue_ec;
    std::string rsa_password;
    const std::string ec_password = "phone-secret";

    Pki() {
        init = run_cli({"pki", "init", "--name", "vpn.example.com", "--name", "more.example.org",
                        "--address", "203.0.113.5", "--address", "2001:db8::5", "--out",
                        dir.string()});
        issue_rsa = run_cli({"pki", "issue", "alice@example.com", "--ca-dir", dir.string()});
        std::smatch m;
        if (std::regex_search(issue_rsa.out, m, std::regex("not stored\\): (\\S+)")))
            rsa_password = m[1];
        issue_ec = run_cli({"pki", "issue", "phone1", "--ecdsa", "--ca-dir", dir.string(), "--out",
                            (tmp.dir / "out").string(), "--p12-password-stdin"},
                           ec_password + "\n");
    }
};

const Pki& shared_pki() {
    static Pki p;
    return p;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(cli_pki)

BOOST_AUTO_TEST_CASE(init_writes_four_files_keys_0600) {
    const auto& p = shared_pki();
    BOOST_TEST_REQUIRE(p.init.code == 0, p.init.err);
    BOOST_TEST(mode_of(p.dir / "ca.key") == 0600u);
    BOOST_TEST(mode_of(p.dir / "server.key") == 0600u);
    BOOST_TEST(mode_of(p.dir / "ca.pem") == 0644u);
    BOOST_TEST(mode_of(p.dir / "server.pem") == 0644u);
    BOOST_TEST(mode_of(p.dir) == 0700u);
}

BOOST_AUTO_TEST_CASE(ca_certificate) {
    const auto& p = shared_pki();
    BOOST_TEST_REQUIRE(p.init.code == 0, p.init.err);
    auto ca = read_cert(p.dir / "ca.pem");
    auto key = read_key(p.dir / "ca.key");
    BOOST_TEST(X509_check_private_key(ca.get(), key.get()) == 1);
    BOOST_TEST(EVP_PKEY_get_base_id(key.get()) == EVP_PKEY_RSA);
    BOOST_TEST(EVP_PKEY_get_bits(key.get()) == 3072);
    BOOST_TEST(cn_of(ca.get()) == "Postern CA vpn.example.com");
    BOOST_TEST(X509_check_ca(ca.get()) == 1);
    BOOST_TEST(critical(ca.get(), NID_basic_constraints));
    BOOST_TEST(X509_get_key_usage(ca.get()) == (KU_KEY_CERT_SIGN | KU_CRL_SIGN));
    BOOST_TEST(X509_get0_subject_key_id(ca.get()) != nullptr);
    BOOST_TEST(X509_check_issued(ca.get(), ca.get()) == X509_V_OK);  // self-signed
    Pkey pub(X509_get_pubkey(ca.get()));
    BOOST_TEST(X509_verify(ca.get(), pub.get()) == 1);
    // Valid for ten years.
    int days = 0, secs = 0;
    ASN1_TIME_diff(&days, &secs, X509_get0_notBefore(ca.get()), X509_get0_notAfter(ca.get()));
    BOOST_TEST(days >= 3650);
}

BOOST_AUTO_TEST_CASE(server_certificate) {
    const auto& p = shared_pki();
    BOOST_TEST_REQUIRE(p.init.code == 0, p.init.err);
    auto ca = read_cert(p.dir / "ca.pem");
    auto srv = read_cert(p.dir / "server.pem");
    auto key = read_key(p.dir / "server.key");
    BOOST_TEST(X509_check_private_key(srv.get(), key.get()) == 1);
    BOOST_TEST(EVP_PKEY_get_base_id(key.get()) == EVP_PKEY_RSA);
    BOOST_TEST(EVP_PKEY_get_bits(key.get()) == 3072);
    BOOST_TEST(cn_of(srv.get()) == "vpn.example.com");
    BOOST_TEST(X509_check_ca(srv.get()) == 0);
    BOOST_TEST(eku_of(srv.get()) == (std::set<std::string>{kOidServerAuth, kOidIkeIntermediate}));
    BOOST_TEST((X509_get_key_usage(srv.get()) & KU_DIGITAL_SIGNATURE) != 0u);
    const std::set<std::string> want = {"DNS:vpn.example.com", "DNS:more.example.org",
                                        "IP:203.0.113.5",      "DNS:203.0.113.5",
                                        "IP:2001:db8::5",      "DNS:2001:db8::5"};
    BOOST_TEST(san_of(srv.get()) == want);
    BOOST_TEST(
        same_key_id(X509_get0_authority_key_id(srv.get()), X509_get0_subject_key_id(ca.get())));
    BOOST_TEST(verifies(ca.get(), srv.get(), X509_PURPOSE_SSL_SERVER));
    int days = 0, secs = 0;
    ASN1_TIME_diff(&days, &secs, X509_get0_notBefore(srv.get()), X509_get0_notAfter(srv.get()));
    BOOST_TEST(days == 825);  // an hour back-dated: 825 days + 1 h
}

BOOST_AUTO_TEST_CASE(server_certificate_does_not_verify_against_another_ca) {
    const auto& p = shared_pki();
    auto srv = read_cert(p.dir / "server.pem");
    auto other = read_cert(p.dir / "server.pem");  // not a CA
    BOOST_TEST(!verifies(other.get(), srv.get(), X509_PURPOSE_SSL_SERVER));
}

BOOST_AUTO_TEST_CASE(rsa_client_certificate_and_p12) {
    const auto& p = shared_pki();
    BOOST_TEST_REQUIRE(p.issue_rsa.code == 0, p.issue_rsa.err);
    BOOST_TEST_REQUIRE(!p.rsa_password.empty(), p.issue_rsa.out);
    BOOST_TEST(p.issue_rsa.count(p.rsa_password) == 1u);
    const fs::path d = p.dir / "clients";
    BOOST_TEST(mode_of(d / "alice@example.com.key") == 0600u);
    BOOST_TEST(mode_of(d / "alice@example.com.p12") == 0600u);
    auto ca = read_cert(p.dir / "ca.pem");
    auto c = read_cert(d / "alice@example.com.pem");
    auto key = read_key(d / "alice@example.com.key");
    BOOST_TEST(X509_check_private_key(c.get(), key.get()) == 1);
    BOOST_TEST(EVP_PKEY_get_bits(key.get()) == 3072);
    BOOST_TEST(cn_of(c.get()) == "alice@example.com");
    BOOST_TEST(san_of(c.get()) == std::set<std::string>{"email:alice@example.com"});
    BOOST_TEST(eku_of(c.get()) == std::set<std::string>{kOidClientAuth});
    BOOST_TEST(X509_check_ca(c.get()) == 0);
    BOOST_TEST(verifies(ca.get(), c.get(), X509_PURPOSE_SSL_CLIENT));
    BOOST_TEST(!verifies(ca.get(), c.get(), X509_PURPOSE_SSL_SERVER));
}

BOOST_AUTO_TEST_CASE(ecdsa_client_certificate) {
    const auto& p = shared_pki();
    BOOST_TEST_REQUIRE(p.issue_ec.code == 0, p.issue_ec.err);
    BOOST_TEST(p.issue_ec.count(p.ec_password) == 0u);
    const fs::path d = p.tmp.dir / "out";
    auto ca = read_cert(p.dir / "ca.pem");
    auto c = read_cert(d / "phone1.pem");
    auto key = read_key(d / "phone1.key");
    BOOST_TEST(EVP_PKEY_get_base_id(key.get()) == EVP_PKEY_EC);
    BOOST_TEST(EVP_PKEY_get_bits(key.get()) == 256);
    char group[64] = {};
    EVP_PKEY_get_group_name(key.get(), group, sizeof group, nullptr);
    BOOST_TEST(std::string(group) == "prime256v1");
    BOOST_TEST(san_of(c.get()) == std::set<std::string>{"DNS:phone1"});
    BOOST_TEST(verifies(ca.get(), c.get(), X509_PURPOSE_SSL_CLIENT));
}

// What iOS/macOS/Windows import: PBE-SHA1-3DES for the key and the certificates, SHA-1 MAC.
BOOST_AUTO_TEST_CASE(p12_opens_with_the_password_and_uses_3des_and_sha1) {
    const auto& p = shared_pki();
    struct Case {
        fs::path file;
        std::string password;
        std::string cn;
    };
    for (const auto& c :
         {Case{p.dir / "clients/alice@example.com.p12", p.rsa_password, "alice@example.com"},
          Case{p.tmp.dir / "out/phone1.p12", p.ec_password, "phone1"}}) {
        BOOST_TEST_REQUIRE(!c.password.empty());
        auto p12 = read_p12(c.file);
        BOOST_TEST(PKCS12_verify_mac(p12.get(), c.password.c_str(), -1) == 1);
        BOOST_TEST(PKCS12_verify_mac(p12.get(), "wrong", -1) == 0);

        const X509_ALGOR* macalg = nullptr;
        PKCS12_get0_mac(nullptr, &macalg, nullptr, nullptr, p12.get());
        BOOST_TEST_REQUIRE(macalg != nullptr);
        const ASN1_OBJECT* mac_obj = nullptr;
        X509_ALGOR_get0(&mac_obj, nullptr, nullptr, macalg);
        BOOST_TEST(OBJ_obj2nid(mac_obj) == NID_sha1);

        EVP_PKEY* pkey = nullptr;
        X509* cert = nullptr;
        STACK_OF(X509)* cas = nullptr;
        BOOST_TEST_REQUIRE(PKCS12_parse(p12.get(), c.password.c_str(), &pkey, &cert, &cas) == 1);
        Pkey key_owner(pkey);
        Cert cert_owner(cert);
        BOOST_TEST(cn_of(cert) == c.cn);
        BOOST_TEST(X509_check_private_key(cert, pkey) == 1);
        BOOST_TEST_REQUIRE(sk_X509_num(cas) == 1);
        BOOST_TEST(cn_of(sk_X509_value(cas, 0)) == "Postern CA vpn.example.com");
        sk_X509_pop_free(cas, X509_free);

        // Every bag's encryption: the encrypted PKCS#7 (certificates) and the shrouded key.
        STACK_OF(PKCS7)* safes = PKCS12_unpack_authsafes(p12.get());
        BOOST_TEST_REQUIRE(safes != nullptr);
        int encrypted = 0, shrouded = 0;
        for (int i = 0; i < sk_PKCS7_num(safes); ++i) {
            PKCS7* p7 = sk_PKCS7_value(safes, i);
            const int type = OBJ_obj2nid(p7->type);
            if (type == NID_pkcs7_encrypted) {
                ++encrypted;
                BOOST_TEST(OBJ_obj2nid(p7->d.encrypted->enc_data->algorithm->algorithm) ==
                           NID_pbe_WithSHA1And3_Key_TripleDES_CBC);
            } else if (type == NID_pkcs7_data) {
                STACK_OF(PKCS12_SAFEBAG)* bags = PKCS12_unpack_p7data(p7);
                for (int b = 0; b < sk_PKCS12_SAFEBAG_num(bags); ++b) {
                    const PKCS12_SAFEBAG* bag = sk_PKCS12_SAFEBAG_value(bags, b);
                    BOOST_TEST(PKCS12_SAFEBAG_get_nid(bag) == NID_pkcs8ShroudedKeyBag);
                    const X509_ALGOR* alg = nullptr;
                    X509_SIG_get0(PKCS12_SAFEBAG_get0_pkcs8(bag), &alg, nullptr);
                    const ASN1_OBJECT* obj = nullptr;
                    X509_ALGOR_get0(&obj, nullptr, nullptr, alg);
                    BOOST_TEST(OBJ_obj2nid(obj) == NID_pbe_WithSHA1And3_Key_TripleDES_CBC);
                    ++shrouded;
                }
                sk_PKCS12_SAFEBAG_pop_free(bags, PKCS12_SAFEBAG_free);
            }
        }
        sk_PKCS7_pop_free(safes, PKCS7_free);
        BOOST_TEST(encrypted == 1);
        BOOST_TEST(shrouded == 1);
    }
}

BOOST_AUTO_TEST_CASE(refuses_to_overwrite_without_force) {
    const auto& p = shared_pki();
    const std::string before = [&] {
        std::ifstream f(p.dir / "ca.pem");
        return std::string(std::istreambuf_iterator<char>(f), {});
    }();
    auto r = run_cli({"pki", "init", "--name", "x.example.com", "--out", p.dir.string()});
    BOOST_TEST(r.code == kFailure);
    BOOST_TEST(r.err.find("refusing to overwrite") != std::string::npos, r.err);
    BOOST_TEST(r.err.find("--force") != std::string::npos, r.err);
    std::ifstream f(p.dir / "ca.pem");
    BOOST_TEST(std::string(std::istreambuf_iterator<char>(f), {}) == before);

    const std::string out = (p.tmp.dir / "out").string();
    auto again =
        run_cli({"pki", "issue", "phone1", "--ecdsa", "--ca-dir", p.dir.string(), "--out", out});
    BOOST_TEST(again.code == kFailure);
    BOOST_TEST(again.err.find("refusing to overwrite") != std::string::npos, again.err);
    auto forced = run_cli(
        {"pki", "issue", "phone2", "--ecdsa", "--ca-dir", p.dir.string(), "--out", out, "--force"});
    BOOST_TEST(forced.code == 0, forced.err);
}

BOOST_AUTO_TEST_CASE(argument_errors) {
    TempDir t;
    const std::string out = (t.dir / "pki").string();
    BOOST_TEST(run_cli({"pki", "init", "--out", out}).code == kUsage);  // --name is required
    BOOST_TEST(run_cli({"pki", "init", "--name", "bad name", "--out", out}).code == kUsage);
    BOOST_TEST(
        run_cli({"pki", "init", "--name", "a.example", "--address", "1.2.3", "--out", out}).code ==
        kUsage);
    BOOST_TEST(!fs::exists(t.dir / "pki"));
    auto no_ca = run_cli({"pki", "issue", "bob", "--ca-dir", (t.dir / "none").string()});
    BOOST_TEST(no_ca.code == kFailure);
    BOOST_TEST(no_ca.err.find("ca.pem") != std::string::npos, no_ca.err);
    const auto& p = shared_pki();
    auto bad_user = run_cli({"pki", "issue", "a/b", "--ca-dir", p.dir.string()});
    BOOST_TEST(bad_user.code == kFailure);
    auto empty_pw =
        run_cli({"pki", "issue", "bob", "--ca-dir", p.dir.string(), "--p12-password-stdin"}, "\n");
    BOOST_TEST(empty_pw.code == kUsage);
}

BOOST_AUTO_TEST_CASE(dns_name_rule) {
    for (const char* ok : {"a", "vpn.example.com", "*.example.com", "x-1.example", "1.2.3.4"})
        BOOST_TEST(pki::is_dns_name(ok), ok);
    for (const char* bad : {"", "a..b", ".a", "a.", "-a", "a-", "a b", "a_b", "*", "a.*.b"})
        BOOST_TEST(!pki::is_dns_name(bad), bad);
}

BOOST_AUTO_TEST_SUITE_END()
