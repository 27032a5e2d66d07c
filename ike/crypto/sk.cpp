#include "ike/crypto/sk.hpp"

#include <algorithm>

#include <openssl/crypto.h>

#include "ike/crypto/aead.hpp"
#include "ike/crypto/random.hpp"

namespace postern::ike::crypto {

namespace {

const char* cbc_name(const EncrInfo& e) {
    if (e.id == EncrId::ENCR_3DES) return "DES-EDE3-CBC";
    switch (e.key_bits) {
        case 128:
            return "AES-128-CBC";
        case 192:
            return "AES-192-CBC";
        default:
            return "AES-256-CBC";
    }
}

std::string n(std::size_t v) {
    return std::to_string(v);
}

}  // namespace

void random_iv(MutableByteView iv) {
    fill_random(iv);
}

tl::expected<SkCipher, std::string> SkCipher::create(EncrId encr, std::uint16_t key_bits,
                                                     IntegId integ, const Secret& sk_e,
                                                     const Secret& sk_a) {
    SkCipher c;
    c.encr_ = find_encr(encr, key_bits);
    if (!c.encr_) {
        return tl::make_unexpected("unsupported encryption transform " + to_string(encr) +
                                   " with key length " + n(key_bits));
    }
    if (sk_e.size() != c.encr_->keymat_size()) {
        return tl::make_unexpected(std::string(c.encr_->name) + " needs SK_e of " +
                                   n(c.encr_->keymat_size()) + " octets, got " + n(sk_e.size()));
    }
    c.key_ = sk_e.slice(0, c.encr_->key_size);
    if (c.encr_->aead) {
        if (integ != IntegId::AUTH_NONE) {
            return tl::make_unexpected("integrity transform " + to_string(integ) +
                                       " cannot be used with AEAD " + std::string(c.encr_->name));
        }
        c.salt_ = sk_e.slice(c.encr_->key_size, c.encr_->salt_size);
        c.icv_size_ = c.encr_->icv_size;
        return c;
    }
    c.integ_ = find_integ(integ);
    if (!c.integ_) {
        return tl::make_unexpected(std::string(c.encr_->name) + " needs an integrity transform; " +
                                   to_string(integ) + " is not supported");
    }
    if (sk_a.size() != c.integ_->key_size) {
        return tl::make_unexpected(std::string(c.integ_->name) + " needs SK_a of " +
                                   n(c.integ_->key_size) + " octets, got " + n(sk_a.size()));
    }
    c.sk_a_ = sk_a;
    c.icv_size_ = c.integ_->icv_size;
    EVP_CIPHER* cipher = EVP_CIPHER_fetch(nullptr, cbc_name(*c.encr_), nullptr);
    if (!cipher) return tl::make_unexpected(ossl::error(cbc_name(*c.encr_)));
    c.cbc_.reset(cipher, EVP_CIPHER_free);
    return c;
}

std::size_t SkCipher::padded_length(std::size_t plaintext_len) const {
    // Payloads + Padding + Pad Length, a multiple of the block size (RFC 7296 §3.14). AEAD
    // transforms have no alignment requirement, so they carry no padding at all.
    const std::size_t b = block_size();
    return (plaintext_len + 1 + b - 1) / b * b;
}

std::size_t SkCipher::body_length(std::size_t plaintext_len) const {
    return iv_size() + padded_length(plaintext_len) + icv_size();
}

std::size_t SkCipher::max_plaintext(std::size_t body_len) const {
    if (body_len < iv_size() + icv_size() + block_size()) return 0;
    const std::size_t room = body_len - iv_size() - icv_size();
    return room / block_size() * block_size() - 1;
}

Bytes SkCipher::icv(ByteView aad, ByteView iv_and_ciphertext) const {
    Secret full(integ_->key_size);  // HMAC output length equals the key length here
    ossl::hmac(integ_->digest, sk_a_.view(), {aad, iv_and_ciphertext}, full.mutable_view());
    return Bytes(full.data(), full.data() + icv_size_);
}

tl::expected<Bytes, std::string> SkCipher::seal(ByteView aad, ByteView plaintext,
                                                const IvSource& iv_source) const {
    const std::size_t padded = padded_length(plaintext.size());
    const std::size_t pad = padded - plaintext.size() - 1;
    Bytes body(body_length(plaintext.size()));
    MutableByteView iv(body.data(), iv_size());
    iv_source(iv);

    // The encrypted content: payloads | zero padding | Pad Length.
    Secret content(padded);
    std::copy(plaintext.begin(), plaintext.end(), content.data());
    content.data()[padded - 1] = static_cast<std::uint8_t>(pad);

    if (encr_->aead) {
        Secret nonce(kAeadNonceSize);
        std::copy_n(salt_.data(), salt_.size(), nonce.data());
        std::copy(iv.begin(), iv.end(), nonce.data() + salt_.size());
        auto sealed = aead_seal(encr_->id, key_.view(), nonce.view(), aad, content.view());
        if (!sealed) return tl::make_unexpected(sealed.error());
        std::copy(sealed->begin(), sealed->end(), body.begin() + static_cast<long>(iv_size()));
        return body;
    }

    ossl::CipherCtx ctx(EVP_CIPHER_CTX_new());
    int len = 0;
    std::uint8_t* ct = body.data() + iv_size();
    if (!ctx || EVP_EncryptInit_ex2(ctx.get(), cbc_.get(), key_.data(), iv.data(), nullptr) != 1 ||
        EVP_CIPHER_CTX_set_padding(ctx.get(), 0) != 1 ||
        EVP_EncryptUpdate(ctx.get(), ct, &len, content.data(), static_cast<int>(padded)) != 1 ||
        static_cast<std::size_t>(len) != padded)
        return tl::make_unexpected(ossl::error("SK encryption failed"));
    Bytes mac = icv(aad, ByteView(body.data(), iv_size() + padded));
    std::copy(mac.begin(), mac.end(), body.end() - static_cast<long>(icv_size_));
    return body;
}

tl::expected<Bytes, std::string> SkCipher::open(ByteView aad, ByteView body) const {
    if (body.size() < iv_size() + icv_size()) {
        return tl::make_unexpected("encrypted payload body of " + n(body.size()) +
                                   " octets is shorter than IV (" + n(iv_size()) + ") + ICV (" +
                                   n(icv_size()) + ")");
    }
    const ByteView iv = body.first(iv_size());
    const std::size_t ct_len = body.size() - iv_size() - icv_size();
    const ByteView ct = body.subspan(iv_size(), ct_len);
    const ByteView received_icv = body.last(icv_size());
    if (ct_len == 0 || ct_len % block_size() != 0) {
        return tl::make_unexpected("encrypted content of " + n(ct_len) +
                                   " octets is not a positive multiple of the block size (" +
                                   n(block_size()) + ")");
    }

    Bytes content;
    if (encr_->aead) {
        Secret nonce(kAeadNonceSize);
        std::copy_n(salt_.data(), salt_.size(), nonce.data());
        std::copy(iv.begin(), iv.end(), nonce.data() + salt_.size());
        auto opened = aead_open(encr_->id, key_.view(), nonce.view(), aad, body.subspan(iv_size()));
        if (!opened) return tl::make_unexpected(opened.error());
        content = std::move(*opened);
    } else {
        // RFC 7296 §3.14: the ICV covers the IKE header through the end of the ciphertext; it
        // is verified (in constant time) before the ciphertext is decrypted.
        Bytes expected_icv = icv(aad, body.first(iv_size() + ct_len));
        if (!equal_ct(expected_icv, received_icv))
            return tl::make_unexpected(
                "ICV mismatch: integrity check of the encrypted payload "
                "failed");
        content.resize(ct_len);
        ossl::CipherCtx ctx(EVP_CIPHER_CTX_new());
        int len = 0;
        if (!ctx ||
            EVP_DecryptInit_ex2(ctx.get(), cbc_.get(), key_.data(), iv.data(), nullptr) != 1 ||
            EVP_CIPHER_CTX_set_padding(ctx.get(), 0) != 1 ||
            EVP_DecryptUpdate(ctx.get(), content.data(), &len, ct.data(),
                              static_cast<int>(ct_len)) != 1 ||
            static_cast<std::size_t>(len) != ct_len)
            return tl::make_unexpected(ossl::error("SK decryption failed"));
    }

    const std::size_t pad = content.back();
    if (pad + 1 > content.size()) {
        OPENSSL_cleanse(content.data(), content.size());
        return tl::make_unexpected("Pad Length " + n(pad) + " exceeds the " +
                                   n(content.size() - 1) + " octets of decrypted content");
    }
    content.resize(content.size() - pad - 1);
    return content;
}

}  // namespace postern::ike::crypto
