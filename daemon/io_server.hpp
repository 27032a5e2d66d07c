// posternd's event loop (the I/O thread): Boost.Asio io_context with the UDP sockets (ports 500
// and 4500 on each listen address), the control socket and SIGINT/SIGTERM. Every IKE datagram
// goes to the IKE shard that owns its SA (daemon/ike_shards.hpp: one sans-I/O engine per
// thread, each with its own timer); what the shards answer is applied here (datagrams sent,
// CHILD_SAs handed to the DataPlane, events logged and given to the audit log).
// ESP traffic does not pass through here: the data-plane workers (esp/engine/worker.hpp) own
// their sockets in the NAT-T port's reuseport group and the TUN queues; what they hand back
// (stray IKE datagrams, SA lifetime events) is posted onto this loop.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <tl/expected.hpp>

#include "daemon/address_pools.hpp"
#include "daemon/address_watch.hpp"
#include "daemon/config.hpp"
#include "daemon/control_server.hpp"
#include "daemon/ike_shards.hpp"
#include "daemon/shared_access.hpp"
#include "daemon/io_socket.hpp"
#include "esp/engine/packet_path.hpp"
#include "esp/engine/userspace_dataplane.hpp"
#include "esp/engine/worker.hpp"
#include "ike/engine.hpp"
#include "postern/dataplane.hpp"

namespace postern::daemon {

struct ServerStats {
    std::uint64_t esp_dropped = 0;   // ESP-in-UDP on the NAT-T port without a userspace data plane
    std::uint64_t esp_received = 0;  // ESP-in-UDP decapsulated on this thread (unsteered kernel)
    std::uint64_t esp_misrouted = 0;  // ESP-in-UDP that reached the IKE socket despite steering
    std::uint64_t from_workers = 0;   // IKE datagrams and keepalives a worker handed over
    std::uint64_t lifetime_events = 0;  // SA lifetime events from the workers
    std::uint64_t keepalives = 0;
    std::uint64_t malformed = 0;
    std::uint64_t send_errors = 0;
    std::uint64_t dataplane_errors = 0;
};

class Server {
  public:
    // `pools` hands out virtual IPs (the SQLite-backed PersistentPools, or MemoryPools).
    Server(const Config& config, ike::EngineConfig engine, std::shared_ptr<ike::AddressPools> pools,
           DataPlane& dp);
    ~Server();

    // Called on this thread with every login, failed login and IKE SA deletion the engine
    // reports (for the audit log), after it is logged.
    // `flush` runs once per event-loop turn in which the sink heard anything (the sinks may
    // buffer, see plugin::EventSink::flush).
    using EventSink = std::function<void(const ike::Event&)>;
    void set_event_sink(EventSink sink, std::function<void()> flush = {}) {
        event_sink_ = std::move(sink);
        event_flush_ = std::move(flush);
    }

    // Binds every socket; the error is the first bind failure, ready to print.
    tl::expected<void, std::string> open();
    // Starts the connections with `start = true`.
    void start_initiators();
    // Runs until SIGINT/SIGTERM (or stop()) and the shutdown is done.
    void run();
    // Deletes every IKE SA (the Deletes are sent at once), waits up to `grace` for the peers to
    // answer, then stops the loop. The wait starts once this thread has sent every Delete and
    // grows by kGracePerSa for each SA (the answers take their turn on the IKE threads), by
    // kMaxExtraGrace at most.
    void stop(std::chrono::milliseconds grace = std::chrono::milliseconds(900));
    static constexpr std::chrono::microseconds kGracePerSa{20};
    static constexpr std::chrono::milliseconds kMaxExtraGrace{4000};

    // Set before open(): the NAT-T sockets set SO_REUSEPORT, so that the data-plane workers'
    // sockets join their reuseport groups (esp/engine/steering.hpp).
    void set_natt_reuseport(bool on) { natt_reuseport_ = on; }
    // The NAT-T sockets, for the workers (after open()).
    std::vector<esp::NattBinding> natt_bindings();
    // Every socket (after open()), for the kernel data plane's socket options.
    struct SocketInfo {
        int fd;
        Endpoint bound;
        bool natt;
    };
    std::vector<SocketInfo> socket_list() const {
        std::vector<SocketInfo> out;
        for (const auto& s : sockets_)
            out.push_back({s.socket->native_handle(), s.socket->bound(), s.natt});
        return out;
    }
    // The IKE thread's loop (the kernel data plane watches its event socket on it).
    boost::asio::io_context& io_context() { return io_; }

    // The userspace data plane (which must outlive the server), after open(), before run().
    // The workers carry the traffic; this thread only logs the counters and, when the kernel
    // cannot steer UDP 4500 (dp.options().udp_on_ike_thread), decapsulates the ESP-in-UDP that
    // arrives on its NAT-T sockets on the data plane's extra path, writing to `queue`.
    // Otherwise ESP reaching the NAT-T socket is dropped and counted (esp_misrouted): it
    // belongs to a worker.
    void attach_userspace(esp::UserspaceDataPlane& dp, esp::TunQueue queue);

    // Thread-safe, for the workers: an IKE datagram (or keepalive) that reached a worker's
    // socket is handled on this thread as if it had arrived here.
    void on_worker_ike(const esp::IkeDatagram& d);
    // Thread-safe, for the data plane's event callback: a lifetime event of an SA is posted to
    // this thread, which tells the engine (expire_child: soft -> log, hard -> delete the
    // CHILD_SA) and applies what it answers.
    void on_lifetime_event(const esp::SaLifetimeEvent& e);

    // One line with the data plane's counters: totals, drops by reason, packets per worker.
    // posternd logs it at exit, after the workers have stopped.
    void log_dataplane_stats();

    // The IKE shards (server.ike_threads of them).
    IkeShards& shards() { return *shards_; }
    const ServerStats& stats() const { return stats_; }

    // --- control socket (daemon/control_server.hpp) ---
    // Creates the control socket at `path` and serves `postern` on this thread's loop; the
    // error is ready to print (another posternd serves it, the folder cannot be made, ...).
    // `prepare` is what start-up did to the EngineConfig beyond the file (the plugins'
    // components), done again to the one a reload builds; `reload_plugins` gives the plugins
    // their new settings. The socket file is removed when run() returns.
    tl::expected<void, std::string> open_control(
        const std::string& path, control::ControlTarget::Prepare prepare = {},
        control::ControlTarget::ReloadPlugins reload_plugins = {});

  private:
    struct Sock {
        std::unique_ptr<UdpSocket> socket;
        bool natt;
    };

    void on_datagram(const Sock& s, const Received& r);
    // MOBIKE, our IKE SAs as initiator: the host's addresses changed; each SA whose route to
    // its peer now leaves from another address moves there (UPDATE_SA_ADDRESSES).
    void on_addresses_changed();
    void apply(ike::Actions& actions);
    void send(const ike::Datagram& d);
    void on_shutdown_tick();
    const Sock* socket_for(const Endpoint& local, bool natt) const;
    const Sock* natt_socket_for(const Endpoint& local) const;

    // The extra packet path's sender: this thread never sends ESP (its path is inbound only).
    struct NoSender final : esp::EspSender {
        bool send_esp(ByteView, const Endpoint&, const Endpoint&, bool) override { return false; }
    };

    const Config& config_;
    boost::asio::io_context io_;
    LockedPools pools_;  // the shards share them
    EventSink event_sink_;
    std::function<void()> event_flush_;
    bool flush_posted_ = false;  // event_flush_ is queued behind the handlers now running
    SerializedDataPlane dp_;      // the shards read counters (DPD), this thread installs
    std::vector<Sock> sockets_;
    boost::asio::steady_timer shutdown_timer_;
    boost::asio::signal_set signals_;
    bool natt_reuseport_ = false;
    esp::UserspaceDataPlane* userspace_ = nullptr;
    NoSender no_sender_;
    std::unique_ptr<esp::TunQueueWriter> ike_tun_writer_;
    std::unique_ptr<esp::PacketPath> ike_path_;  // only when the kernel cannot steer UDP 4500
    bool stopping_ = false;
    ike::TimePoint shutdown_deadline_{};
    ServerStats stats_;
    // After the loop, the pools and the data plane, which the shard threads use: they stop
    // first.
    std::unique_ptr<IkeShards> shards_;
    // Last, so they go first: the control server's sessions refer to the service and shards.
    std::unique_ptr<control::ControlService> control_service_;
    std::unique_ptr<control::ControlServer> control_;
    std::unique_ptr<AddressWatch> address_watch_;  // with initiated connections only
};

}  // namespace postern::daemon
