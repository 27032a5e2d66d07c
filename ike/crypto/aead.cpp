#include "ike/crypto/aead.hpp"

#include <openssl/crypto.h>

#include "ike/crypto/ossl.hpp"

namespace postern::ike::crypto {

namespace {

const char* cipher_name(EncrId id, std::size_t key_size) {
    if (id == EncrId::ENCR_AES_GCM_16) {
        switch (key_size) {
            case 16:
                return "AES-128-GCM";
            case 24:
                return "AES-192-GCM";
            case 32:
                return "AES-256-GCM";
            default:
                return nullptr;
        }
    }
    if (id == EncrId::ENCR_CHACHA20_POLY1305 && key_size == 32) return "ChaCha20-Poly1305";
    return nullptr;
}

tl::expected<const EVP_CIPHER*, std::string> fetch(EncrId id, std::size_t key_size,
                                                   std::size_t nonce_size) {
    if (!is_supported_aead(id)) return tl::make_unexpected(to_string(id) + " is not an AEAD");
    const char* name = cipher_name(id, key_size);
    if (!name) {
        return tl::make_unexpected(to_string(id) + " key of " + std::to_string(key_size) +
                                   " octets is not a valid key length");
    }
    if (nonce_size != kAeadNonceSize) {
        return tl::make_unexpected("AEAD nonce must be " + std::to_string(kAeadNonceSize) +
                                   " octets, got " + std::to_string(nonce_size));
    }
    const EVP_CIPHER* c = ossl::cipher(name);
    if (!c) return tl::make_unexpected(std::string("OpenSSL offers no ") + name);
    return c;
}

int as_int(std::size_t n) {
    return static_cast<int>(n);
}

}  // namespace

bool is_supported_aead(EncrId id) {
    return id == EncrId::ENCR_AES_GCM_16 || id == EncrId::ENCR_CHACHA20_POLY1305;
}

tl::expected<Bytes, std::string> aead_seal(EncrId id, ByteView key, ByteView nonce, ByteView aad,
                                           ByteView plaintext) {
    auto cipher = fetch(id, key.size(), nonce.size());
    if (!cipher) return tl::make_unexpected(cipher.error());
    ossl::CipherCtx ctx(EVP_CIPHER_CTX_new());
    Bytes out(plaintext.size() + kAeadTagSize);
    int aad_len = 0, len = 0, fin = 0;
    // The default IV length of both ciphers is 12 octets, so no SET_IVLEN is needed.
    if (!ctx || EVP_EncryptInit_ex2(ctx.get(), *cipher, key.data(), nonce.data(), nullptr) != 1 ||
        (!aad.empty() &&
         EVP_EncryptUpdate(ctx.get(), nullptr, &aad_len, aad.data(), as_int(aad.size())) != 1) ||
        // A null output pointer means "AAD" to OpenSSL, so empty input skips the call.
        (!plaintext.empty() && EVP_EncryptUpdate(ctx.get(), out.data(), &len, plaintext.data(),
                                                 as_int(plaintext.size())) != 1) ||
        EVP_EncryptFinal_ex(ctx.get(), out.data() + len, &fin) != 1 ||
        static_cast<std::size_t>(len + fin) != plaintext.size() ||
        EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_AEAD_GET_TAG, as_int(kAeadTagSize),
                            out.data() + plaintext.size()) != 1)
        return tl::make_unexpected(ossl::error("AEAD encryption failed"));
    return out;
}

tl::expected<Bytes, std::string> aead_open(EncrId id, ByteView key, ByteView nonce, ByteView aad,
                                           ByteView sealed) {
    auto cipher = fetch(id, key.size(), nonce.size());
    if (!cipher) return tl::make_unexpected(cipher.error());
    if (sealed.size() < kAeadTagSize) {
        return tl::make_unexpected("AEAD input of " + std::to_string(sealed.size()) +
                                   " octets is shorter than the " + std::to_string(kAeadTagSize) +
                                   "-octet tag");
    }
    const std::size_t ct_len = sealed.size() - kAeadTagSize;
    Bytes tag(sealed.begin() + static_cast<std::ptrdiff_t>(ct_len), sealed.end());
    ossl::CipherCtx ctx(EVP_CIPHER_CTX_new());
    Bytes out(ct_len);
    int aad_len = 0, len = 0, fin = 0;
    if (!ctx || EVP_DecryptInit_ex2(ctx.get(), *cipher, key.data(), nonce.data(), nullptr) != 1 ||
        (!aad.empty() &&
         EVP_DecryptUpdate(ctx.get(), nullptr, &aad_len, aad.data(), as_int(aad.size())) != 1) ||
        (ct_len > 0 &&
         EVP_DecryptUpdate(ctx.get(), out.data(), &len, sealed.data(), as_int(ct_len)) != 1) ||
        EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_AEAD_SET_TAG, as_int(kAeadTagSize), tag.data()) !=
            1)
        return tl::make_unexpected(ossl::error("AEAD decryption failed"));
    // Final compares the tag (in constant time inside OpenSSL).
    std::uint8_t scratch[1];
    if (EVP_DecryptFinal_ex(ctx.get(), ct_len > 0 ? out.data() + len : scratch, &fin) != 1) {
        ossl::clear_errors();
        OPENSSL_cleanse(out.data(), out.size());
        return tl::make_unexpected("ICV mismatch: AEAD tag did not verify");
    }
    return out;
}

}  // namespace postern::ike::crypto
