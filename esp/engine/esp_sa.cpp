#include "esp/engine/esp_sa.hpp"

#include <openssl/crypto.h>

#include <algorithm>
#include <cstdio>
#include <ostream>

namespace postern::esp {

namespace {

// IKEv2 transform IDs (IANA "IKEv2 Parameters"); duplicated from ike/wire/constants.hpp on
// purpose: the data plane depends on include/ and OpenSSL only.
constexpr std::uint16_t kEncrAesCbc = 12;
constexpr std::uint16_t kEncrAesGcm16 = 20;
constexpr std::uint16_t kEncrChacha20Poly1305 = 28;
constexpr std::uint16_t kAuthNone = 0;
constexpr std::uint16_t kAuthHmacSha1_96 = 2;
constexpr std::uint16_t kAuthHmacSha2_256_128 = 12;
constexpr std::uint16_t kAuthHmacSha2_384_192 = 13;
constexpr std::uint16_t kAuthHmacSha2_512_256 = 14;

std::string n(std::size_t v) {
    return std::to_string(v);
}

}  // namespace

std::string_view to_string(DropReason r) {
    switch (r) {
        case DropReason::none:
            return "none";
        case DropReason::too_short:
            return "too_short";
        case DropReason::bad_length:
            return "bad_length";
        case DropReason::unknown_spi:
            return "unknown_spi";
        case DropReason::replay:
            return "replay";
        case DropReason::bad_icv:
            return "bad_icv";
        case DropReason::bad_padding:
            return "bad_padding";
        case DropReason::bad_next_header:
            return "bad_next_header";
        case DropReason::dummy:
            return "dummy";
        case DropReason::bad_inner_packet:
            return "bad_inner_packet";
        case DropReason::selector_mismatch:
            return "selector_mismatch";
        case DropReason::no_room:
            return "no_room";
        case DropReason::seq_exhausted:
            return "seq_exhausted";
        case DropReason::hard_expired:
            return "hard_expired";
        case DropReason::wrong_direction:
            return "wrong_direction";
        case DropReason::crypto_error:
            return "crypto_error";
    }
    return "unknown";
}

std::ostream& operator<<(std::ostream& os, DropReason r) {
    return os << to_string(r);
}

tl::expected<EspTransform, std::string> find_esp_transform(std::uint16_t encr_id,
                                                           std::uint16_t encr_key_bits,
                                                           std::uint16_t integ_id) {
    EspTransform t;
    switch (encr_id) {
        case kEncrAesGcm16:
        case kEncrChacha20Poly1305: {
            if (integ_id != kAuthNone)
                return tl::make_unexpected("AEAD transform " + n(encr_id) +
                                           " cannot be combined with integrity transform " +
                                           n(integ_id));
            t.mode = EspMode::aead;
            if (encr_id == kEncrAesGcm16) {
                if (encr_key_bits == 128)
                    t.cipher_name = "AES-128-GCM";
                else if (encr_key_bits == 256)
                    t.cipher_name = "AES-256-GCM";
                else
                    return tl::make_unexpected("AES-GCM-16 with a " + n(encr_key_bits) +
                                               "-bit key is not supported (128 or 256)");
                t.key_size = encr_key_bits / 8;
            } else {
                // RFC 7634 §2: 256-bit key only; the key length attribute is absent (0).
                if (encr_key_bits != 0 && encr_key_bits != 256)
                    return tl::make_unexpected("ChaCha20-Poly1305 takes a 256-bit key, not " +
                                               n(encr_key_bits));
                t.cipher_name = "ChaCha20-Poly1305";
                t.key_size = 32;
            }
            t.salt_size = 4;   // RFC 4106 §8.1, RFC 7634 §4
            t.iv_size = 8;     // RFC 4106 §3.1, RFC 7634 §2
            t.block_size = 4;  // no cipher block: only ESP's 4-octet alignment (RFC 4303 §2.4)
            t.icv_size = 16;
            return t;
        }
        case kEncrAesCbc:
            t.mode = EspMode::cbc_hmac;
            if (encr_key_bits == 128)
                t.cipher_name = "AES-128-CBC";
            else if (encr_key_bits == 256)
                t.cipher_name = "AES-256-CBC";
            else
                return tl::make_unexpected("AES-CBC with a " + n(encr_key_bits) +
                                           "-bit key is not supported (128 or 256)");
            t.key_size = encr_key_bits / 8;
            t.iv_size = 16;  // RFC 3602 §3
            t.block_size = 16;
            switch (integ_id) {
                case kAuthHmacSha1_96:  // RFC 2404
                    t.digest_name = "SHA1", t.integ_key_size = 20, t.icv_size = 12;
                    return t;
                case kAuthHmacSha2_256_128:  // RFC 4868 §2.1: key = digest length
                    t.digest_name = "SHA2-256", t.integ_key_size = 32, t.icv_size = 16;
                    return t;
                case kAuthHmacSha2_384_192:
                    t.digest_name = "SHA2-384", t.integ_key_size = 48, t.icv_size = 24;
                    return t;
                case kAuthHmacSha2_512_256:
                    t.digest_name = "SHA2-512", t.integ_key_size = 64, t.icv_size = 32;
                    return t;
                default:
                    return tl::make_unexpected(
                        "AES-CBC needs HMAC-SHA1-96 or HMAC-SHA2; "
                        "integrity transform " +
                        n(integ_id) + " is not supported");
            }
        default:
            return tl::make_unexpected("ESP encryption transform " + n(encr_id) +
                                       " is not supported");
    }
}

tl::expected<std::unique_ptr<EspSa>, std::string> EspSa::create(const EspSaSpec& spec,
                                                                EspPacketLimits limits) {
    char spi_hex[9];
    std::snprintf(spi_hex, sizeof spi_hex, "%08x", spec.spi.value());
    const std::string who = std::string("ESP SA ") + spi_hex;
    auto t = find_esp_transform(spec.encr_id, spec.encr_key_bits, spec.integ_id);
    if (!t) return tl::make_unexpected(who + ": " + t.error());
    if (spec.encr_key.size() != t->key_size + t->salt_size)
        return tl::make_unexpected(who + ": encryption key of " + n(spec.encr_key.size()) +
                                   " octets, expected " + n(t->key_size + t->salt_size));
    if (spec.integ_key.size() != t->integ_key_size)
        return tl::make_unexpected(who + ": integrity key of " + n(spec.integ_key.size()) +
                                   " octets, expected " + n(t->integ_key_size));
    if (spec.spi.value() < 256)  // RFC 4303 §2.1: 1..255 reserved, 0 local use
        return tl::make_unexpected(who + ": SPI values 0..255 are reserved");

    std::unique_ptr<EspSa> sa(new EspSa());
    sa->spi_ = spec.spi;
    sa->inbound_ = spec.inbound;
    sa->esn_ = spec.esn;
    sa->udp_encap_ = spec.udp_encap;
    sa->src_ = spec.src;
    sa->dst_ = spec.dst;
    sa->transform_ = *t;
    std::copy(spec.encr_key.begin(), spec.encr_key.end(), sa->keys_.begin());
    std::copy(spec.integ_key.begin(), spec.integ_key.end(), sa->integ_key_.begin());
    EVP_CIPHER* cipher = EVP_CIPHER_fetch(nullptr, t->cipher_name, nullptr);
    if (!cipher) return tl::make_unexpected(who + ": OpenSSL has no " + t->cipher_name);
    sa->cipher_.reset(cipher, EVP_CIPHER_free);
    if (t->mode == EspMode::cbc_hmac) {
        EVP_MD* md = EVP_MD_fetch(nullptr, t->digest_name, nullptr);
        if (!md) return tl::make_unexpected(who + ": OpenSSL has no " + t->digest_name);
        sa->digest_.reset(md, EVP_MD_free);
    }
    sa->local_ts_ = spec.local_ts;
    sa->remote_ts_ = spec.remote_ts;
    sa->soft_bytes_ = spec.soft_bytes;
    sa->hard_bytes_ = spec.hard_bytes;
    sa->limits_ = limits;
    // The spec's packet limits (from the IKE engine) apply too; the tighter of each wins.
    auto tighter = [](std::uint64_t a, std::uint64_t b) { return a && b ? std::min(a, b) : a | b; };
    sa->limits_.soft_packets = tighter(limits.soft_packets, spec.soft_packets);
    sa->limits_.hard_packets = tighter(limits.hard_packets, spec.hard_packets);
    sa->replay_ = ReplayWindow(spec.replay_window, spec.esn);
    return sa;
}

EspSa::~EspSa() {
    OPENSSL_cleanse(keys_.data(), keys_.size());
    OPENSSL_cleanse(integ_key_.data(), integ_key_.size());
}

std::uint64_t EspSa::next_sequence() {
    const std::uint64_t max = max_sequence();
    std::uint64_t last = seq_out_.load(std::memory_order_relaxed);
    do {
        if (last >= max) {
            raise(kEventSeqExhausted | kEventSoft);
            return 0;
        }
    } while (!seq_out_.compare_exchange_weak(last, last + 1, std::memory_order_relaxed));
    // Ask for a rekey well before the end: once 7/8 of the sequence space is used.
    if (last + 1 >= max - max / 8) raise(kEventSoft);
    return last + 1;
}

void EspSa::count_packet(std::size_t inner_bytes) {
    const std::uint64_t packets = packets_.fetch_add(1, std::memory_order_relaxed) + 1;
    const std::uint64_t bytes =
        bytes_.fetch_add(inner_bytes, std::memory_order_relaxed) + inner_bytes;
    if ((hard_bytes_ && bytes >= hard_bytes_) ||
        (limits_.hard_packets && packets >= limits_.hard_packets))
        raise(kEventHard | kEventSoft);
    else if ((soft_bytes_ && bytes >= soft_bytes_) ||
             (limits_.soft_packets && packets >= limits_.soft_packets))
        raise(kEventSoft);
}

void EspSa::raise(std::uint8_t event) {
    const std::uint8_t before = events_.fetch_or(event, std::memory_order_relaxed);
    const auto fresh = static_cast<std::uint8_t>(event & ~before);
    if (fresh) pending_events_.fetch_or(fresh, std::memory_order_relaxed);
}

EspCountersSnapshot EspSa::counters() const {
    EspCountersSnapshot s;
    s.packets = packets_.load(std::memory_order_relaxed);
    s.bytes = bytes_.load(std::memory_order_relaxed);
    for (std::size_t i = 0; i < kDropReasonCount; ++i)
        s.drops[i] = drops_[i].load(std::memory_order_relaxed);
    return s;
}

}  // namespace postern::esp
