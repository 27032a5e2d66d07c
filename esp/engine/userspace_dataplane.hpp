// The userspace data plane: postern::DataPlane on top of the ESP engine, shared by its packet
// paths (one per worker thread, packet_path.hpp; the threads are worker.hpp).
//
// Control plane (any thread): install() builds an EspSa from the EspSaSpec (copying the keys)
// and puts it in the SaTable with one EspCipher per path; remove() takes it out; counters()
// reads an SA's counters; stats() sums the per-path counters, worker_stats() gives one path's.
//
// Inbound ownership. An inbound SA's replay window has one writer (replay_window.hpp): the
// packet path that owns it. Worker w of `workers` owns the SPIs with SPI % workers == w; the
// kernel steers ESP-in-UDP and plain ESP accordingly (steering.hpp). When the kernel cannot
// steer UDP 4500 (no SO_ATTACH_REUSEPORT_CBPF), `udp_on_ike_thread` adds one more path, index
// `workers`, run by the IKE thread, which then owns every UDP-encapsulated inbound SA while the
// workers keep the plain-ESP ones. A path drops (and counts as `misrouted`) ESP of an SA it
// does not own, and every path drops ESP whose transport does not match the SA (ESP-in-UDP
// for a plain SA or the reverse, counted as `encap_mismatch`, as the kernel's XFRM does), so a
// replay window is never touched by two threads whatever arrives where.
//
// Single-path use (tests, tools): the constructor with an EspSender and a TunWriter creates
// path 0 and outbound()/inbound()/run_tun_once() run on it.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "esp/engine/esp_packet.hpp"
#include "esp/engine/sa_table.hpp"
#include "esp/engine/tun_device.hpp"
#include "postern/dataplane.hpp"

namespace postern::esp {

class PacketPath;

// Sends ESP packets towards the peer. `esp_packet` starts with the SPI; the sender adds what
// goes in front (the kernel does, for a UDP socket on port 4500 or a raw protocol-50 socket).
// The bytes stay valid until the packet path calls flush(), which it does at the end of every
// batch and after every single outbound(): a batching sender queues references and sends them
// all in flush(); a sender that sends at once ignores flush(). Returns false when the packet
// could not be sent (or queued).
class EspSender {
  public:
    virtual ~EspSender() = default;
    virtual bool send_esp(ByteView esp_packet, const Endpoint& src, const Endpoint& dst,
                          bool udp_encap) = 0;
    virtual void flush() {}
};

// Writes decapsulated IPv4/IPv6 packets to the TUN device. Returns false when it could not.
class TunWriter {
  public:
    virtual ~TunWriter() = default;
    virtual bool write_packet(ByteView ip_packet) = 0;
};

// A TunWriter on one TUN queue (one write per packet; EAGAIN and rejected packets are failures).
// Writes to a TUN fd are safe from any thread.
class TunQueueWriter final : public TunWriter {
  public:
    explicit TunQueueWriter(TunQueue queue) : queue_(queue) {}
    bool write_packet(ByteView ip_packet) override;

  private:
    TunQueue queue_;
};

// A lifetime event of one SA, for the IKE engine (soft: rekey; hard: delete).
struct SaLifetimeEvent {
    EspSpi spi;
    bool inbound = false;
    std::uint32_t reqid = 0;
    std::uint8_t events = 0;  // EspEvent bits raised since the last report for this SA
};

// Counters of the data plane, or of one path (a consistent-enough copy of atomic counters).
struct DataPlaneStats {
    std::uint64_t outbound_packets = 0, outbound_bytes = 0;  // sent; inner octets
    std::uint64_t inbound_packets = 0, inbound_bytes = 0;    // delivered; inner octets
    // Every dropped packet by reason, whether or not an SA was found (unknown_spi is only here).
    std::array<std::uint64_t, kDropReasonCount> drops{};
    std::uint64_t no_sa = 0;           // outbound: no SA covers the inner packet
    std::uint64_t send_failed = 0;     // EspSender refused
    std::uint64_t tun_failed = 0;      // TunWriter refused
    // A GSO super-packet from TUN that GsoSegmenter refused (malformed, or a kind it cannot
    // cut): dropped whole, never sent as one oversized ESP packet.
    std::uint64_t gso_dropped = 0;
    std::uint64_t tun_read_errors = 0;
    std::uint64_t misrouted = 0;       // inbound ESP of an SA another path owns
    std::uint64_t encap_mismatch = 0;  // ESP-in-UDP for a plain-ESP SA or the reverse
    // Socket side (filled by the workers).
    std::uint64_t esp_received = 0;    // ESP datagrams (UDP or raw) handed to inbound
    std::uint64_t ike_forwarded = 0;   // IKE datagrams a worker passed to the IKE thread
    std::uint64_t keepalives = 0;      // NAT keepalives seen by a worker
    std::uint64_t malformed = 0;       // truncated datagrams, short or broken raw packets
    std::uint64_t send_errors = 0;     // datagrams the kernel refused (sendmmsg)
    std::uint64_t batches_in = 0;      // recvmmsg / TUN batch reads that returned packets
    // Offloads (docs/forwarding.md, "Data-plane workers"); not drops.
    std::uint64_t gso_packets = 0;         // GSO super-packets from TUN segmented
    std::uint64_t gso_segments = 0;        // segments made from them
    std::uint64_t udp_gso_sends = 0;       // UDP_SEGMENT sends of more than one ESP datagram
    std::uint64_t gro_buffers = 0;         // UDP_GRO receives holding more than one datagram
    std::uint64_t gro_datagrams = 0;       // ESP datagrams split out of those
    std::uint64_t coalesced_writes = 0;    // TUN writes of a coalesced TCP super-packet
    std::uint64_t coalesced_segments = 0;  // decrypted segments merged into them

    std::uint64_t dropped(DropReason r) const { return drops[static_cast<std::size_t>(r)]; }
    // Every packet dropped, by any reason (drops[] plus the counters outside it).
    std::uint64_t total_dropped() const;
    DataPlaneStats& operator+=(const DataPlaneStats& o);
};

// The counters of one path; written by that path's thread only, read by anyone.
enum class PathStat : std::size_t {
    out_packets,
    out_bytes,
    in_packets,
    in_bytes,
    no_sa,
    send_failed,
    tun_failed,
    gso_dropped,
    tun_read_errors,
    misrouted,
    encap_mismatch,
    esp_received,
    ike_forwarded,
    keepalives,
    malformed,
    send_errors,
    batches_in,
    gso_packets,
    gso_segments,
    udp_gso_sends,
    gro_buffers,
    gro_datagrams,
    coalesced_writes,
    coalesced_segments,
    count
};
struct alignas(64) PathCounters {
    std::array<std::atomic<std::uint64_t>, static_cast<std::size_t>(PathStat::count)> stats{};
    std::array<std::atomic<std::uint64_t>, kDropReasonCount> drops{};

    void bump(PathStat s, std::uint64_t n = 1) {
        stats[static_cast<std::size_t>(s)].fetch_add(n, std::memory_order_relaxed);
    }
    DropReason drop(DropReason r) {
        drops[static_cast<std::size_t>(r)].fetch_add(1, std::memory_order_relaxed);
        return r;
    }
    DataPlaneStats snapshot() const;
};

struct UserspaceDataPlaneOptions {
    EspPacketLimits packet_limits;   // per SA; the spec carries only byte limits
    std::size_t batch_size = 32;     // packets per batch (TUN reads, recvmmsg, sendmmsg)
    std::size_t max_packet = 65535;  // largest inner packet accepted
    // Worker threads (each its own packet path, TUN queue and sockets); see
    // default_worker_count() in worker.hpp.
    unsigned workers = 1;
    // The kernel cannot steer UDP 4500 by SPI: the IKE thread gets a packet path of its own
    // (index `workers`) and owns the UDP-encapsulated inbound SAs (see above).
    bool udp_on_ike_thread = false;
};

class UserspaceDataPlane final : public DataPlane {
  public:
    using EventCallback = std::function<void(const SaLifetimeEvent&)>;

    explicit UserspaceDataPlane(UserspaceDataPlaneOptions options = {});
    // Single-path use: creates path 0 on `sender` and `tun` (which must outlive the data
    // plane) for outbound()/inbound()/run_tun_once().
    UserspaceDataPlane(EspSender& sender, TunWriter& tun, UserspaceDataPlaneOptions options = {});
    ~UserspaceDataPlane() override;

    // DataPlane.
    std::string name() const override { return "userspace"; }
    bool install(const EspSaSpec& sa, std::string& error) override;
    bool remove(EspSpi spi, bool inbound, std::string& error) override;
    bool counters(EspSpi spi, bool inbound, SaCounters& out) override;
    bool move(EspSpi spi, bool inbound, const Endpoint& src, const Endpoint& dst, bool udp_encap,
              std::string& error) override;

    // Set before traffic flows (not synchronised with the packet path). Called on the thread
    // of the path that saw the event: it must be thread-safe.
    void set_event_callback(EventCallback callback) { on_event_ = std::move(callback); }

    const UserspaceDataPlaneOptions& options() const { return options_; }
    unsigned workers() const { return options_.workers; }
    // Packet paths: workers, plus the IKE thread's with udp_on_ike_thread.
    unsigned paths() const { return static_cast<unsigned>(counters_.size()); }
    // The path that owns inbound SPI `spi` of an SA with (udp_encap) or without UDP.
    unsigned owner(EspSpi spi, bool udp_encap) const;

    // Single-path use (needs the second constructor): path 0's packet path. Return
    // DropReason::none when the packet was sent/written; otherwise why not. Outbound without
    // an SA returns unknown_spi and counts stats().no_sa only; a packet the EspSender or
    // TunWriter refused returns no_room and counts send_failed / tun_failed.
    DropReason outbound(ByteView inner_packet);
    DropReason inbound(ByteView esp_packet, const Endpoint& from, bool udp_encap = true);
    DropReason outbound_in_place(PacketBuffer& buf);
    DropReason inbound_in_place(PacketBuffer& buf, const Endpoint& from, bool udp_encap = true);
    tl::expected<std::size_t, std::string> run_tun_once(const TunQueue& queue);

    // Sum over every path.
    DataPlaneStats stats() const;
    // One path's counters (path < paths()).
    DataPlaneStats path_stats(unsigned path) const;
    const SaTable& table() const { return table_; }

  private:
    friend class PacketPath;

    UserspaceDataPlaneOptions options_;
    SaTable table_;
    std::vector<std::unique_ptr<PathCounters>> counters_;
    EventCallback on_event_;
    std::unique_ptr<PacketPath> single_;  // single-path use only
};

}  // namespace postern::esp
