// One packet path of the userspace data plane: what a worker thread (worker.hpp) runs for
// each packet. Not thread-safe: one thread per path. Its index picks the SA's EspCipher
// (SaSlot::cipher(index)) and its counters; the SA table is read without a lock through the
// path's own SaTable::Reader.
//
//   outbound(inner)        a clear-text IP packet from the TUN device: parse, find the outbound
//                          SA by the inner destination/source (sa_table.hpp), encapsulate, hand
//                          the ESP packet to the EspSender with the SA's outer endpoints and
//                          UDP flag.
//   inbound(esp, from, udp) an ESP packet (SPI first; no outer IP/UDP header, no non-ESP
//                          marker) that arrived over UDP 4500 (udp = true) or as IP protocol 50:
//                          find the SA by SPI, check that this path owns it and that the
//                          transport matches the SA (userspace_dataplane.hpp), decapsulate
//                          (replay, ICV, padding, traffic selectors), write the inner packet to
//                          the TunWriter. `from` is not checked against the SA's outer address:
//                          NAT mappings change (RFC 3948 §4), the IKE engine follows them and
//                          re-installs; the ICV is what authenticates the packet.
//   run_tun_once(queue)    reads one batch from a TUN queue straight into the path's buffers
//                          (with headroom and tailroom for ESP), runs outbound on each and
//                          flushes the sender once. On a queue with a virtio-net header
//                          (TUN offloads, tun_device.hpp) a packet may be a GSO super-packet
//                          of up to 64 KiB: GsoSegmenter (gso.hpp) cuts it straight into slots
//                          of the segment area, each with ESP headroom, and each segment is
//                          encrypted in place as its own ESP packet; a packet with only
//                          NEEDS_CSUM gets its L4 checksum completed first. Such batches are
//                          kGsoTunBatch packets (each may carry ~45 segments).
// Every packet that is not delivered is counted under its reason (and, where an SA was found,
// in the SA's own counters). Lifetime events go to the data plane's event callback once each.
//
// Memory: the buffers are allocated once in the constructor; nothing on the packet path
// allocates (inbound()/outbound() copy the caller's packet into the buffer once; the in-place
// variants and run_tun_once() avoid even that).
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include <tl/expected.hpp>

#include "esp/engine/userspace_dataplane.hpp"

namespace postern::esp {

class PacketPath {
  public:
    // Room in front of a packet in the path's buffers: ESP header and IV, plus what the kernel
    // may want for outer headers.
    static constexpr std::size_t kHeadroom = 64;
    // TUN packets per batch on a queue with a virtio-net header: each may be a 64 KiB
    // super-packet, so fewer of them make a batch of the usual number of ESP packets.
    static constexpr std::size_t kGsoTunBatch = 8;
    // The segment area: segments of super-packets wait here (as ESP packets) until the sender
    // is flushed; when it fills, the sender is flushed early. 512 KiB holds the ~370 segments
    // of 8 super-packets at a 1400-octet MTU, so a batch normally ends in one flush.
    static constexpr std::size_t kSegmentArea = 512 * 1024;

    // `sender` and `tun` must outlive the path; `index` < dp.paths().
    PacketPath(UserspaceDataPlane& dp, unsigned index, EspSender& sender, TunWriter& tun);
    PacketPath(const PacketPath&) = delete;
    PacketPath& operator=(const PacketPath&) = delete;

    unsigned index() const { return index_; }
    PathCounters& counters() { return counters_; }

    DropReason outbound(ByteView inner_packet);
    DropReason inbound(ByteView esp_packet, const Endpoint& from, bool udp_encap);
    // `buf` needs kEncapHeadroom/kEncapTailroom around the inner packet for outbound.
    DropReason outbound_in_place(PacketBuffer& buf);
    DropReason inbound_in_place(PacketBuffer& buf, const Endpoint& from, bool udp_encap);

    // Reads up to one batch from the queue, sends each packet outbound, flushes the sender.
    // Returns how many packets were read (0: nothing waited), or the read error.
    tl::expected<std::size_t, std::string> run_tun_once(const TunQueue& queue);
    // How many packets run_tun_once() reads at most from `queue` (fewer with vnet_hdr).
    std::size_t tun_batch(const TunQueue& queue) const;

    // Picks up SA table changes now (workers call it when idle, so a removed SA is freed
    // without waiting for the next packet).
    void refresh() { reader_.refresh(); }

    // Size of one buffer slot (headroom, the largest packet, tailroom).
    std::size_t slot_size() const { return slot_size_; }

  private:
    void after_packet(SaSlot& slot);
    // Segments a GSO super-packet read from TUN and sends each segment outbound.
    void outbound_gso(const TunPacket& t);

    UserspaceDataPlane& dp_;
    unsigned index_;
    EspSender& sender_;
    TunWriter& tun_;
    PathCounters& counters_;
    SaTable::Reader reader_;

    std::size_t slot_size_ = 0;
    std::vector<std::uint8_t> single_;
    std::vector<std::uint8_t> batch_storage_;
    std::vector<TunPacket> batch_;
    std::vector<std::uint8_t> segment_area_;
    std::size_t segment_used_ = 0;  // octets of segment_area_ holding ESP packets not yet sent
};

}  // namespace postern::esp
