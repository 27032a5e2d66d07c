// TUN offloads for the userspace ESP engine (issue 4): what the worker does with the
// virtio-net header of a TUN device (tun_device.hpp, VirtioNetHdr).
//
//   outbound (TUN -> ESP)   complete_l4_checksum()  a packet with NEEDS_CSUM, in place
//                           GsoSegmenter            a GSO super-packet (TSO4, TSO6, USO) cut
//                                                   into wire-size segments, one at a time,
//                                                   into the caller's buffer (at its headroom
//                                                   offset, so each is encrypted in place)
//   inbound  (ESP -> TUN)   TcpCoalescer            decrypted segments of one TCP flow merged
//                                                   into one super-packet plus the header the
//                                                   TUN driver accepts (GRO in userspace)
//
// Everything here is pure (no syscalls), bounds-checked and allocation-free per packet; the
// coalescer allocates its 64 KiB buffer once. Checksums are RFC 1071 with 64-bit accumulation.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "esp/engine/tun_device.hpp"
#include "postern/bytes.hpp"

namespace postern::esp {

// ---- Internet checksum (RFC 1071) ---------------------------------------------------------

// The ones'-complement sum of `data` read as big-endian 16-bit words (an odd last octet is
// padded with zero), added to `initial`, folded to 16 bits and NOT complemented. Sums of
// pieces that start at even offsets add up (ones_complement_add) to the sum of the whole.
std::uint16_t ones_complement_sum(ByteView data, std::uint16_t initial = 0);
std::uint16_t ones_complement_add(std::uint16_t a, std::uint16_t b);
// The checksum field value: ~ones_complement_sum(data, initial).
std::uint16_t internet_checksum(ByteView data, std::uint16_t initial = 0);

// Fills in the L4 checksum the kernel left partial (NEEDS_CSUM): the field at
// csum_start + csum_offset holds the pseudo-header sum; the sum over csum_start..end (field
// included) is folded in and complemented (0 is sent as 0xffff, as the kernel does, which
// RFC 768 requires for UDP and is equivalent for TCP). In place. False, packet unchanged,
// when the offsets do not lie inside the packet. A header without NEEDS_CSUM is a no-op (true).
bool complete_l4_checksum(MutableByteView ip_packet, const VirtioNetHdr& hdr);

// ---- Segmentation of GSO super-packets read from TUN ------------------------------------

enum class GsoError : std::uint8_t {
    none,
    not_gso,               // gso_type NONE: use complete_l4_checksum in place instead
    unsupported_gso_type,  // UFO (3), an unknown type, or the ECN bit on UDP_L4
    gso_size_zero,
    not_ip,                  // IP version neither 4 nor 6
    truncated,               // shorter than the IP or L4 header it declares
    bad_ip_header,           // IPv4 IHL < 5
    ip_length_mismatch,      // IPv4 Total Length / IPv6 40 + Payload Length != packet size
    ip_fragment,             // IPv4 MF or a fragment offset
    ipv6_extension_headers,  // not supported: the L4 header must follow the IPv6 header
    protocol_mismatch,       // gso_type says TCPV4/TCPV6/UDP_L4, the packet is something else
    bad_l4_header,           // TCP Data Offset < 5
    udp_length_mismatch,     // UDP Length != IP payload length
    tcp_flags_unsupported,   // SYN, RST or URG cannot be repeated on every segment
    csum_start_mismatch,     // NEEDS_CSUM with csum_start not at the L4 header
    csum_offset_mismatch,    // NEEDS_CSUM with csum_offset not 16 (TCP) / 6 (UDP)
    too_many_segments,       // more than kMaxGsoSegments
    buffer_too_small,        // next(): the output buffer cannot hold the segment
};
const char* to_string(GsoError e);

// 64 KiB at the smallest MSS Linux ever sends (48, TCP_MIN_SND_MSS) is 1365 segments; more
// than this is not a packet the kernel builds, and bounds the work per packet.
inline constexpr std::size_t kMaxGsoSegments = 2048;

// Cuts a GSO super-packet into segments. All checks happen in the constructor (error());
// next() then writes segment after segment, each a complete packet:
//   IPv4: header (with options) copied, Total Length, ID + i, header checksum;
//   IPv6: header copied, Payload Length;
//   TCP: header (with options) copied, Sequence Number + i * gso_size, FIN and PSH only on the
//        last segment, CWR only on the first, full checksum with the pseudo-header;
//   UDP: Length, full checksum with the pseudo-header (0 sent as 0xffff).
// The checksums are computed from scratch, so the state of the super-packet's checksum field
// (partial or not) does not matter. hdr_len is a hint (the kernel reports its linear length
// there) and is not checked. The packet is only read; it must outlive the segmenter.
//
//   GsoSegmenter seg(hdr, packet);
//   if (seg.error() != GsoError::none) { drop, count to_string(seg.error()); }
//   std::size_t len;
//   while (seg.next(buf.storage.subspan(headroom), &len)) { encrypt buf[headroom, +len) }
class GsoSegmenter {
  public:
    GsoSegmenter(const VirtioNetHdr& hdr, ByteView packet);

    GsoError error() const { return error_; }
    bool is_ipv6() const { return ipv6_; }
    bool is_tcp() const { return tcp_; }
    // Segments the packet yields in total (at least 1 when error() is none, else 0).
    std::size_t segment_count() const { return count_; }
    // Segments not yet written.
    std::size_t remaining() const { return count_ - index_; }
    // IP + L4 header octets repeated in each segment.
    std::size_t header_size() const { return header_size_; }
    // The largest segment next() writes: what the output buffer must hold.
    std::size_t max_segment_size() const;

    // Writes the next segment at the start of `out` and its length to *length. False when all
    // segments are written, on a construction error, or (setting error() to buffer_too_small,
    // which ends the iteration) when `out` is shorter than the segment.
    bool next(MutableByteView out, std::size_t* length);

  private:
    GsoError check(const VirtioNetHdr& hdr);

    ByteView packet_;
    GsoError error_ = GsoError::none;
    bool ipv6_ = false;
    bool tcp_ = false;
    std::size_t l3_size_ = 0;      // IP header (with IPv4 options)
    std::size_t header_size_ = 0;  // IP + L4 header
    std::size_t payload_size_ = 0;
    std::size_t gso_size_ = 0;
    std::size_t count_ = 0;
    std::size_t index_ = 0;
    std::uint32_t first_seq_ = 0;
    std::uint16_t first_id_ = 0;
    std::uint16_t ip_base_sum_ = 0;      // IPv4 header sum with length, ID and checksum zero
    std::uint16_t pseudo_addr_sum_ = 0;  // source + destination address + protocol
};

// ---- TCP coalescing for writes to TUN (GRO) ----------------------------------------------

enum class CoalesceResult : std::uint8_t {
    merged,       // taken: it started a run or was appended to it
    flush_first,  // eligible but does not continue the run: flush(), then add() it again
                  // (which then returns merged)
    not_eligible  // never coalesced (not TCP, SYN/FIN/RST/URG/CWR, no payload, IP options or
                  // fragments, IPv6 extension headers, a bad checksum): flush() the run if
                  // any, then write this packet as it is (order within a flow is kept)
};

struct CoalescedPacket {
    // All zero for a run of one segment (the packet as received: an ordinary write).
    // Otherwise gso_type TCPV4/TCPV6, gso_size = the first segment's payload (the MSS),
    // hdr_len = IP + TCP header, NEEDS_CSUM with csum_start at the TCP header, csum_offset 16
    // and the pseudo-header sum (over the merged length) in the checksum field: what the TUN
    // driver's virtio_net_hdr_to_skb accepts, and what the kernel's own GRO hands up.
    VirtioNetHdr hdr{};
    ByteView packet;  // valid until the next add()
    std::size_t segments = 0;
};

// Merges consecutive TCP segments of one flow, as the kernel's GRO does (tcp_gro_receive):
// same addresses and ports, the next sequence number, the same ACK number, window, flags
// (PSH may be set on the last one only) and option bytes, the same TOS/TTL/DF (IPv4) or
// traffic class/flow label/hop limit (IPv6); every segment of the MSS of the first except a
// shorter last one, which closes the run; at most 65535 octets in all. Each segment's TCP
// checksum (and IPv4 header checksum) is verified before it is taken, because the merged
// packet is handed to the kernel as checksummed (NEEDS_CSUM) and a corrupt segment must not
// be "repaired" by that.
//
// The first packet of a run is not copied until a second one joins it, so a packet passed to
// add() must stay valid and unchanged until the next flush(). Packets passed in are never
// modified.
class TcpCoalescer {
  public:
    static constexpr std::size_t kMaxPacket = 65535;

    TcpCoalescer();  // allocates the 64 KiB buffer

    CoalesceResult add(ByteView ip_packet);
    bool empty() const { return segments_ == 0; }
    std::size_t segments() const { return segments_; }
    // Ends the run: the packet to write to TUN and its header; empty (segments 0) when there
    // was no run.
    CoalescedPacket flush();

  private:
    struct Segment;
    static bool parse(ByteView ip_packet, Segment& s);
    bool continues(const Segment& s, ByteView ip_packet) const;

    std::vector<std::uint8_t> buffer_;
    ByteView first_;        // the run's first packet while it is alone (not copied yet)
    std::size_t size_ = 0;  // octets in buffer_ once copied
    std::size_t segments_ = 0;
    bool ipv6_ = false;
    bool closed_ = false;  // a short or PSH segment ended the run
    std::size_t l3_size_ = 0;
    std::size_t header_size_ = 0;
    std::size_t mss_ = 0;
    std::uint32_t next_seq_ = 0;
};

}  // namespace postern::esp
