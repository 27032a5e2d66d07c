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
//                          flushes the sender once.
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

    // Picks up SA table changes now (workers call it when idle, so a removed SA is freed
    // without waiting for the next packet).
    void refresh() { reader_.refresh(); }

    // Size of one buffer slot (headroom, the largest packet, tailroom).
    std::size_t slot_size() const { return slot_size_; }

  private:
    void after_packet(SaSlot& slot);

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
};

}  // namespace postern::esp
