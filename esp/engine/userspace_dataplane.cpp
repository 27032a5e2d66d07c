#include "esp/engine/userspace_dataplane.hpp"

#include <time.h>

#include <algorithm>
#include <cstdio>
#include <cstring>

#include "esp/engine/ip_packet.hpp"

namespace postern::esp {

namespace {

std::string sa_name(EspSpi spi, bool inbound) {
    char name[48];
    std::snprintf(name, sizeof name, "%s ESP SA 0x%08x", inbound ? "inbound" : "outbound",
                  spi.value());
    return name;
}

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

bool TunQueueWriter::write_packet(ByteView ip_packet) {
    const ByteView one[1] = {ip_packet};
    auto r = queue_.write_batch(one);
    return r && r->consumed == 1 && r->rejected == 0;
}

UserspaceDataPlane::UserspaceDataPlane(EspSender& sender, TunWriter& tun,
                                       UserspaceDataPlaneOptions options)
    : sender_(sender), tun_(tun), options_(options) {
    options_.batch_size = std::max<std::size_t>(1, options_.batch_size);
    slot_size_ = kHeadroom + options_.max_packet + kEncapTailroom;
    single_.resize(slot_size_);
    batch_storage_.resize(slot_size_ * options_.batch_size);
    batch_.resize(options_.batch_size);
}

bool UserspaceDataPlane::install(const EspSaSpec& spec, std::string& error) {
    auto sa = EspSa::create(spec, options_.packet_limits);
    if (!sa) {
        error = "install " + sa_name(spec.spi, spec.inbound) + ": " + sa.error();
        return false;
    }
    auto r = table_.install(std::move(*sa), spec.reqid);
    if (!r) {
        error = "install " + r.error();
        return false;
    }
    return true;
}

bool UserspaceDataPlane::remove(EspSpi spi, bool inbound, std::string& error) {
    if (table_.remove(spi, inbound)) return true;
    error = "remove " + sa_name(spi, inbound) + ": not installed";
    return false;
}

bool UserspaceDataPlane::counters(EspSpi spi, bool inbound, SaCounters& out) {
    auto snap = table_.snapshot();
    SaSlot* slot = inbound ? snap->find_inbound(spi) : snap->find_outbound_spi(spi);
    if (!slot) return false;
    const auto c = slot->sa->counters();
    out.bytes = c.bytes;
    out.packets = c.packets;
    // Never used: the SA's age, like an idle SA that has just been installed.
    const std::int64_t last = slot->last_used.load(std::memory_order_relaxed);
    const std::int64_t since = last ? last : slot->installed_at;
    out.last_used_seconds_ago =
        static_cast<std::uint64_t>(std::max<std::int64_t>(0, monotonic_seconds() - since));
    return true;
}

void UserspaceDataPlane::after_packet(SaSlot& slot) {
    const std::int64_t now = monotonic_seconds();
    if (slot.last_used.load(std::memory_order_relaxed) != now)
        slot.last_used.store(now, std::memory_order_relaxed);
    const std::uint8_t raised = slot.sa->events();
    if (!(raised & ~slot.reported_events.load(std::memory_order_relaxed))) return;
    const std::uint8_t fresh = slot.sa->take_events();
    slot.reported_events.fetch_or(raised | fresh, std::memory_order_relaxed);
    if (fresh && on_event_) on_event_({slot.sa->spi(), slot.sa->inbound(), slot.reqid, fresh});
}

DropReason UserspaceDataPlane::outbound(ByteView inner_packet) {
    if (inner_packet.size() > options_.max_packet) return drop(DropReason::no_room);
    PacketBuffer buf{single_, kHeadroom, inner_packet.size()};
    if (!inner_packet.empty())
        std::memcpy(single_.data() + kHeadroom, inner_packet.data(), inner_packet.size());
    return outbound_in_place(buf);
}

DropReason UserspaceDataPlane::outbound_in_place(PacketBuffer& buf) {
    const auto info = parse_ip_packet(buf.packet());
    if (!info) return drop(DropReason::bad_inner_packet);
    const auto& snap = reader_.refresh();
    SaSlot* slot = snap.find_outbound(*info);
    if (!slot) {
        bump(kNoSa);  // not in drops[]: unknown_spi there means inbound packets only
        return DropReason::unknown_spi;
    }
    EspSa& sa = *slot->sa;
    const std::size_t inner = buf.length;
    const DropReason r = encapsulate(sa, slot->cipher(0), buf);
    after_packet(*slot);
    if (r != DropReason::none) return drop(r);
    if (!sender_.send_esp(buf.packet(), sa.src(), sa.dst(), sa.udp_encap())) {
        bump(kSendFailed);
        return DropReason::no_room;
    }
    bump(kOutPackets);
    bump(kOutBytes, inner);
    return DropReason::none;
}

DropReason UserspaceDataPlane::inbound(ByteView esp_packet, const Endpoint& from) {
    if (esp_packet.size() > slot_size_ - kHeadroom) return drop(DropReason::no_room);
    PacketBuffer buf{single_, kHeadroom, esp_packet.size()};
    if (!esp_packet.empty())
        std::memcpy(single_.data() + kHeadroom, esp_packet.data(), esp_packet.size());
    return inbound_in_place(buf, from);
}

DropReason UserspaceDataPlane::inbound_in_place(PacketBuffer& buf, const Endpoint&) {
    const auto p = buf.packet();
    if (p.size() < kEspHeaderSize) return drop(DropReason::too_short);
    const EspSpi spi(std::uint32_t{p[0]} << 24 | std::uint32_t{p[1]} << 16 |
                     std::uint32_t{p[2]} << 8 | p[3]);
    const auto& snap = reader_.refresh();
    SaSlot* slot = snap.find_inbound(spi);
    if (!slot) return drop(DropReason::unknown_spi);
    const DecapResult d = decapsulate(*slot->sa, slot->cipher(0), buf);
    after_packet(*slot);
    if (!d.ok()) return drop(d.reason);
    if (!tun_.write_packet(d.inner)) {
        bump(kTunFailed);
        return DropReason::no_room;
    }
    bump(kInPackets);
    bump(kInBytes, d.inner.size());
    return DropReason::none;
}

tl::expected<std::size_t, std::string> UserspaceDataPlane::run_tun_once(const TunQueue& queue) {
    for (std::size_t i = 0; i < batch_.size(); ++i) {
        batch_[i].buffer = MutableByteView(batch_storage_)
                               .subspan(i * slot_size_ + kHeadroom, options_.max_packet);
        batch_[i].size = 0;
        batch_[i].truncated = false;
        batch_[i].vnet = {};
    }
    auto n = queue.read_batch(batch_);
    if (!n) {
        bump(kTunReadErrors);
        return tl::unexpected(n.error());
    }
    for (std::size_t i = 0; i < *n; ++i) {
        TunPacket& t = batch_[i];
        if (t.truncated) {
            drop(DropReason::no_room);
            continue;
        }
        if (queue.vnet_hdr()) {
            if (t.vnet.is_gso()) {
                bump(kGsoDropped);
                continue;
            }
            if (t.vnet.needs_csum() && !complete_checksum(t.buffer.first(t.size), t.vnet)) {
                drop(DropReason::bad_inner_packet);
                continue;
            }
        }
        PacketBuffer buf{MutableByteView(batch_storage_).subspan(i * slot_size_, slot_size_),
                         kHeadroom, t.size};
        outbound_in_place(buf);
    }
    return *n;
}

DataPlaneStats UserspaceDataPlane::stats() const {
    DataPlaneStats s;
    auto get = [&](Stat k) { return stats_[k].load(std::memory_order_relaxed); };
    s.outbound_packets = get(kOutPackets);
    s.outbound_bytes = get(kOutBytes);
    s.inbound_packets = get(kInPackets);
    s.inbound_bytes = get(kInBytes);
    s.no_sa = get(kNoSa);
    s.send_failed = get(kSendFailed);
    s.tun_failed = get(kTunFailed);
    s.gso_dropped = get(kGsoDropped);
    s.tun_read_errors = get(kTunReadErrors);
    for (std::size_t i = 0; i < kDropReasonCount; ++i)
        s.drops[i] = drops_[i].load(std::memory_order_relaxed);
    return s;
}

}  // namespace postern::esp
