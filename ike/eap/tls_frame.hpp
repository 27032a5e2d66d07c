// EAP-TLS framing (RFC 5216 §3.1, unchanged for TLS 1.3 by RFC 9190): the Type-Data of EAP
// Type 13, and the fragmentation of TLS flights into it (§2.1.5).
//
//    0 1 2 3 4 5 6 7
//   +-+-+-+-+-+-+-+-+
//   |L M S R R R R R|  Flags: L length included, M more fragments, S start (server's first
//   +-+-+-+-+-+-+-+-+         Request); R reserved, sent as 0 and ignored
//   |  TLS Message Length (4 octets, only with L)  |  TLS Data ...
//
// A flight bigger than the fragment size goes out in pieces: L and M on the first (with the
// flight's total length), M on every further one but the last. The receiver answers each piece
// that had M with an empty frame (an acknowledgement) and reassembles.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "ike/wire/error.hpp"
#include "postern/bytes.hpp"

namespace postern::ike::eap {

inline constexpr std::uint8_t kTlsFlagLength = 0x80;
inline constexpr std::uint8_t kTlsFlagMore = 0x40;
inline constexpr std::uint8_t kTlsFlagStart = 0x20;

// Largest TLS flight accepted from a peer (strongSwan's and FreeRADIUS' bound too): a client
// certificate chain fits many times over; more is an attempt to make us buffer.
inline constexpr std::size_t kMaxTlsFlight = 64 * 1024;

struct TlsFrame {
    std::uint8_t flags = 0;
    std::optional<std::uint32_t> tls_length;  // present exactly with L
    Bytes data;

    bool more() const { return flags & kTlsFlagMore; }
    bool start() const { return flags & kTlsFlagStart; }
    // No data and neither M nor S: an acknowledgement of a fragment.
    bool is_ack() const { return data.empty() && !more() && !start(); }
};

// Rejected: empty Type-Data, L without its 4 octets.
wire::Parsed<TlsFrame> parse_tls_frame(ByteView type_data);
Bytes build_tls_frame(const TlsFrame& f);
// The empty frame that acknowledges a fragment; the server's Start frame.
Bytes tls_ack_frame();
Bytes tls_start_frame();

// Collects the fragments of one incoming flight.
class TlsReassembler {
  public:
    // Adds one frame's data. Returns true when the flight is complete (take() it), false when
    // more fragments follow (acknowledge this one), or an error: a total length above
    // kMaxTlsFlight, more data than the announced length, a last fragment short of it, or an
    // announced length that changes.
    tl::expected<bool, std::string> add(const TlsFrame& f);
    Bytes take();
    bool in_progress() const { return !buffer_.empty() || expected_.has_value(); }

  private:
    Bytes buffer_;
    std::optional<std::uint32_t> expected_;
};

// Cuts an outgoing flight into frames of at most `fragment_size` octets of TLS data.
class TlsFragmenter {
  public:
    explicit TlsFragmenter(std::size_t fragment_size)
        : fragment_size_(fragment_size ? fragment_size : 1) {}
    // Starts sending `flight` (replaces nothing: the previous one must be sent).
    void load(Bytes flight);
    bool pending() const { return offset_ < flight_.size(); }
    // The next frame; L (with the total length) on the first, M while more remain. An
    // unfragmented flight carries L as well, as strongSwan and Windows send it.
    Bytes next();

  private:
    std::size_t fragment_size_;
    Bytes flight_;
    std::size_t offset_ = 0;
};

}  // namespace postern::ike::eap
