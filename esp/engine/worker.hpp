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
#include "esp/engine/packet_path.hpp"
#include "esp/engine/tun_device.hpp"
#include "esp/engine/userspace_dataplane.hpp"

namespace postern::esp {

// How many workers to run: POSTERN_WORKERS when set (1..256), else the number of CPUs.
unsigned default_worker_count();

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
    std::function<void(const IkeDatagram&)> on_ike;  // thread-safe; may be empty
    std::function<void(const std::string&)> on_error;  // thread-safe; rare (first of a kind)
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

  private:
    DataPlaneWorker(UserspaceDataPlane& dp, WorkerConfig config);
    tl::expected<void, std::string> open();
    void run();
    std::size_t receive_udp(std::size_t socket);
    std::size_t receive_raw(std::size_t socket);
    void error_once(std::uint32_t kind, const std::string& text);

    // EspSender: queue into the batch of the right socket; flush() sends them.
    bool send_esp(ByteView esp_packet, const Endpoint& src, const Endpoint& dst,
                  bool udp_encap) override;
    void flush() override;
    void flush_one(int fd, SendBatch& batch);

    UserspaceDataPlane& dp_;
    WorkerConfig config_;
    TunQueueWriter tun_writer_;
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
