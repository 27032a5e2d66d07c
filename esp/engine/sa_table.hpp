// The SA table of the userspace ESP engine: inbound SAs by SPI, outbound SAs by the traffic
// selectors of the inner packet, each SA with one EspCipher per worker.
//
// Publication. The table is an immutable Snapshot behind std::atomic<std::shared_ptr<const
// Snapshot>>. install() and remove() (control plane, serialised by a mutex among themselves)
// copy the current snapshot, change the copy and publish it, then bump a generation counter.
// The packet path takes no lock: a worker holds a SaTable::Reader, which keeps its own
// shared_ptr to the snapshot and re-loads it only when the generation counter (one relaxed
// integer load per batch) says the table changed. A snapshot, and every SA in it, lives as long
// as some reader still holds it, so an SA removed while a worker is using it is freed after the
// worker's next refresh (on the worker's thread, then: EVP contexts freed there, once).
//
// Lookups.
//   Inbound: the SPI in a sorted vector, binary search (no hashing, no allocation).
//   Outbound: every (remote selector, local selector) pair of every outbound SA becomes a
//   route; routes are kept per address family and sorted most specific first: the smaller
//   destination (remote) range, then the smaller source (local) range, then a specific
//   protocol before "any", then the smaller destination port range; among equal routes the
//   most recently installed SA first, so the new SA of a rekey takes over from the old one at
//   once. find_outbound() is a linear scan that returns the first route covering the packet's
//   destination and source (and protocol and ports): fine for the handful of SAs of a
//   site-to-site gateway, linear in the number of clients for a remote-access one.
//   The planned structure for many SAs: a per-family longest-prefix-match trie (a
//   poptrie/DIR-24-8-style table for IPv4) on the destination, whose leaves list the routes of
//   that prefix in the order above (usually one: the client's virtual IP /32 or /128), and an
//   open-addressing hash keyed by SPI for the inbound side; both built in the control plane
//   exactly like the vectors now, so the publication scheme does not change.
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
    SaSlot* slot = nullptr;  // kept alive by the snapshot's `outbound` list
};

struct SaTableSnapshot {
    std::uint64_t generation = 0;
    std::vector<std::shared_ptr<SaSlot>> inbound;     // sorted by SPI
    std::vector<std::shared_ptr<SaSlot>> outbound;    // sorted by SPI
    std::vector<OutboundRoute> routes_v4, routes_v6;  // most specific first

    // The inbound SA with this SPI, or nullptr.
    SaSlot* find_inbound(EspSpi spi) const;
    // The outbound SA with this SPI (counters, tests), or nullptr.
    SaSlot* find_outbound_spi(EspSpi spi) const;
    // The outbound SA for an inner packet: the first (most specific) route whose remote
    // selector covers the destination and whose local selector covers the source, with
    // protocol and ports; nullptr when no SA covers it.
    SaSlot* find_outbound(const IpPacketInfo& packet) const;
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
    std::mutex write_mutex_;  // install/remove only; never taken by readers
    std::uint64_t install_counter_ = 0;
    std::atomic<std::shared_ptr<const SaTableSnapshot>> snapshot_;
    std::atomic<std::uint64_t> generation_{0};
};

// Orders outbound routes most specific first (see the header comment); exposed for tests.
bool more_specific(const OutboundRoute& a, const OutboundRoute& b);

}  // namespace postern::esp
