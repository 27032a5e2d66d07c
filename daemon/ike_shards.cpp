#include "daemon/ike_shards.hpp"

#include <algorithm>
#include <cstdio>
#include <type_traits>
#include <utility>

#include <pthread.h>

#include "ike/crypto/ke_pool.hpp"

namespace postern::daemon {

namespace asio = boost::asio;

void add_stats(ike::EngineStats& a, const ike::EngineStats& b) {
    a.received += b.received;
    a.sent += b.sent;
    a.retransmitted += b.retransmitted;
    a.dropped_malformed += b.dropped_malformed;
    a.dropped_unknown_spi += b.dropped_unknown_spi;
    a.dropped_window += b.dropped_window;
    a.dropped_integrity += b.dropped_integrity;
    a.cookies_sent += b.cookies_sent;
    a.invalid_ke_sent += b.invalid_ke_sent;
    a.no_proposal_chosen += b.no_proposal_chosen;
    a.auth_failed += b.auth_failed;
    a.established += b.established;
    a.deleted += b.deleted;
    a.half_open_expired += b.half_open_expired;
    a.ike_rekeyed += b.ike_rekeyed;
    a.child_rekeyed += b.child_rekeyed;
    a.child_created += b.child_created;
    a.rekey_collisions += b.rekey_collisions;
    a.dpd_skipped += b.dpd_skipped;
    a.initial_contact_replaced += b.initial_contact_replaced;
    a.dropped_init_rate += b.dropped_init_rate;
    a.dropped_half_open_address += b.dropped_half_open_address;
    a.dropped_half_open_total += b.dropped_half_open_total;
    a.refused_sa_limit += b.refused_sa_limit;
    a.refused_cert_chain += b.refused_cert_chain;
    a.dropped_garbage += b.dropped_garbage;
    a.mobike_updates += b.mobike_updates;
    a.mobike_refused += b.mobike_refused;
}

unsigned default_ike_threads() {
    const unsigned n = std::thread::hardware_concurrency();
    return std::clamp(n, 1u, ike::kMaxShards);
}

namespace {

bool empty(const ike::Actions& a) {
    return a.send.empty() && a.install.empty() && a.remove.empty() && a.move.empty() &&
           a.events.empty();
}

}  // namespace

IkeShards::IkeShards(asio::io_context& io, ike::EngineConfig config, ike::AddressPools* pools,
                     unsigned count, Apply apply)
    : io_(io),
      apply_(std::move(apply)),
      pools_(pools),
      directory_(std::make_shared<ike::ShardDirectory>(std::clamp(count, 1u, ike::kMaxShards))) {
    const unsigned n = directory_->shards();
    // INITIAL_CONTACT on one shard ends the user's SAs on the others, on their threads.
    directory_->set_end_elsewhere([this](unsigned from, const std::string& connection,
                                         const std::string& user, const std::string& why) {
        for (auto& sp : shards_) {
            if (sp->index == from) continue;
            Shard* s = sp.get();
            asio::post(s->io, [this, s, connection, user, why] {
                ike::Actions out;
                s->engine->end_user_sas(connection, user, why, ike::Clock::now(), out);
                finish(*s, out);
            });
        }
    });
    for (unsigned i = 0; i < n; ++i) {
        auto s = std::make_unique<Shard>(i);
        s->engine = std::make_unique<ike::Engine>(shard_config(config, i), pools);
        shards_.push_back(std::move(s));
    }
    for (auto& s : shards_) {
        Shard* sp = s.get();
        sp->thread = std::thread([sp] {
            ike::crypto::KeySharePool::set_thread_lane(sp->index);  // its own key shares
            sp->io.run();
        });
        // Named for top, perf and gdb (the data plane's are postern-dpN).
        char name[16];
        std::snprintf(name, sizeof name, "postern-ike%u", sp->index);
        ::pthread_setname_np(sp->thread.native_handle(), name);
    }
}

IkeShards::~IkeShards() { stop(); }

void IkeShards::stop() {
    if (stopped_) return;
    stopped_ = true;
    for (auto& s : shards_) {
        s->work.reset();
        s->io.stop();
    }
    for (auto& s : shards_)
        if (s->thread.joinable()) s->thread.join();
}

ike::EngineConfig IkeShards::shard_config(const ike::EngineConfig& c, unsigned index) const {
    ike::EngineConfig e = c;
    e.shard_index = index;
    e.shard_count = directory_->shards();
    e.shards = directory_->shards() > 1 ? directory_ : nullptr;
    return e;
}

void IkeShards::finish(Shard& s, ike::Actions& out) {
    arm(s);
    if (empty(out)) return;
    bool post = false;
    {
        std::lock_guard lock(outbox_mutex_);
        outbox_.push_back(std::move(out));
        post = !std::exchange(drain_posted_, true);
    }
    out.clear();
    if (post) asio::post(io_, [this] { drain(); });
}

void IkeShards::drain() {
    std::vector<ike::Actions> batch;
    {
        std::lock_guard lock(outbox_mutex_);
        batch.swap(outbox_);
        drain_posted_ = false;
    }
    // Every lease of these answers (and of any the shards are making now) durable before one
    // of them is sent: one commit for the batch (plugin::AddressPools::sync).
    if (pools_) pools_->sync();
    for (auto& a : batch)
        apply_(a);
}

void IkeShards::arm(Shard& s) {
    auto due = s.engine->next_timer();
    if (!due) {
        if (s.armed) s.timer.cancel();
        s.armed.reset();
        return;
    }
    // Unchanged (every datagram of a flood lands here): the pending wait is the right one.
    if (s.armed == due) return;
    s.armed = due;
    s.timer.expires_at(*due);
    s.timer.async_wait([this, sp = &s](boost::system::error_code ec) {
        if (ec) return;  // re-armed or cancelled
        sp->armed.reset();
        ike::Actions out;
        sp->engine->on_timer(ike::Clock::now(), out);
        finish(*sp, out);
    });
}

template <class F>
auto IkeShards::run_on(unsigned i, F f)
    -> decltype(f(std::declval<ike::Engine&>(), std::declval<ike::Actions&>())) {
    using R = decltype(f(std::declval<ike::Engine&>(), std::declval<ike::Actions&>()));
    Shard& s = *shards_[i];
    auto body = [this, &s, &f]() -> R {
        ike::Actions out;
        if constexpr (std::is_void_v<R>) {
            f(*s.engine, out);
            finish(s, out);
        } else {
            R r = f(*s.engine, out);
            finish(s, out);
            return r;
        }
    };
    // The threads are gone (shutting down): nothing else runs the engine any more.
    if (stopped_) return body();
    std::packaged_task<R()> task(body);
    auto result = task.get_future();
    asio::post(s.io, [&task] { task(); });
    return result.get();
}

void IkeShards::dispatch(ike::Datagram d) {
    const unsigned i = ike::shard_of_datagram(d.data, count());
    Shard* s = shards_[i].get();
    asio::post(s->io, [this, s, d = std::move(d)] {
        ike::Actions out;
        s->engine->on_datagram(d, ike::Clock::now(), out);
        finish(*s, out);
    });
}

void IkeShards::expire_child(EspSpi spi, bool inbound, bool hard,
                             std::function<void()> not_found) {
    // Not waiting: whichever shard holds it acts; the last one to answer tells the I/O thread
    // when none did.
    struct Tally {
        std::atomic<unsigned> left;
        std::atomic<bool> found{false};
        std::function<void()> not_found;
    };
    auto tally = std::make_shared<Tally>();
    tally->left = count();
    tally->not_found = std::move(not_found);
    for (auto& sp : shards_) {
        Shard* s = sp.get();
        asio::post(s->io, [this, s, spi, inbound, hard, tally] {
            ike::Actions out;
            if (s->engine->expire_child(spi, inbound, hard, ike::Clock::now(), out))
                tally->found = true;
            finish(*s, out);
            if (--tally->left == 0 && !tally->found && tally->not_found)
                asio::post(io_, tally->not_found);
        });
    }
}

tl::expected<std::uint64_t, std::string> IkeShards::initiate(const std::string& connection,
                                                             const Endpoint& local) {
    // Our own IKE SAs all start on shard 0: whether one is the first with its peer (INITIAL_
    // CONTACT, has_contact) is then a question for one engine.
    return run_on(0, [&](ike::Engine& e, ike::Actions& out) {
        return e.initiate(connection, local, ike::Clock::now(), out);
    });
}

std::size_t IkeShards::local_address_changed(std::uint64_t ike_sa, const Endpoint& local) {
    return run_on(ike::shard_of_id(ike_sa, count()), [&](ike::Engine& e, ike::Actions& out) {
        return e.local_address_changed(ike_sa, local, ike::Clock::now(), out);
    });
}

std::size_t IkeShards::terminate_all() {
    std::size_t n = 0;
    for (unsigned i = 0; i < count(); ++i)
        n += run_on(i, [](ike::Engine& e, ike::Actions& out) {
            std::size_t k = 0;
            const auto now = ike::Clock::now();
            for (const auto& sa : e.list())
                k += e.terminate(sa.id, now, out);
            return k;
        });
    return n;
}

void IkeShards::abandon_all() {
    for (unsigned i = 0; i < count(); ++i)
        run_on(i, [](ike::Engine& e, ike::Actions& out) {
            e.abandon_all(ike::Clock::now(), out);
            out.send.clear();
        });
}

std::size_t IkeShards::connection_count() {
    std::size_t n = 0;
    for (unsigned i = 0; i < count(); ++i)
        n += run_on(i, [](ike::Engine& e, ike::Actions&) { return e.connection_count(); });
    return n;
}

std::vector<ike::IkeSaInfo> IkeShards::list() {
    std::vector<ike::IkeSaInfo> all;
    for (unsigned i = 0; i < count(); ++i) {
        auto part = run_on(i, [](ike::Engine& e, ike::Actions&) { return e.list(); });
        all.insert(all.end(), std::make_move_iterator(part.begin()),
                   std::make_move_iterator(part.end()));
    }
    return all;
}

std::vector<std::uint64_t> IkeShards::sas_of_user(std::string_view user) {
    std::vector<std::uint64_t> all;
    for (unsigned i = 0; i < count(); ++i) {
        auto part = run_on(i, [&](ike::Engine& e, ike::Actions&) { return e.sas_of_user(user); });
        all.insert(all.end(), part.begin(), part.end());
    }
    std::sort(all.begin(), all.end());
    return all;
}

bool IkeShards::terminate(std::uint64_t id) {
    return run_on(ike::shard_of_id(id, count()), [&](ike::Engine& e, ike::Actions& out) {
        return e.terminate(id, ike::Clock::now(), out);
    });
}

ike::EngineStats IkeShards::stats() {
    ike::EngineStats total;
    for (unsigned i = 0; i < count(); ++i)
        add_stats(total, run_on(i, [](ike::Engine& e, ike::Actions&) { return e.stats(); }));
    return total;
}

std::size_t IkeShards::reload(const ike::EngineConfig& config) {
    std::size_t deleted = 0;
    for (unsigned i = 0; i < count(); ++i) {
        auto c = shard_config(config, i);
        deleted += run_on(i, [&](ike::Engine& e, ike::Actions& out) {
            return e.reload(std::move(c), ike::Clock::now(), out);
        });
    }
    return deleted;
}

}  // namespace postern::daemon
