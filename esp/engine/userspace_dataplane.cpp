#include "esp/engine/userspace_dataplane.hpp"

#include <algorithm>
#include <cstdio>

#include "esp/engine/packet_path.hpp"
#include "esp/engine/steering.hpp"

namespace postern::esp {

namespace {

std::string sa_name(EspSpi spi, bool inbound) {
    char name[48];
    std::snprintf(name, sizeof name, "%s ESP SA 0x%08x", inbound ? "inbound" : "outbound",
                  spi.value());
    return name;
}

unsigned path_count(const UserspaceDataPlaneOptions& o) {
    return std::max(1u, o.workers) + (o.udp_on_ike_thread ? 1u : 0u);
}

}  // namespace

bool TunQueueWriter::write_packet(ByteView ip_packet) {
    const ByteView one[1] = {ip_packet};
    auto r = queue_.write_batch(one);
    return r && r->consumed == 1 && r->rejected == 0;
}

std::uint64_t DataPlaneStats::total_dropped() const {
    std::uint64_t n = no_sa + send_failed + tun_failed + gso_dropped + misrouted + encap_mismatch;
    for (auto d : drops)
        n += d;
    return n;
}

DataPlaneStats& DataPlaneStats::operator+=(const DataPlaneStats& o) {
    outbound_packets += o.outbound_packets;
    outbound_bytes += o.outbound_bytes;
    inbound_packets += o.inbound_packets;
    inbound_bytes += o.inbound_bytes;
    for (std::size_t i = 0; i < drops.size(); ++i)
        drops[i] += o.drops[i];
    no_sa += o.no_sa;
    send_failed += o.send_failed;
    tun_failed += o.tun_failed;
    gso_dropped += o.gso_dropped;
    tun_read_errors += o.tun_read_errors;
    misrouted += o.misrouted;
    encap_mismatch += o.encap_mismatch;
    esp_received += o.esp_received;
    ike_forwarded += o.ike_forwarded;
    keepalives += o.keepalives;
    malformed += o.malformed;
    send_errors += o.send_errors;
    batches_in += o.batches_in;
    gso_packets += o.gso_packets;
    gso_segments += o.gso_segments;
    udp_gso_sends += o.udp_gso_sends;
    gro_buffers += o.gro_buffers;
    gro_datagrams += o.gro_datagrams;
    coalesced_writes += o.coalesced_writes;
    coalesced_segments += o.coalesced_segments;
    return *this;
}

DataPlaneStats PathCounters::snapshot() const {
    DataPlaneStats s;
    auto get = [&](PathStat k) {
        return stats[static_cast<std::size_t>(k)].load(std::memory_order_relaxed);
    };
    s.outbound_packets = get(PathStat::out_packets);
    s.outbound_bytes = get(PathStat::out_bytes);
    s.inbound_packets = get(PathStat::in_packets);
    s.inbound_bytes = get(PathStat::in_bytes);
    s.no_sa = get(PathStat::no_sa);
    s.send_failed = get(PathStat::send_failed);
    s.tun_failed = get(PathStat::tun_failed);
    s.gso_dropped = get(PathStat::gso_dropped);
    s.tun_read_errors = get(PathStat::tun_read_errors);
    s.misrouted = get(PathStat::misrouted);
    s.encap_mismatch = get(PathStat::encap_mismatch);
    s.esp_received = get(PathStat::esp_received);
    s.ike_forwarded = get(PathStat::ike_forwarded);
    s.keepalives = get(PathStat::keepalives);
    s.malformed = get(PathStat::malformed);
    s.send_errors = get(PathStat::send_errors);
    s.batches_in = get(PathStat::batches_in);
    s.gso_packets = get(PathStat::gso_packets);
    s.gso_segments = get(PathStat::gso_segments);
    s.udp_gso_sends = get(PathStat::udp_gso_sends);
    s.gro_buffers = get(PathStat::gro_buffers);
    s.gro_datagrams = get(PathStat::gro_datagrams);
    s.coalesced_writes = get(PathStat::coalesced_writes);
    s.coalesced_segments = get(PathStat::coalesced_segments);
    for (std::size_t i = 0; i < kDropReasonCount; ++i)
        s.drops[i] = drops[i].load(std::memory_order_relaxed);
    return s;
}

UserspaceDataPlane::UserspaceDataPlane(UserspaceDataPlaneOptions options)
    : options_(options), table_(path_count(options)) {
    options_.workers = std::max(1u, options_.workers);
    options_.batch_size = std::max<std::size_t>(1, options_.batch_size);
    for (unsigned p = 0; p < path_count(options_); ++p)
        counters_.push_back(std::make_unique<PathCounters>());
}

UserspaceDataPlane::UserspaceDataPlane(EspSender& sender, TunWriter& tun,
                                       UserspaceDataPlaneOptions options)
    : UserspaceDataPlane(options) {
    single_ = std::make_unique<PacketPath>(*this, 0, sender, tun);
}

UserspaceDataPlane::~UserspaceDataPlane() = default;

unsigned UserspaceDataPlane::owner(EspSpi spi, bool udp_encap) const {
    if (udp_encap && options_.udp_on_ike_thread) return options_.workers;
    return esp_owner(spi.value(), options_.workers);
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

bool UserspaceDataPlane::move(EspSpi spi, bool inbound, const Endpoint& src, const Endpoint& dst,
                              bool udp_encap, std::string& error) {
    auto r = table_.move(spi, inbound, src, dst, udp_encap);
    if (r) return true;
    error = "move " + r.error();
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

DropReason UserspaceDataPlane::outbound(ByteView inner_packet) {
    return single_->outbound(inner_packet);
}
DropReason UserspaceDataPlane::inbound(ByteView esp_packet, const Endpoint& from, bool udp) {
    return single_->inbound(esp_packet, from, udp);
}
DropReason UserspaceDataPlane::outbound_in_place(PacketBuffer& buf) {
    return single_->outbound_in_place(buf);
}
DropReason UserspaceDataPlane::inbound_in_place(PacketBuffer& buf, const Endpoint& from,
                                                bool udp) {
    return single_->inbound_in_place(buf, from, udp);
}
tl::expected<std::size_t, std::string> UserspaceDataPlane::run_tun_once(const TunQueue& queue) {
    return single_->run_tun_once(queue);
}

DataPlaneStats UserspaceDataPlane::stats() const {
    DataPlaneStats s;
    for (const auto& c : counters_)
        s += c->snapshot();
    return s;
}

DataPlaneStats UserspaceDataPlane::path_stats(unsigned path) const {
    return counters_.at(path)->snapshot();
}

}  // namespace postern::esp
