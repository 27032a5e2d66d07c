// The SA table of the userspace ESP engine: inbound SAs by SPI, outbound SAs by the traffic
// selectors of the inner packet, each SA with one EspCipher per worker.
//
// Publication. The table is an immutable Snapshot behind std::atomic<std::shared_ptr<const
// Snapshot>>. install(), remove() and move() (control plane, serialised by a mutex among
// themselves) make a new snapshot that shares every part they do not change with the current
// one (below), publish it, then bump a generation counter. The packet path takes no lock: a
// worker holds a SaTable::Reader, which keeps its own shared_ptr to the snapshot and re-loads
// it only when the generation counter (one relaxed integer load per batch) says the table
// changed. A snapshot, and every SA in it, lives as long as some reader still holds it, so an
// SA removed while a worker is using it is freed after the worker's next refresh (on the
// worker's thread, then: EVP contexts freed there, once).
//
// Structure. A snapshot is six pointers to immutable parts, each shared with the snapshots
// before and after it until a change touches it:
//   inbound, outbound  the SAs by SPI: a hash table of B buckets (B a power of two);
//   hosts[family]      the outbound routes whose remote selector is one address (a "host
//                      route"): a hash table keyed by that address;
//   wide[family]       every other outbound route, in one vector in the route order below.
// A hash table's directory has two levels: T shared_ptrs to immutable pages of P shared_ptrs
// each to immutable buckets (null when empty; B = T * P, T and P about sqrt(B)). A bucket holds
// its entries sorted by their 64-bit hash (seeded; its low bits pick the bucket), then by SPI,
// or by address and then the route order, with the hashes in an array of their own beside
// the entries for the binary search.
//
// Costs (n entries in a table). A change copies, of each table it touches, the top level (T
// pointers), one page (P pointers) and each bucket it changes, never the rest: install() or
// remove() of an inbound SA touches the SPI table once; of an outbound SA with k (remote,
// local) selector pairs, the SPI table once plus, per family it has routes in, the host table
// up to k times, and the wide vector if some of its routes are not host routes (O(w), w wide
// routes: a site-to-site gateway's handful). move() copies the same. B follows n: it doubles
// when n > 256 B and halves when n < 32 B (at least 16), so a bucket holds 32 to 256 entries
// on average and a change copies about 2 sqrt(n / 128) pointers and one such bucket (each
// pointer, and each entry's, a reference count increment;
// and the decrement when the old snapshot goes, on whichever thread drops it last, a worker's
// refresh included): at 100,000 SAs B = 512, 32 + 16 pointers and some 200 entries, where one
// level of about sqrt(n) buckets of about sqrt(n) entries copied some 650. (Buckets of fewer
// entries would copy less still, but more, smaller buckets made the lookups slower: at 50
// entries a find_inbound at 100,000 SAs took 100 ns instead of 75.) Plus the rehash of a table
// when B changes (O(n log n), once per doubling or halving of n: amortised O(log n) per
// change; a latency step of some milliseconds at 100,000 SAs). tests/bench/sa_table_bench
// measures it. The hash is seeded per table from RAND_bytes: a peer chooses the SPIs of our
// outbound SAs and must not be able to pile them into one bucket, which would make installs
// O(n) again.
//
// Lookups.
//   By SPI: hash, binary search for the hash in the bucket's hash array (O(log(n / B))), then
//   the SPI beside the slot pointer: no SA is touched until found.
//   Outbound: every (remote selector, local selector) pair of every outbound SA becomes a
//   route; the routes are ordered most specific first: the smaller destination (remote)
//   range, then the smaller source (local) range, then a specific protocol before "any", then
//   the smaller destination port range; among equal routes the most recently installed SA
//   first, so the new SA of a rekey takes over from the old one at once. find_outbound()
//   returns the SA of the first route in that order covering the packet's destination and
//   source (and protocol and ports). A host route (remote selector start == end) has the
//   smallest destination range there is, so it precedes every route whose remote range is
//   wider: the lookup looks in the destination's host bucket first (binary search for the
//   address's hash, then the few routes of that address in the route order, usually one: the
//   client's virtual IP /32 or /128, two during a rekey) and scans the wide routes only when
//   no host route covers the packet. (A wide route with a remote span of 0 as well, a
//   reversed or mixed-family range, could still precede a host route; the wide vector counts
//   them at its front and the lookup checks them then, so the order stays exactly the one
//   above.) The scan of the wide routes is linear: fine for a site-to-site gateway's few SAs,
//   and the packets of remote-access clients with a host route do not reach it.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <tl/expected.hpp>

#include "esp/engine/esp_packet.hpp"
#include "esp/engine/esp_sa.hpp"
#include "esp/engine/ip_packet.hpp"

namespace postern::esp {

// The clock of SaSlot::installed_at and last_used: CLOCK_MONOTONIC at one-second resolution
// (the coarse clock costs no syscall, so the packet path may read it).
std::int64_t monotonic_seconds();

// One installed SA and its per-worker cipher contexts. Shared between snapshots; the EspSa's
// mutable state is atomic or owned by one worker (esp_sa.hpp), and ciphers[w] belongs to worker
// w alone.
struct SaSlot {
    // Shared with the slot that replaces this one when the SA moves (MOBIKE): the sequence
    // counter, replay window and counters carry on.
    std::shared_ptr<EspSa> sa;
    // The outer path: addresses and ESP-in-UDP. The EspSa's at install; a move publishes a
    // new slot with new ones (a slot never changes once published).
    Endpoint src, dst;
    bool udp_encap = false;
    std::vector<EspCipher> ciphers;  // one per worker
    std::uint32_t reqid = 0;
    std::uint64_t install_order = 0;               // higher = installed later
    std::int64_t installed_at = 0;                 // CLOCK_MONOTONIC seconds
    std::atomic<std::int64_t> last_used{0};        // CLOCK_MONOTONIC seconds, 0 = never
    std::atomic<std::uint8_t> reported_events{0};  // lifetime events already passed on

    EspCipher& cipher(unsigned worker) { return ciphers[worker]; }
};

// One outbound route: the SA covers packets whose destination is in `remote` and whose
// source is in `local`.
struct OutboundRoute {
    Selector remote, local;
    SaSlot* slot = nullptr;  // kept alive by the snapshot's `outbound` table
};

// The parts of a snapshot (sa_table.cpp; the header comment describes them).
namespace detail {
struct SpiIndex;
struct HostIndex;
struct WideRoutes;
}  // namespace detail

struct SaTableSnapshot {
    std::uint64_t generation = 0;
    // Set by SaTable; a null part (a default-constructed snapshot) is an empty one.
    std::shared_ptr<const detail::SpiIndex> inbound, outbound;
    std::array<std::shared_ptr<const detail::HostIndex>, 2> hosts;  // [0] v4, [1] v6
    std::array<std::shared_ptr<const detail::WideRoutes>, 2> wide;

    // The inbound SA with this SPI, or nullptr.
    SaSlot* find_inbound(EspSpi spi) const;
    // The outbound SA with this SPI (counters, tests), or nullptr.
    SaSlot* find_outbound_spi(EspSpi spi) const;
    // The outbound SA for an inner packet: the first (most specific) route whose remote
    // selector covers the destination and whose local selector covers the source, with
    // protocol and ports; nullptr when no SA covers it.
    SaSlot* find_outbound(const IpPacketInfo& packet) const;

    // How many SAs, and outbound routes of one family (tests, statistics).
    std::size_t inbound_count() const;
    std::size_t outbound_count() const;
    std::size_t route_count(IpAddress::Family family) const;
};

class SaTable {
  public:
    // `workers`: how many EspCiphers each SA gets (at least 1).
    explicit SaTable(unsigned workers = 1);
    SaTable(const SaTable&) = delete;
    SaTable& operator=(const SaTable&) = delete;

    unsigned workers() const { return workers_; }

    // Takes the SA, builds its ciphers and publishes a new snapshot. Fails (changing nothing)
    // when an SA with the same SPI and direction is installed or a cipher cannot be built.
    tl::expected<void, std::string> install(std::unique_ptr<EspSa> sa, std::uint32_t reqid = 0);
    // False when no such SA is installed.
    bool remove(EspSpi spi, bool inbound);
    // MOBIKE: the SA gets a new outer path. A new slot sharing the EspSa (sequence numbers,
    // replay window, counters) with fresh per-worker ciphers replaces the old one; packets
    // a worker handles before its next refresh still use the old path.
    tl::expected<void, std::string> move(EspSpi spi, bool inbound, const Endpoint& src,
                                         const Endpoint& dst, bool udp_encap);

    // The current snapshot (a shared_ptr copy: an atomic reference count increment).
    std::shared_ptr<const SaTableSnapshot> snapshot() const {
        return snapshot_.load(std::memory_order_acquire);
    }
    std::uint64_t generation() const { return generation_.load(std::memory_order_acquire); }

    // A worker's view: holds a snapshot and refreshes it when the table changed.
    class Reader {
      public:
        explicit Reader(const SaTable& table)
            : table_(&table), snapshot_(table.snapshot()), generation_(snapshot_->generation) {}
        // Call once per batch; the reference is valid until the next refresh().
        const SaTableSnapshot& refresh() {
            if (table_->generation() != generation_) {
                snapshot_ = table_->snapshot();
                generation_ = snapshot_->generation;
            }
            return *snapshot_;
        }
        const SaTableSnapshot& current() const { return *snapshot_; }

      private:
        const SaTable* table_;
        std::shared_ptr<const SaTableSnapshot> snapshot_;
        std::uint64_t generation_;
    };

  private:
    void publish(std::shared_ptr<SaTableSnapshot> next);

    unsigned workers_;
    std::mutex write_mutex_;  // install/remove/move only; never taken by readers
    std::uint64_t install_counter_ = 0;
    std::atomic<std::shared_ptr<const SaTableSnapshot>> snapshot_;
    std::atomic<std::uint64_t> generation_{0};
};

// Orders outbound routes most specific first (see the header comment); exposed for tests.
bool more_specific(const OutboundRoute& a, const OutboundRoute& b);

}  // namespace postern::esp
