// posternd's event loop: Boost.Asio io_context with the UDP sockets (ports 500 and 4500 on each
// listen address), one steady_timer driven by engine.next_timer(), and SIGINT/SIGTERM. Every
// datagram and timer tick goes through the sans-I/O engine; its actions are applied here
// (datagrams sent, CHILD_SAs handed to the DataPlane, events logged).
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <tl/expected.hpp>

#include "daemon/address_pools.hpp"
#include "daemon/config.hpp"
#include "daemon/io_socket.hpp"
#include "esp/engine/userspace_dataplane.hpp"
#include "ike/engine.hpp"
#include "postern/dataplane.hpp"

namespace postern::daemon {

struct ServerStats {
    std::uint64_t esp_dropped = 0;   // ESP-in-UDP on the NAT-T port without a userspace data plane
    std::uint64_t esp_received = 0;  // ESP-in-UDP handed to the userspace data plane
    std::uint64_t esp_sent = 0;      // ESP-in-UDP sent for it
    std::uint64_t esp_send_errors = 0;  // ... that could not be sent (incl. plain ESP, not yet)
    std::uint64_t keepalives = 0;
    std::uint64_t malformed = 0;
    std::uint64_t send_errors = 0;
    std::uint64_t dataplane_errors = 0;
};

class Server {
  public:
    Server(const Config& config, ike::EngineConfig engine, MemoryPools pools, DataPlane& dp);
    ~Server();

    // Binds every socket; the error is the first bind failure, ready to print.
    tl::expected<void, std::string> open();
    // Starts the connections with `start = true`.
    void start_initiators();
    // Runs until SIGINT/SIGTERM (or stop()) and the shutdown is done.
    void run();
    // Deletes every IKE SA (the Deletes are sent at once), waits up to `grace` for the peers to
    // answer, then stops the loop.
    void stop(std::chrono::milliseconds grace = std::chrono::milliseconds(900));

    // The userspace data plane (which must outlive the server): ESP-in-UDP on the NAT-T
    // sockets goes to dp.inbound(), packets on the TUN queue to dp.run_tun_once(), both on this
    // loop. Call after open(), before run().
    void attach_userspace(esp::UserspaceDataPlane& dp, esp::TunQueue queue);
    // esp::EspSender for the userspace data plane: ESP-in-UDP from the NAT-T socket of `src`
    // to `dst`, without the non-ESP marker. Plain ESP (udp_encap false) is not supported yet.
    bool send_esp(ByteView esp_packet, const Endpoint& src, const Endpoint& dst, bool udp_encap);

    const ike::Engine& engine() const { return engine_; }
    const ServerStats& stats() const { return stats_; }

  private:
    struct Sock {
        std::unique_ptr<UdpSocket> socket;
        bool natt;
    };

    void on_datagram(const Sock& s, const Received& r);
    void apply(ike::Actions& actions);
    void send(const ike::Datagram& d);
    void arm_timer();
    void on_shutdown_tick();
    const Sock* socket_for(const Endpoint& local, bool natt) const;
    void wait_tun();
    void log_dataplane_stats();

    const Config& config_;
    boost::asio::io_context io_;
    MemoryPools pools_;
    ike::Engine engine_;
    DataPlane& dp_;
    std::vector<Sock> sockets_;
    boost::asio::steady_timer timer_;
    boost::asio::steady_timer shutdown_timer_;
    boost::asio::signal_set signals_;
    esp::UserspaceDataPlane* userspace_ = nullptr;
    std::optional<esp::TunQueue> tun_queue_;
    boost::asio::posix::stream_descriptor tun_wait_;  // borrows the TUN fd: released, not closed
    bool stopping_ = false;
    ike::TimePoint shutdown_deadline_{};
    ServerStats stats_;
};

// The esp::EspSender the userspace data plane is built with, before the Server exists.
class ServerEspSender final : public esp::EspSender {
  public:
    void attach(Server* server) { server_ = server; }
    bool send_esp(ByteView esp_packet, const Endpoint& src, const Endpoint& dst,
                  bool udp_encap) override {
        return server_ && server_->send_esp(esp_packet, src, dst, udp_encap);
    }

  private:
    Server* server_ = nullptr;
};

}  // namespace postern::daemon
