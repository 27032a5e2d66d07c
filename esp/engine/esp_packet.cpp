#include "esp/engine/esp_packet.hpp"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include <algorithm>
#include <cstring>

#include "esp/engine/ip_packet.hpp"

namespace postern::esp {

namespace {

constexpr std::size_t kAeadTagSize = 16;

void put32(std::uint8_t* p, std::uint32_t v) {
    p[0] = static_cast<std::uint8_t>(v >> 24);
    p[1] = static_cast<std::uint8_t>(v >> 16);
    p[2] = static_cast<std::uint8_t>(v >> 8);
    p[3] = static_cast<std::uint8_t>(v);
}

std::uint32_t get32(const std::uint8_t* p) {
    return std::uint32_t{p[0]} << 24 | std::uint32_t{p[1]} << 16 | std::uint32_t{p[2]} << 8 | p[3];
}

EVP_MAC* hmac_algorithm() {
    // Fetched once for the process; EVP_MAC objects are immutable and shareable.
    static EVP_MAC* mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
    return mac;
}

// The AAD of RFC 4106 §5 / RFC 7634 §2.1: SPI | Sequence Number (32 bits), or with ESN
// SPI | Seq high | Seq low. Returns its length in aad (12 octets of room).
std::size_t build_aad(const std::uint8_t* header, bool esn, std::uint64_t seq, std::uint8_t* aad) {
    std::memcpy(aad, header, 4);
    if (!esn) {
        std::memcpy(aad + 4, header + 4, 4);
        return 8;
    }
    put32(aad + 4, static_cast<std::uint32_t>(seq >> 32));
    std::memcpy(aad + 8, header + 4, 4);
    return 12;
}

// RFC 4303 §2.4: pad so that payload | Padding | Pad Length | Next Header fills whole blocks
// (CBC) and ends on a 4-octet boundary (all transforms).
std::size_t pad_length(const EspTransform& t, std::size_t payload) {
    return (t.block_size - (payload + 2) % t.block_size) % t.block_size;
}

}  // namespace

tl::expected<EspCipher, std::string> EspCipher::create(const EspSa& sa) {
    EspCipher c;
    c.sa_ = &sa;
    const EspTransform& t = sa.transform();
    c.ctx_.reset(EVP_CIPHER_CTX_new());
    // The key schedule is computed here, once; packets pass only an IV (EVP_CipherInit_ex2
    // with a null key keeps the schedule).
    if (!c.ctx_ || EVP_CipherInit_ex2(c.ctx_.get(), sa.cipher(), sa.encr_key().data(), nullptr,
                                      sa.inbound() ? 0 : 1, nullptr) != 1)
        return tl::make_unexpected(std::string("cannot initialise ") + t.cipher_name);
    if (t.mode == EspMode::aead) {
        std::copy(sa.salt().begin(), sa.salt().end(), c.nonce_);
        return c;
    }
    EVP_CIPHER_CTX_set_padding(c.ctx_.get(), 0);  // ESP pads itself (RFC 4303 §2.4)
    c.mac_.reset(hmac_algorithm() ? EVP_MAC_CTX_new(hmac_algorithm()) : nullptr);
    OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
                                                            const_cast<char*>(t.digest_name), 0),
                           OSSL_PARAM_construct_end()};
    if (!c.mac_ ||
        EVP_MAC_init(c.mac_.get(), sa.integ_key().data(), sa.integ_key().size(), params) != 1)
        return tl::make_unexpected(std::string("cannot initialise HMAC-") + t.digest_name);
    return c;
}

bool EspCipher::aead_seal(ByteView iv, ByteView aad, MutableByteView text, std::uint8_t* tag) {
    std::memcpy(nonce_ + 4, iv.data(), 8);
    int len = 0, final_len = 0;
    return EVP_CipherInit_ex2(ctx_.get(), nullptr, nullptr, nonce_, -1, nullptr) == 1 &&
           EVP_CipherUpdate(ctx_.get(), nullptr, &len, aad.data(), static_cast<int>(aad.size())) ==
               1 &&
           EVP_CipherUpdate(ctx_.get(), text.data(), &len, text.data(),
                            static_cast<int>(text.size())) == 1 &&
           EVP_CipherFinal_ex(ctx_.get(), text.data() + len, &final_len) == 1 &&
           EVP_CIPHER_CTX_ctrl(ctx_.get(), EVP_CTRL_AEAD_GET_TAG, kAeadTagSize, tag) == 1;
}

bool EspCipher::aead_open(ByteView iv, ByteView aad, MutableByteView text,
                          const std::uint8_t* tag) {
    std::memcpy(nonce_ + 4, iv.data(), 8);
    int len = 0, final_len = 0;
    return EVP_CipherInit_ex2(ctx_.get(), nullptr, nullptr, nonce_, -1, nullptr) == 1 &&
           EVP_CIPHER_CTX_ctrl(ctx_.get(), EVP_CTRL_AEAD_SET_TAG, kAeadTagSize,
                               const_cast<std::uint8_t*>(tag)) == 1 &&
           EVP_CipherUpdate(ctx_.get(), nullptr, &len, aad.data(), static_cast<int>(aad.size())) ==
               1 &&
           EVP_CipherUpdate(ctx_.get(), text.data(), &len, text.data(),
                            static_cast<int>(text.size())) == 1 &&
           EVP_CipherFinal_ex(ctx_.get(), text.data() + len, &final_len) == 1;
}

bool EspCipher::cbc(ByteView iv, MutableByteView text) {
    int len = 0;
    return EVP_CipherInit_ex2(ctx_.get(), nullptr, nullptr, iv.data(), -1, nullptr) == 1 &&
           EVP_CipherUpdate(ctx_.get(), text.data(), &len, text.data(),
                            static_cast<int>(text.size())) == 1 &&
           static_cast<std::size_t>(len) == text.size();
}

std::size_t EspCipher::hmac(ByteView covered, ByteView extra, std::uint8_t* out) {
    std::size_t len = 0;
    // A null key re-initialises HMAC with the key given in create() (ipad/opad precomputed).
    if (EVP_MAC_init(mac_.get(), nullptr, 0, nullptr) != 1 ||
        EVP_MAC_update(mac_.get(), covered.data(), covered.size()) != 1 ||
        (!extra.empty() && EVP_MAC_update(mac_.get(), extra.data(), extra.size()) != 1) ||
        EVP_MAC_final(mac_.get(), out, &len, EVP_MAX_MD_SIZE) != 1)
        return 0;
    return len;
}

DropReason encapsulate(EspSa& sa, EspCipher& cipher, PacketBuffer& buf) {
    auto drop = [&](DropReason r) {
        sa.count_drop(r);
        return r;
    };
    if (sa.inbound()) return drop(DropReason::wrong_direction);
    if (sa.hard_expired()) return drop(DropReason::hard_expired);
    auto info = parse_ip_packet(buf.packet());
    if (!info || info->total_length != buf.length) return drop(DropReason::bad_inner_packet);
    const EspTransform& t = sa.transform();
    // Checked before a sequence number is spent.
    if (buf.headroom() < kEspHeaderSize + t.iv_size ||
        buf.tailroom() < pad_length(t, buf.length) + 2 + t.icv_size)
        return drop(DropReason::no_room);
    const std::uint64_t seq = sa.next_sequence();
    if (seq == 0) return drop(DropReason::seq_exhausted);
    std::uint8_t iv[kMaxIvSize];
    if (t.mode == EspMode::aead) {
        // RFC 4106 §3.1 / RFC 7634 §2: the IV must never repeat under a key; the sequence
        // number never does, and costs no random bytes.
        put32(iv, static_cast<std::uint32_t>(seq >> 32));
        put32(iv + 4, static_cast<std::uint32_t>(seq));
    } else if (RAND_bytes(iv, static_cast<int>(t.iv_size)) != 1) {
        return drop(DropReason::crypto_error);
    }
    return encapsulate_with(sa, cipher, buf, seq, ByteView(iv, t.iv_size),
                            info->version == 4 ? kNextHeaderIpv4 : kNextHeaderIpv6);
}

DropReason encapsulate_with(EspSa& sa, EspCipher& cipher, PacketBuffer& buf, std::uint64_t seq,
                            ByteView iv, std::uint8_t next_header) {
    auto drop = [&](DropReason r) {
        sa.count_drop(r);
        return r;
    };
    const EspTransform& t = sa.transform();
    const std::size_t head = kEspHeaderSize + t.iv_size;
    const std::size_t payload = buf.length;
    const std::size_t pad = pad_length(t, payload);
    const std::size_t text_len = payload + pad + 2;
    if (buf.headroom() < head || buf.tailroom() < pad + 2 + t.icv_size || iv.size() != t.iv_size)
        return drop(DropReason::no_room);

    std::uint8_t* const start = buf.storage.data() + buf.offset - head;
    std::uint8_t* const text = start + head;
    // RFC 4303 §2.4: the default padding is the monotonically increasing series 1, 2, 3, ...
    for (std::size_t i = 0; i < pad; ++i)
        text[payload + i] = static_cast<std::uint8_t>(i + 1);
    text[payload + pad] = static_cast<std::uint8_t>(pad);
    text[payload + pad + 1] = next_header;
    put32(start, sa.spi().value());
    put32(start + 4, static_cast<std::uint32_t>(seq));  // low 32 bits only (RFC 4303 §2.2.1)
    std::memcpy(start + kEspHeaderSize, iv.data(), iv.size());
    std::uint8_t* const icv = text + text_len;

    bool ok;
    if (t.mode == EspMode::aead) {
        std::uint8_t aad[12];
        const std::size_t aad_len = build_aad(start, sa.esn(), seq, aad);
        ok = cipher.aead_seal(iv, ByteView(aad, aad_len), MutableByteView(text, text_len), icv);
    } else {
        // RFC 4303 §2.2.1/§3.3.2: with ESN the high 32 bits are appended for the ICV only.
        std::uint8_t seq_high[4];
        put32(seq_high, static_cast<std::uint32_t>(seq >> 32));
        std::uint8_t mac[EVP_MAX_MD_SIZE];
        ok = cipher.cbc(iv, MutableByteView(text, text_len)) &&
             cipher.hmac(ByteView(start, head + text_len),
                         sa.esn() ? ByteView(seq_high, 4) : ByteView(), mac) >= t.icv_size;
        if (ok) std::memcpy(icv, mac, t.icv_size);  // truncated (RFC 2404, RFC 4868 §2.1.1)
    }
    if (!ok) return drop(DropReason::crypto_error);
    buf.offset -= head;
    buf.length = head + text_len + t.icv_size;
    sa.count_packet(payload);
    return DropReason::none;
}

DecapResult decapsulate(EspSa& sa, EspCipher& cipher, PacketBuffer& buf) {
    DecapResult result;
    auto drop = [&](DropReason r) {
        sa.count_drop(r);
        result.reason = r;
        return result;
    };
    if (!sa.inbound()) return drop(DropReason::wrong_direction);
    if (sa.hard_expired()) return drop(DropReason::hard_expired);
    const EspTransform& t = sa.transform();
    const std::size_t head = kEspHeaderSize + t.iv_size;
    // The smallest payload: Pad Length and Next Header; for CBC one whole block.
    const std::size_t min_text = t.mode == EspMode::cbc_hmac ? t.block_size : 2;
    if (buf.length < head + min_text + t.icv_size) return drop(DropReason::too_short);
    std::uint8_t* const start = buf.storage.data() + buf.offset;
    if (get32(start) != sa.spi().value()) return drop(DropReason::unknown_spi);
    const std::size_t text_len = buf.length - head - t.icv_size;
    if (t.mode == EspMode::cbc_hmac && text_len % t.block_size != 0)
        return drop(DropReason::bad_length);

    // RFC 4303 §3.4.3: the cheap replay check comes before any cryptography.
    ReplayWindow& window = sa.replay_window();
    const auto seq = window.check(get32(start + 4));
    if (!seq) return drop(DropReason::replay);

    const ByteView iv(start + kEspHeaderSize, t.iv_size);
    const MutableByteView text(start + head, text_len);
    const std::uint8_t* const icv = start + head + text_len;
    if (t.mode == EspMode::aead) {
        std::uint8_t aad[12];
        const std::size_t aad_len = build_aad(start, sa.esn(), *seq, aad);
        if (!cipher.aead_open(iv, ByteView(aad, aad_len), text, icv))
            return drop(DropReason::bad_icv);
    } else {
        // Encrypt-then-MAC: verify (constant time) before decrypting anything.
        std::uint8_t seq_high[4];
        put32(seq_high, static_cast<std::uint32_t>(*seq >> 32));
        std::uint8_t mac[EVP_MAX_MD_SIZE];
        const std::size_t mac_len = cipher.hmac(ByteView(start, head + text_len),
                                                sa.esn() ? ByteView(seq_high, 4) : ByteView(), mac);
        if (mac_len < t.icv_size) return drop(DropReason::crypto_error);
        if (CRYPTO_memcmp(mac, icv, t.icv_size) != 0) return drop(DropReason::bad_icv);
        if (!cipher.cbc(iv, text)) return drop(DropReason::crypto_error);
    }
    // Authenticated: the sequence number is the sender's, whatever the payload holds, so the
    // window moves now (RFC 4303 §3.4.3) even if a later check drops the packet.
    if (!window.accept(*seq)) return drop(DropReason::replay);
    result.seq = *seq;

    // RFC 4303 §2.4: Pad Length must fit, and the padding must be the default 1, 2, 3, ...
    // (the receiver "SHOULD inspect the Padding field" when that default was used).
    const std::size_t pad = text[text_len - 2];
    result.next_header = text[text_len - 1];
    if (pad + 2 > text_len) return drop(DropReason::bad_padding);
    const std::size_t payload = text_len - 2 - pad;
    for (std::size_t i = 0; i < pad; ++i)
        if (text[payload + i] != static_cast<std::uint8_t>(i + 1))
            return drop(DropReason::bad_padding);
    if (result.next_header == kNextHeaderNone) return drop(DropReason::dummy);  // §2.6
    if (result.next_header != kNextHeaderIpv4 && result.next_header != kNextHeaderIpv6)
        return drop(DropReason::bad_next_header);

    const auto info = parse_ip_packet(text.first(payload));
    if (!info || info->version != (result.next_header == kNextHeaderIpv4 ? 4 : 6))
        return drop(DropReason::bad_inner_packet);
    // RFC 4301 §5.2 step 4 (tunnel mode): the inner headers must match the SA's selectors.
    if (!matches(sa.local_ts(), sa.remote_ts(), *info, TrafficDirection::inbound))
        return drop(DropReason::selector_mismatch);

    // Whatever follows the inner packet's declared length is TFC padding (RFC 4303 §2.7).
    result.inner = text.first(info->total_length);
    buf.offset += head;
    buf.length = info->total_length;
    sa.count_packet(info->total_length);
    return result;
}

}  // namespace postern::esp
