// IkeShards (daemon/ike_shards.hpp) with real threads: two shard threads each running an
// engine, this thread as posternd's I/O thread applying what they answer. The initiators are
// engines on this thread (tests/scenario/configs.hpp's "home"), one per address, their
// datagrams handed to dispatch() and the shards' datagrams delivered back to them.

#include <boost/test/unit_test.hpp>

#include <boost/asio/io_context.hpp>

#include <map>

#include "daemon/ike_shards.hpp"
#include "daemon/shared_access.hpp"
#include "tests/scenario/configs.hpp"

using namespace postern;
using namespace postern::daemon;
using namespace std::chrono_literals;

namespace {

// The scenario's pools, counting the addresses acquired and how many of them a sync() had
// covered (plugin::AddressPools::sync: durable before the answers leave).
struct SyncCountingPools final : ike::AddressPools {
    std::shared_ptr<scenario::Pools> inner;
    std::size_t acquired = 0, synced = 0;  // under LockedPools' lock
    explicit SyncCountingPools(std::shared_ptr<scenario::Pools> p) : inner(std::move(p)) {}
    std::optional<IpAddress> acquire(const std::string& pool, const std::string& identity,
                                     IpAddress::Family family,
                                     std::optional<IpAddress> requested) override {
        auto a = inner->acquire(pool, identity, family, requested);
        acquired += a ? 1 : 0;
        return a;
    }
    void release(const std::string& pool, const IpAddress& address) override {
        inner->release(pool, address);
    }
    void sync() override { synced = acquired; }
};

struct Rig {
    static constexpr unsigned kClients = 12;

    boost::asio::io_context io;
    std::shared_ptr<scenario::Pools> raw_pools = std::make_shared<scenario::Pools>();
    std::shared_ptr<SyncCountingPools> counting = std::make_shared<SyncCountingPools>(raw_pools);
    LockedPools pools{counting};
    // Answers announcing an SA (its address) that reached the I/O thread before a sync()
    // covered that many acquires.
    std::size_t unsynced_answers = 0;
    scenario::Network addresses;  // the scenario's responder address
    std::map<IpAddress, std::unique_ptr<ike::Engine>> clients;
    std::size_t installs = 0, removes = 0, established = 0, deleted = 0;
    std::unique_ptr<IkeShards> shards;

    Rig() {
        raw_pools->add("clients", "10.99.0.0/24");
        ike::EngineConfig r = scenario::psk_responder();
        r.dpd_delay = 0s;
        shards = std::make_unique<IkeShards>(io, r, &pools, 2,
                                             [this](ike::Actions& out) { apply(out); });
    }
    ~Rig() { shards->stop(); }

    void apply(ike::Actions& out) {
        installs += out.install.size();
        removes += out.remove.size();
        for (const auto& e : out.events) {
            established += e.kind == ike::EventKind::IkeEstablished;
            // sync() runs on this thread too (IkeShards::drain), so `synced` is read safely;
            // this SA's acquire happened on its shard before its answer was queued.
            if (e.kind == ike::EventKind::IkeEstablished && counting->synced < established)
                ++unsynced_answers;
            deleted += e.kind == ike::EventKind::IkeDeleted;
        }
        for (auto& d : out.send) {
            auto it = clients.find(d.remote.address);
            BOOST_REQUIRE(it != clients.end());
            ike::Actions back;
            it->second->on_datagram(ike::Datagram{d.remote, d.local, d.data}, ike::Clock::now(),
                                    back);
            to_shards(back);
        }
    }
    void to_shards(ike::Actions& out) {
        for (auto& d : out.send)
            shards->dispatch(ike::Datagram{d.remote, d.local, d.data});
    }

    void connect_all() {
        for (unsigned i = 0; i < kClients; ++i) {
            const Endpoint me = scenario::endpoint("192.0.2." + std::to_string(10 + i), 500);
            ike::EngineConfig c = scenario::psk_initiator(addresses);
            c.connections[0].local_id = scenario::identity("user" + std::to_string(i) + "@postern.test");
            c.dpd_delay = 0s;
            auto e = std::make_unique<ike::Engine>(std::move(c));
            ike::Actions out;
            BOOST_REQUIRE(e->initiate("home", me, ike::Clock::now(), out));
            clients.emplace(me.address, std::move(e));
            to_shards(out);
        }
    }

    // Runs this thread's loop until `done` or 10 s.
    template <class F>
    bool run_until(F done) {
        const auto end = std::chrono::steady_clock::now() + 10s;
        while (!done() && std::chrono::steady_clock::now() < end) {
            io.restart();
            io.run_for(10ms);
        }
        return done();
    }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(ike_shards)

BOOST_AUTO_TEST_CASE(handshakes_run_on_the_shards_and_requests_reach_every_shard) {
    Rig rig;
    BOOST_TEST(rig.shards->count() == 2u);
    rig.connect_all();
    BOOST_REQUIRE(rig.run_until([&] { return rig.established == Rig::kClients; }));
    BOOST_TEST(rig.installs == Rig::kClients);  // one CHILD_SA each (both directions)
    // Every address was made durable (pools sync) before the answer carrying it was applied.
    BOOST_TEST(rig.unsynced_answers == 0u);
    BOOST_TEST(rig.counting->synced == Rig::kClients);

    const auto sas = rig.shards->list();
    BOOST_TEST(sas.size() == Rig::kClients);
    std::array<std::size_t, 2> per_shard{};
    for (const auto& sa : sas) {
        const unsigned s = ike::shard_of_id(sa.id, 2);
        BOOST_TEST(ike::shard_of_spi(sa.spi_r.value(), 2) == s);
        ++per_shard[s];
    }
    // 12 random SPIs: both shards got some (1 in 2048 that one got none).
    BOOST_TEST(per_shard[0] > 0u);
    BOOST_TEST(per_shard[1] > 0u);
    BOOST_TEST(rig.shards->connection_count() == Rig::kClients);
    BOOST_TEST(rig.shards->stats().established == Rig::kClients);
    BOOST_TEST(rig.shards->sas_of_user("user3@postern.test").size() == 1u);
    BOOST_TEST(rig.raw_pools->in_use() == Rig::kClients);

    // One SA ended by id, on whichever shard holds it: its peer answers the Delete.
    const std::uint64_t victim = rig.shards->sas_of_user("user3@postern.test").front();
    BOOST_TEST(rig.shards->terminate(victim));
    BOOST_TEST(!rig.shards->terminate(victim + 1000 * 2));
    BOOST_REQUIRE(rig.run_until([&] { return rig.shards->connection_count() == Rig::kClients - 1; }));
    BOOST_TEST(rig.shards->sas_of_user("user3@postern.test").empty());

    // A reload with the same connections keeps every SA, on every shard.
    ike::EngineConfig same = scenario::psk_responder();
    same.dpd_delay = 0s;
    BOOST_TEST(rig.shards->reload(same) == 0u);
    BOOST_TEST(rig.shards->connection_count() == Rig::kClients - 1);

    // Shutdown: a Delete for all, answered; nothing left, every address back in the pool.
    BOOST_TEST(rig.shards->terminate_all() == Rig::kClients - 1);
    BOOST_REQUIRE(rig.run_until([&] { return rig.shards->connection_count() == 0; }));
    BOOST_REQUIRE(rig.run_until([&] { return rig.deleted == Rig::kClients; }));
    BOOST_TEST(rig.removes == Rig::kClients);
    BOOST_TEST(rig.raw_pools->in_use() == 0u);
    BOOST_TEST(rig.shards->directory().held_addresses() == 0u);
}

BOOST_AUTO_TEST_CASE(abandoning_forgets_every_sa_without_a_word) {
    Rig rig;
    rig.connect_all();
    BOOST_REQUIRE(rig.run_until([&] { return rig.established == Rig::kClients; }));
    rig.shards->abandon_all();
    BOOST_TEST(rig.shards->connection_count() == 0u);
    BOOST_REQUIRE(rig.run_until([&] { return rig.deleted == Rig::kClients; }));
    BOOST_TEST(rig.raw_pools->in_use() == 0u);
}

BOOST_AUTO_TEST_SUITE_END()
