// posternd's event loop: Boost.Asio io_context with the UDP sockets (ports 500 and 4500 on each
// listen address), one steady_timer driven by engine.next_timer(), and SIGINT/SIGTERM. Every
// datagram and timer tick goes through the sans-I/O engine; its actions are applied here
// (datagrams sent, CHILD_SAs handed to the DataPlane, events logged).
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <tl/expected.hpp>

#include "daemon/address_pools.hpp"
#include "daemon/config.hpp"
#include "daemon/io_socket.hpp"
#include "ike/engine.hpp"
#include "postern/dataplane.hpp"

namespace postern::daemon {

struct ServerStats {
    std::uint64_t esp_dropped = 0;  // ESP-in-UDP on the NAT-T port (no data plane yet)
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

    const Config& config_;
    boost::asio::io_context io_;
    MemoryPools pools_;
    ike::Engine engine_;
    DataPlane& dp_;
    std::vector<Sock> sockets_;
    boost::asio::steady_timer timer_;
    boost::asio::steady_timer shutdown_timer_;
    boost::asio::signal_set signals_;
    bool stopping_ = false;
    ike::TimePoint shutdown_deadline_{};
    ServerStats stats_;
};

}  // namespace postern::daemon
