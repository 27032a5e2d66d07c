// The TUN side of the userspace ESP engine: a layer-3 TUN device (IFF_TUN | IFF_NO_PI, so every
// read and write is one bare IPv4 or IPv6 packet), optionally multi-queue (one fd per worker,
// the kernel spreads flows over the queues by their hash) and optionally with a virtio-net
// header in front of every packet so the kernel can hand us large GSO packets and packets whose
// checksum is not yet computed (far fewer syscalls per byte for TCP through the tunnel).
//
// What the virtio-net header means and what the ESP worker must do with it is described at
// VirtioNetHdr below and in docs/forwarding.md.
//
// Nothing here allocates per packet; errors are values naming the syscall, the device and errno.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include <tl/expected.hpp>

#include "postern/bytes.hpp"

namespace postern::esp {

// What the caller asks for.
struct TunOptions {
    // A name or a pattern with one "%d" that the kernel fills with the first free number
    // ("postern%d" -> "postern0"). At most 15 characters (IFNAMSIZ - 1).
    std::string name = "postern%d";
    // Number of queues, one per worker. 1..256 (the kernel's MAX_TAP_QUEUES). More than one
    // needs IFF_MULTI_QUEUE; with 1 the device is single-queue.
    unsigned queues = 1;
    // Ask for IFF_VNET_HDR and the offloads (TUN_F_CSUM, TSO4/6, USO4/6 where known). Only
    // granted when the kernel supports it; TunDevice::vnet_hdr() says what was granted.
    bool vnet_hdr = false;
};

// The header in front of every packet read from or written to a TUN fd with IFF_VNET_HDR.
// Same layout as the kernel's struct virtio_net_hdr (legacy, 10 octets, no num_buffers); the
// 16-bit fields are little-endian on the wire (TUN uses the host's order for legacy headers on
// little-endian hosts; we are only built for those, see the static_assert in tun_device.cpp).
//
//   flags        NEEDS_CSUM (1): the L4 checksum is not done. The field at
//                csum_start + csum_offset holds only the pseudo-header sum; the checksum over
//                csum_start..end must be folded in before the packet leaves (i.e. before
//                encryption). DATA_VALID (2): only on writes; tells the kernel the checksum was
//                verified already.
//   gso_type     NONE (0); TCPV4 (1); UDP (3, UFO, never with our offloads); TCPV6 (4);
//                UDP_L4 (5, USO); | ECN (0x80) when the TCP packet has ECN (needs TSO_ECN,
//                which we do not enable, so never seen on reads).
//   hdr_len      IP + L4 header length (a hint: recompute it from the packet).
//   gso_size     payload octets per segment (the MSS for TCP, the datagram size for USO).
//   csum_start   offset from the start of the IP packet where checksumming starts (the L4
//                header).
//   csum_offset  offset of the checksum field from csum_start (16 for TCP, 6 for UDP).
//
// What the ESP worker does with a packet read from the TUN device:
//   gso_type == NONE and no NEEDS_CSUM: an ordinary packet, encrypt it.
//   gso_type == NONE with NEEDS_CSUM: complete the L4 checksum, then encrypt.
//   gso_type != NONE: a super-packet of up to 64 KiB that the peer must receive as segments
//     of at most (headers + gso_size). Segment it first (copy the IP + L4 header to each
//     segment, fix IP total length / IPv6 payload length, IPv4 ID and header checksum, TCP
//     sequence numbers and flags (FIN/PSH only on the last segment, CWR only on the first),
//     UDP length, and every L4 checksum), then encrypt each segment as its own ESP packet.
//     Segmenting in place while encrypting (one segment at a time into the output buffer)
//     avoids a copy. Sending the super-packet as one ESP packet would exceed the path MTU.
// Writes with the header all zero (GSO_NONE, no flags) carry ordinary, complete packets, which
// is what decrypted ESP payloads are.
struct VirtioNetHdr {
    static constexpr std::uint8_t kNeedsCsum = 1;
    static constexpr std::uint8_t kDataValid = 2;
    static constexpr std::uint8_t kGsoNone = 0;
    static constexpr std::uint8_t kGsoTcpV4 = 1;
    static constexpr std::uint8_t kGsoUdp = 3;
    static constexpr std::uint8_t kGsoTcpV6 = 4;
    static constexpr std::uint8_t kGsoUdpL4 = 5;
    static constexpr std::uint8_t kGsoEcn = 0x80;

    std::uint8_t flags = 0;
    std::uint8_t gso_type = kGsoNone;
    std::uint16_t hdr_len = 0;
    std::uint16_t gso_size = 0;
    std::uint16_t csum_start = 0;
    std::uint16_t csum_offset = 0;

    bool needs_csum() const { return flags & kNeedsCsum; }
    bool is_gso() const { return (gso_type & ~kGsoEcn) != kGsoNone; }
};
static_assert(sizeof(VirtioNetHdr) == 10);

// Storage for one packet in a batch read. `buffer` is the caller's; with offloads on it must
// hold a whole GSO packet (65535 octets; less gets the packet truncated and flagged).
struct TunPacket {
    MutableByteView buffer;
    std::size_t size = 0;    // octets of IP packet stored in `buffer`
    bool truncated = false;  // the packet filled `buffer`: it may have been cut
    VirtioNetHdr vnet{};     // meaningful only on a queue with vnet_hdr()
};

// Result of a batch write.
struct TunWriteResult {
    std::size_t consumed = 0;  // packets handled (written or rejected); the rest hit EAGAIN
    std::size_t rejected = 0;  // of those, refused by the kernel as malformed (EINVAL etc.)
};

// One queue of a TUN device: a non-owning view of its fd, what a worker holds.
class TunQueue {
  public:
    TunQueue(int fd, unsigned index, bool vnet_hdr) : fd_(fd), index_(index), vnet_hdr_(vnet_hdr) {}

    int fd() const { return fd_; }
    unsigned index() const { return index_; }
    bool vnet_hdr() const { return vnet_hdr_; }

    // Reads packets into `packets` until it is full or the fd has nothing more (EAGAIN); one
    // readv each (TUN has no recvmmsg). Returns how many were filled, 0 when none waited.
    tl::expected<std::size_t, std::string> read_batch(std::span<TunPacket> packets) const;

    // Writes whole IP packets (prefixing an all-zero virtio-net header when the queue has one)
    // until done or EAGAIN. A packet the kernel refuses (not IPv4/IPv6, bad length) is counted
    // as rejected and skipped, so one bad packet never stalls the queue.
    tl::expected<TunWriteResult, std::string> write_batch(std::span<const ByteView> packets) const;

    // Writes one packet with an explicit virtio-net header (e.g. a coalesced GSO packet).
    // Needs a vnet_hdr() queue. EAGAIN is an error here ("write(...): Resource temporarily
    // unavailable"): callers that batch use write_batch.
    tl::expected<void, std::string> write(const VirtioNetHdr& hdr, ByteView packet) const;

  private:
    std::string what(const char* call) const;

    int fd_;
    unsigned index_;
    bool vnet_hdr_;
};

class TunDevice {
  public:
    // IFF_* flags the kernel's TUN driver supports (TUNGETFEATURES), e.g. IFF_MULTI_QUEUE,
    // IFF_VNET_HDR, IFF_NAPI.
    static tl::expected<unsigned, std::string> features();

    // Creates the device and opens `options.queues` non-blocking, close-on-exec fds on it.
    // The device is not persistent: it disappears (with its addresses and routes) when the
    // last fd is closed. Needs CAP_NET_ADMIN.
    static tl::expected<TunDevice, std::string> create(const TunOptions& options);

    TunDevice() = default;
    TunDevice(TunDevice&& other) noexcept;
    TunDevice& operator=(TunDevice&& other) noexcept;
    TunDevice(const TunDevice&) = delete;
    TunDevice& operator=(const TunDevice&) = delete;
    ~TunDevice() { close(); }

    // The kernel's name for the device ("postern0").
    const std::string& name() const { return name_; }
    unsigned ifindex() const { return ifindex_; }
    std::size_t queue_count() const { return fds_.size(); }
    bool multi_queue() const { return multi_queue_; }
    // Every packet on every queue carries a VirtioNetHdr.
    bool vnet_hdr() const { return vnet_hdr_; }
    // TUN_F_* offloads the kernel accepted (0 without vnet_hdr). With TUN_F_TSO4/6 or USO4/6
    // reads may return GSO packets; with TUN_F_CSUM packets with NEEDS_CSUM.
    unsigned offloads() const { return offloads_; }
    // "csum tso4 tso6 uso4 uso6", for logs.
    std::string offloads_text() const;

    TunQueue queue(std::size_t index) const {
        return TunQueue(fds_.at(index), static_cast<unsigned>(index), vnet_hdr_);
    }

    // Closes every queue's fd. Idempotent.
    void close();

  private:
    std::string name_;
    unsigned ifindex_ = 0;
    std::vector<int> fds_;
    bool multi_queue_ = false;
    bool vnet_hdr_ = false;
    unsigned offloads_ = 0;
};

}  // namespace postern::esp
