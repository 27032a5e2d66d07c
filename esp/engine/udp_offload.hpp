// UDP segmentation and receive offloads for the ESP-in-UDP socket (issue 4):
//
//   UDP_SEGMENT (GSO, Linux 4.18)  one sendmsg carries up to kUdpMaxSegments datagrams of the
//                                  same size (the last may be shorter) laid end to end; the
//                                  kernel (or the NIC) cuts them. One cmsg per sendmsg, or a
//                                  socket option for every send.
//   UDP_GRO (Linux 5.0)            one recvmsg may return several datagrams of one flow laid
//                                  end to end, with a cmsg giving their size (the last may be
//                                  shorter).
//
// probe_udp_offloads() says what a socket can do; with both false the caller keeps to one
// datagram per sendmmsg/recvmmsg entry, which always works. Nothing here allocates.
#pragma once

#include <sys/socket.h>

#include <cstddef>
#include <cstdint>

#include "postern/bytes.hpp"

namespace postern::esp {

struct UdpOffloads {
    bool gso = false;  // sendmsg accepts a UDP_SEGMENT cmsg on this socket
    bool gro = false;  // UDP_GRO is on: received buffers may hold several datagrams
};

// Probes a UDP socket: gso when the kernel knows UDP_SEGMENT (getsockopt answers; nothing
// changes), gro when `enable_gro` and setsockopt(UDP_GRO, 1) succeeds (which turns it on: from
// then on every recvmsg/recvmmsg entry needs a 65535-octet buffer, or coalesced datagrams are
// cut (MSG_TRUNC), and must be split with udp_gro_segment_size and UdpGroSplitter; a datagram
// of another size, e.g. an IKE message or a NAT-T keepalive, ends a train as its short last
// member or arrives alone). A kernel or socket that
// refuses gives false, never an error: the caller falls back to one datagram per call.
// Even with gso true, a given sendmsg may fail with EIO (the route's device cannot checksum)
// or EINVAL (too many segments, segment larger than the MTU): send those datagrams one by one.
UdpOffloads probe_udp_offloads(int udp_fd, bool enable_gro);

// The kernel's limit of segments per UDP_SEGMENT send: 64 (UDP_MAX_SEGMENTS) up to Linux
// 6.9, 128 since; 64 is safe everywhere.
inline constexpr std::size_t kUdpMaxSegments = 64;

// Control buffer space for the cmsgs below; a buffer for several cmsgs is the sum.
inline constexpr std::size_t kUdpSegmentCmsgSpace = CMSG_SPACE(sizeof(std::uint16_t));
inline constexpr std::size_t kUdpGroCmsgSpace = CMSG_SPACE(sizeof(int));

// Appends a SOL_UDP/UDP_SEGMENT cmsg with the segment size (the UDP payload per datagram) to
// msg's control buffer: msg.msg_control points to `capacity` octets (aligned for cmsghdr),
// msg.msg_controllen says how many are used so far (0 for none, or a multiple of the cmsg
// alignment as CMSG_SPACE gives); on success msg_controllen grows by kUdpSegmentCmsgSpace.
// False (msg unchanged) when the buffer is missing, misaligned or too small, or segment_size
// is 0.
bool append_udp_segment_cmsg(msghdr& msg, std::size_t capacity, std::uint16_t segment_size);

// The segment size from a received message's SOL_UDP/UDP_GRO cmsg; 0 when there is none (the
// buffer holds one datagram) or it is malformed. Looks only inside msg_controllen.
std::uint16_t udp_gro_segment_size(const msghdr& msg);

// Splits a receive buffer into its datagrams: segment_size octets each, the last possibly
// shorter; with segment_size 0 the whole buffer is one datagram (possibly empty).
//
//   UdpGroSplitter split(ByteView(buf, n), udp_gro_segment_size(msg));
//   for (ByteView d; split.next(d);) { handle d }
class UdpGroSplitter {
  public:
    UdpGroSplitter(ByteView buffer, std::uint16_t segment_size)
        : rest_(buffer), segment_size_(segment_size) {}

    // The next datagram; false when none is left.
    bool next(ByteView& datagram);
    // Datagrams the whole buffer holds.
    std::size_t count() const;

  private:
    ByteView rest_;
    std::size_t segment_size_;
    bool done_ = false;
    std::size_t taken_ = 0;
};

}  // namespace postern::esp
