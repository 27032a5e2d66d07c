// IKE sharded over engines (ike/shard.hpp, daemon/ike_shards.hpp): two responder engines, shard
// 0 and shard 1 of one daemon sharing a ShardDirectory and the address pools, and any number
// of initiators, each its own engine at its own address. Datagrams to the responder go to the
// shard shard_of_datagram names, as posternd's I/O thread sends them; what one shard asks of
// the others (INITIAL_CONTACT) runs between deliveries, as on their threads.

#include <deque>
#include <memory>

#include <boost/test/unit_test.hpp>

#include "configs.hpp"
#include "ike/shard.hpp"
#include "ike/wire/message.hpp"

using namespace postern;
using namespace postern::scenario;
using ike::EventKind;

namespace {

constexpr unsigned kShards = 2;

// An SPI whose IKE_SA_INIT request goes to `shard`, the `nth` such one.
std::uint64_t spi_for_shard(unsigned shard, unsigned nth = 0) {
    Bytes header(28, 0);
    header[19] = 0x08;  // from the original initiator
    header[27] = 28;
    for (std::uint64_t v = 0x1000;; ++v) {
        for (int i = 0; i < 8; ++i)
            header[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(v >> (56 - 8 * i));
        if (ike::shard_of_datagram(header, kShards) == shard && nth-- == 0) return v;
    }
}

struct Client {
    Node node;
    std::deque<std::uint64_t> spis;  // IKE SPIs its next SAs get (else random)
};

class ShardedNet {
  public:
    ShardedNet() : directory(std::make_shared<ike::ShardDirectory>(kShards)) {
        pools.add("clients", "10.99.0.0/24");
        directory->set_end_elsewhere([this](unsigned from, const std::string& connection,
                                            const std::string& user, const std::string& why) {
            for (unsigned i = 0; i < kShards; ++i)
                if (i != from) elsewhere.push_back([=, this] {
                    ike::Actions out;
                    shard[i].engine->end_user_sas(connection, user, why, now, out);
                    collect(shard[i], out);
                });
        });
    }

    void start(const ike::EngineConfig& responder) {
        for (unsigned i = 0; i < kShards; ++i) {
            ike::EngineConfig c = responder;
            c.shard_index = i;
            c.shard_count = kShards;
            c.shards = directory;
            shard[i].name = "shard" + std::to_string(i);
            shard[i].address = endpoint("192.0.2.2", 500);
            shard[i].engine = std::make_unique<ike::Engine>(std::move(c), &pools);
        }
    }

    // A new initiator at 192.0.2.(10 + n); its first IKE SA goes to `first_shard` when given.
    Client& add_client(ike::EngineConfig c, std::optional<unsigned> first_shard = {},
                       std::optional<unsigned> second_shard = {}, std::uint16_t port = 500) {
        auto cl = std::make_unique<Client>();
        cl->node.name = "client" + std::to_string(clients.size());
        // Behind one NAT (port given): one address, a port each.
        cl->node.address = port != 500 ? endpoint("192.0.2.200", port)
                                       : endpoint("192.0.2." + std::to_string(10 + clients.size()), 500);
        if (first_shard) cl->spis.push_back(spi_for_shard(*first_shard, used_spis++));
        if (second_shard) cl->spis.push_back(spi_for_shard(*second_shard, used_spis++));
        Client* raw = cl.get();
        auto random = [raw](MutableByteView out) {
            if (out.size() == 8 && !raw->spis.empty()) {
                const std::uint64_t v = raw->spis.front();
                raw->spis.pop_front();
                for (std::size_t i = 0; i < 8; ++i)
                    out[i] = static_cast<std::uint8_t>(v >> (56 - 8 * i));
                return;
            }
            RAND_bytes(out.data(), static_cast<int>(out.size()));
        };
        cl->node.engine = std::make_unique<ike::Engine>(std::move(c), nullptr, random);
        clients.push_back(std::move(cl));
        return *clients.back();
    }

    void initiate(Client& c) {
        ike::Actions out;
        auto id = c.node.engine->initiate("home", c.node.address, now, out);
        if (!id) throw std::runtime_error(id.error());
        collect(c.node, out);
    }

    void run() {
        for (int i = 0; i < 100000 && (!queue.empty() || !elsewhere.empty()); ++i) {
            if (queue.empty()) {
                auto f = std::move(elsewhere.front());
                elsewhere.pop_front();
                f();
                continue;
            }
            auto [d, to] = std::move(queue.front());
            queue.pop_front();
            ike::Actions out;
            to->engine->on_datagram(d, now, out);
            collect(*to, out);
        }
    }

    void advance(std::chrono::milliseconds d, std::chrono::milliseconds step = 500ms) {
        for (auto t = 0ms; t < d; t += step) {
            now += step;
            std::vector<Node*> all{&shard[0], &shard[1]};
            for (auto& c : clients)
                all.push_back(&c->node);
            for (Node* n : all) {
                auto due = n->engine->next_timer();
                if (due && *due <= now) {
                    ike::Actions out;
                    n->engine->on_timer(now, out);
                    collect(*n, out);
                }
            }
            run();
        }
    }

    std::size_t established_on(unsigned i) const {
        std::size_t n = 0;
        for (const auto& sa : shard[i].engine->list())
            n += sa.state == ike::sa::IkeSaState::Established;
        return n;
    }

    Node shard[kShards];
    Pools pools;
    std::function<bool(const ike::Datagram&)> drop;  // true: lost on the way
    std::shared_ptr<ike::ShardDirectory> directory;
    std::vector<std::unique_ptr<Client>> clients;
    ike::TimePoint now{std::chrono::seconds(1000)};

    void inject(Node& from, ike::Actions& out) { collect(from, out); }

  private:
    void collect(Node& from, ike::Actions& out) {
        for (auto& d : out.send) {
            ike::Datagram in{d.remote, d.local, d.data};
            Node* to = nullptr;
            if (drop && drop(in)) continue;
            if (d.remote.address == shard[0].address.address) {
                to = &shard[ike::shard_of_datagram(in.data, kShards)];
            } else {
                for (auto& c : clients)
                    if (c->node.address == d.remote) to = &c->node;
            }
            if (to) queue.push_back({std::move(in), to});
        }
        for (auto& i : out.install)
            from.installed.push_back(std::move(i));
        for (auto& r : out.remove)
            from.removed.push_back(r);
        for (auto& e : out.events)
            from.events.push_back(std::move(e));
    }

    std::deque<std::pair<ike::Datagram, Node*>> queue;
    std::deque<std::function<void()>> elsewhere;
    unsigned used_spis = 0;
};

ike::EngineConfig client_config(const ShardedNet& net, const std::string& id,
                                bool initial_contact = true) {
    Network plain;  // for the responder's address in psk_initiator
    ike::EngineConfig c = psk_initiator(plain);
    c.connections[0].local_id = identity(id);
    c.connections[0].remote_endpoint = net.shard[0].address;
    c.connections[0].initial_contact = initial_contact;
    c.dpd_delay = 0s;
    return c;
}

ike::EngineConfig responder_config() {
    ike::EngineConfig c = psk_responder();
    c.dpd_delay = 0s;
    return c;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(sharded_engines)

BOOST_AUTO_TEST_CASE(ike_sas_spread_over_the_shards_and_each_stays_on_its_own) {
    ShardedNet net;
    net.start(responder_config());
    for (int i = 0; i < 24; ++i)
        net.initiate(net.add_client(client_config(net, "user" + std::to_string(i) + "@postern.test")));
    net.run();
    BOOST_TEST(net.established_on(0) + net.established_on(1) == 24u);
    // 24 random SPIs: each shard got some (a 1 in 8 million chance that one got none).
    BOOST_TEST(net.established_on(0) > 0u);
    BOOST_TEST(net.established_on(1) > 0u);
    for (unsigned i = 0; i < kShards; ++i)
        for (const auto& sa : net.shard[i].engine->list()) {
            // Its SPI (the responder's) and its id name the shard that holds it.
            BOOST_TEST(ike::shard_of_spi(sa.spi_r.value(), kShards) == i);
            BOOST_TEST(ike::shard_of_id(sa.id, kShards) == i);
        }
    BOOST_TEST(net.pools.in_use() == 24u);
    BOOST_TEST(net.directory->held_addresses() == 24u);
    // Every client ends its SA: each Delete reaches the shard of its SA.
    for (auto& c : net.clients) {
        const auto sas = c->node.engine->list();
        BOOST_REQUIRE(sas.size() == 1u);
        ike::Actions out;
        BOOST_TEST(c->node.engine->terminate(sas.front().id, net.now, out));
        net.inject(c->node, out);
    }
    net.run();
    BOOST_TEST(net.shard[0].engine->list().empty());
    BOOST_TEST(net.shard[1].engine->list().empty());
    BOOST_TEST(net.shard[0].engine->stats().dropped_unknown_spi +
                   net.shard[1].engine->stats().dropped_unknown_spi ==
               0u);
    BOOST_TEST(net.pools.in_use() == 0u);
    BOOST_TEST(net.directory->held_addresses() == 0u);
}

BOOST_AUTO_TEST_CASE(the_per_identity_cap_counts_the_sas_on_every_shard) {
    ShardedNet net;
    ike::EngineConfig r = responder_config();
    r.max_ike_sas_per_identity = 1;
    net.start(r);
    // alice logs in on shard 0, then again (without INITIAL_CONTACT) from elsewhere, landing
    // on shard 1: the cap sees the first one.
    net.initiate(net.add_client(client_config(net, "alice@postern.test", false), 0u));
    net.run();
    BOOST_REQUIRE(net.established_on(0) == 1u);
    net.initiate(net.add_client(client_config(net, "alice@postern.test", false), 1u));
    net.run();
    BOOST_TEST(net.established_on(1) == 0u);
    BOOST_TEST(net.shard[1].engine->stats().refused_sa_limit == 1u);
    // bob is not alice.
    net.initiate(net.add_client(client_config(net, "bob@postern.test", false), 1u));
    net.run();
    BOOST_TEST(net.established_on(1) == 1u);
}

BOOST_AUTO_TEST_CASE(initial_contact_ends_the_users_sas_on_the_other_shard) {
    ShardedNet net;
    net.start(responder_config());
    net.initiate(net.add_client(client_config(net, "alice@postern.test", false), 0u));
    net.initiate(net.add_client(client_config(net, "bob@postern.test", false), 0u));
    net.run();
    BOOST_REQUIRE(net.established_on(0) == 2u);
    // alice's device rebooted: a new IKE SA with INITIAL_CONTACT, on shard 1.
    net.initiate(net.add_client(client_config(net, "alice@postern.test", true), 1u));
    net.run();
    BOOST_TEST(net.established_on(1) == 1u);
    const auto left = net.shard[0].engine->list();
    BOOST_REQUIRE(left.size() == 1u);
    BOOST_TEST(left.front().user == "bob@postern.test");
    BOOST_TEST(logged(net.shard[0], "replaced by a new IKE SA with INITIAL_CONTACT"));
    BOOST_TEST(net.shard[0].engine->stats().initial_contact_replaced == 1u);
    BOOST_TEST(net.pools.in_use() == 2u);  // alice's old address went back
}

BOOST_AUTO_TEST_CASE(a_reauthenticating_peer_keeps_its_address_across_shards) {
    ShardedNet net;
    ike::EngineConfig r = responder_config();
    net.start(r);
    ike::EngineConfig c = client_config(net, "alice@postern.test");
    c.connections[0].reauth_time = 60s;
    c.connections[0].ike_life = {0s, 0s, 0s};
    c.connections[0].child_life = {0s, 0s, 0s};
    // The first IKE SA on shard 0, the one reauthentication makes on shard 1.
    Client& alice = net.add_client(std::move(c), 0u, 1u);
    net.initiate(alice);
    net.run();
    BOOST_REQUIRE(net.established_on(0) == 1u);
    const auto before = net.shard[0].engine->list().front();
    BOOST_REQUIRE(before.virtual_ip.has_value());
    net.advance(70s);
    BOOST_TEST_INFO(net.shard[0].log() << net.shard[1].log() << alice.node.log());
    // The new IKE SA is on shard 1 with the same address; the old one is gone from shard 0.
    BOOST_REQUIRE(net.established_on(1) == 1u);
    BOOST_TEST(net.shard[0].engine->list().empty());
    const auto after = net.shard[1].engine->list().front();
    BOOST_REQUIRE(after.virtual_ip.has_value());
    BOOST_TEST(after.virtual_ip->to_string() == before.virtual_ip->to_string());
    // Still leased once: the old SA's end did not give it back while the new one holds it.
    BOOST_TEST(net.pools.in_use() == 1u);
    BOOST_TEST(net.directory->held_addresses() == 1u);
    ike::Actions out;
    BOOST_TEST(net.shard[1].engine->terminate(after.id, net.now, out));
    net.shard[1].engine->abandon_all(net.now, out);
    BOOST_TEST(net.pools.in_use() == 0u);
    BOOST_TEST(net.directory->held_addresses() == 0u);
}

BOOST_AUTO_TEST_CASE(the_per_address_limits_count_the_whole_daemon) {
    ShardedNet net;
    ike::EngineConfig r = responder_config();
    r.half_open_per_address = 2;
    net.start(r);
    // Three clients behind one address; their IKE_AUTH never arrives, so their SAs stay
    // half-open. The first two land on different shards, the third is over the address's
    // limit wherever it lands.
    net.drop = [](const ike::Datagram& d) {
        auto m = ike::wire::parse_message(d.data);
        return m && m->header.exchange == ike::ExchangeType::IKE_AUTH;
    };
    for (unsigned i = 0; i < 3; ++i)
        net.initiate(net.add_client(client_config(net, "u" + std::to_string(i) + "@postern.test"),
                                    i % 2, {}, static_cast<std::uint16_t>(40000 + i)));
    net.run();
    const auto t0 = net.shard[0].engine->admission_tables(), t1 = net.shard[1].engine->admission_tables();
    BOOST_TEST(t0.half_open + t1.half_open == 2u);
    BOOST_TEST(t0.half_open == 1u);
    BOOST_TEST(net.shard[0].engine->stats().dropped_half_open_address == 1u);
    BOOST_TEST(t0.half_open_addresses == 1u);  // the daemon's table: one address
    // Another address is not held back.
    net.initiate(net.add_client(client_config(net, "v@postern.test"), 0u));
    net.run();
    BOOST_TEST(net.shard[0].engine->admission_tables().half_open == 2u);
}

BOOST_AUTO_TEST_SUITE_END()
