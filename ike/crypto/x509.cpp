#include "ike/crypto/x509.hpp"

#include <algorithm>
#include <cstring>

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509v3.h>

#include "ike/crypto/ossl.hpp"

namespace postern::ike::crypto {

namespace {

struct BioFree {
    void operator()(BIO* b) const { BIO_free(b); }
};
struct StackX509Free {
    void operator()(STACK_OF(X509) * s) const { sk_X509_free(s); }
};
struct StoreCtxFree {
    void operator()(X509_STORE_CTX* c) const { X509_STORE_CTX_free(c); }
};
struct GeneralNamesFree {
    void operator()(GENERAL_NAMES* g) const { GENERAL_NAMES_free(g); }
};
struct EkuFree {
    void operator()(EXTENDED_KEY_USAGE* e) const { EXTENDED_KEY_USAGE_free(e); }
};

using Bio = std::unique_ptr<BIO, BioFree>;

Bio memory_bio(std::string_view text) {
    Bio bio(BIO_new_mem_buf(text.data(), static_cast<int>(text.size())));
    if (!bio) ossl::fatal("BIO_new_mem_buf");
    return bio;
}

// i2d of any OpenSSL object into Bytes.
template <typename T, typename F>
Bytes encode(const T* obj, F i2d) {
    int len = i2d(obj, nullptr);
    if (len <= 0) ossl::fatal("DER encoding");
    Bytes out(static_cast<std::size_t>(len));
    unsigned char* p = out.data();
    i2d(obj, &p);
    return out;
}

std::string name_text(const X509_NAME* name) {
    // RFC 2253 escaping and UTF-8, but in the certificate's order with ", " between RDNs
    // (strongSwan's and our config's "C=CH, O=Org, CN=name" form).
    Bio bio(BIO_new(BIO_s_mem()));
    if (!bio) ossl::fatal("BIO_new");
    constexpr unsigned long flags =
        XN_FLAG_SEP_CPLUS_SPC | XN_FLAG_FN_SN | (ASN1_STRFLGS_RFC2253 & ~ASN1_STRFLGS_ESC_MSB);
    X509_NAME_print_ex(bio.get(), name, 0, flags);
    char* data = nullptr;
    long len = BIO_get_mem_data(bio.get(), &data);
    return std::string(data, static_cast<std::size_t>(len > 0 ? len : 0));
}

std::time_t to_time(const ASN1_TIME* t) {
    struct tm tm {};
    if (!t || ASN1_TIME_to_tm(t, &tm) != 1) return 0;
    return timegm(&tm);
}

std::unique_ptr<GENERAL_NAMES, GeneralNamesFree> alt_names(X509* x) {
    return std::unique_ptr<GENERAL_NAMES, GeneralNamesFree>(
        static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(x, NID_subject_alt_name, nullptr, nullptr)));
}

// SAN strings of one GENERAL_NAME type (GEN_DNS, GEN_EMAIL: IA5String).
std::vector<std::string> alt_name_strings(X509* x, int type) {
    std::vector<std::string> out;
    auto names = alt_names(x);
    for (int i = 0; names && i < sk_GENERAL_NAME_num(names.get()); ++i) {
        const GENERAL_NAME* gn = sk_GENERAL_NAME_value(names.get(), i);
        if (gn->type != type) continue;
        const ASN1_IA5STRING* s = gn->d.ia5;
        std::string v(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                      static_cast<std::size_t>(ASN1_STRING_length(s)));
        if (v.find('\0') != std::string::npos) continue;
        out.push_back(std::move(v));
    }
    return out;
}

Bytes sha1(ByteView data) {
    Bytes out(SHA_DIGEST_LENGTH);
    if (!EVP_Digest(data.data(), data.size(), out.data(), nullptr, EVP_sha1(), nullptr))
        ossl::fatal("SHA-1");
    return out;
}

}  // namespace

// ---- Certificate ----

tl::expected<Certificate, std::string> Certificate::from_der(ByteView der) {
    if (der.empty()) return tl::make_unexpected(std::string("certificate: empty"));
    const unsigned char* p = der.data();
    X509* x = d2i_X509(nullptr, &p, static_cast<long>(der.size()));
    if (!x) return tl::make_unexpected(ossl::error("certificate: not a DER X.509 certificate"));
    std::shared_ptr<X509> owned(x, X509_free);
    const auto used = static_cast<std::size_t>(p - der.data());
    if (used != der.size()) {
        return tl::make_unexpected("certificate: " + std::to_string(der.size() - used) +
                                   " octets after the certificate");
    }
    // Decoding the extensions now flags malformed ones (EXFLAG_INVALID) once and for all.
    X509_check_purpose(x, -1, 0);
    if (X509_get_extension_flags(x) & EXFLAG_INVALID) {
        ossl::clear_errors();
        return tl::make_unexpected(std::string("certificate: malformed or duplicate extension"));
    }
    return Certificate(std::move(owned), Bytes(der.begin(), der.end()));
}

tl::expected<Certificate, std::string> Certificate::from_pem(std::string_view pem) {
    auto chain = load_pem_chain(pem);
    if (!chain) return tl::make_unexpected(chain.error());
    return chain->front();
}

Bytes Certificate::subject_der() const {
    return encode(X509_get_subject_name(get()), i2d_X509_NAME);
}

Bytes Certificate::issuer_der() const {
    return encode(X509_get_issuer_name(get()), i2d_X509_NAME);
}

std::string Certificate::subject_text() const {
    return name_text(X509_get_subject_name(get()));
}

std::string Certificate::issuer_text() const {
    return name_text(X509_get_issuer_name(get()));
}

std::string Certificate::common_name() const {
    X509_NAME* name = X509_get_subject_name(get());
    const int i = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
    if (i < 0) return {};
    const ASN1_STRING* data = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, i));
    unsigned char* utf8 = nullptr;
    const int n = ASN1_STRING_to_UTF8(&utf8, data);
    if (n < 0) return {};
    std::string cn(reinterpret_cast<const char*>(utf8), static_cast<std::size_t>(n));
    OPENSSL_free(utf8);
    // An embedded NUL can only be an attempt to fool a string compare.
    return cn.find('\0') == std::string::npos ? cn : std::string();
}

Bytes Certificate::spki_der() const {
    return encode(X509_get_X509_PUBKEY(get()), i2d_X509_PUBKEY);
}

Bytes Certificate::public_key_bits() const {
    const unsigned char* bits = nullptr;
    int len = 0;
    if (!X509_PUBKEY_get0_param(nullptr, &bits, &len, nullptr, X509_get_X509_PUBKEY(get())))
        ossl::fatal("X509_PUBKEY_get0_param");
    return Bytes(bits, bits + len);
}

tl::expected<PublicKey, std::string> Certificate::public_key() const {
    // The key d2i_X509 decoded already, shared (a reference): decoding the SPKI again through
    // OpenSSL 3's decoders cost as much as parsing the whole certificate (issue 9's profile:
    // 13 % of an ECDSA handshake).
    EVP_PKEY* key = X509_get0_pubkey(get());
    if (!key) return tl::make_unexpected(ossl::error("certificate public key"));
    if (EVP_PKEY_up_ref(key) != 1) ossl::fatal("EVP_PKEY_up_ref");
    return PublicKey(ossl::Pkey(key));
}

std::vector<std::string> Certificate::dns_names() const {
    return alt_name_strings(get(), GEN_DNS);
}

std::vector<std::string> Certificate::rfc822_names() const {
    return alt_name_strings(get(), GEN_EMAIL);
}

std::vector<Bytes> Certificate::ip_addresses() const {
    std::vector<Bytes> out;
    auto names = alt_names(get());
    for (int i = 0; names && i < sk_GENERAL_NAME_num(names.get()); ++i) {
        const GENERAL_NAME* gn = sk_GENERAL_NAME_value(names.get(), i);
        if (gn->type != GEN_IPADD) continue;
        const unsigned char* d = ASN1_STRING_get0_data(gn->d.iPAddress);
        const int len = ASN1_STRING_length(gn->d.iPAddress);
        // 4 or 16 octets (RFC 5280 §4.2.1.6); name constraints use 8/32, never a SAN.
        if (len == 4 || len == 16) out.emplace_back(d, d + len);
    }
    return out;
}

Bytes Certificate::subject_key_identifier() const {
    const ASN1_OCTET_STRING* ski = X509_get0_subject_key_id(get());
    if (!ski) return {};
    const unsigned char* d = ASN1_STRING_get0_data(ski);
    return Bytes(d, d + ASN1_STRING_length(ski));
}

std::vector<std::string> Certificate::extended_key_usages() const {
    std::vector<std::string> out;
    std::unique_ptr<EXTENDED_KEY_USAGE, EkuFree> eku(static_cast<EXTENDED_KEY_USAGE*>(
        X509_get_ext_d2i(get(), NID_ext_key_usage, nullptr, nullptr)));
    for (int i = 0; eku && i < sk_ASN1_OBJECT_num(eku.get()); ++i) {
        char buf[128];
        int n = OBJ_obj2txt(buf, sizeof buf, sk_ASN1_OBJECT_value(eku.get(), i), 1);
        if (n > 0 && static_cast<std::size_t>(n) < sizeof buf) out.emplace_back(buf);
    }
    return out;
}

bool Certificate::has_extended_key_usage(std::string_view oid) const {
    auto all = extended_key_usages();
    return std::find(all.begin(), all.end(), oid) != all.end();
}

bool Certificate::is_ca() const {
    return (X509_get_extension_flags(get()) & EXFLAG_CA) != 0;
}

bool Certificate::is_self_signed() const {
    return (X509_get_extension_flags(get()) & EXFLAG_SS) != 0;
}

std::time_t Certificate::not_before() const {
    return to_time(X509_get0_notBefore(get()));
}

std::time_t Certificate::not_after() const {
    return to_time(X509_get0_notAfter(get()));
}

tl::expected<std::vector<Certificate>, std::string> load_pem_chain(std::string_view text) {
    auto bio = memory_bio(text);
    std::vector<Certificate> out;
    for (;;) {
        X509* x = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr);
        if (!x) {
            // The normal end of the text is "no start line"; anything else is a corrupt block.
            const unsigned long e = ERR_peek_last_error();
            if (ERR_GET_LIB(e) == ERR_LIB_PEM && ERR_GET_REASON(e) == PEM_R_NO_START_LINE) {
                ossl::clear_errors();
                break;
            }
            return tl::make_unexpected(
                ossl::error("PEM certificate " + std::to_string(out.size() + 1)));
        }
        std::shared_ptr<X509> owned(x, X509_free);
        auto der = encode(x, i2d_X509);
        auto cert = Certificate::from_der(der);
        if (!cert) {
            return tl::make_unexpected("PEM certificate " + std::to_string(out.size() + 1) + ": " +
                                       cert.error());
        }
        out.push_back(std::move(*cert));
    }
    if (out.empty()) return tl::make_unexpected(std::string("PEM: no certificate found"));
    return out;
}

// ---- CertificateValidator ----

CertificateValidator::CertificateValidator(std::vector<Certificate> trust_anchors,
                                           ValidationLimits limits)
    : anchors_(std::move(trust_anchors)),
      store_(X509_STORE_new(), X509_STORE_free),
      limits_(limits) {
    if (!store_) ossl::fatal("X509_STORE_new");
    for (const auto& a : anchors_) {
        // A duplicate anchor is harmless; OpenSSL 3 ignores it.
        if (X509_STORE_add_cert(store_.get(), a.get()) != 1) ossl::clear_errors();
    }
}

tl::expected<void, std::string> CertificateValidator::validate(
    const Certificate& end_entity, std::span<const Certificate> intermediates,
    std::time_t now) const {
    auto chain = verified_chain(end_entity, intermediates, now);
    if (!chain) return tl::make_unexpected(chain.error());
    return {};
}

tl::expected<std::vector<Certificate>, std::string> CertificateValidator::verified_chain(
    const Certificate& end_entity, std::span<const Certificate> intermediates,
    std::time_t now) const {
    if (anchors_.empty()) return tl::make_unexpected(std::string("no trust anchors configured"));
    // Caps before any work: a peer controls how many CERT payloads it sends and their size.
    if (intermediates.size() + 1 > limits_.max_chain_length) {
        return tl::make_unexpected(
            "too many certificates: " + std::to_string(intermediates.size() + 1) + " > " +
            std::to_string(limits_.max_chain_length));
    }
    std::size_t total = end_entity.der().size();
    for (const auto& c : intermediates)
        total += c.der().size();
    if (total > limits_.max_total_size) {
        return tl::make_unexpected("certificates too large: " + std::to_string(total) + " > " +
                                   std::to_string(limits_.max_total_size) + " octets");
    }

    std::unique_ptr<STACK_OF(X509), StackX509Free> untrusted(sk_X509_new_null());
    if (!untrusted) ossl::fatal("sk_X509_new_null");
    for (const auto& c : intermediates) {
        if (!sk_X509_push(untrusted.get(), c.get())) ossl::fatal("sk_X509_push");
    }
    std::unique_ptr<X509_STORE_CTX, StoreCtxFree> ctx(X509_STORE_CTX_new());
    if (!ctx) ossl::fatal("X509_STORE_CTX_new");
    if (X509_STORE_CTX_init(ctx.get(), store_.get(), end_entity.get(), untrusted.get()) != 1)
        ossl::fatal("X509_STORE_CTX_init");
    X509_STORE_CTX_set_time(ctx.get(), 0, now);
    // OpenSSL's depth counts the certificates between the end entity and the anchor.
    const auto depth = limits_.max_chain_length >= 2 ? limits_.max_chain_length - 2 : 0;
    X509_STORE_CTX_set_depth(ctx.get(), static_cast<int>(depth));
    X509_STORE_CTX_set_flags(ctx.get(), X509_V_FLAG_PARTIAL_CHAIN);

    const int ok = X509_verify_cert(ctx.get());
    if (ok != 1) {
        const int err = X509_STORE_CTX_get_error(ctx.get());
        const int at = X509_STORE_CTX_get_error_depth(ctx.get());
        std::string reason = "certificate chain: ";
        reason += X509_verify_cert_error_string(err);
        reason += " at depth " + std::to_string(at);
        if (X509* bad = X509_STORE_CTX_get_current_cert(ctx.get())) {
            reason += " (" + name_text(X509_get_subject_name(bad)) + ")";
        }
        ossl::clear_errors();
        return tl::make_unexpected(std::move(reason));
    }

    std::vector<Certificate> chain;
    STACK_OF(X509)* built = X509_STORE_CTX_get0_chain(ctx.get());
    for (int i = 0; i < sk_X509_num(built); ++i) {
        // Return our own Certificate objects: the ones given or the anchors.
        X509* x = sk_X509_value(built, i);
        const Certificate* found = nullptr;
        if (X509_cmp(x, end_entity.get()) == 0) found = &end_entity;
        for (const auto& c : intermediates) {
            if (!found && X509_cmp(x, c.get()) == 0) found = &c;
        }
        for (const auto& c : anchors_) {
            if (!found && X509_cmp(x, c.get()) == 0) found = &c;
        }
        if (!found) ossl::fatal("verified chain holds an unknown certificate");
        chain.push_back(*found);
    }
    return chain;
}

// ---- CERT / CERTREQ ----

CertReqHash certreq_hash(const Certificate& ca) {
    const Bytes digest = sha1(ca.spki_der());
    CertReqHash h{};
    std::copy(digest.begin(), digest.end(), h.begin());
    return h;
}

tl::expected<std::vector<CertReqHash>, std::string> split_certreq(ByteView data) {
    if (data.size() % 20 != 0) {
        return tl::make_unexpected("CERTREQ: " + std::to_string(data.size()) +
                                   " octets of CA data is not a multiple of 20 (SHA-1 hashes)");
    }
    std::vector<CertReqHash> out(data.size() / 20);
    for (std::size_t i = 0; i < out.size(); ++i)
        std::copy_n(data.begin() + static_cast<std::ptrdiff_t>(i * 20), 20, out[i].begin());
    return out;
}

namespace {
bool asked_for(const std::vector<CertReqHash>& hashes, const Certificate& ca) {
    return std::find(hashes.begin(), hashes.end(), certreq_hash(ca)) != hashes.end();
}
}  // namespace

tl::expected<std::vector<std::size_t>, std::string> requested_cas(
    ByteView certreq_data, std::span<const Certificate> cas) {
    auto hashes = split_certreq(certreq_data);
    if (!hashes) return tl::make_unexpected(hashes.error());
    std::vector<std::size_t> out;
    for (std::size_t i = 0; i < cas.size(); ++i) {
        if (asked_for(*hashes, cas[i])) out.push_back(i);
    }
    return out;
}

tl::expected<std::vector<std::size_t>, std::string> requested_chains(
    ByteView certreq_data, std::span<const OwnChain> chains) {
    auto hashes = split_certreq(certreq_data);
    if (!hashes) return tl::make_unexpected(hashes.error());
    std::vector<std::size_t> out;
    for (std::size_t i = 0; i < chains.size(); ++i) {
        bool hit = asked_for(*hashes, chains[i].trust_anchor);
        // certificates[0] is the end entity: a CERTREQ names CAs, never end entities.
        for (std::size_t j = 1; !hit && j < chains[i].certificates.size(); ++j)
            hit = asked_for(*hashes, chains[i].certificates[j]);
        if (hit) out.push_back(i);
    }
    return out;
}

wire::CertPayload cert_payload(const Certificate& cert) {
    return wire::CertPayload{CertEncoding::X509_SIGNATURE, cert.der()};
}

tl::expected<Certificate, std::string> certificate_from_payload(const wire::CertPayload& p) {
    if (p.encoding != CertEncoding::X509_SIGNATURE) {
        return tl::make_unexpected("CERT: encoding " + to_string(p.encoding) +
                                   " not supported (only X509_SIGNATURE)");
    }
    return Certificate::from_der(p.data);
}

wire::CertReqPayload certreq_payload(std::span<const Certificate> cas) {
    wire::CertReqPayload p{CertEncoding::X509_SIGNATURE, {}};
    for (const auto& ca : cas) {
        const auto h = certreq_hash(ca);
        p.data.insert(p.data.end(), h.begin(), h.end());
    }
    return p;
}

}  // namespace postern::ike::crypto
