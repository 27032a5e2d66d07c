// Two ike::Engine instances in one process, joined by an in-memory network with a fake clock.
// Tests inject loss, duplication, tampering and NAT by filtering datagrams in flight.
//
//   initiator (192.0.2.1)  ---- Network ----  responder (192.0.2.2)
#pragma once

#include <chrono>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "ike/crypto/algorithms.hpp"
#include "ike/engine.hpp"
#include "ike/policy/address_pool.hpp"

#include <openssl/rand.h>

namespace postern::scenario {

using namespace std::chrono_literals;

inline ike::crypto::Proposal proposal(const std::string& text, ike::ProtocolId proto) {
    auto p = ike::crypto::parse_proposal(text, proto, ike::crypto::AlgorithmPolicy{});
    if (!p) throw std::runtime_error(p.error());
    return *p;
}
inline ike::policy::Identity identity(const std::string& text) {
    auto i = ike::policy::parse_identity(text);
    if (!i) throw std::runtime_error(i.error());
    return *i;
}
inline ike::policy::IdentityPattern pattern(const std::string& text) {
    auto p = ike::policy::IdentityPattern::parse(text);
    if (!p) throw std::runtime_error(p.error());
    return *p;
}
inline Endpoint endpoint(const std::string& addr, std::uint16_t port) {
    return Endpoint{*IpAddress::parse(addr), port};
}

// In-memory pools keyed by name, one AddressPool per family.
class Pools : public ike::AddressPools {
  public:
    void add(const std::string& name, const std::string& cidr) {
        auto p = ike::policy::AddressPool::create(cidr);
        if (!p) throw std::runtime_error(p.error());
        pools_[name].push_back(std::move(*p));
    }
    std::optional<IpAddress> acquire(const std::string& pool, const std::string& identity,
                                     IpAddress::Family family,
                                     std::optional<IpAddress> requested) override {
        for (auto& p : pools_[pool])
            if (p.cidr().network.family() == family) return p.acquire(identity, requested);
        return std::nullopt;
    }
    void release(const std::string& pool, const IpAddress& address) override {
        for (auto& p : pools_[pool])
            if (p.contains(address)) p.release(address);
    }
    std::size_t in_use() const {
        std::size_t n = 0;
        for (const auto& [name, list] : pools_)
            for (const auto& p : list)
                n += p.in_use();
        return n;
    }

  private:
    std::map<std::string, std::vector<ike::policy::AddressPool>> pools_;
};

struct Node {
    std::string name;
    Endpoint address;
    Pools pools;
    std::unique_ptr<ike::Engine> engine;
    // Everything the engine asked of the data plane and reported, in order.
    std::vector<ike::InstallChildSa> installed;
    std::vector<ike::RemoveChildSa> removed;
    std::vector<ike::MoveChildSa> moved;
    std::vector<ike::Event> events;
    ike::Engine::WallClock wall_clock;  // empty: the real time
    // First octets for the next nonces this engine makes (32-octet random draws), in order;
    // empty: random. Rekey collisions are decided by the lowest nonce (RFC 7296 §2.8.1).
    std::deque<std::uint8_t> nonce_first;

    std::size_t count(ike::EventKind k) const {
        std::size_t n = 0;
        for (const auto& e : events)
            n += e.kind == k;
        return n;
    }
    bool has_event(ike::EventKind k) const { return count(k) > 0; }
    // The first event of kind k, or null.
    const ike::Event* first(ike::EventKind k) const {
        for (const auto& e : events)
            if (e.kind == k) return &e;
        return nullptr;
    }
    std::string log() const {
        std::string s;
        for (const auto& e : events)
            s += "  " + name + ": " + e.text + "\n";
        return s;
    }
};

// Whether one of n's events (log lines included) contains `text`, and in how many.
inline std::size_t count_logged(const Node& n, const std::string& text) {
    std::size_t k = 0;
    for (const auto& e : n.events)
        k += e.text.find(text) != std::string::npos;
    return k;
}
inline bool logged(const Node& n, const std::string& text) { return count_logged(n, text) > 0; }

class Network {
  public:
    // Return false to drop the datagram; may modify it (tamper, NAT rewrite).
    using Filter = std::function<bool(ike::Datagram&, const Node& from)>;

    Network() {
        a.name = "initiator";
        a.address = endpoint("192.0.2.1", 500);
        b.name = "responder";
        b.address = endpoint("192.0.2.2", 500);
    }

    void start(ike::EngineConfig ca, ike::EngineConfig cb) {
        a.engine = std::make_unique<ike::Engine>(std::move(ca), &a.pools, random_for(a),
                                                 a.wall_clock);
        b.engine = std::make_unique<ike::Engine>(std::move(cb), &b.pools, random_for(b),
                                                 b.wall_clock);
    }

    // The initiator reboots: a new engine without any of the old one's SAs.
    void restart_a(ike::EngineConfig ca) {
        a.engine = std::make_unique<ike::Engine>(std::move(ca), &a.pools, random_for(a),
                                                 a.wall_clock);
    }

    std::uint64_t initiate(const std::string& connection) {
        ike::Actions out;
        auto id = a.engine->initiate(connection, a.address, now, out);
        if (!id) throw std::runtime_error(id.error());
        collect(a, out);
        return *id;
    }

    // Delivers queued datagrams (and whatever they cause) until the network is quiet.
    void run(std::size_t max_steps = 1000) {
        for (std::size_t i = 0; i < max_steps && !queue.empty(); ++i) {
            auto [d, to_b] = std::move(queue.front());
            queue.pop_front();
            Node& to = to_b ? b : a;
            ike::Actions out;
            to.engine->on_datagram(d, now, out);
            collect(to, out);
        }
    }

    // Moves the clock on in steps, running timers and the network at each.
    void advance(std::chrono::milliseconds d, std::chrono::milliseconds step = 100ms) {
        for (auto t = 0ms; t < d; t += step) {
            now += step;
            for (Node* n : {&a, &b}) {
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

    std::vector<ike::IkeSaInfo> sas(const Node& n) const { return n.engine->list(); }
    // Datagrams node n put on the network (to count IKE_AUTH round trips).
    std::size_t sent_by(const Node& n) const {
        std::size_t k = 0;
        for (const auto& d : wire)
            k += d.local == n.address;
        return k;
    }

    // Puts what an engine call made outside the harness (expire_child, terminate) on the
    // network and into the node's records, as if the harness had made the call.
    void inject(Node& from, ike::Actions& out) { collect(from, out); }

    Node a, b;
    ike::TimePoint now{std::chrono::seconds(1000)};
    Filter filter;
    std::size_t delivered = 0, dropped = 0;
    std::vector<ike::Datagram> wire;  // every datagram put on the network, for inspection

  private:
    static ike::Engine::Random random_for(Node& n) {
        return [&n](MutableByteView out) {
            RAND_bytes(out.data(), static_cast<int>(out.size()));
            if (out.size() == 32 && !n.nonce_first.empty()) {
                out[0] = n.nonce_first.front();
                n.nonce_first.pop_front();
            }
        };
    }

    void collect(Node& from, ike::Actions& out) {
        for (auto& d : out.send) {
            wire.push_back(d);
            // Deliver to whichever node owns the destination address.
            const bool to_b = d.remote.address == b.address.address;
            ike::Datagram in{d.remote, d.local, d.data};
            if (filter && !filter(in, from)) {
                ++dropped;
                continue;
            }
            ++delivered;
            queue.push_back({std::move(in), to_b});
        }
        for (auto& i : out.install)
            from.installed.push_back(std::move(i));
        for (auto& r : out.remove)
            from.removed.push_back(r);
        for (auto& m : out.move)
            from.moved.push_back(m);
        for (auto& e : out.events)
            from.events.push_back(std::move(e));
    }

    std::deque<std::pair<ike::Datagram, bool>> queue;
};

}  // namespace postern::scenario
