// One direction of an ESP security association in the userspace engine (RFC 4303, tunnel mode).
//
// An EspSa is built once from the EspSaSpec the IKE engine hands the data plane and is shared
// by every worker: its keys and parameters are immutable; what changes per packet is atomic
// (the outbound sequence counter, counters, lifetime events) or owned by one worker (the
// inbound replay window, see replay_window.hpp). Cipher contexts are not here: each worker
// builds its own EspCipher (esp_packet.hpp) from the SA once.
//
// Supported transforms (IKEv2 transform IDs, RFC 7296 §3.3.2):
//   ENCR_AES_GCM_16 (20), 128/256-bit keys  RFC 4106: key || 4-octet salt, 8-octet IV, 16 ICV
//   ENCR_CHACHA20_POLY1305 (28)             RFC 7634: key || 4-octet salt, 8-octet IV, 16 ICV
//   ENCR_AES_CBC (12), 128/256-bit keys     RFC 3602: 16-octet random IV, with one of
//     AUTH_HMAC_SHA2_256_128 (12), _384_192 (13), _512_256 (14)   RFC 4868
//     AUTH_HMAC_SHA1_96 (2)                                        RFC 2404 (legacy clients)
#pragma once

#include <openssl/evp.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <iosfwd>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <tl/expected.hpp>

#include "esp/engine/replay_window.hpp"
#include "postern/dataplane.hpp"

namespace postern::esp {

// Why a packet was not delivered. Every failure on the packet path is one of these, counted per
// SA; nothing on that path throws.
enum class DropReason : std::uint8_t {
    none = 0,           // delivered / sent
    too_short,          // shorter than SPI + seq + IV + minimal payload + ICV
    bad_length,         // CBC ciphertext not a multiple of the block size
    unknown_spi,        // SPI does not belong to this SA (the SA table counts its own misses)
    replay,             // seq 0, below the window, or already seen (RFC 4303 §3.4.3)
    bad_icv,            // integrity check failed (RFC 4303 §3.4.4)
    bad_padding,        // Pad Length too large or padding not 1, 2, 3, ... (RFC 4303 §2.4)
    bad_next_header,    // neither 4 (IPv4) nor 41 (IPv6) nor 59 (dummy)
    dummy,              // Next Header 59: dummy packet, dropped silently (RFC 4303 §2.6)
    bad_inner_packet,   // inner packet is not a sane IPv4/IPv6 packet matching Next Header
    selector_mismatch,  // inner addresses/ports outside the SA's traffic selectors
    no_room,            // caller's buffer lacks headroom or tailroom for encapsulation
    seq_exhausted,      // outbound sequence number would cycle (RFC 4303 §3.3.3): rekey
    hard_expired,       // hard lifetime (bytes/packets) reached: the SA carries no more traffic
    wrong_direction,    // encap on an inbound SA or decap on an outbound one
    crypto_error,       // OpenSSL refused an operation that cannot fail on valid input
};
inline constexpr std::size_t kDropReasonCount = 16;
std::string_view to_string(DropReason r);
std::ostream& operator<<(std::ostream& os, DropReason r);

// Lifetime events, as bits. Raised once each; the worker polls take_events() and forwards them
// to the IKE engine (soft: rekey; hard: delete). Time limits stay with the IKE engine.
enum EspEvent : std::uint8_t {
    kEventSoft = 1,          // soft byte/packet limit, or the sequence space 7/8 used
    kEventHard = 2,          // hard byte/packet limit: traffic stops
    kEventSeqExhausted = 4,  // the next outbound packet would cycle the sequence number
};

enum class EspMode : std::uint8_t { aead, cbc_hmac };

// The transform of an SA, resolved from IKEv2 IDs.
struct EspTransform {
    EspMode mode = EspMode::aead;
    const char* cipher_name = "";  // OpenSSL name
    const char* digest_name = "";  // HMAC digest, cbc_hmac only
    std::size_t key_size = 0;      // cipher key without salt
    std::size_t salt_size = 0;     // AEAD: 4
    std::size_t iv_size = 0;       // octets on the wire
    std::size_t block_size = 0;    // padding alignment (at least 4, RFC 4303 §2.4)
    std::size_t icv_size = 0;
    std::size_t integ_key_size = 0;
};

// Resolves (encr, key bits, integ) or says why not.
tl::expected<EspTransform, std::string> find_esp_transform(std::uint16_t encr_id,
                                                           std::uint16_t encr_key_bits,
                                                           std::uint16_t integ_id);

// Packet lifetime limits; the spec carries byte limits only, so packet limits come from here.
struct EspPacketLimits {
    std::uint64_t soft_packets = 0, hard_packets = 0;  // 0 = unlimited
};

struct EspCountersSnapshot {
    std::uint64_t packets = 0, bytes = 0;  // delivered (inbound) or sent (outbound); inner bytes
    std::array<std::uint64_t, kDropReasonCount> drops{};
    std::uint64_t dropped(DropReason r) const { return drops[static_cast<std::size_t>(r)]; }
};

class EspSa {
  public:
    static tl::expected<std::unique_ptr<EspSa>, std::string> create(const EspSaSpec& spec,
                                                                    EspPacketLimits limits = {});
    ~EspSa();
    EspSa(const EspSa&) = delete;
    EspSa& operator=(const EspSa&) = delete;

    EspSpi spi() const { return spi_; }
    bool inbound() const { return inbound_; }
    bool esn() const { return esn_; }
    const EspTransform& transform() const { return transform_; }
    const EVP_CIPHER* cipher() const { return cipher_.get(); }
    const EVP_MD* digest() const { return digest_.get(); }
    const std::vector<Selector>& local_ts() const { return local_ts_; }
    const std::vector<Selector>& remote_ts() const { return remote_ts_; }
    const Endpoint& src() const { return src_; }
    const Endpoint& dst() const { return dst_; }
    bool udp_encap() const { return udp_encap_; }

    // Key material for building per-worker contexts.
    ByteView encr_key() const { return {keys_.data(), transform_.key_size}; }
    ByteView salt() const { return {keys_.data() + transform_.key_size, transform_.salt_size}; }
    ByteView integ_key() const { return {integ_key_.data(), transform_.integ_key_size}; }

    // Outbound: the next sequence number, or 0 when it would exceed 2^32 - 1 (2^64 - 1 with
    // ESN); the counter never cycles (RFC 4303 §3.3.3) and exhaustion raises events.
    std::uint64_t next_sequence();
    // The highest sequence number handed out so far. Tests and rekey-by-sequence use it.
    std::uint64_t last_sequence() const { return seq_out_.load(std::memory_order_relaxed); }
    // Continues numbering after last_sent (tests: exhaustion, known answers).
    void set_last_sequence(std::uint64_t last_sent) {
        seq_out_.store(last_sent, std::memory_order_relaxed);
    }
    std::uint64_t max_sequence() const { return esn_ ? ~std::uint64_t{0} : 0xffffffffu; }

    // Inbound: owned by one worker (see replay_window.hpp).
    ReplayWindow& replay_window() { return replay_; }

    // Counting and lifetime, called by the packet path.
    void count_drop(DropReason r) {
        drops_[static_cast<std::size_t>(r)].fetch_add(1, std::memory_order_relaxed);
    }
    void count_packet(std::size_t inner_bytes);
    bool hard_expired() const {
        return (events_.load(std::memory_order_relaxed) & kEventHard) != 0;
    }

    EspCountersSnapshot counters() const;
    // Events raised since the last call (each event is reported once).
    std::uint8_t take_events() { return pending_events_.exchange(0, std::memory_order_relaxed); }
    // Every event raised so far.
    std::uint8_t events() const { return events_.load(std::memory_order_relaxed); }

  private:
    EspSa() = default;
    void raise(std::uint8_t event);

    EspSpi spi_;
    bool inbound_ = false;
    bool esn_ = false;
    bool udp_encap_ = false;
    Endpoint src_, dst_;
    EspTransform transform_;
    std::array<std::uint8_t, 36> keys_{};  // cipher key || salt
    std::array<std::uint8_t, 64> integ_key_{};
    std::shared_ptr<EVP_CIPHER> cipher_;
    std::shared_ptr<EVP_MD> digest_;
    std::vector<Selector> local_ts_, remote_ts_;
    std::uint64_t soft_bytes_ = 0, hard_bytes_ = 0;
    EspPacketLimits limits_;

    // Separate cache lines: the sequence counter is written by every encapsulating worker.
    alignas(64) std::atomic<std::uint64_t> seq_out_{0};
    alignas(64) std::atomic<std::uint64_t> packets_{0};
    std::atomic<std::uint64_t> bytes_{0};
    std::array<std::atomic<std::uint64_t>, kDropReasonCount> drops_{};
    std::atomic<std::uint8_t> events_{0};
    std::atomic<std::uint8_t> pending_events_{0};
    alignas(64) ReplayWindow replay_{ReplayWindow::kMinSize, false};
};

}  // namespace postern::esp
