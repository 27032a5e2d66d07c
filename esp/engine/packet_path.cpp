#include "esp/engine/packet_path.hpp"

#include <algorithm>
#include <cstring>
#include <span>

#include "esp/engine/gso.hpp"
#include "esp/engine/ip_packet.hpp"

namespace postern::esp {

namespace {

std::size_t round_up(std::size_t n, std::size_t to) {
    return (n + to - 1) / to * to;
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
    // At least one segment of the largest packet, whatever max_packet is.
    segment_area_.resize(std::max(kSegmentArea, 2 * slot_size_));
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
    if (!sender_.send_esp(buf.packet(), slot->src, slot->dst, slot->udp_encap)) {
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
    if (slot->udp_encap != udp_encap) {
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

std::size_t PacketPath::tun_batch(const TunQueue& queue) const {
    return queue.vnet_hdr() ? std::min(kGsoTunBatch, batch_.size()) : batch_.size();
}

void PacketPath::outbound_gso(const TunPacket& t) {
    GsoSegmenter seg(t.vnet, t.buffer.first(t.size));
    if (seg.error() != GsoError::none) {
        // Malformed, or a kind we cannot cut (UFO, ECN): dropped whole. Sending it as one
        // ESP packet would exceed the path MTU and carry what the kernel meant to segment.
        counters_.bump(PathStat::gso_dropped);
        return;
    }
    counters_.bump(PathStat::gso_packets);
    const std::size_t max_segment = seg.max_segment_size();
    const std::size_t need = kHeadroom + max_segment + kEncapTailroom;
    std::size_t length = 0;
    while (seg.remaining()) {
        if (segment_used_ + need > segment_area_.size()) {
            // The queued ESP packets point into the area: send them before reusing it.
            sender_.flush();
            segment_used_ = 0;
        }
        const MutableByteView slot = MutableByteView(segment_area_).subspan(segment_used_, need);
        if (!seg.next(slot.subspan(kHeadroom, max_segment), &length)) break;
        counters_.bump(PathStat::gso_segments);
        PacketBuffer buf{slot, kHeadroom, length};
        outbound_in_place(buf);
        // Cache-line aligned slots: the next segment's headers start on a fresh line.
        segment_used_ += round_up(kHeadroom + length + kEncapTailroom, 64);
    }
    // next() fails only on a buffer too small for a segment, which `need` rules out; the
    // rest of the packet is dropped if it ever did.
    if (seg.error() != GsoError::none) counters_.bump(PathStat::gso_dropped);
}

tl::expected<std::size_t, std::string> PacketPath::run_tun_once(const TunQueue& queue) {
    const std::size_t max_packet = dp_.options_.max_packet;
    const std::span<TunPacket> batch(batch_.data(), tun_batch(queue));
    for (std::size_t i = 0; i < batch.size(); ++i) {
        batch[i].buffer =
            MutableByteView(batch_storage_).subspan(i * slot_size_ + kHeadroom, max_packet);
        batch[i].size = 0;
        batch[i].truncated = false;
        batch[i].vnet = {};
    }
    auto n = queue.read_batch(batch);
    if (!n) {
        counters_.bump(PathStat::tun_read_errors);
        return tl::unexpected(n.error());
    }
    if (*n) counters_.bump(PathStat::batches_in);
    segment_used_ = 0;
    for (std::size_t i = 0; i < *n; ++i) {
        TunPacket& t = batch[i];
        if (t.truncated) {
            counters_.drop(DropReason::no_room);
            continue;
        }
        if (queue.vnet_hdr()) {
            if (t.vnet.is_gso()) {
                outbound_gso(t);
                continue;
            }
            if (t.vnet.needs_csum() && !complete_l4_checksum(t.buffer.first(t.size), t.vnet)) {
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
    segment_used_ = 0;
    return *n;
}

}  // namespace postern::esp
