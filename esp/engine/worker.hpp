// A data-plane worker: one thread, ideally one per core, running one packet path
// (packet_path.hpp) over its own file descriptors:
//
//                  ┌──────────────────────── worker w ─────────────────────────┐
//   TUN queue w ──>│ read_batch ─> outbound (encap) ─> SendBatch ─> sendmmsg    │──> UDP 4500 / ESP
//                  │                                                           │
//   UDP 4500   ──> │ recvmmsg ─> ESP: inbound (decap) ─> write TUN queue w     │──> TUN queue w
//   (reuseport,    │             IKE / keepalive: handed to the IKE thread     │
//    SPI-steered)  │                                                           │
//   raw ESP v4/v6─>│ recvmmsg ─> strip the IPv4 header ─> inbound (decap)      │
//   (SPI filter)   │                                                           │
//   eventfd    ──> │ stop                                                      │
//                  └───────────────────────────────────────────────────────────┘
//
// - TUN: queue w of a multi-queue TUN device (IFF_MULTI_QUEUE; the kernel spreads flows over
//   the queues and sends a flow's packets to the queue that last wrote one of it).
// - UDP: one socket per NAT-T listen endpoint, in the reuseport group of the IKE thread's
//   socket, steered by SPI (steering.hpp). Without kernel steering (WorkerConfig::udp_steering
//   false) the worker borrows duplicates of the IKE thread's sockets and only sends on them;
//   the IKE thread then receives and decapsulates all ESP-in-UDP (userspace_dataplane.hpp).
// - Raw ESP: one IPPROTO_ESP socket per address family, filtered to the worker's SPIs.
// - Batches: recvmmsg and TUN reads fill up to batch_size packets; the ESP packets made from a
//   TUN batch are sent with one sendmmsg per socket at the end of the batch (or when a batch
//   fills). Buffers are allocated when the worker is created; the loop allocates nothing.
// - Waiting: level-triggered epoll; each ready descriptor gets a few batches before the worker
//   polls again, so no descriptor starves the others. An idle worker wakes once a second to
//   drop its reference to SA table snapshots that changed.
// - Offloads (WorkerConfig::offloads, each used only where the kernel grants it; the plain
//   paths always work):
//     TUN read   on a queue with a virtio-net header, GSO super-packets are segmented and each
//                segment encrypted (packet_path.hpp);
//     UDP send   consecutive ESP-in-UDP packets of one SA of equal size go out as one
//                UDP_SEGMENT train (batch_io.hpp);
//     UDP recv   UDP_GRO on the worker's sockets: one buffer may hold a train of ESP datagrams,
//                split with UdpGroSplitter;
//     TUN write  decrypted TCP segments of one flow are merged by a TcpCoalescer (gso.hpp) and
//                written as one GSO super-packet (vnet_hdr queues only); the run is flushed at
//                the end of every receive batch and before any packet that cannot join it, so
//                no packet waits for the next batch.
// - IKE datagrams and keepalives that reach a worker anyway (only while a reuseport group is
//   incomplete) go to WorkerConfig::on_ike, which must be thread-safe (posternd posts them to
//   the IKE thread).
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <tl/expected.hpp>

#include "esp/engine/batch_io.hpp"
#include "esp/engine/esp_socket.hpp"
#include "esp/engine/gso.hpp"
#include "esp/engine/packet_path.hpp"
#include "esp/engine/tun_device.hpp"
#include "esp/engine/userspace_dataplane.hpp"

namespace postern::esp {

// How many workers to run: POSTERN_WORKERS when set (1..256), else the number of CPUs.
unsigned default_worker_count();
// Whether to use the TUN and UDP offloads: yes unless POSTERN_OFFLOADS=0 (for comparisons and
// as a way out should a kernel mishandle them).
bool default_offloads();

// A UDP datagram with the non-ESP marker (or a keepalive) that reached a worker.
struct IkeDatagram {
    Endpoint local, remote;
    ByteView data;  // as received, marker included; valid during the call only
};

// One NAT-T endpoint of the IKE thread as a worker uses it.
struct NattBinding {
    Endpoint bound;       // the IKE thread's socket's address and port (wildcard allowed)
    int ike_fd = -1;      // the IKE thread's socket: duplicated for sending when not steered
};

struct WorkerConfig {
    unsigned index = 0;                 // the packet path (and cipher) index, < dp.workers()
    TunQueue tun{-1, 0, false};         // the worker's TUN queue (not owned)
    std::vector<NattBinding> natt;      // one UDP socket per binding
    bool udp_steering = true;           // own reuseport sockets (false: send on duplicates)
    bool plain_esp = true;              // raw ESP sockets for the families of `natt`
    // UDP_SEGMENT sends, UDP_GRO receives and TCP coalescing on TUN writes, where the kernel
    // has them. GSO packets read from a vnet_hdr TUN queue are segmented either way: whether
    // they come is the TUN device's setting (TunOptions::vnet_hdr).
    bool offloads = true;
    std::function<void(const IkeDatagram&)> on_ike;  // thread-safe; may be empty
    std::function<void(const std::string&)> on_error;  // thread-safe; rare (first of a kind)
};

// What a worker uses (after create()).
struct WorkerOffloads {
    bool udp_gso = false;       // every UDP socket sends UDP_SEGMENT trains
    bool udp_gro = false;       // every receiving UDP socket has UDP_GRO on
    bool tun_coalesce = false;  // TCP segments are coalesced on TUN writes
};

// The worker's TunWriter. With coalescing on (a vnet_hdr queue), decrypted TCP segments are
// fed to a TcpCoalescer and written as one super-packet with its virtio-net header at flush();
// packets passed to write_packet() must then stay valid until flush(). Without it, one write
// per packet (with an all-zero header on a vnet_hdr queue).
class CoalescingTunWriter final : public TunWriter {
  public:
    CoalescingTunWriter(TunQueue queue, bool coalesce);
    void set_counters(PathCounters* counters) { counters_ = counters; }
    bool coalescing() const { return coalescer_ != nullptr; }

    bool write_packet(ByteView ip_packet) override;
    // Writes the pending run, if any.
    void flush();

  private:
    bool write_plain(ByteView ip_packet);

    TunQueue queue_;
    std::unique_ptr<TcpCoalescer> coalescer_;
    PathCounters* counters_ = nullptr;
};

class DataPlaneWorker final : private EspSender {
  public:
    // Opens the worker's sockets (and attaches the steering programs) without starting the
    // thread. Sockets that cannot be opened are errors, except raw ESP ones (no CAP_NET_RAW,
    // or no IPv6): those are left out and reported in warnings().
    static tl::expected<std::unique_ptr<DataPlaneWorker>, std::string> create(
        UserspaceDataPlane& dp, WorkerConfig config);
    ~DataPlaneWorker() override;
    DataPlaneWorker(const DataPlaneWorker&) = delete;
    DataPlaneWorker& operator=(const DataPlaneWorker&) = delete;

    void start();
    // Wakes the thread through the eventfd and joins it. Idempotent.
    void stop();

    unsigned index() const { return config_.index; }
    const std::vector<std::string>& warnings() const { return warnings_; }
    // The worker's UDP sockets, in the order of WorkerConfig::natt (tests).
    const std::vector<EspUdpSocket>& udp_sockets() const { return udp_; }
    bool has_raw(int family) const;
    const WorkerOffloads& offloads() const { return offloads_; }

  private:
    DataPlaneWorker(UserspaceDataPlane& dp, WorkerConfig config);
    tl::expected<void, std::string> open();
    void run();
    std::size_t receive_udp(std::size_t socket);
    // One datagram of message `message` of the last receive (a whole one, or one of a GRO
    // train), in place in recv_storage_.
    void receive_udp_datagram(std::size_t socket, std::size_t message, MutableByteView d);
    std::size_t receive_raw(std::size_t socket);
    void error_once(std::uint32_t kind, const std::string& text);

    // EspSender: queue into the batch of the right socket; flush() sends them.
    bool send_esp(ByteView esp_packet, const Endpoint& src, const Endpoint& dst,
                  bool udp_encap) override;
    void flush() override;
    void flush_one(int fd, SendBatch& batch);

    UserspaceDataPlane& dp_;
    WorkerConfig config_;
    CoalescingTunWriter tun_writer_;
    WorkerOffloads offloads_;
    std::unique_ptr<PacketPath> path_;
    std::vector<EspUdpSocket> udp_;
    std::vector<bool> udp_receives_;
    std::vector<std::unique_ptr<SendBatch>> udp_batches_;
    std::vector<EspRawSocket> raw_;
    std::vector<std::unique_ptr<SendBatch>> raw_batches_;
    Fd epoll_;
    Fd wake_;
    RecvBatch recv_;
    std::vector<std::uint8_t> recv_storage_;
    std::size_t recv_slot_ = 0;
    std::vector<std::string> warnings_;
    std::uint32_t errors_seen_ = 0;  // bit per kind of error already reported
    std::atomic<bool> stopping_{false};
    std::thread thread_;
};

}  // namespace postern::esp
