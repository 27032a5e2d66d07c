#include "ike/crypto/ossl.hpp"

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include <openssl/core_names.h>
#include <openssl/err.h>

namespace postern::ike::crypto::ossl {

std::string error(std::string_view what) {
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

void clear_errors() {
    ERR_clear_error();
}

void fatal(std::string_view what) {
    std::string msg = error(what);
    std::fprintf(stderr, "postern crypto: fatal: %s\n", msg.c_str());
    std::abort();
}

namespace {

struct MacFree {
    void operator()(EVP_MAC* m) const { EVP_MAC_free(m); }
};
struct MacCtxFree {
    void operator()(EVP_MAC_CTX* c) const { EVP_MAC_CTX_free(c); }
};

// A table of the named algorithms, fetched when it is first used (one table per algorithm
// type: digest() and cipher() below).
template <typename Algorithm, typename Fetch, typename Free>
const Algorithm* fetched_once(std::string_view name, std::initializer_list<const char*> names,
                              Fetch fetch, Free free) {
    struct Entry {
        std::string name;
        std::unique_ptr<Algorithm, Free> algorithm;
    };
    static const std::vector<Entry> table = [&] {
        std::vector<Entry> all;
        for (const char* n : names)
            all.push_back({n, std::unique_ptr<Algorithm, Free>(fetch(nullptr, n, nullptr), free)});
        clear_errors();  // one the provider lacks stays null; the caller reports it when used
        return all;
    }();
    for (const Entry& e : table)
        if (e.name == name) return e.algorithm.get();
    return nullptr;
}

EVP_MAC* hmac_algorithm() {
    // Fetched once: EVP_MAC_fetch walks the provider store on every call otherwise.
    static const std::unique_ptr<EVP_MAC, MacFree> mac(EVP_MAC_fetch(nullptr, "HMAC", nullptr));
    if (!mac) fatal("EVP_MAC_fetch(HMAC)");
    return mac.get();
}

// A keyless HMAC context per digest, made once per thread: each hmac() duplicates it, which
// copies the digest OpenSSL already fetched, where setting the digest by name on a new context
// looks it up in the provider store again (a lock and string compares, ~20 % of a short
// HMAC). The template is keyed with the one-octet zero key, so it holds nothing secret; the
// copy that takes the real key is freed (and cleansed by OpenSSL) before hmac() returns.
const EVP_MAC_CTX* hmac_template(std::string_view digest) {
    struct Template {
        std::string digest;
        std::unique_ptr<EVP_MAC_CTX, MacCtxFree> ctx;
    };
    thread_local std::vector<Template> templates;
    for (const Template& t : templates)
        if (t.digest == digest) return t.ctx.get();
    std::unique_ptr<EVP_MAC_CTX, MacCtxFree> ctx(EVP_MAC_CTX_new(hmac_algorithm()));
    if (!ctx) fatal("EVP_MAC_CTX_new");
    std::string md(digest);
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, md.data(), 0),
        OSSL_PARAM_construct_end(),
    };
    static constexpr std::uint8_t kZero[1] = {0};
    if (EVP_MAC_init(ctx.get(), kZero, sizeof kZero, params) != 1) fatal("EVP_MAC_init");
    templates.push_back({std::move(md), std::move(ctx)});
    return templates.back().ctx.get();
}

}  // namespace

const EVP_MD* digest(std::string_view name) {
    return fetched_once<EVP_MD>(name, {"SHA1", "SHA256", "SHA384", "SHA512"}, EVP_MD_fetch,
                                EVP_MD_free);
}

const EVP_CIPHER* cipher(std::string_view name) {
    return fetched_once<EVP_CIPHER>(
        name, {"AES-128-GCM", "AES-192-GCM", "AES-256-GCM", "ChaCha20-Poly1305"}, EVP_CIPHER_fetch,
        EVP_CIPHER_free);
}

namespace {

// A copy of the digest's keyless template (hmac_template) keyed with `key`.
std::unique_ptr<EVP_MAC_CTX, MacCtxFree> keyed_context(std::string_view digest, ByteView key) {
    std::unique_ptr<EVP_MAC_CTX, MacCtxFree> ctx(EVP_MAC_CTX_dup(hmac_template(digest)));
    if (!ctx) fatal("EVP_MAC_CTX_dup");
    // HMAC pads short keys with zeros to the block size (RFC 2104 §2), so the empty key and
    // the one-octet key 0x00 are the same key. EVP_MAC_init treats a null key as "keep the
    // previous key", so an empty key is passed as that single zero octet.
    static constexpr std::uint8_t kZero[1] = {0};
    const std::uint8_t* k = key.empty() ? kZero : key.data();
    const std::size_t klen = key.empty() ? 1 : key.size();
    if (EVP_MAC_init(ctx.get(), k, klen, nullptr) != 1) fatal("EVP_MAC_init");
    return ctx;
}

void update_final(EVP_MAC_CTX* ctx, std::initializer_list<ByteView> data, MutableByteView out) {
    for (ByteView d : data) {
        if (!d.empty() && EVP_MAC_update(ctx, d.data(), d.size()) != 1) fatal("EVP_MAC_update");
    }
    std::size_t len = 0;
    if (EVP_MAC_final(ctx, out.data(), &len, out.size()) != 1 || len != out.size())
        fatal("EVP_MAC_final");
}

}  // namespace

void hmac(std::string_view digest, ByteView key, std::initializer_list<ByteView> data,
          MutableByteView out) {
    update_final(keyed_context(digest, key).get(), data, out);
}

Hmac::Hmac(std::string_view digest, ByteView key) : ctx_(keyed_context(digest, key).release()) {}

Hmac::~Hmac() {
    EVP_MAC_CTX_free(ctx_);
}

void Hmac::compute(std::initializer_list<ByteView> data, MutableByteView out) {
    // A null key re-initialises HMAC from the keyed state it holds (HMAC_Init_ex's reuse).
    if (EVP_MAC_init(ctx_, nullptr, 0, nullptr) != 1) fatal("EVP_MAC_init");
    update_final(ctx_, data, out);
}

}  // namespace postern::ike::crypto::ossl
