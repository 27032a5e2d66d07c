#include "daemon/ctl/pki.hpp"

#include <fcntl.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>

#include "postern/net.hpp"

namespace postern::ctl::pki {

namespace fs = std::filesystem;

namespace {

template <class T, void (*F)(T*)>
struct Free {
    void operator()(T* p) const { F(p); }
};
using Pkey = std::unique_ptr<EVP_PKEY, Free<EVP_PKEY, EVP_PKEY_free>>;
using Cert = std::unique_ptr<X509, Free<X509, X509_free>>;
using Bio = std::unique_ptr<BIO, Free<BIO, BIO_free_all>>;
using Bn = std::unique_ptr<BIGNUM, Free<BIGNUM, BN_free>>;
using Names = std::unique_ptr<GENERAL_NAMES, Free<GENERAL_NAMES, GENERAL_NAMES_free>>;
using P12 = std::unique_ptr<PKCS12, Free<PKCS12, PKCS12_free>>;
using Ext = std::unique_ptr<X509_EXTENSION, Free<X509_EXTENSION, X509_EXTENSION_free>>;
void free_cert_stack(STACK_OF(X509) * s) {
    sk_X509_free(s);
}
using CertStack = std::unique_ptr<STACK_OF(X509), Free<STACK_OF(X509), free_cert_stack>>;

// "what: <OpenSSL's reasons>", draining the error queue.
std::string ossl_error(std::string_view what) {
    std::string out(what);
    unsigned long e;
    bool first = true;
    while ((e = ERR_get_error()) != 0) {
        char buf[256];
        ERR_error_string_n(e, buf, sizeof buf);
        out += first ? ": " : "; ";
        out += buf;
        first = false;
    }
    return out;
}

Result<Pkey> generate_key(bool ecdsa) {
    EVP_PKEY* k = ecdsa ? EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256")
                        : EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<size_t>(kRsaBits));
    if (!k) return tl::unexpected(ossl_error(ecdsa ? "generate P-256 key" : "generate RSA key"));
    return Pkey(k);
}

// A new certificate: version 3, random 159-bit serial, valid from an hour ago (clients with a
// slow clock) for `days`, subject CN = cn, the public key of `key`.
Result<Cert> new_cert(const std::string& cn, EVP_PKEY* key, int days) {
    Cert x(X509_new());
    if (!x || !X509_set_version(x.get(), 2)) return tl::unexpected(ossl_error("X509_new"));
    Bn serial(BN_new());
    if (!serial || !BN_rand(serial.get(), 159, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) ||
        !BN_to_ASN1_INTEGER(serial.get(), X509_get_serialNumber(x.get())))
        return tl::unexpected(ossl_error("serial number"));
    if (!X509_gmtime_adj(X509_getm_notBefore(x.get()), -3600) ||
        !X509_gmtime_adj(X509_getm_notAfter(x.get()), static_cast<long>(days) * 86400))
        return tl::unexpected(ossl_error("validity"));
    X509_NAME* name = X509_get_subject_name(x.get());
    if (!X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                                    reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0))
        return tl::unexpected(ossl_error("subject CN \"" + cn + "\""));
    if (!X509_set_pubkey(x.get(), key)) return tl::unexpected(ossl_error("X509_set_pubkey"));
    return x;
}

// Adds an extension given in openssl.cnf syntax ("critical,CA:TRUE"). `issuer` is the signing
// certificate (the certificate itself when self-signed), for the authority key identifier.
Result<void> add_ext(X509* x, X509* issuer, int nid, const char* value) {
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer, x, nullptr, nullptr, 0);
    Ext ext(X509V3_EXT_conf_nid(nullptr, &ctx, nid, value));
    if (!ext || !X509_add_ext(x, ext.get(), -1))
        return tl::unexpected(
            ossl_error(std::string("extension ") + OBJ_nid2sn(nid) + " = " + value));
    return {};
}

Result<void> add_name(GENERAL_NAMES* names, int type, const std::string& text) {
    GENERAL_NAME* gn = GENERAL_NAME_new();
    if (!gn) return tl::unexpected(ossl_error("GENERAL_NAME_new"));
    if (type == GEN_IPADD) {
        ASN1_OCTET_STRING* ip = a2i_IPADDRESS(text.c_str());
        if (!ip) {
            GENERAL_NAME_free(gn);
            return tl::unexpected(ossl_error("address \"" + text + "\""));
        }
        GENERAL_NAME_set0_value(gn, GEN_IPADD, ip);
    } else {
        ASN1_IA5STRING* s = ASN1_IA5STRING_new();
        if (!s || !ASN1_STRING_set(s, text.data(), static_cast<int>(text.size()))) {
            ASN1_IA5STRING_free(s);
            GENERAL_NAME_free(gn);
            return tl::unexpected(ossl_error("name \"" + text + "\""));
        }
        GENERAL_NAME_set0_value(gn, type, s);
    }
    if (!sk_GENERAL_NAME_push(names, gn)) {
        GENERAL_NAME_free(gn);
        return tl::unexpected(ossl_error("subjectAltName"));
    }
    return {};
}

Result<void> add_san(X509* x, const GENERAL_NAMES* names) {
    if (!X509_add1_ext_i2d(x, NID_subject_alt_name, const_cast<GENERAL_NAMES*>(names), 0,
                           X509V3_ADD_DEFAULT))
        return tl::unexpected(ossl_error("subjectAltName"));
    return {};
}

Result<void> sign(X509* x, X509* issuer, EVP_PKEY* issuer_key) {
    if (!X509_set_issuer_name(x, X509_get_subject_name(issuer)))
        return tl::unexpected(ossl_error("issuer name"));
    if (!X509_sign(x, issuer_key, EVP_sha256())) return tl::unexpected(ossl_error("sign"));
    return {};
}

// Writes `data` to `path` with `mode` (the mode is set even when the file existed).
Result<void> write_file(const fs::path& path, std::string_view data, mode_t mode) {
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0)
        return tl::unexpected("cannot write " + path.string() + ": " + std::strerror(errno));
    bool ok = ::fchmod(fd, mode) == 0;
    std::size_t done = 0;
    while (ok && done < data.size()) {
        const ssize_t n = ::write(fd, data.data() + done, data.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0)
            ok = false;
        else
            done += static_cast<std::size_t>(n);
    }
    const int saved = errno;
    if (::close(fd) != 0) ok = false;
    if (!ok) return tl::unexpected("cannot write " + path.string() + ": " + std::strerror(saved));
    return {};
}

// PEM (or DER for PKCS#12) through a memory BIO, then to the file.
template <class F>
Result<void> write_with_bio(const fs::path& path, mode_t mode, F&& emit) {
    Bio bio(BIO_new(BIO_s_mem()));
    if (!bio || !emit(bio.get())) return tl::unexpected(ossl_error("encode " + path.string()));
    char* data = nullptr;
    const long n = BIO_get_mem_data(bio.get(), &data);
    auto r = write_file(path, std::string_view(data, static_cast<std::size_t>(n)), mode);
    if (n > 0) OPENSSL_cleanse(data, static_cast<std::size_t>(n));
    return r;
}

Result<void> write_cert(const fs::path& path, X509* x) {
    return write_with_bio(path, 0644, [x](BIO* b) { return PEM_write_bio_X509(b, x) == 1; });
}

Result<void> write_key(const fs::path& path, EVP_PKEY* k) {
    return write_with_bio(path, 0600, [k](BIO* b) {
        return PEM_write_bio_PrivateKey(b, k, nullptr, nullptr, 0, nullptr, nullptr) == 1;
    });
}

// Refuses to overwrite unless force; creates the folder (0700: it holds private keys).
Result<void> prepare_out(const fs::path& dir, const std::vector<fs::path>& files, bool force) {
    std::error_code ec;
    if (!force) {
        std::string existing;
        for (const auto& f : files)
            if (fs::exists(f, ec)) existing += (existing.empty() ? "" : ", ") + f.string();
        if (!existing.empty())
            return tl::unexpected("refusing to overwrite " + existing + " (use --force)");
    }
    if (!fs::exists(dir, ec)) {
        fs::create_directories(dir, ec);
        if (ec) return tl::unexpected("cannot create " + dir.string() + ": " + ec.message());
        fs::permissions(dir, fs::perms::owner_all, ec);
    }
    return {};
}

Result<Cert> read_cert(const fs::path& path) {
    Bio bio(BIO_new_file(path.c_str(), "r"));
    if (!bio) return tl::unexpected(ossl_error("cannot read " + path.string()));
    Cert x(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
    if (!x) return tl::unexpected(ossl_error(path.string() + ": not a PEM certificate"));
    return x;
}

Result<Pkey> read_key(const fs::path& path) {
    Bio bio(BIO_new_file(path.c_str(), "r"));
    if (!bio) return tl::unexpected(ossl_error("cannot read " + path.string()));
    Pkey k(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
    if (!k) return tl::unexpected(ossl_error(path.string() + ": not a PEM private key"));
    return k;
}

#define TRY(expr)                                                     \
    do {                                                              \
        if (auto r_ = (expr); !r_) return tl::unexpected(r_.error()); \
    } while (0)

}  // namespace

bool is_dns_name(std::string_view name) {
    if (name.empty() || name.size() > 253) return false;
    if (name.substr(0, 2) == "*.") name.remove_prefix(2);
    std::size_t label = 0;
    for (std::size_t i = 0; i < name.size(); ++i) {
        const char c = name[i];
        if (c == '.') {
            if (label == 0 || name[i - 1] == '-') return false;
            label = 0;
            continue;
        }
        const bool alnum =
            (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
        if (!alnum && !(c == '-' && label > 0)) return false;
        if (++label > 63) return false;
    }
    return label > 0 && name.back() != '-';
}

InitResult init_paths(const fs::path& dir) {
    return {dir / "ca.pem", dir / "ca.key", dir / "server.pem", dir / "server.key"};
}

Result<InitResult> init(const InitRequest& req) {
    if (req.names.empty()) return tl::unexpected(std::string("at least one --name is needed"));
    for (const auto& n : req.names)
        if (!is_dns_name(n)) return tl::unexpected("--name \"" + n + "\" is not a DNS name");
    for (const auto& a : req.addresses)
        if (!IpAddress::parse(a))
            return tl::unexpected("--address \"" + a + "\" is not an IP address");
    if (req.days < 1) return tl::unexpected(std::string("--days must be at least 1"));
    const InitResult paths = init_paths(req.out);
    TRY(prepare_out(req.out, {paths.ca_cert, paths.ca_key, paths.server_cert, paths.server_key},
                    req.force));

    // The CA: self-signed, so it is its own issuer for the key identifiers.
    auto ca_key = generate_key(false);
    if (!ca_key) return tl::unexpected(ca_key.error());
    auto ca =
        new_cert("Postern CA " + req.names.front(), ca_key->get(), std::max(req.days, kCaDays));
    if (!ca) return tl::unexpected(ca.error());
    X509* c = ca->get();
    if (!X509_set_issuer_name(c, X509_get_subject_name(c)))
        return tl::unexpected(ossl_error("issuer name"));
    TRY(add_ext(c, c, NID_basic_constraints, "critical,CA:TRUE"));
    TRY(add_ext(c, c, NID_key_usage, "critical,keyCertSign,cRLSign"));
    TRY(add_ext(c, c, NID_subject_key_identifier, "hash"));
    TRY(add_ext(c, c, NID_authority_key_identifier, "keyid:always"));
    TRY(sign(c, c, ca_key->get()));

    // The server: what IKE_AUTH presents as CERT; clients check the SAN against the address
    // they were told to connect to.
    auto key = generate_key(false);
    if (!key) return tl::unexpected(key.error());
    auto srv = new_cert(req.names.front(), key->get(), req.days);
    if (!srv) return tl::unexpected(srv.error());
    X509* s = srv->get();
    TRY(add_ext(s, c, NID_basic_constraints, "CA:FALSE"));
    TRY(add_ext(s, c, NID_key_usage, "critical,digitalSignature,keyEncipherment"));
    TRY(add_ext(s, c, NID_ext_key_usage, "serverAuth,1.3.6.1.5.5.8.2.2"));
    TRY(add_ext(s, c, NID_subject_key_identifier, "hash"));
    TRY(add_ext(s, c, NID_authority_key_identifier, "keyid:always"));
    Names names(sk_GENERAL_NAME_new_null());
    if (!names) return tl::unexpected(ossl_error("subjectAltName"));
    for (const auto& n : req.names)
        TRY(add_name(names.get(), GEN_DNS, n));
    for (const auto& a : req.addresses) {
        TRY(add_name(names.get(), GEN_IPADD, a));
        TRY(add_name(names.get(), GEN_DNS, a));
    }
    TRY(add_san(s, names.get()));
    TRY(sign(s, c, ca_key->get()));

    // Keys first: a certificate without its key is useless, a key without its cert harmless.
    TRY(write_key(paths.ca_key, ca_key->get()));
    TRY(write_cert(paths.ca_cert, c));
    TRY(write_key(paths.server_key, key->get()));
    TRY(write_cert(paths.server_cert, s));
    return paths;
}

Result<IssueResult> issue(const IssueRequest& req) {
    if (req.user.empty()) return tl::unexpected(std::string("empty user name"));
    if (req.user.find('/') != std::string::npos || req.user.front() == '.')
        return tl::unexpected("\"" + req.user + "\" cannot name a file");
    if (req.p12_password.empty()) return tl::unexpected(std::string("empty PKCS#12 password"));
    if (req.days < 1) return tl::unexpected(std::string("--days must be at least 1"));
    const bool email = req.user.find('@') != std::string::npos;
    if (!email && !is_dns_name(req.user))
        return tl::unexpected("\"" + req.user +
                              "\" is neither an e-mail address nor a DNS name (the certificate's "
                              "subjectAltName)");
    auto ca = read_cert(req.ca_dir / "ca.pem");
    if (!ca) return tl::unexpected(ca.error());
    auto ca_key = read_key(req.ca_dir / "ca.key");
    if (!ca_key) return tl::unexpected(ca_key.error());
    if (X509_check_private_key(ca->get(), ca_key->get()) != 1)
        return tl::unexpected(ossl_error((req.ca_dir / "ca.key").string() + " is not the key of " +
                                         (req.ca_dir / "ca.pem").string()));

    const fs::path out = req.out.empty() ? req.ca_dir / "clients" : req.out;
    const IssueResult paths{out / (req.user + ".pem"), out / (req.user + ".key"),
                            out / (req.user + ".p12")};
    TRY(prepare_out(out, {paths.cert, paths.key, paths.p12}, req.force));

    auto key = generate_key(req.ecdsa);
    if (!key) return tl::unexpected(key.error());
    auto cert = new_cert(req.user, key->get(), req.days);
    if (!cert) return tl::unexpected(cert.error());
    X509* x = cert->get();
    X509* c = ca->get();
    TRY(add_ext(x, c, NID_basic_constraints, "CA:FALSE"));
    TRY(add_ext(
        x, c, NID_key_usage,
        req.ecdsa ? "critical,digitalSignature" : "critical,digitalSignature,keyEncipherment"));
    TRY(add_ext(x, c, NID_ext_key_usage, "clientAuth"));
    TRY(add_ext(x, c, NID_subject_key_identifier, "hash"));
    TRY(add_ext(x, c, NID_authority_key_identifier, "keyid:always"));
    Names names(sk_GENERAL_NAME_new_null());
    if (!names) return tl::unexpected(ossl_error("subjectAltName"));
    TRY(add_name(names.get(), email ? GEN_EMAIL : GEN_DNS, req.user));
    TRY(add_san(x, names.get()));
    TRY(sign(x, c, ca_key->get()));

    // PKCS#12 with the legacy algorithms every client imports: PBE-SHA1-3DES for the shrouded
    // key bag and the encrypted certificate bags, HMAC-SHA1 MAC (OpenSSL 3 defaults to
    // PBES2/AES-256 + SHA-256, which older iOS/macOS and Windows refuse).
    CertStack chain(sk_X509_new_null());
    if (!chain || !sk_X509_push(chain.get(), c)) return tl::unexpected(ossl_error("CA chain"));
    // mac_iter -1: no MAC from PKCS12_create_ex (OpenSSL 3 would pick HMAC-SHA256); the SHA-1
    // MAC is set explicitly below.
    P12 p12(PKCS12_create_ex(req.p12_password.c_str(), req.user.c_str(), key->get(), x, chain.get(),
                             NID_pbe_WithSHA1And3_Key_TripleDES_CBC,
                             NID_pbe_WithSHA1And3_Key_TripleDES_CBC, PKCS12_DEFAULT_ITER, -1, 0,
                             nullptr, nullptr));
    if (!p12) return tl::unexpected(ossl_error("PKCS#12"));
    if (PKCS12_set_mac(p12.get(), req.p12_password.c_str(), -1, nullptr, 0, PKCS12_DEFAULT_ITER,
                       EVP_sha1()) != 1)
        return tl::unexpected(ossl_error("PKCS#12 MAC"));

    TRY(write_key(paths.key, key->get()));
    TRY(write_cert(paths.cert, x));
    TRY(write_with_bio(paths.p12, 0600,
                       [&p12](BIO* b) { return i2d_PKCS12_bio(b, p12.get()) == 1; }));
    return paths;
}

}  // namespace postern::ctl::pki
