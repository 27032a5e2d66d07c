#include "esp/engine/sa_table.hpp"

#include <openssl/rand.h>
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <span>

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

bool covers(const Selector& s, const IpAddress& address, const IpPacketInfo& p, bool dst) {
    return selector_covers(s, address, p.protocol, p.ports_known, dst ? p.dst_port : p.src_port);
}

// Whether a route covers the packet; the family checks first (the cheap rejection).
bool route_covers(const OutboundRoute& r, const IpPacketInfo& p) {
    return r.remote.start.family() == p.dst.family() && r.local.start.family() == p.src.family() &&
           covers(r.remote, p.dst, p, true) && covers(r.local, p.src, p, false);
}

// A host route: the remote selector is one address, so its span is 0 (header comment).
bool is_host(const Selector& remote) {
    return remote.start == remote.end;
}

std::size_t family_index(IpAddress::Family family) {
    return family == IpAddress::Family::V4 ? 0 : 1;
}

// splitmix64's finaliser: every input bit moves every output bit, so the low bits that pick
// the bucket depend on the whole key (SPIs and virtual IPs are often sequential).
std::uint64_t mix(std::uint64_t x) {
    x += 0x9e3779b97f4a7c15u;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9u;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebu;
    return x ^ (x >> 31);
}

std::uint64_t hash_spi(std::uint32_t spi, std::uint64_t seed) {
    return mix(spi ^ seed);
}

std::uint64_t hash_address(const IpAddress& a, std::uint64_t seed) {
    if (a.is_v4()) return mix(a.v4_value() ^ seed);
    std::uint64_t high = 0, low = 0;
    std::memcpy(&high, a.bytes().data(), 8);
    std::memcpy(&low, a.bytes().data() + 8, 8);
    return mix(mix(high ^ seed) ^ low);
}

std::uint64_t random_seed() {
    std::uint64_t seed = 0;
    // Not a key: without the DRBG the table works the same, only with a guessable hash.
    if (RAND_bytes(reinterpret_cast<unsigned char*>(&seed), sizeof seed) != 1) {
        const auto now = std::chrono::steady_clock::now().time_since_epoch();
        seed = static_cast<std::uint64_t>(now.count());
    }
    return seed;
}

}  // namespace

namespace detail {

// A hash table whose buckets are immutable sorted vectors, shared between the tables of
// successive snapshots. The table itself is immutable once published; the control plane
// changes a private copy. The directory has two levels, both shared as well: the table holds
// T pointers to pages, a page holds P pointers to buckets (B = T * P buckets). A change copies
// the top (T pointers), one page (P pointers) and the one bucket it touches. Policy gives an
// entry's 64-bit hash (its low bits pick the bucket) and the order of entries with the same
// hash.
template <typename Entry, typename Policy>
class BucketTable {
  public:
    // Entries sorted by hash, then by Policy::less. The hashes sit in an array of their own
    // beside them, so that a lookup's binary search reads 8 octets per step, not an entry
    // (an OutboundRoute is about 100).
    struct Bucket {
        std::vector<std::uint64_t> hashes;
        std::vector<Entry> entries;
    };
    using Page = std::vector<std::shared_ptr<const Bucket>>;

    explicit BucketTable(std::uint64_t seed) : seed_(seed) { shape(kMinBuckets); }

    std::size_t size() const { return size_; }
    std::uint64_t seed() const { return seed_; }

    // The entries with this hash, in order (usually one; those with another key and the
    // same hash, astronomically rare, the caller tells apart).
    std::span<const Entry> with_hash(std::uint64_t hash) const {
        const Bucket* b = bucket(index(hash));
        if (!b) return {};
        const auto first = std::lower_bound(b->hashes.begin(), b->hashes.end(), hash);
        auto last = first;
        while (last != b->hashes.end() && *last == hash)
            ++last;
        return std::span(b->entries)
            .subspan(static_cast<std::size_t>(first - b->hashes.begin()),
                     static_cast<std::size_t>(last - first));
    }

    // The changes, on a copy not yet published.
    void insert(Entry e) {
        const std::size_t i = index(Policy::hash(e, seed_));
        auto next = std::make_shared<Bucket>();
        const Bucket* old = bucket(i);
        const std::size_t n = old ? old->entries.size() : 0;
        next->entries.reserve(n + 1);
        if (old) {
            // After its equals: among routes of the same SA (the only equal ones) any order
            // gives the same lookups.
            const auto at =
                std::upper_bound(old->entries.begin(), old->entries.end(), e,
                                 [&](const Entry& a, const Entry& b) { return ordered(a, b); });
            next->entries.insert(next->entries.end(), old->entries.begin(), at);
            next->entries.push_back(std::move(e));
            next->entries.insert(next->entries.end(), at, old->entries.end());
        } else {
            next->entries.push_back(std::move(e));
        }
        store(i, std::move(next));
        ++size_;
        resize_if_needed();
    }

    // Lets `edit` change a copy of the entries of the bucket of this hash: erase some, or
    // change them without moving them in the order.
    template <typename Edit>
    void change(std::uint64_t hash, Edit edit) {
        const std::size_t i = index(hash);
        const Bucket* old = bucket(i);
        if (!old) return;
        auto next = std::make_shared<Bucket>();
        next->entries = old->entries;
        size_ -= next->entries.size();
        edit(next->entries);
        size_ += next->entries.size();
        store(i, std::move(next));
        resize_if_needed();
    }

  private:
    static constexpr std::size_t kMinBuckets = 16;
    // The average bucket stays between these (the table doubles or halves past them).
    static constexpr std::size_t kGrowAt = 256, kShrinkAt = 32;

    std::size_t bucket_count() const { return pages_.size() << page_bits_; }
    std::size_t index(std::uint64_t hash) const {
        return static_cast<std::size_t>(hash) & (bucket_count() - 1);
    }
    // Bucket i is slot slot_of(i) of page i >> page_bits_.
    std::size_t slot_of(std::size_t i) const { return i & ((std::size_t{1} << page_bits_) - 1); }
    const Bucket* bucket(std::size_t i) const {
        const Page* page = pages_[i >> page_bits_].get();
        return page ? (*page)[slot_of(i)].get() : nullptr;
    }

    // An empty directory of `count` buckets (a power of two): pages of about sqrt(count).
    void shape(std::size_t count) {
        unsigned bits = 0;
        while ((std::size_t{1} << (2 * (bits + 1))) <= count)
            ++bits;
        page_bits_ = bits;
        pages_.assign(count >> page_bits_, nullptr);
    }

    bool ordered(const Entry& a, const Entry& b) const {
        const std::uint64_t ha = Policy::hash(a, seed_), hb = Policy::hash(b, seed_);
        return ha != hb ? ha < hb : Policy::less(a, b);
    }

    // Fills in the hash array of a bucket whose entries are in order.
    void hash_entries(Bucket& b) const {
        b.hashes.reserve(b.entries.size());
        for (const Entry& e : b.entries)
            b.hashes.push_back(Policy::hash(e, seed_));
    }

    // Publishes a bucket whose entries are in order (nullptr if empty), in a copy of its page.
    void store(std::size_t i, std::shared_ptr<Bucket> b) {
        std::shared_ptr<const Bucket> stored;
        if (!b->entries.empty()) {
            hash_entries(*b);
            stored = std::move(b);
        }
        auto& page = pages_[i >> page_bits_];
        auto next = page ? std::make_shared<Page>(*page)
                         : std::make_shared<Page>(std::size_t{1} << page_bits_);
        (*next)[slot_of(i)] = std::move(stored);
        page = std::move(next);
    }

    // About size / 128 buckets in about sqrt of that many pages: a change copies about
    // 2 sqrt(size / 128) pointers and one bucket (header comment). The factor 8 between
    // growing and shrinking keeps a table near a threshold from rehashing back and forth.
    void resize_if_needed() {
        const std::size_t n = bucket_count();
        if (size_ > kGrowAt * n)
            rehash(2 * n);
        else if (n > kMinBuckets && size_ < kShrinkAt * n)
            rehash(n / 2);
    }

    void rehash(std::size_t count) {
        std::vector<std::shared_ptr<Bucket>> fresh(count);
        const std::size_t old_count = bucket_count();
        for (std::size_t i = 0; i < old_count; ++i) {
            const Bucket* b = bucket(i);
            if (!b) continue;
            for (const Entry& e : b->entries) {
                auto& to = fresh[static_cast<std::size_t>(Policy::hash(e, seed_)) & (count - 1)];
                if (!to) to = std::make_shared<Bucket>();
                to->entries.push_back(e);
            }
        }
        shape(count);
        const std::size_t per_page = std::size_t{1} << page_bits_;
        for (std::size_t p = 0; p < pages_.size(); ++p) {
            auto page = std::make_shared<Page>(per_page);
            bool any = false;
            for (std::size_t j = 0; j < per_page; ++j) {
                auto& b = fresh[p * per_page + j];
                if (!b) continue;
                std::sort(b->entries.begin(), b->entries.end(),
                          [&](const Entry& x, const Entry& y) { return ordered(x, y); });
                hash_entries(*b);
                (*page)[j] = std::move(b);
                any = true;
            }
            if (any) pages_[p] = std::move(page);
        }
    }

    std::uint64_t seed_;
    std::vector<std::shared_ptr<const Page>> pages_;  // T pages (null: all buckets empty)
    unsigned page_bits_ = 0;                          // P = 2^page_bits_ buckets per page
    std::size_t size_ = 0;
};

// SAs by SPI. The SPI sits beside the slot so that telling the entries of one hash apart
// touches no SA.
struct SpiEntry {
    std::uint32_t spi = 0;
    std::shared_ptr<SaSlot> slot;
};

struct SpiPolicy {
    static std::uint64_t hash(const SpiEntry& e, std::uint64_t seed) {
        return hash_spi(e.spi, seed);
    }
    static bool less(const SpiEntry& a, const SpiEntry& b) { return a.spi < b.spi; }
};

struct SpiIndex : BucketTable<SpiEntry, SpiPolicy> {
    using BucketTable::BucketTable;

    SaSlot* find(EspSpi spi) const {
        for (const SpiEntry& e : with_hash(hash_spi(spi.value(), seed())))
            if (e.spi == spi.value()) return e.slot.get();
        return nullptr;
    }
    void erase(EspSpi spi) {
        change(hash_spi(spi.value(), seed()), [&](std::vector<SpiEntry>& entries) {
            std::erase_if(entries, [&](const SpiEntry& e) { return e.spi == spi.value(); });
        });
    }
    void replace(EspSpi spi, const std::shared_ptr<SaSlot>& slot) {
        change(hash_spi(spi.value(), seed()), [&](std::vector<SpiEntry>& entries) {
            for (auto& e : entries)
                if (e.spi == spi.value()) e.slot = slot;
        });
    }
};

// Host routes keyed by their one remote address; those of one address most specific first.
struct HostPolicy {
    static std::uint64_t hash(const OutboundRoute& r, std::uint64_t seed) {
        return hash_address(r.remote.start, seed);
    }
    static bool less(const OutboundRoute& a, const OutboundRoute& b) {
        if (a.remote.start != b.remote.start) return a.remote.start < b.remote.start;
        return more_specific(a, b);
    }
};

struct HostIndex : BucketTable<OutboundRoute, HostPolicy> {
    using BucketTable::BucketTable;

    // The first host route of the packet's destination that covers the packet.
    const OutboundRoute* find(const IpPacketInfo& p) const {
        for (const OutboundRoute& r : with_hash(hash_address(p.dst, seed())))
            if (r.remote.start == p.dst && route_covers(r, p)) return &r;
        return nullptr;
    }
};

// The other routes of one family, most specific first.
struct WideRoutes {
    std::vector<OutboundRoute> routes;
    // How many routes at the front have a remote span of 0 (reversed or mixed-family ranges):
    // the only ones that may precede a host route. Almost always 0.
    std::size_t zero_span = 0;

    void insert(const OutboundRoute& r) {
        routes.insert(std::upper_bound(routes.begin(), routes.end(), r, more_specific), r);
        count_zero_span();
    }
    void count_zero_span() {
        const Selector none;  // 0.0.0.0 - 0.0.0.0: span 0
        const auto wider = [&](const OutboundRoute& r) {
            return compare_span(r.remote, none) != 0;
        };
        const auto first_wider = std::find_if(routes.begin(), routes.end(), wider);
        zero_span = static_cast<std::size_t>(first_wider - routes.begin());
    }
    // The first route covering the packet. With `host` (the packet's covering host route),
    // only the routes that precede it: nullptr then means the host route wins.
    const OutboundRoute* find(const IpPacketInfo& p, const OutboundRoute* host) const {
        const auto candidates = host ? std::span(routes).first(zero_span) : std::span(routes);
        for (const auto& r : candidates) {
            if (host && !more_specific(r, *host)) break;
            if (route_covers(r, p)) return &r;
        }
        return nullptr;
    }
};

}  // namespace detail

namespace {

using detail::HostIndex;
using detail::SpiIndex;
using detail::WideRoutes;

std::shared_ptr<SaTableSnapshot> empty_snapshot() {
    const std::uint64_t seed = random_seed();
    auto s = std::make_shared<SaTableSnapshot>();
    s->inbound = std::make_shared<SpiIndex>(seed);
    s->outbound = std::make_shared<SpiIndex>(seed);
    for (std::size_t f = 0; f < 2; ++f) {
        s->hosts[f] = std::make_shared<HostIndex>(seed);
        s->wide[f] = std::make_shared<WideRoutes>();
    }
    return s;
}

// Adds the routes of a new outbound SA: each (remote, local) pair of one family.
void add_routes(SaTableSnapshot& next, SaSlot& slot) {
    for (std::size_t f = 0; f < 2; ++f) {
        std::shared_ptr<HostIndex> hosts;
        std::shared_ptr<WideRoutes> wide;
        for (const auto& remote : slot.sa->remote_ts()) {
            if (family_index(remote.start.family()) != f) continue;
            for (const auto& local : slot.sa->local_ts()) {
                if (local.start.family() != remote.start.family()) continue;
                const OutboundRoute route{remote, local, &slot};
                if (is_host(remote)) {
                    if (!hosts) hosts = std::make_shared<HostIndex>(*next.hosts[f]);
                    hosts->insert(route);
                } else {
                    if (!wide) wide = std::make_shared<WideRoutes>(*next.wide[f]);
                    wide->insert(route);
                }
            }
        }
        if (hosts) next.hosts[f] = std::move(hosts);
        if (wide) next.wide[f] = std::move(wide);
    }
}

// Lets `edit` change the routes of an installed outbound SA, in copies of the buckets (found
// through the SA's host selectors) and of the wide vector that hold any. `edit` gets a whole
// vector and must touch only the routes of `slot`, keeping the order.
template <typename Edit>
void edit_routes(SaTableSnapshot& next, const SaSlot& slot, Edit edit) {
    const auto mine = [&](const OutboundRoute& r) { return r.slot == &slot; };
    for (std::size_t f = 0; f < 2; ++f) {
        std::shared_ptr<HostIndex> hosts;
        for (const auto& remote : slot.sa->remote_ts()) {
            if (family_index(remote.start.family()) != f || !is_host(remote)) continue;
            const HostIndex& current = hosts ? *hosts : *next.hosts[f];
            const std::uint64_t hash = hash_address(remote.start, current.seed());
            const auto routes = current.with_hash(hash);
            // None: no local selector of this family, or an earlier selector of the same address
            // has done them.
            if (std::none_of(routes.begin(), routes.end(), mine)) continue;
            if (!hosts) hosts = std::make_shared<HostIndex>(*next.hosts[f]);
            hosts->change(hash, edit);
        }
        if (hosts) next.hosts[f] = std::move(hosts);
        const auto& wide = next.wide[f]->routes;
        if (std::any_of(wide.begin(), wide.end(), mine)) {
            auto copy = std::make_shared<WideRoutes>(*next.wide[f]);
            edit(copy->routes);
            copy->count_zero_span();
            next.wide[f] = std::move(copy);
        }
    }
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
    return inbound ? inbound->find(spi) : nullptr;
}

SaSlot* SaTableSnapshot::find_outbound_spi(EspSpi spi) const {
    return outbound ? outbound->find(spi) : nullptr;
}

SaSlot* SaTableSnapshot::find_outbound(const IpPacketInfo& packet) const {
    const std::size_t f = packet.version == 4 ? 0 : 1;
    const OutboundRoute* host = hosts[f] ? hosts[f]->find(packet) : nullptr;
    const OutboundRoute* other = wide[f] ? wide[f]->find(packet, host) : nullptr;
    if (other) return other->slot;
    return host ? host->slot : nullptr;
}

std::size_t SaTableSnapshot::inbound_count() const {
    return inbound ? inbound->size() : 0;
}

std::size_t SaTableSnapshot::outbound_count() const {
    return outbound ? outbound->size() : 0;
}

std::size_t SaTableSnapshot::route_count(IpAddress::Family family) const {
    const std::size_t f = family_index(family);
    return (hosts[f] ? hosts[f]->size() : 0) + (wide[f] ? wide[f]->routes.size() : 0);
}

SaTable::SaTable(unsigned workers)
    : workers_(std::max(1u, workers)),
      snapshot_(std::shared_ptr<const SaTableSnapshot>(empty_snapshot())) {}

void SaTable::publish(std::shared_ptr<SaTableSnapshot> next) {
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
    const auto current = snapshot_.load(std::memory_order_acquire);
    const bool in = slot->sa->inbound();
    const EspSpi spi = slot->sa->spi();
    if (in ? current->find_inbound(spi) : current->find_outbound_spi(spi))
        return tl::unexpected(std::string(name) + ": already installed");
    auto next = std::make_shared<SaTableSnapshot>(*current);
    auto& index = in ? next->inbound : next->outbound;
    auto changed = std::make_shared<SpiIndex>(*index);
    changed->insert({spi.value(), slot});
    index = std::move(changed);
    if (!in) add_routes(*next, *slot);
    publish(std::move(next));
    return {};
}

bool SaTable::remove(EspSpi spi, bool inbound) {
    std::lock_guard lock(write_mutex_);
    // `current` keeps the slot alive while its routes are found and dropped.
    const auto current = snapshot_.load(std::memory_order_acquire);
    const SaSlot* slot = inbound ? current->find_inbound(spi) : current->find_outbound_spi(spi);
    if (!slot) return false;
    auto next = std::make_shared<SaTableSnapshot>(*current);
    auto& index = inbound ? next->inbound : next->outbound;
    auto changed = std::make_shared<SpiIndex>(*index);
    changed->erase(spi);
    index = std::move(changed);
    if (!inbound)
        edit_routes(*next, *slot, [&](std::vector<OutboundRoute>& routes) {
            std::erase_if(routes, [&](const OutboundRoute& r) { return r.slot == slot; });
        });
    publish(std::move(next));
    return true;
}

tl::expected<void, std::string> SaTable::move(EspSpi spi, bool inbound, const Endpoint& src,
                                              const Endpoint& dst, bool udp_encap) {
    char name[48];
    std::snprintf(name, sizeof name, "%s ESP SA 0x%08x", inbound ? "inbound" : "outbound",
                  spi.value());
    std::lock_guard lock(write_mutex_);
    const auto current = snapshot_.load(std::memory_order_acquire);
    const SaSlot* found = inbound ? current->find_inbound(spi) : current->find_outbound_spi(spi);
    if (!found) return tl::unexpected(std::string(name) + ": not installed");
    const SaSlot& old = *found;
    auto slot = std::make_shared<SaSlot>();
    slot->ciphers.reserve(workers_);
    for (unsigned w = 0; w < workers_; ++w) {
        auto cipher = EspCipher::create(*old.sa);
        if (!cipher) return tl::unexpected(std::string(name) + ": " + cipher.error());
        slot->ciphers.push_back(std::move(*cipher));
    }
    slot->sa = old.sa;
    slot->reqid = old.reqid;
    slot->install_order = old.install_order;  // so its routes keep their place
    slot->installed_at = old.installed_at;
    slot->last_used.store(old.last_used.load(std::memory_order_relaxed),
                          std::memory_order_relaxed);
    slot->reported_events.store(old.reported_events.load(std::memory_order_relaxed),
                                std::memory_order_relaxed);
    slot->src = src;
    slot->dst = dst;
    slot->udp_encap = udp_encap;
    auto next = std::make_shared<SaTableSnapshot>(*current);
    if (!inbound)
        edit_routes(*next, old, [&](std::vector<OutboundRoute>& routes) {
            for (auto& r : routes)
                if (r.slot == &old) r.slot = slot.get();
        });
    auto& index = inbound ? next->inbound : next->outbound;
    auto changed = std::make_shared<SpiIndex>(*index);
    changed->replace(spi, slot);
    index = std::move(changed);
    publish(std::move(next));
    return {};
}

}  // namespace postern::esp
