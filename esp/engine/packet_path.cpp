#include "esp/engine/packet_path.hpp"

#include <algorithm>
#include <cstring>

#include "esp/engine/ip_packet.hpp"

namespace postern::esp {

namespace {

// Completes a checksum the kernel left to us (virtio-net NEEDS_CSUM): the field at
// csum_start + csum_offset holds the pseudo-header sum; fold in csum_start..end.
bool complete_checksum(MutableByteView p, const VirtioNetHdr& h) {
    const std::size_t start = h.csum_start, field = start + h.csum_offset;
    if (start >= p.size() || field + 2 > p.size()) return false;
    std::uint32_t sum = 0;
    for (std::size_t i = start; i + 1 < p.size(); i += 2)
        sum += std::uint32_t{p[i]} << 8 | p[i + 1];
    if ((p.size() - start) % 2) sum += std::uint32_t{p[p.size() - 1]} << 8;
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    const auto c = static_cast<std::uint16_t>(~sum);
    p[field] = static_cast<std::uint8_t>(c >> 8);
    p[field + 1] = static_cast<std::uint8_t>(c);
    return true;
}

}  // namespace

PacketPath::PacketPath(UserspaceDataPlane& dp, unsigned index, EspSender& sender, TunWriter& tun)
    : dp_(dp),
      index_(index),
      sender_(sender),
      tun_(tun),
      counters_(*dp.counters_.at(index)),
      reader_(dp.table_) {
    const auto& o = dp.options_;
    slot_size_ = kHeadroom + o.max_packet + kEncapTailroom;
    single_.resize(slot_size_);
    batch_storage_.resize(slot_size_ * o.batch_size);
    batch_.resize(o.batch_size);
}

void PacketPath::after_packet(SaSlot& slot) {
    const std::int64_t now = monotonic_seconds();
    if (slot.last_used.load(std::memory_order_relaxed) != now)
        slot.last_used.store(now, std::memory_order_relaxed);
    const std::uint8_t raised = slot.sa->events();
    if (!(raised & ~slot.reported_events.load(std::memory_order_relaxed))) return;
    // take_events() is an atomic exchange: of several paths seeing the event at once, one
    // gets the bits and reports them.
    const std::uint8_t fresh = slot.sa->take_events();
    slot.reported_events.fetch_or(raised | fresh, std::memory_order_relaxed);
    if (fresh && dp_.on_event_)
        dp_.on_event_({slot.sa->spi(), slot.sa->inbound(), slot.reqid, fresh});
}

DropReason PacketPath::outbound(ByteView inner_packet) {
    if (inner_packet.size() > dp_.options_.max_packet) return counters_.drop(DropReason::no_room);
    PacketBuffer buf{single_, kHeadroom, inner_packet.size()};
    if (!inner_packet.empty())
        std::memcpy(single_.data() + kHeadroom, inner_packet.data(), inner_packet.size());
    const DropReason r = outbound_in_place(buf);
    sender_.flush();
    return r;
}

DropReason PacketPath::outbound_in_place(PacketBuffer& buf) {
    const auto info = parse_ip_packet(buf.packet());
    if (!info) return counters_.drop(DropReason::bad_inner_packet);
    const auto& snap = reader_.refresh();
    SaSlot* slot = snap.find_outbound(*info);
    if (!slot) {
        counters_.bump(PathStat::no_sa);  // not in drops[]: unknown_spi there is inbound only
        return DropReason::unknown_spi;
    }
    EspSa& sa = *slot->sa;
    const std::size_t inner = buf.length;
    const DropReason r = encapsulate(sa, slot->cipher(index_), buf);
    after_packet(*slot);
    if (r != DropReason::none) return counters_.drop(r);
    if (!sender_.send_esp(buf.packet(), sa.src(), sa.dst(), sa.udp_encap())) {
        counters_.bump(PathStat::send_failed);
        return DropReason::no_room;
    }
    counters_.bump(PathStat::out_packets);
    counters_.bump(PathStat::out_bytes, inner);
    return DropReason::none;
}

DropReason PacketPath::inbound(ByteView esp_packet, const Endpoint& from, bool udp_encap) {
    if (esp_packet.size() > slot_size_ - kHeadroom) return counters_.drop(DropReason::no_room);
    PacketBuffer buf{single_, kHeadroom, esp_packet.size()};
    if (!esp_packet.empty())
        std::memcpy(single_.data() + kHeadroom, esp_packet.data(), esp_packet.size());
    return inbound_in_place(buf, from, udp_encap);
}

DropReason PacketPath::inbound_in_place(PacketBuffer& buf, const Endpoint&, bool udp_encap) {
    const auto p = buf.packet();
    if (p.size() < kEspHeaderSize) return counters_.drop(DropReason::too_short);
    const EspSpi spi(std::uint32_t{p[0]} << 24 | std::uint32_t{p[1]} << 16 |
                     std::uint32_t{p[2]} << 8 | p[3]);
    const auto& snap = reader_.refresh();
    SaSlot* slot = snap.find_inbound(spi);
    if (!slot) return counters_.drop(DropReason::unknown_spi);
    EspSa& sa = *slot->sa;
    // The two checks that keep the replay window single-writer (userspace_dataplane.hpp).
    if (sa.udp_encap() != udp_encap) {
        counters_.bump(PathStat::encap_mismatch);
        return DropReason::unknown_spi;
    }
    if (dp_.owner(spi, udp_encap) != index_) {
        counters_.bump(PathStat::misrouted);
        return DropReason::unknown_spi;
    }
    const DecapResult d = decapsulate(sa, slot->cipher(index_), buf);
    after_packet(*slot);
    if (!d.ok()) return counters_.drop(d.reason);
    if (!tun_.write_packet(d.inner)) {
        counters_.bump(PathStat::tun_failed);
        return DropReason::no_room;
    }
    counters_.bump(PathStat::in_packets);
    counters_.bump(PathStat::in_bytes, d.inner.size());
    return DropReason::none;
}

tl::expected<std::size_t, std::string> PacketPath::run_tun_once(const TunQueue& queue) {
    const std::size_t max_packet = dp_.options_.max_packet;
    for (std::size_t i = 0; i < batch_.size(); ++i) {
        batch_[i].buffer =
            MutableByteView(batch_storage_).subspan(i * slot_size_ + kHeadroom, max_packet);
        batch_[i].size = 0;
        batch_[i].truncated = false;
        batch_[i].vnet = {};
    }
    auto n = queue.read_batch(batch_);
    if (!n) {
        counters_.bump(PathStat::tun_read_errors);
        return tl::unexpected(n.error());
    }
    if (*n) counters_.bump(PathStat::batches_in);
    for (std::size_t i = 0; i < *n; ++i) {
        TunPacket& t = batch_[i];
        if (t.truncated) {
            counters_.drop(DropReason::no_room);
            continue;
        }
        if (queue.vnet_hdr()) {
            if (t.vnet.is_gso()) {
                counters_.bump(PathStat::gso_dropped);
                continue;
            }
            if (t.vnet.needs_csum() && !complete_checksum(t.buffer.first(t.size), t.vnet)) {
                counters_.drop(DropReason::bad_inner_packet);
                continue;
            }
        }
        // The ESP packets stay in batch_storage_ until the flush below (EspSender contract).
        PacketBuffer buf{MutableByteView(batch_storage_).subspan(i * slot_size_, slot_size_),
                         kHeadroom, t.size};
        outbound_in_place(buf);
    }
    sender_.flush();
    return *n;
}

}  // namespace postern::esp
