#include "esp/engine/sa_table.hpp"

#include <time.h>

#include <algorithm>
#include <cstdio>
#include <cstring>

namespace postern::esp {

std::int64_t monotonic_seconds() {
    timespec ts{};
    ::clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return ts.tv_sec;
}

namespace {

// end - start of a range as a 16-octet big-endian number (IPv4 right-aligned), so ranges of
// either family compare by memcmp. A reversed range counts as empty (0).
std::array<std::uint8_t, 16> span_of(const IpAddress& start, const IpAddress& end) {
    std::array<std::uint8_t, 16> a{}, b{}, d{};
    const auto sb = start.bytes(), eb = end.bytes();
    std::memcpy(a.data() + 16 - sb.size(), sb.data(), sb.size());
    std::memcpy(b.data() + 16 - eb.size(), eb.data(), eb.size());
    if (std::memcmp(b.data(), a.data(), 16) < 0) return d;
    int borrow = 0;
    for (int i = 15; i >= 0; --i) {
        int v = int{b[static_cast<std::size_t>(i)]} - int{a[static_cast<std::size_t>(i)]} - borrow;
        borrow = v < 0 ? 1 : 0;
        d[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(v + (borrow ? 256 : 0));
    }
    return d;
}

int compare_span(const Selector& a, const Selector& b) {
    const auto sa = span_of(a.start, a.end), sb = span_of(b.start, b.end);
    return std::memcmp(sa.data(), sb.data(), 16);
}

template <typename Vec>
auto lower_bound_spi(const Vec& v, EspSpi spi) {
    return std::lower_bound(
        v.begin(), v.end(), spi,
        [](const std::shared_ptr<SaSlot>& s, EspSpi k) { return s->sa->spi() < k; });
}

SaSlot* find_spi(const std::vector<std::shared_ptr<SaSlot>>& v, EspSpi spi) {
    auto it = lower_bound_spi(v, spi);
    return it != v.end() && (*it)->sa->spi() == spi ? it->get() : nullptr;
}

bool covers(const Selector& s, const IpAddress& address, const IpPacketInfo& p, bool dst) {
    return selector_covers(s, address, p.protocol, p.ports_known, dst ? p.dst_port : p.src_port);
}

}  // namespace

bool more_specific(const OutboundRoute& a, const OutboundRoute& b) {
    if (int c = compare_span(a.remote, b.remote)) return c < 0;
    if (int c = compare_span(a.local, b.local)) return c < 0;
    const bool a_proto = a.remote.ip_protocol != 0, b_proto = b.remote.ip_protocol != 0;
    if (a_proto != b_proto) return a_proto;
    const int a_ports = a.remote.end_port - a.remote.start_port;
    const int b_ports = b.remote.end_port - b.remote.start_port;
    if (a_ports != b_ports) return a_ports < b_ports;
    return a.slot->install_order > b.slot->install_order;
}

SaSlot* SaTableSnapshot::find_inbound(EspSpi spi) const {
    return find_spi(inbound, spi);
}

SaSlot* SaTableSnapshot::find_outbound_spi(EspSpi spi) const {
    return find_spi(outbound, spi);
}

SaSlot* SaTableSnapshot::find_outbound(const IpPacketInfo& packet) const {
    const auto& routes = packet.version == 4 ? routes_v4 : routes_v6;
    for (const auto& r : routes) {
        if (r.remote.start.family() != packet.dst.family() ||
            r.local.start.family() != packet.src.family())
            continue;
        if (covers(r.remote, packet.dst, packet, true) &&
            covers(r.local, packet.src, packet, false))
            return r.slot;
    }
    return nullptr;
}

SaTable::SaTable(unsigned workers)
    : workers_(std::max(1u, workers)),
      snapshot_(std::shared_ptr<const SaTableSnapshot>(std::make_shared<SaTableSnapshot>())) {}

void SaTable::publish(std::shared_ptr<SaTableSnapshot> next) {
    auto rebuild = [&](std::vector<OutboundRoute>& routes, IpAddress::Family family) {
        routes.clear();
        for (const auto& slot : next->outbound)
            for (const auto& remote : slot->sa->remote_ts())
                for (const auto& local : slot->sa->local_ts())
                    if (remote.start.family() == family && local.start.family() == family)
                        routes.push_back({remote, local, slot.get()});
        std::stable_sort(routes.begin(), routes.end(), more_specific);
    };
    rebuild(next->routes_v4, IpAddress::Family::V4);
    rebuild(next->routes_v6, IpAddress::Family::V6);
    next->generation = generation_.load(std::memory_order_relaxed) + 1;
    const auto generation = next->generation;
    snapshot_.store(std::shared_ptr<const SaTableSnapshot>(std::move(next)),
                    std::memory_order_release);
    generation_.store(generation, std::memory_order_release);
}

tl::expected<void, std::string> SaTable::install(std::unique_ptr<EspSa> sa, std::uint32_t reqid) {
    char name[48];
    std::snprintf(name, sizeof name, "%s ESP SA 0x%08x", sa->inbound() ? "inbound" : "outbound",
                  sa->spi().value());
    auto slot = std::make_shared<SaSlot>();
    slot->ciphers.reserve(workers_);
    for (unsigned w = 0; w < workers_; ++w) {
        auto cipher = EspCipher::create(*sa);
        if (!cipher) return tl::unexpected(std::string(name) + ": " + cipher.error());
        slot->ciphers.push_back(std::move(*cipher));
    }
    slot->reqid = reqid;
    slot->installed_at = monotonic_seconds();
    slot->src = sa->src();
    slot->dst = sa->dst();
    slot->udp_encap = sa->udp_encap();
    slot->sa = std::move(sa);

    std::lock_guard lock(write_mutex_);
    slot->install_order = ++install_counter_;
    auto next = std::make_shared<SaTableSnapshot>(*snapshot_.load(std::memory_order_acquire));
    auto& list = slot->sa->inbound() ? next->inbound : next->outbound;
    auto it = lower_bound_spi(list, slot->sa->spi());
    if (it != list.end() && (*it)->sa->spi() == slot->sa->spi())
        return tl::unexpected(std::string(name) + ": already installed");
    list.insert(it, std::move(slot));
    publish(std::move(next));
    return {};
}

bool SaTable::remove(EspSpi spi, bool inbound) {
    std::lock_guard lock(write_mutex_);
    auto next = std::make_shared<SaTableSnapshot>(*snapshot_.load(std::memory_order_acquire));
    auto& list = inbound ? next->inbound : next->outbound;
    auto it = lower_bound_spi(list, spi);
    if (it == list.end() || (*it)->sa->spi() != spi) return false;
    list.erase(it);
    publish(std::move(next));
    return true;
}

tl::expected<void, std::string> SaTable::move(EspSpi spi, bool inbound, const Endpoint& src,
                                              const Endpoint& dst, bool udp_encap) {
    char name[48];
    std::snprintf(name, sizeof name, "%s ESP SA 0x%08x", inbound ? "inbound" : "outbound",
                  spi.value());
    std::lock_guard lock(write_mutex_);
    auto next = std::make_shared<SaTableSnapshot>(*snapshot_.load(std::memory_order_acquire));
    auto& list = inbound ? next->inbound : next->outbound;
    auto it = lower_bound_spi(list, spi);
    if (it == list.end() || (*it)->sa->spi() != spi)
        return tl::unexpected(std::string(name) + ": not installed");
    const SaSlot& old = **it;
    auto slot = std::make_shared<SaSlot>();
    slot->ciphers.reserve(workers_);
    for (unsigned w = 0; w < workers_; ++w) {
        auto cipher = EspCipher::create(*old.sa);
        if (!cipher) return tl::unexpected(std::string(name) + ": " + cipher.error());
        slot->ciphers.push_back(std::move(*cipher));
    }
    slot->sa = old.sa;
    slot->reqid = old.reqid;
    slot->install_order = old.install_order;
    slot->installed_at = old.installed_at;
    slot->last_used.store(old.last_used.load(std::memory_order_relaxed),
                          std::memory_order_relaxed);
    slot->reported_events.store(old.reported_events.load(std::memory_order_relaxed),
                                std::memory_order_relaxed);
    slot->src = src;
    slot->dst = dst;
    slot->udp_encap = udp_encap;
    list[static_cast<std::size_t>(it - list.begin())] = std::move(slot);
    publish(std::move(next));
    return {};
}

}  // namespace postern::esp
