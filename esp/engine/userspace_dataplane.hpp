// The userspace data plane: postern::DataPlane on top of the ESP engine, one worker for now.
//
// Control plane (any thread): install() builds an EspSa from the EspSaSpec (copying the keys)
// and puts it in the SaTable; remove() takes it out; counters() reads an SA's counters.
//
// Packet path (the one worker thread; not thread-safe among themselves):
//   outbound(inner)      a clear-text IP packet from the TUN device: parse, find the outbound SA
//                        by the inner destination/source (sa_table.hpp), encapsulate, hand the
//                        ESP packet to the EspSender with the SA's outer endpoints and UDP flag.
//   inbound(esp, from)   an ESP packet (SPI first; no outer IP/UDP header, no non-ESP marker)
//                        from the UDP 4500 or protocol-50 socket: find the SA by SPI,
//                        decapsulate (replay, ICV, padding, traffic selectors), write the inner
//                        packet to the TunWriter. `from` is not checked against the SA's outer
//                        address: NAT mappings change (RFC 3948 §4), the IKE engine follows them
//                        and re-installs; the ICV is what authenticates the packet.
//   run_tun_once(queue)  reads one batch from a TUN queue straight into the worker's buffers
//                        (with headroom and tailroom for ESP) and runs outbound() on each.
// Every packet that is not delivered is counted in stats() under its reason (and, where an SA
// was found, in the SA's own counters). Lifetime events (soft: rekey, hard: delete, sequence
// exhausted) are passed to the event callback once each, on the worker thread.
//
// Memory: the worker's buffers are allocated once in the constructor; outbound(), inbound()
// and run_tun_once() do not allocate (inbound/outbound copy the caller's packet into the
// buffer once; run_tun_once avoids even that).
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "esp/engine/esp_packet.hpp"
#include "esp/engine/sa_table.hpp"
#include "esp/engine/tun_device.hpp"
#include "postern/dataplane.hpp"

namespace postern::esp {

// Sends ESP packets towards the peer. `esp_packet` starts with the SPI; the sender adds what
// goes in front (the kernel does, for a UDP socket on port 4500 or a raw protocol-50 socket).
// The bytes are only valid during the call. Returns false when the packet could not be sent.
class EspSender {
  public:
    virtual ~EspSender() = default;
    virtual bool send_esp(ByteView esp_packet, const Endpoint& src, const Endpoint& dst,
                          bool udp_encap) = 0;
};

// Writes decapsulated IPv4/IPv6 packets to the TUN device. Returns false when it could not.
class TunWriter {
  public:
    virtual ~TunWriter() = default;
    virtual bool write_packet(ByteView ip_packet) = 0;
};

// A TunWriter on one TUN queue (one write per packet; EAGAIN and rejected packets are failures).
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

// Counters of the data plane as a whole (a consistent-enough copy; each field is atomic).
struct DataPlaneStats {
    std::uint64_t outbound_packets = 0, outbound_bytes = 0;  // sent; inner octets
    std::uint64_t inbound_packets = 0, inbound_bytes = 0;    // delivered; inner octets
    // Every dropped packet by reason, whether or not an SA was found (unknown_spi is only here).
    std::array<std::uint64_t, kDropReasonCount> drops{};
    std::uint64_t no_sa = 0;        // outbound: no SA covers the inner packet
    std::uint64_t send_failed = 0;  // EspSender refused
    std::uint64_t tun_failed = 0;   // TunWriter refused
    std::uint64_t gso_dropped = 0;  // TUN handed a GSO super-packet (segmentation not yet done)
    std::uint64_t tun_read_errors = 0;

    std::uint64_t dropped(DropReason r) const { return drops[static_cast<std::size_t>(r)]; }
};

struct UserspaceDataPlaneOptions {
    EspPacketLimits packet_limits;   // per SA; the spec carries only byte limits
    std::size_t batch_size = 32;     // packets per run_tun_once()
    std::size_t max_packet = 65535;  // largest inner packet accepted
};

class UserspaceDataPlane final : public DataPlane {
  public:
    using EventCallback = std::function<void(const SaLifetimeEvent&)>;

    // `sender` and `tun` must outlive the data plane.
    UserspaceDataPlane(EspSender& sender, TunWriter& tun, UserspaceDataPlaneOptions options = {});

    // DataPlane.
    std::string name() const override { return "userspace"; }
    bool install(const EspSaSpec& sa, std::string& error) override;
    bool remove(EspSpi spi, bool inbound, std::string& error) override;
    bool counters(EspSpi spi, bool inbound, SaCounters& out) override;

    // Set before traffic flows (not synchronised with the packet path).
    void set_event_callback(EventCallback callback) { on_event_ = std::move(callback); }

    // Packet path (one thread). Return DropReason::none when the packet was sent/written;
    // otherwise why not. Outbound without an SA returns unknown_spi and counts stats().no_sa
    // only; a packet the EspSender or TunWriter refused returns no_room and counts
    // send_failed / tun_failed (the SA has counted it as processed).
    DropReason outbound(ByteView inner_packet);
    DropReason inbound(ByteView esp_packet, const Endpoint& from);
    // In-place variants for callers that read into their own buffer: `buf` needs
    // kEncapHeadroom/kEncapTailroom around the inner packet for outbound.
    DropReason outbound_in_place(PacketBuffer& buf);
    DropReason inbound_in_place(PacketBuffer& buf, const Endpoint& from);

    // Reads up to one batch from the queue and sends each packet outbound. Returns how many
    // packets were read (0: nothing waited), or the read error.
    tl::expected<std::size_t, std::string> run_tun_once(const TunQueue& queue);

    DataPlaneStats stats() const;
    const SaTable& table() const { return table_; }

  private:
    enum Stat : std::size_t {
        kOutPackets,
        kOutBytes,
        kInPackets,
        kInBytes,
        kNoSa,
        kSendFailed,
        kTunFailed,
        kGsoDropped,
        kTunReadErrors,
        kStatCount
    };
    void bump(Stat s, std::uint64_t n = 1) { stats_[s].fetch_add(n, std::memory_order_relaxed); }
    DropReason drop(DropReason r) {
        drops_[static_cast<std::size_t>(r)].fetch_add(1, std::memory_order_relaxed);
        return r;
    }
    void after_packet(SaSlot& slot);

    EspSender& sender_;
    TunWriter& tun_;
    UserspaceDataPlaneOptions options_;
    SaTable table_{1};
    SaTable::Reader reader_{table_};
    EventCallback on_event_;

    // The worker's buffers: one for outbound()/inbound(), a batch for run_tun_once().
    static constexpr std::size_t kHeadroom = 64;  // kEncapHeadroom plus room for outer headers
    std::size_t slot_size_ = 0;
    std::vector<std::uint8_t> single_;
    std::vector<std::uint8_t> batch_storage_;
    std::vector<TunPacket> batch_;

    std::array<std::atomic<std::uint64_t>, kStatCount> stats_{};
    std::array<std::atomic<std::uint64_t>, kDropReasonCount> drops_{};
};

}  // namespace postern::esp
