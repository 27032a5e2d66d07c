// posternd's IKE work over several threads: one ike::Engine per shard, each on a thread of its
// own with its own timer, owning the IKE SAs whose SPIs it chose (ike/shard.hpp says how SPIs
// and ids name their shard, and what the shards share: ike::ShardDirectory).
//
//   the I/O thread (Server's loop)  receives every IKE datagram and hands it to its shard
//                                  (dispatch); applies what the shards answer (datagrams sent,
//                                  CHILD_SAs to the data plane, events and the audit log), in
//                                  the order each shard answered
//   shard threads                  run their engine: parsing, crypto, the exchanges, timers
//
// Requests of the control socket (list, kill, reload, counters) and of the I/O thread itself
// (initiating, shutting down) run on the shards' threads while the I/O thread waits: a shard
// never waits for the I/O thread, so that cannot deadlock. The shards share the plugins'
// components (which lock themselves: daemon/plugin_set.hpp) and the address pools (locked by
// the server).
#pragma once

#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <tl/expected.hpp>

#include "ike/engine.hpp"
#include "ike/shard.hpp"

namespace postern::daemon {

// What the control socket acts on (daemon/control_service.hpp): the shards, or in tests one
// engine.
class IkeAccess {
  public:
    virtual ~IkeAccess() = default;
    virtual std::vector<ike::IkeSaInfo> list() = 0;
    virtual std::vector<std::uint64_t> sas_of_user(std::string_view user) = 0;
    // A Delete for the IKE SA; false when there is no such SA.
    virtual bool terminate(std::uint64_t id) = 0;
    virtual ike::EngineStats stats() = 0;
    // ike::Engine::reload on every engine; how many IKE SAs were deleted.
    virtual std::size_t reload(const ike::EngineConfig& config) = 0;
};

// Every counter of `s` added to `into`.
void add_stats(ike::EngineStats& into, const ike::EngineStats& s);

// server.ike_threads = 0: one shard per core, at most ike::kMaxShards.
unsigned default_ike_threads();

class IkeShards final : public IkeAccess {
  public:
    // What the shards answered, applied on the I/O thread.
    using Apply = std::function<void(ike::Actions&)>;

    // Starts `count` shard threads, each with an engine made from a copy of `config` (its
    // shard fields set) and `pools` (which must be safe to call from several threads). The
    // shards' answers reach `apply` in batches: whatever they made while the I/O thread was
    // busy, after one `pools->sync()`.
    IkeShards(boost::asio::io_context& io, ike::EngineConfig config, ike::AddressPools* pools,
              unsigned count, Apply apply);
    ~IkeShards() override;
    IkeShards(const IkeShards&) = delete;
    IkeShards& operator=(const IkeShards&) = delete;

    unsigned count() const { return static_cast<unsigned>(shards_.size()); }
    const ike::ShardDirectory& directory() const { return *directory_; }
    // Stops the shard threads (what they had queued is dropped); idempotent.
    void stop();

    // --- from the I/O thread, not waiting ---
    // An IKE datagram (non-ESP marker removed), to the shard it belongs to.
    void dispatch(ike::Datagram d);
    // A lifetime event of an SA of the data plane (ike::Engine::expire_child), to every shard
    // (only the one holding the CHILD_SA acts); `not_found` runs on the I/O thread when none
    // did.
    void expire_child(EspSpi spi, bool inbound, bool hard, std::function<void()> not_found = {});

    // --- from the I/O thread, waiting for the shards ---
    tl::expected<std::uint64_t, std::string> initiate(const std::string& connection,
                                                      const Endpoint& local);
    std::size_t local_address_changed(std::uint64_t ike_sa, const Endpoint& local);
    // A Delete for every IKE SA; how many.
    std::size_t terminate_all();
    // ike::Engine::abandon_all on every shard (nothing is sent).
    void abandon_all();
    std::size_t connection_count();

    // IkeAccess
    std::vector<ike::IkeSaInfo> list() override;
    std::vector<std::uint64_t> sas_of_user(std::string_view user) override;
    bool terminate(std::uint64_t id) override;
    ike::EngineStats stats() override;
    std::size_t reload(const ike::EngineConfig& config) override;

  private:
    struct Shard {
        explicit Shard(unsigned i) : index(i), work(io.get_executor()), timer(io) {}
        unsigned index;
        boost::asio::io_context io;
        boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work;
        boost::asio::steady_timer timer;
        std::optional<ike::TimePoint> armed;
        std::unique_ptr<ike::Engine> engine;
        std::thread thread;
    };

    ike::EngineConfig shard_config(const ike::EngineConfig& c, unsigned index) const;
    // After the engine ran: its answer to the I/O thread's outbox, its timer re-armed.
    void finish(Shard& s, ike::Actions& out);
    // On the I/O thread: everything in the outbox, after one pools->sync() (the leases of the
    // whole batch made durable at once, before any of its answers leaves).
    void drain();
    void arm(Shard& s);
    // Runs f(engine, actions) on shard `i`'s thread and waits for its result.
    template <class F>
    auto run_on(unsigned i, F f) -> decltype(f(std::declval<ike::Engine&>(),
                                               std::declval<ike::Actions&>()));

    boost::asio::io_context& io_;
    Apply apply_;
    ike::AddressPools* pools_;
    // The shards' answers waiting for the I/O thread, in the order they were made; one drain()
    // is queued on io_ while it is not empty.
    std::mutex outbox_mutex_;
    std::vector<ike::Actions> outbox_;
    bool drain_posted_ = false;
    std::shared_ptr<ike::ShardDirectory> directory_;
    std::vector<std::unique_ptr<Shard>> shards_;
    bool stopped_ = false;
};

}  // namespace postern::daemon
