// Internal helpers around OpenSSL 3: owning pointers for EVP objects, the OpenSSL error queue
// as text, HMAC through EVP_MAC. Not part of the public crypto API.
#pragma once

#include <cstddef>
#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>

#include <openssl/bn.h>
#include <openssl/evp.h>

#include "ike/crypto/secret.hpp"
#include "postern/bytes.hpp"

namespace postern::ike::crypto::ossl {

struct PkeyFree {
    void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
struct PkeyCtxFree {
    void operator()(EVP_PKEY_CTX* p) const { EVP_PKEY_CTX_free(p); }
};
struct CipherCtxFree {
    void operator()(EVP_CIPHER_CTX* p) const { EVP_CIPHER_CTX_free(p); }
};
struct CipherFree {
    void operator()(EVP_CIPHER* p) const { EVP_CIPHER_free(p); }
};
struct MdCtxFree {
    void operator()(EVP_MD_CTX* p) const { EVP_MD_CTX_free(p); }
};
struct BnFree {
    void operator()(BIGNUM* p) const { BN_clear_free(p); }
};

using Pkey = std::unique_ptr<EVP_PKEY, PkeyFree>;
using PkeyCtx = std::unique_ptr<EVP_PKEY_CTX, PkeyCtxFree>;
using CipherCtx = std::unique_ptr<EVP_CIPHER_CTX, CipherCtxFree>;
using Cipher = std::unique_ptr<EVP_CIPHER, CipherFree>;
using MdCtx = std::unique_ptr<EVP_MD_CTX, MdCtxFree>;
using Bn = std::unique_ptr<BIGNUM, BnFree>;

// Drains the OpenSSL error queue into "what: reason" (or just "what" when the queue is empty).
// Every failing path calls it so a stale error never leaks into a later, unrelated message.
std::string error(std::string_view what);

// Clears the error queue (after an expected failure, e.g. a rejected signature).
void clear_errors();

// The named digest ("SHA1", "SHA256") or cipher ("AES-256-GCM"), fetched from OpenSSL's
// provider store once for the process and kept. EVP_sha1() and the like, and a fetch by name,
// look the algorithm up again on every use (a lock and string compares). nullptr when the
// provider does not offer it.
const EVP_MD* digest(std::string_view name);
const EVP_CIPHER* cipher(std::string_view name);

// HMAC(key, data...) with the named digest ("SHA256"), written to out (digest size octets).
// OpenSSL failures here cannot be caused by input (HMAC accepts any key and data), so they
// abort with a message rather than return an error.
void hmac(std::string_view digest, ByteView key, std::initializer_list<ByteView> data,
          MutableByteView out);

// HMAC with one key, computed many times (prf+'s iterations, RFC 7296 §2.13): the key's
// pads are hashed once, and each compute() starts again from that keyed state, where hmac()
// sets a fresh context up for every call. The keyed state is secret; OpenSSL cleanses it when
// the object goes.
class Hmac {
  public:
    Hmac(std::string_view digest, ByteView key);
    ~Hmac();
    Hmac(const Hmac&) = delete;
    Hmac& operator=(const Hmac&) = delete;
    // HMAC(key, data...) into out (digest size octets).
    void compute(std::initializer_list<ByteView> data, MutableByteView out);

  private:
    EVP_MAC_CTX* ctx_;
};

// Aborts with the OpenSSL error queue: for "can't happen" failures (allocation, a provider
// without SHA-256).
[[noreturn]] void fatal(std::string_view what);

}  // namespace postern::ike::crypto::ossl
