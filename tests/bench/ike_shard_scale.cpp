// ike_shard_scale: whether posternd's IKE work scales with its shard threads
// (daemon/ike_shards.hpp), measured without a load generator competing for the same cores (on a
// 2-core machine, tests/bench/ike-rate's generator takes half of them, so it cannot show that).
//
//   ike_shard_scale [--count N] [--threads 1,2] [--rounds R] [--key-share-pool] [--no-vip]
//
// The responder is posternd's own: daemon::IkeShards with T shard threads, each running an
// ike::Engine (PSK, aes256gcm16-prfsha256-x25519, a virtual IP from an in-memory pool behind
// one lock, as posternd's pools are), this thread standing in for posternd's I/O thread and
// collecting what the shards answer. The initiators are one ike::Engine on this thread, the
// load generator's. The handshakes run in phases, so that only the responder's work is timed:
//
//   untimed   the initiator makes N IKE_SA_INIT requests
//   timed     the shards answer all N (dispatched at once, as a rush of clients arrives)
//   untimed   the initiator takes the N answers and makes N IKE_AUTH requests
//   timed     the shards answer all N: N IKE SAs with a CHILD_SA each established
//   untimed   the initiator checks every SA was established
//
// Per T it prints the two timed phases' wall time, the process's CPU time over them (as cores
// busy, and per handshake), and the responder's handshakes per second (N over both phases
// together); then each T's rate over the first T's. Without --key-share-pool the shards make their
// key shares inline, so one shard uses one core and the ratio is the sharding's alone; with it,
// posternd's KeySharePool thread makes them (as posternd does), using a core beside the shards.
// Rounds alternate the thread counts (1, 2, 1, 2, ...) so a machine's drift falls on both; the
// median round is reported. Exits 1 when any handshake failed, 2 on a usage error.

#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include "daemon/ike_shards.hpp"
#include "daemon/shared_access.hpp"
#include "ike/crypto/ke_pool.hpp"
#include "ike/engine.hpp"
#include "ike/policy/address_pool.hpp"

namespace {

namespace ike = postern::ike;
using postern::Endpoint;
using postern::IpAddress;

struct Options {
    std::size_t count = 10000;
    std::vector<unsigned> threads{1, 2};
    unsigned rounds = 3;
    bool key_share_pool = false;
    bool vip = true;
};

[[noreturn]] void usage(const std::string& why) {
    std::fprintf(stderr,
                 "ike_shard_scale: %s\n"
                 "usage: ike_shard_scale [--count N] [--threads 1,2] [--rounds R] "
                 "[--key-share-pool] [--no-vip]\n",
                 why.c_str());
    std::exit(2);
}

Options parse(int argc, char** argv) {
    Options o;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        auto value = [&]() -> std::string {
            if (i + 1 >= argc) usage("missing value for " + a);
            return argv[++i];
        };
        try {
            if (a == "--count")
                o.count = std::stoul(value());
            else if (a == "--rounds")
                o.rounds = static_cast<unsigned>(std::stoul(value()));
            else if (a == "--key-share-pool")
                o.key_share_pool = true;
            else if (a == "--no-vip")
                o.vip = false;
            else if (a == "--threads") {
                o.threads.clear();
                std::string list = value();
                for (std::size_t p = 0; p <= list.size();) {
                    const std::size_t comma = std::min(list.find(',', p), list.size());
                    const unsigned t = static_cast<unsigned>(std::stoul(list.substr(p, comma - p)));
                    if (t == 0 || t > ike::kMaxShards) usage("--threads: 1 to 64 each");
                    o.threads.push_back(t);
                    p = comma + 1;
                }
            } else
                usage("unknown option " + a);
        } catch (const std::logic_error&) {
            usage("not a number after " + a);
        }
    }
    if (o.count == 0 || o.rounds == 0 || o.threads.empty()) usage("nothing to run");
    return o;
}

template <class T>
T must(tl::expected<T, std::string> v, const char* what) {
    if (!v) usage(std::string(what) + ": " + v.error());
    return std::move(*v);
}

const char* const kPsk = "postern-bench-psk-NOT-A-SECRET-0123456789";
const Endpoint kResponder{*IpAddress::parse("192.0.2.1"), 500};
const Endpoint kInitiator{*IpAddress::parse("192.0.2.2"), 500};

ike::ConnectionConfig connection(const std::string& name, const char* local_id,
                                 const char* remote_id) {
    const ike::crypto::AlgorithmPolicy policy;
    ike::ConnectionConfig c;
    c.name = name;
    c.ike_proposals.push_back(must(
        ike::crypto::parse_proposal("aes256gcm16-prfsha256-x25519", ike::ProtocolId::IKE, policy),
        "IKE proposal"));
    c.esp_proposals.push_back(must(
        ike::crypto::parse_proposal("aes256gcm16", ike::ProtocolId::ESP, policy), "ESP proposal"));
    c.local_id = must(ike::policy::parse_identity(local_id), "local id");
    c.remote_id = must(ike::policy::IdentityPattern::parse(remote_id), "remote id");
    c.local_auth = c.remote_auth = ike::AuthClass::Psk;
    c.psk = ike::crypto::Secret(
        postern::ByteView(reinterpret_cast<const std::uint8_t*>(kPsk), std::strlen(kPsk)));
    return c;
}

// posternd's configuration in tests/bench/ike-common.sh (posternd_bench_conf): no cookies and
// no rate limits (every request comes from one address), a pool, one CHILD_SA.
ike::EngineConfig responder_config(const Options& o) {
    ike::ConnectionConfig c = connection("load", "vpn.postern.test", "%any");
    if (o.vip) c.pools = {"clients"};
    c.local_ts = {*ike::policy::TrafficSelector::from_cidr("10.97.0.0/24")};
    ike::EngineConfig e;
    e.connections.push_back(std::move(c));
    e.dpd_delay = std::chrono::seconds(0);
    e.cookie_threshold = 1000000;
    e.init_rate_per_address = 0;
    e.half_open_per_address = 0;
    e.half_open_limit = 0;
    return e;
}

// tests/bench/ike_load's initiator: many SAs of one identity, no INITIAL_CONTACT, no MOBIKE.
ike::EngineConfig initiator_config(const Options& o) {
    ike::ConnectionConfig c = connection("load", "load@postern.test", "%any");
    c.remote_endpoint = kResponder;
    c.request_virtual_ip = o.vip;
    c.initial_contact = false;
    c.mobike = false;
    ike::EngineConfig e;
    e.connections.push_back(std::move(c));
    e.dpd_delay = std::chrono::seconds(0);
    return e;
}

// posternd's pools are a plugin's behind one lock (daemon::LockedPools); here one in memory.
class MemoryPools final : public ike::AddressPools {
  public:
    MemoryPools() : pool_(must(ike::policy::AddressPool::create("10.64.0.0/10"), "pool")) {}
    std::optional<IpAddress> acquire(const std::string& pool, const std::string& identity,
                                     IpAddress::Family family,
                                     std::optional<IpAddress> requested) override {
        if (pool != "clients" || family != IpAddress::Family::V4) return std::nullopt;
        return pool_.acquire(identity, requested);
    }
    void release(const std::string&, const IpAddress& address) override { pool_.release(address); }

  private:
    ike::policy::AddressPool pool_;
};

// A datagram one end sent, as the other end receives it (local and remote swapped).
ike::Datagram arriving(ike::Datagram& sent) {
    return ike::Datagram{sent.remote, sent.local, std::move(sent.data)};
}

double cpu_seconds() {
    rusage u{};
    ::getrusage(RUSAGE_SELF, &u);
    auto s = [](const timeval& t) { return static_cast<double>(t.tv_sec) + t.tv_usec / 1e6; };
    return s(u.ru_utime) + s(u.ru_stime);
}

struct Result {
    double init_s = 0, auth_s = 0, cpu_s = 0;
    double rate(std::size_t n) const { return static_cast<double>(n) / (init_s + auth_s); }
};

class Round {
  public:
    Round(const Options& o, unsigned threads)
        : o_(o),
          pools_(std::make_shared<MemoryPools>()),
          initiator_(initiator_config(o)),
          shards_(io_, responder_config(o), &pools_, threads,
                  [this](ike::Actions& out) { collect(out); }) {}
    ~Round() { shards_.stop(); }

    // The five phases (file comment); nullopt when a handshake failed.
    std::optional<Result> run() {
        const auto now = ike::Clock::now;
        ike::Actions out;
        for (std::size_t i = 0; i < o_.count; ++i)
            if (!initiator_.initiate("load", kInitiator, now(), out)) return fail("initiate");
        if (out.send.size() != o_.count) return fail("IKE_SA_INIT requests");

        Result r;
        r.init_s = answer(out.send, r.cpu_s);
        if (answers_.size() != o_.count) return fail("IKE_SA_INIT answers");

        ike::Actions auth;
        for (auto& d : answers_)
            initiator_.on_datagram(arriving(d), now(), auth);
        if (auth.send.size() != o_.count) return fail("IKE_AUTH requests");

        r.auth_s = answer(auth.send, r.cpu_s);
        if (answers_.size() != o_.count || established_ != o_.count)
            return fail("IKE_AUTH answers");

        ike::Actions done;
        for (auto& d : answers_)
            initiator_.on_datagram(arriving(d), now(), done);
        std::size_t up = 0;
        for (const auto& e : done.events)
            up += e.kind == ike::EventKind::IkeEstablished;
        if (up != o_.count) return fail("initiator's established SAs");
        return r;
    }

  private:
    std::optional<Result> fail(const char* what) {
        std::fprintf(stderr, "ike_shard_scale: %s: fewer than %zu (answers %zu, established %zu)\n",
                     what, o_.count, answers_.size(), established_);
        return std::nullopt;
    }

    // Hands every request to its shard at once and waits for as many answers; the wall time
    // (the process's CPU time meanwhile added to `cpu`).
    double answer(std::vector<ike::Datagram>& requests, double& cpu) {
        answers_.clear();
        answers_.reserve(requests.size());
        const double cpu0 = cpu_seconds();
        const auto t0 = std::chrono::steady_clock::now();
        for (auto& d : requests)
            shards_.dispatch(arriving(d));
        const auto give_up = t0 + std::chrono::seconds(120);
        while (answers_.size() < requests.size() && std::chrono::steady_clock::now() < give_up)
            io_.run_one_for(std::chrono::milliseconds(100));
        const auto t1 = std::chrono::steady_clock::now();
        cpu += cpu_seconds() - cpu0;
        return std::chrono::duration<double>(t1 - t0).count();
    }

    void collect(ike::Actions& out) {
        for (auto& d : out.send)
            answers_.push_back(std::move(d));
        for (const auto& e : out.events)
            established_ += e.kind == ike::EventKind::IkeEstablished;
    }

    const Options& o_;
    boost::asio::io_context io_;
    boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_{
        io_.get_executor()};
    postern::daemon::LockedPools pools_;
    ike::Engine initiator_;
    postern::daemon::IkeShards shards_;
    std::vector<ike::Datagram> answers_;
    std::size_t established_ = 0;
};

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
    const Options o = parse(argc, argv);
    // posternd's key-share thread when asked for, uninstalled before it goes (every return).
    struct KeyShares {
        std::unique_ptr<ike::crypto::KeySharePool> pool;
        ~KeyShares() {
            if (pool) ike::crypto::KeySharePool::install(nullptr);
        }
    } key_shares;
    if (o.key_share_pool) {
        key_shares.pool = std::make_unique<ike::crypto::KeySharePool>();
        ike::crypto::KeySharePool::install(key_shares.pool.get());
    }
    std::printf(
        "ike_shard_scale: %zu PSK + X25519 handshakes per round, %u rounds, virtual IPs %s, "
        "key shares %s\n",
        o.count, o.rounds, o.vip ? "on" : "off",
        o.key_share_pool ? "from posternd's KeySharePool thread" : "made by the shards");
    std::vector<std::vector<Result>> results(o.threads.size());
    for (unsigned round = 0; round < o.rounds; ++round)
        for (std::size_t t = 0; t < o.threads.size(); ++t) {
            Round r(o, o.threads[t]);
            auto res = r.run();
            if (!res) return 1;
            results[t].push_back(*res);
            std::fprintf(stderr, "round %u, %u thread(s): %.0f handshakes/s\n", round + 1,
                         o.threads[t], res->rate(o.count));
        }
    double first_rate = 0;
    for (std::size_t t = 0; t < o.threads.size(); ++t) {
        std::vector<double> rates, init, auth, cores, cpu_us;
        for (const auto& r : results[t]) {
            rates.push_back(r.rate(o.count));
            init.push_back(r.init_s);
            auth.push_back(r.auth_s);
            cores.push_back(r.cpu_s / (r.init_s + r.auth_s));
            cpu_us.push_back(r.cpu_s * 1e6 / static_cast<double>(o.count));
        }
        const double rate = median(rates);
        if (t == 0) first_rate = rate;
        // CPU per handshake: what sharding would cost if the shards contended (locks, cache
        // lines); the rate follows the cores the machine actually gave.
        std::printf(
            "threads %u: %.0f handshakes/s (IKE_SA_INIT %.3f s, IKE_AUTH %.3f s, "
            "%.2f cores busy, %.0f us of CPU a handshake) %.2fx\n",
            o.threads[t], rate, median(init), median(auth), median(cores), median(cpu_us),
            rate / first_rate);
    }
    return 0;
}
