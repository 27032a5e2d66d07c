// Engine: demultiplexes datagrams to IKE SAs, applies the window and integrity checks through
// each SA's task manager, dispatches to the exchanges, and keeps one timer queue for all SAs
// (ordered by due time, so a timer tick never scans every SA).

#include "ike/engine.hpp"

#include <algorithm>
#include <ctime>
#include <set>
#include <unordered_map>
#include <unordered_set>

#include "ike/admission.hpp"
#include "ike/crypto/random.hpp"
#include "ike/crypto/verifier.hpp"
#include "ike/exchange/context.hpp"
#include "ike/sa/protection.hpp"
#include "ike/shard.hpp"
#include "ike/wire/describe.hpp"
#include "ike/wire/rules.hpp"

namespace postern::ike {

using exchange::Ctx;
using sa::IkeSa;
using sa::IkeSaState;

namespace {

std::shared_ptr<const plugin::CertificateVerifier> verifier_for(const EngineConfig& c) {
    if (c.verifier) return c.verifier;
    return std::make_shared<crypto::AnchorVerifier>(c.trust_anchors);
}

// A limit of the whole daemon, shared out over its shards (new IKE SAs spread evenly over
// them: ike/shard.hpp), rounded up; 0 (no limit) stays 0.
template <class T>
T per_shard(T limit, unsigned shards) {
    if (shards <= 1 || limit == 0) return limit;
    return static_cast<T>((limit + shards - 1) / shards);
}

// Sharded, the per-address limits are the ShardDirectory's, for the whole daemon; the total
// of half-open SAs is shared out over the shards.
AdmissionLimits admission_limits(const EngineConfig& c) {
    return {c.init_rate_per_address, c.init_rate_table_size, c.half_open_per_address,
            per_shard(c.half_open_limit, c.shard_count)};
}

// Installs the limits where they are enforced: the engine's own table, or the directory's.
void set_admission_limits(InitAdmission& own, const EngineConfig& c) {
    own.set_limits(admission_limits(c));
    if (c.shards) c.shards->set_admission_limits(admission_limits(c));
}

// Cheaper than parsing: what cannot be an IKE message at all (RFC 7296 §3.1: a 28-octet
// header whose Length field is the size of the whole message).
bool obviously_not_ike(const Bytes& d) {
    if (d.size() < 28) return true;
    const std::size_t length = (std::size_t{d[24]} << 24) | (std::size_t{d[25]} << 16) |
                               (std::size_t{d[26]} << 8) | std::size_t{d[27]};
    return length != d.size();
}

}  // namespace

struct Engine::Impl final : exchange::SaTable {
    const EngineConfig* config = nullptr;
    AddressPools* pools;
    Random random;
    WallClock wall_clock;
    std::uint64_t next_id = 1;
    Bytes cookie_secret;
    // Our SPI -> SA. A hash table: with 100,000 SAs a tree's lookup is some 17 dependent
    // cache misses on every message. Our SPIs are random (a peer cannot choose them), so the
    // identity hash spreads them. Nothing may depend on its iteration order.
    std::unordered_map<std::uint64_t, std::unique_ptr<IkeSa>> by_spi;
    // Responder: (SPIi, peer) -> our SPI, to spot retransmitted IKE_SA_INIT requests.
    std::map<std::pair<std::uint64_t, Endpoint>, std::uint64_t> half_open;
    // Limits on new IKE_SA_INIT requests. They count the responder SAs not established yet
    // (half-open, or still in IKE_AUTH such as an EAP conversation): our SPI -> the address
    // the SA came from.
    InitAdmission admission;
    std::map<std::uint64_t, IpAddress> unestablished;
    // (due, our SPI); an SA's own entry is (IkeSa::timer_due, its SPI), no SPI -> due map.
    std::set<std::pair<TimePoint, std::uint64_t>> timers;
    // Indexes, so that nothing done per message or per login scans every SA: the SAs of an
    // id (a rekeyed IKE SA keeps its id: the retired one and its successor), and the SAs of a
    // user (IkeSa::user, filed once it is known: after each exchange, see file_user).
    std::unordered_multimap<std::uint64_t, IkeSa*> by_id_index;
    // (An SA remembers the key it is filed under in IkeSa::filed_key, which points into this
    // map: no SA -> key map beside it.)
    std::unordered_map<std::string, std::unordered_set<IkeSa*>> by_user;
    // IKE SA ids: this shard's (ike/shard.hpp).
    std::uint64_t take_id() {
        const std::uint64_t id = next_id;
        next_id += config->shard_count ? config->shard_count : 1;
        return id;
    }
    // Sharded: tells the directory when the SA starts or stops counting for its user.
    void publish_count(const IkeSa& sa, bool gone) {
        ShardDirectory* dir = config->shards.get();
        if (!dir) return;
        const bool counts = !gone && counted(sa);
        if (counts == sa.counted_in_directory) return;
        dir->count(sa.user, counts ? 1 : -1);
        sa.counted_in_directory = counts;
    }
    static bool counted(const IkeSa& sa) {
        return !sa.user.empty() && sa.established() && !sa.retired && !sa.provisional &&
               sa.state() != IkeSaState::Rekeyed;
    }

    std::shared_ptr<const plugin::CertificateVerifier> verifier;
    std::optional<wire::Payload> certreq;
    std::optional<EspSpiSequence> esp_spis;  // made with the engine (its keys are random)
    EspSpi new_esp_spi() override { return EspSpi(esp_spis->next()); }

    Ctx ctx(Engine& e, TimePoint now, Actions& out) {
        config = &e.config_;
        return Ctx{e.config_, e.stats_,     pools,    random,  now,
                   out,       wall_clock(), verifier, certreq, *this};
    }

    // exchange::SaTable
    IkeSa* find(IkeSpi ours) override {
        auto it = by_spi.find(ours.value());
        return it == by_spi.end() ? nullptr : it->second.get();
    }
    IkeSa& adopt(std::unique_ptr<IkeSa> sa) override;
    void touch(const IkeSa& sa) override;
    std::size_t end_duplicates(const Ctx& ctx, const IkeSa& fresh,
                               const std::string& user) override;
    std::optional<sa::VirtualIp> take_virtual_ip(const IkeSa& fresh, const std::string& user,
                                                 const IpAddress& address) override {
        if (auto v = take_here(fresh, user, address)) return v;
        // Sharded: an SA of this user on another shard may hold it; then both hold it until
        // the older one goes (ShardDirectory::share).
        if (config->shards && fresh.connection)
            if (auto pool = config->shards->share(address, user, fresh.connection->name))
                return sa::VirtualIp{*pool, address};
        return std::nullopt;
    }
    std::optional<sa::VirtualIp> take_here(const IkeSa& fresh, const std::string& user,
                                           const IpAddress& address) {
        for (IkeSa* other : sas_of(user)) {
            if (other == &fresh || other->retired || !other->established()) continue;
            if (other->connection != fresh.connection || other->user != user) continue;
            auto& v = other->virtual_ips;
            auto it = std::find_if(v.begin(), v.end(),
                                   [&](const sa::VirtualIp& x) { return x.address == address; });
            if (it == v.end()) continue;
            sa::VirtualIp taken = *it;
            v.erase(it);
            return taken;
        }
        return std::nullopt;
    }
    IkeSa* by_id(std::uint64_t id) override {
        auto [first, last] = by_id_index.equal_range(id);
        for (auto it = first; it != last; ++it)
            if (!it->second->retired) return it->second;
        return nullptr;
    }
    // Every SA's SPI, ascending.
    std::vector<std::uint64_t> sorted_spis() const {
        std::vector<std::uint64_t> spis;
        spis.reserve(by_spi.size());
        for (const auto& entry : by_spi)
            spis.push_back(entry.first);
        std::sort(spis.begin(), spis.end());
        return spis;
    }
    // Takes the SA's entry out of the timer queue, if it has one.
    void unschedule(const IkeSa& sa) {
        if (sa.timer_due == TimePoint::max()) return;
        timers.erase({sa.timer_due, sa.local_spi().value()});
        sa.timer_due = TimePoint::max();
    }
    // Takes a new SA into the tables (not the timer queue: reschedule).
    IkeSa& insert(std::unique_ptr<IkeSa> sa) {
        IkeSa& ref = *sa;
        by_id_index.emplace(ref.id, &ref);
        by_spi.emplace(ref.local_spi().value(), std::move(sa));
        file_user(ref);
        return ref;
    }
    // Files the SA under its user, once known or when it changed.
    void file_user(const IkeSa& sa) {
        if (sa.filed_key && *sa.filed_key == sa.user) return;
        unfile_user(sa);
        if (sa.user.empty()) return;
        auto it = by_user.try_emplace(sa.user).first;
        it->second.insert(const_cast<IkeSa*>(&sa));
        sa.filed_key = &it->first;  // a node's key stays put until the node is erased
    }
    void unfile_user(const IkeSa& sa) {
        if (!sa.filed_key) return;
        if (auto u = by_user.find(*sa.filed_key); u != by_user.end()) {
            u->second.erase(const_cast<IkeSa*>(&sa));
            if (u->second.empty()) by_user.erase(u);
        }
        sa.filed_key = nullptr;
    }
    // The SAs filed under `user` (a copy: callers may destroy some of them).
    std::vector<IkeSa*> sas_of(const std::string& user) const {
        auto it = by_user.find(user);
        if (it == by_user.end()) return {};
        return {it->second.begin(), it->second.end()};
    }
    bool has_contact(const IkeSa& sa) const override {
        for (const auto& [spi, other] : by_spi)
            if (other.get() != &sa && other->established() && other->connection &&
                other->remote.address == sa.remote.address &&
                policy::same_identity(other->connection->local_id, sa.connection->local_id))
                return true;
        return false;
    }
    std::size_t count_user(const std::string& user, const IkeSa& except) const override {
        std::size_t n = 0, here = 0;
        for (const IkeSa* sa : sas_of(user)) {
            if (sa != &except && counted(*sa) && sa->user == user) ++n;
            here += sa->counted_in_directory;
        }
        if (config->shards) n += elsewhere(user, here);
        return n;
    }
    // Sharded: the user's counted IKE SAs on the other shards, given `here`, how many of this
    // shard's are counted in the directory (counted_here).
    std::size_t elsewhere(const std::string& user, std::size_t here) const {
        const std::size_t all = config->shards->total(user);
        return all > here ? all - here : 0;
    }
    std::size_t counted_here(const std::string& user) const {
        std::size_t here = 0;
        for (const IkeSa* sa : sas_of(user))
            here += sa->counted_in_directory;
        return here;
    }
    void held_virtual_ip(const IkeSa& sa, const std::string& user,
                         const sa::VirtualIp& v) override {
        if (config->shards && sa.connection)
            config->shards->hold(v.pool, v.address, user, sa.connection->name);
    }
    bool let_go_virtual_ip(const sa::VirtualIp& v) override {
        return !config->shards || config->shards->let_go(v.pool, v.address);
    }

    void open_half(std::uint64_t spi_i, const Endpoint& peer, std::uint64_t ours) {
        half_open.emplace(std::pair{spi_i, peer}, ours);
        if (unestablished.emplace(ours, peer.address).second) {
            if (config->shards)
                config->shards->opened(peer.address);
            else
                admission.opened(peer.address);
        }
    }
    // A new IKE_SA_INIT request (admission.hpp): the rate and half-open SAs of its address
    // (the daemon's, when sharded), then this engine's total.
    InitAdmission::Verdict admit(const IpAddress& from, TimePoint now) {
        if (!config->shards) return admission.check(from, unestablished.size(), now);
        const auto v = config->shards->admit(from, now);
        if (v != InitAdmission::Verdict::admit) return v;
        const std::size_t limit = admission_limits(*config).half_open_limit;
        if (limit != 0 && unestablished.size() >= limit) return InitAdmission::Verdict::total;
        return v;
    }
    void close_half(std::uint64_t spi_i, const Endpoint& peer) { half_open.erase({spi_i, peer}); }
    // Established or gone: no longer counted by the admission limits.
    void release(std::uint64_t ours) {
        auto it = unestablished.find(ours);
        if (it == unestablished.end()) return;
        if (config->shards)
            config->shards->closed(it->second);
        else
            admission.closed(it->second);
        unestablished.erase(it);
    }
};

Engine::Engine(EngineConfig config, AddressPools* pools, Random random, WallClock wall_clock)
    : config_(std::move(config)), impl_(std::make_unique<Impl>()) {
    impl_->wall_clock =
        wall_clock ? std::move(wall_clock) : WallClock([] { return std::time(nullptr); });
    impl_->pools = pools;
    impl_->random = random ? std::move(random) : Random(crypto::fill_random);
    impl_->config = &config_;
    impl_->next_id = config_.shard_index + 1;
    {
        // 12 octets drawn, 8 used: a size no SPI, nonce or key has (tests steer those draws).
        std::array<std::uint8_t, 12> k{};
        impl_->random(k);
        impl_->esp_spis.emplace(
            config_.shard_index,
            std::array<std::uint16_t, 4>{static_cast<std::uint16_t>(k[0] << 8 | k[1]),
                                         static_cast<std::uint16_t>(k[2] << 8 | k[3]),
                                         static_cast<std::uint16_t>(k[4] << 8 | k[5]),
                                         static_cast<std::uint16_t>(k[6] << 8 | k[7])});
    }
    impl_->verifier = verifier_for(config_);
    set_admission_limits(impl_->admission, config_);
    if (!config_.trust_anchors.empty())
        impl_->certreq = wire::Payload{PayloadType::CERTREQ, false,
                                       crypto::certreq_payload(config_.trust_anchors)};
    impl_->cookie_secret.resize(32);
    impl_->random(impl_->cookie_secret);
}

Engine::~Engine() = default;

namespace {

bool child_delete_due(const IkeSa& sa) {
    if (!sa.pending_child_deletes.empty()) return true;
    return std::any_of(sa.children.begin(), sa.children.end(),
                       [](const sa::ChildSa& c) { return c.state == sa::ChildState::Rekeyed; });
}

// The CHILD_SA to rekey first (state Installed, rekey time passed), if any.
sa::ChildSa* child_to_rekey(IkeSa& sa, TimePoint now) {
    sa::ChildSa* best = nullptr;
    for (auto& c : sa.children)
        if (c.state == sa::ChildState::Installed && c.rekey_at <= now &&
            (!best || c.rekey_at < best->rekey_at))
            best = &c;
    return best;
}

// When this SA next needs the timer: retransmission, half-open expiry, rekeying and
// lifetimes, liveness check, NAT keepalive, whichever comes first.
std::optional<TimePoint> due(const EngineConfig& cfg, const IkeSa& sa) {
    std::optional<TimePoint> t = sa.tasks.deadline();
    auto earliest = [&](TimePoint x) {
        if (x != TimePoint::max() && (!t || x < *t)) t = x;
    };
    if (sa.state() == IkeSaState::HalfOpen) earliest(sa.created + cfg.half_open_timeout);
    if (sa.state() == IkeSaState::Rekeyed) earliest(sa.linger_until);
    if (!sa.established()) return t;
    // Hard lifetimes end SAs whatever else is going on.
    earliest(sa.expire_at);
    earliest(sa.reauth_at);  // responder: the deadline; initiator: not waiting for the window
    for (const auto& c : sa.children)
        earliest(c.expire_at);
    if (sa.nat_local && cfg.nat_keepalive.count() > 0)
        earliest(sa.last_keepalive + cfg.nat_keepalive);
    // The rest are requests of ours: they wait for the window (one at a time, §2.3).
    if (sa.tasks.busy()) return t;
    if (child_delete_due(sa) || sa.update_addresses_due) earliest(sa.last_heard);
    earliest(sa.rekey_at);
    for (const auto& c : sa.children)
        if (c.state == sa::ChildState::Installed) earliest(c.rekey_at);
    if (cfg.dpd_delay.count() > 0) earliest(sa.last_heard + cfg.dpd_delay);
    return t;
}

}  // namespace

static std::string spi_hex(std::uint64_t spi) {
    return to_hex(exchange::spi_bytes(IkeSpi(spi)));
}

// Re-files the SA in the timer queue after anything changed it.
static void reschedule(Engine::Impl& impl, const EngineConfig& cfg, const IkeSa& sa) {
    impl.publish_count(sa, false);
    const std::uint64_t spi = sa.local_spi().value();
    impl.unschedule(sa);
    if (sa.state() == IkeSaState::Dead) return;
    if (auto t = due(cfg, sa)) {
        impl.timers.insert({*t, spi});
        sa.timer_due = *t;
    }
}

IkeSa& Engine::Impl::adopt(std::unique_ptr<IkeSa> sa) {
    IkeSa& ref = insert(std::move(sa));
    reschedule(*this, *config, ref);
    return ref;
}

void Engine::Impl::touch(const IkeSa& sa) {
    if (by_spi.count(sa.local_spi().value())) reschedule(*this, *config, sa);
}

// Takes the SA out of the engine's tables (frees it).
static void forget(Engine::Impl& impl, const IkeSa& sa) {
    const std::uint64_t spi = sa.local_spi().value();
    impl.unschedule(sa);
    impl.close_half(sa.spi_i.value(), sa.remote);
    impl.release(spi);
    impl.publish_count(sa, true);
    impl.unfile_user(sa);
    auto [first, last] = impl.by_id_index.equal_range(sa.id);
    for (auto it = first; it != last; ++it)
        if (it->second == &sa) {
            impl.by_id_index.erase(it);
            break;
        }
    impl.by_spi.erase(spi);
}

static void destroy(Engine::Impl& impl, const Ctx& ctx, IkeSa& sa, const std::string& why) {
    if (sa.reauth_of && !sa.established())
        if (IkeSa* old = impl.by_id(sa.reauth_of)) {
            // The reauthentication failed: the old IKE SA carries on and tries again.
            old->reauth_at = exchange::retry_time(ctx);
            ctx.log(old, "reauthentication failed (" + why + "), retrying later");
            impl.touch(*old);
        }
    exchange::remove_children(ctx, sa);
    exchange::release_virtual_ip(ctx, sa);
    if (sa.retired) {
        // Replaced by a rekeyed IKE SA (or never used): its peer is still connected.
        ctx.log(&sa, "replaced IKE SA " + spi_hex(sa.local_spi().value()) + " gone (" + why + ")");
        forget(impl, sa);
        return;
    }
    ++ctx.stats.deleted;
    Event e{EventKind::IkeDeleted, sa.id, sa.name() + ": IKE SA deleted (" + why + ")"};
    if (sa.established_at) {  // a logged-in peer leaves: the audit log's disconnect
        e.peer = sa.remote;
        e.identity = e.user = sa.user;
        e.reason = why;
        e.connection = sa.connection ? sa.connection->name : "";
        e.auth_method = sa.auth_method;
        for (const auto& v : sa.virtual_ips)
            e.virtual_ips.push_back(v.address);
    }
    ctx.out.events.push_back(std::move(e));
    forget(impl, sa);
}

std::size_t Engine::Impl::end_duplicates(const Ctx& ctx, const IkeSa& fresh,
                                         const std::string& user) {
    std::vector<std::uint64_t> ended;
    for (const IkeSa* sa : sas_of(user)) {
        if (sa == &fresh || sa->id == fresh.id || sa->retired || !sa->established()) continue;
        if (sa->connection != fresh.connection || sa->user != user) continue;
        ended.push_back(sa->local_spi().value());
    }
    std::sort(ended.begin(), ended.end());  // the order they are ended in, as before
    const std::string why =
        "replaced by a new IKE SA with INITIAL_CONTACT from " + fresh.remote.to_string();
    for (auto spi : ended) {
        IkeSa& old = *by_spi.at(spi);
        ++ctx.stats.initial_contact_replaced;
        destroy(*this, ctx, old, why);
    }
    // Sharded: the user's SAs on the other shards go too (on their threads, soon after).
    if (config->shards && fresh.connection && elsewhere(user, counted_here(user)) > 0)
        config->shards->end_elsewhere(config->shard_index, fresh.connection->name, user, why);
    return ended.size();
}

static void drop(const Ctx& ctx, std::uint64_t& counter, const Datagram& in,
                 const std::string& why) {
    ++counter;
    ctx.event(EventKind::Dropped, nullptr, in.remote.to_string() + ": dropped: " + why);
}

void Engine::on_datagram(const Datagram& in, TimePoint now, Actions& out) {
    Impl& impl = *impl_;
    Ctx ctx = impl.ctx(*this, now, out);
    ++stats_.received;
    // RFC 3948 §2.3: a NAT keepalive is a single 0xFF octet.
    if (in.data.size() == 1 && in.data[0] == 0xff) return;
    // Garbage is counted, nothing more (no event: a flood of it must stay cheap).
    if (obviously_not_ike(in.data)) {
        ++stats_.dropped_malformed;
        ++stats_.dropped_garbage;
        return;
    }

    auto m = wire::parse_message(in.data);
    if (!m) {
        // RFC 7296 §2.5 / §3.10.1: a request of a major version we do not speak is dropped
        // and answered, unauthenticated, with INVALID_MAJOR_VERSION; the reply's header carries
        // the version we do speak (2.0). Responses are never answered.
        if (m.error().notify == NotifyType::INVALID_MAJOR_VERSION && in.data.size() >= 28 &&
            !(in.data[19] & wire::kFlagResponse)) {
            wire::Header h;
            h.initiator_spi = IkeSpi(wire::Reader(ByteView(in.data).first(8)).u64("SPIi"));
            h.responder_spi = IkeSpi(wire::Reader(ByteView(in.data).subspan(8, 8)).u64("SPIr"));
            h.exchange = static_cast<ExchangeType>(in.data[18]);
            h.response = true;
            h.message_id = MessageId(wire::Reader(ByteView(in.data).subspan(20, 4)).u32("ID"));
            wire::Message reply{h, {wire::make_notify(NotifyType::INVALID_MAJOR_VERSION)}};
            out.send.push_back(Datagram{in.local, in.remote, wire::serialize(reply)});
            ++stats_.sent;
        }
        return drop(ctx, stats_.dropped_malformed, in, m.error().reason);
    }
    const wire::Header& h = m->header;

    // A new IKE SA, or a retransmission of the request that made one.
    if (h.exchange == ExchangeType::IKE_SA_INIT && !h.response && h.responder_spi.value() == 0) {
        if (auto it = impl.half_open.find({h.initiator_spi.value(), in.remote});
            it != impl.half_open.end()) {
            IkeSa& sa = *impl.by_spi.at(it->second);
            if (sa.init_request == in.data) {
                ++stats_.retransmitted;
                exchange::send_datagrams(ctx, sa, sa.tasks.cached_response());
            } else {
                drop(ctx, stats_.dropped_window, in, "IKE_SA_INIT for an SA being set up");
            }
            return;
        }
        // Under a flood: dropped unanswered and counted, no event (admission.hpp).
        switch (impl.admit(in.remote.address, now)) {
            case InitAdmission::Verdict::admit:
                break;
            case InitAdmission::Verdict::rate_limited:
                ++stats_.dropped_init_rate;
                return;
            case InitAdmission::Verdict::per_address:
                ++stats_.dropped_half_open_address;
                return;
            case InitAdmission::Verdict::total:
                ++stats_.dropped_half_open_total;
                return;
        }
        if (auto ok = wire::check(h.exchange, false, m->payloads); !ok)
            return drop(ctx, stats_.dropped_malformed, in, ok.error().reason);
        const bool cookies =
            impl.half_open.size() >= per_shard(config_.cookie_threshold, config_.shard_count);
        auto sa =
            exchange::respond_ike_sa_init(ctx, impl.next_id, in, *m, cookies, impl.cookie_secret);
        if (!sa) return;
        impl.take_id();
        const std::uint64_t spi = sa->local_spi().value();
        impl.open_half(sa->spi_i.value(), sa->remote, spi);
        IkeSa& ref = impl.insert(std::move(sa));
        reschedule(impl, config_, ref);
        return;
    }

    // Everything else belongs to an SA we know: the SPI that is ours is the responder's when
    // the sender is the original initiator.
    const std::uint64_t ours = h.initiator ? h.responder_spi.value() : h.initiator_spi.value();
    auto it = impl.by_spi.find(ours);
    if (it == impl.by_spi.end())
        return drop(ctx, stats_.dropped_unknown_spi, in, "unknown SPI " + spi_hex(ours));
    IkeSa& sa = *it->second;
    const bool from_initiator = h.initiator;
    if (from_initiator != (sa.role == sa::Role::Responder))
        return drop(ctx, stats_.dropped_malformed, in, "wrong Initiator flag");
    if (!(h.exchange == ExchangeType::IKE_SA_INIT && h.response) &&
        (h.initiator_spi != sa.spi_i || h.responder_spi != sa.spi_r))
        return drop(ctx, stats_.dropped_unknown_spi, in, "SPI mismatch");

    auto finish = [&](bool alive, const std::string& why) {
        if (!alive || sa.state() == IkeSaState::Dead) return destroy(impl, ctx, sa, why);
        if (sa.established()) {
            impl.release(sa.local_spi().value());
            sa.release_setup_state();
        }
        impl.file_user(sa);
        // What waited for the window (a Delete after a rekey, a rekey) goes out now.
        if (sa.established() && !sa.tasks.busy()) start_work(ctx, sa);
        reschedule(impl, config_, sa);
    };

    if (h.response) {
        if (!sa.tasks.answers_outstanding(h.message_id))
            return drop(ctx, stats_.dropped_window, in,
                        "response " + std::to_string(h.message_id.value()) + " not expected");
        if (h.exchange == ExchangeType::IKE_SA_INIT) {
            if (sa.state() != IkeSaState::InitSent)
                return drop(ctx, stats_.dropped_window, in, "unexpected IKE_SA_INIT response");
            bool alive = exchange::handle_ike_sa_init_response(ctx, sa, in, *m);
            sa.last_heard = now;
            return finish(alive, "IKE_SA_INIT failed");
        }
    } else {
        switch (sa.tasks.classify_request(h.message_id)) {
            case sa::TaskManager::Incoming::Retransmit: {
                // RFC 7383 §2.6.1: answer a fragmented retransmission once, on fragment 1.
                const auto* skf = m->encrypted()
                                      ? m->encrypted()->get<wire::EncryptedFragmentPayload>()
                                      : nullptr;
                if (skf && skf->fragment_number != 1) return;
                ++stats_.retransmitted;
                // §2.11: back to where the request came from (a MOBIKE peer may have moved).
                exchange::send_datagrams(ctx, in.local, in.remote, sa.tasks.cached_response());
                return;
            }
            case sa::TaskManager::Incoming::Invalid:
                return drop(ctx, stats_.dropped_window, in,
                            "request " + std::to_string(h.message_id.value()) + " outside window");
            case sa::TaskManager::Incoming::New:
                break;
        }
    }

    // Decrypt (SK) or reassemble (SKF).
    if (!sa.cipher_in || !m->encrypted())
        return drop(ctx, stats_.dropped_malformed, in, "not encrypted");
    std::vector<wire::Payload> inner;
    if (m->encrypted()->type == PayloadType::SK) {
        auto r = sa::open_message(*m, in.data, *sa.cipher_in);
        if (!r) {
            if (r.error().kind == sa::OpenError::Kind::Integrity)
                return drop(ctx, stats_.dropped_integrity, in, r.error().reason);
            if (!h.response)
                exchange::send_response(ctx, sa, h.exchange, h.message_id,
                                        {wire::make_notify(NotifyType::INVALID_SYNTAX)});
            return drop(ctx, stats_.dropped_malformed, in, r.error().reason);
        }
        inner = std::move(*r);
    } else {
        auto& frags = h.response ? sa.tasks.response_fragments() : sa.tasks.request_fragments();
        auto r = frags.add(*m, in.data, *sa.cipher_in);
        if (!r) {
            if (r.error().kind == sa::OpenError::Kind::Integrity)
                return drop(ctx, stats_.dropped_integrity, in, r.error().reason);
            return drop(ctx, stats_.dropped_malformed, in, r.error().reason);
        }
        if (*r != sa::Reassembler::Status::Complete) return;
        inner = frags.take();
    }
    // Authenticated from here on.
    sa.last_heard = now;
    if (!h.response) sa.request_path = IkeSa::RequestPath{h.message_id, in.local, in.remote};
    if (auto ok = wire::check(h.exchange, h.response, m->payloads, inner); !ok) {
        if (!h.response)
            exchange::send_response(ctx, sa, h.exchange, h.message_id,
                                    {wire::make_notify(NotifyType::INVALID_SYNTAX)});
        drop(ctx, stats_.dropped_malformed, in, ok.error().reason);
        return finish(true, "");
    }
    ctx.log(&sa, "received " + wire::describe(h, inner));
    if (h.exchange == ExchangeType::IKE_AUTH) exchange::note_mobike_supported(sa, inner);
    // RFC 7296 §2.23: behind a NAT the peer's address or port may change (and it floats to
    // 4500 after IKE_SA_INIT); follow it on every authenticated message, CHILD_SAs included.
    // With MOBIKE the addresses change only by UPDATE_SA_ADDRESSES (RFC 4555 §3.8).
    if (sa.mobike) {
        if (in.remote != sa.remote && !exchange::is_update_addresses(inner))
            ctx.log(&sa, "message from " + in.remote.to_string() +
                             ": MOBIKE in use, addresses kept until UPDATE_SA_ADDRESSES");
    } else if (exchange::is_update_addresses(inner)) {
        // Not negotiated: refused by respond_update_addresses, addresses kept.
    } else if (in.remote != sa.remote &&
               (sa.nat_remote || sa.nat_local || in.local.port != sa.local.port)) {
        ctx.log(&sa, "peer moved to " + in.remote.to_string());
        impl.close_half(sa.spi_i.value(), sa.remote);
        sa.remote = in.remote;
        sa.local = in.local;
        if (sa.established()) exchange::move_children(ctx, sa);
    } else if (in.local != sa.local) {
        sa.local = in.local;
    }

    if (h.response) {
        sa.tasks.complete_request();
        using Kind = sa::OwnRequest::Kind;
        switch (h.exchange) {
            case ExchangeType::IKE_AUTH:
                if (sa.state() != IkeSaState::AuthSent) return finish(true, "");
                return finish(exchange::handle_ike_auth_response(ctx, sa, inner),
                              "IKE_AUTH failed");
            case ExchangeType::INFORMATIONAL:
                if (sa.state() == IkeSaState::Deleting) return finish(false, "deleted by us");
                if (sa.request.kind == Kind::ChildDelete)
                    exchange::handle_child_delete_response(ctx, sa);
                if (sa.request.kind == Kind::UpdateAddresses)
                    exchange::handle_update_addresses_response(ctx, sa, inner);
                sa.request = {};
                return finish(true, "");
            case ExchangeType::CREATE_CHILD_SA:
                if (sa.request.kind == Kind::IkeRekey)
                    exchange::handle_ike_rekey_response(ctx, sa, inner);
                else
                    exchange::handle_create_child_response(ctx, sa, inner);
                return finish(true, "");
            default:
                sa.request = {};
                return finish(true, "");
        }
    }
    switch (h.exchange) {
        case ExchangeType::IKE_AUTH:
            if (sa.state() != IkeSaState::HalfOpen) {
                exchange::send_response(ctx, sa, h.exchange, h.message_id,
                                        {wire::make_notify(NotifyType::INVALID_SYNTAX)});
                return finish(true, "");
            }
            impl.close_half(sa.spi_i.value(), sa.remote);
            return finish(exchange::respond_ike_auth(ctx, sa, h.message_id, inner),
                          "authentication failed");
        case ExchangeType::INFORMATIONAL:
            if (exchange::is_update_addresses(inner) && sa.established()) {
                exchange::respond_update_addresses(ctx, sa, h.message_id, inner, in);
                return finish(true, "");
            }
            return finish(exchange::respond_informational(ctx, sa, h.message_id, inner),
                          "deleted by the peer");
        case ExchangeType::CREATE_CHILD_SA:
            if (sa.state() == IkeSaState::HalfOpen) {
                // §1.3: only after IKE_AUTH.
                exchange::send_response(ctx, sa, h.exchange, h.message_id,
                                        {wire::make_notify(NotifyType::INVALID_SYNTAX)});
                return finish(true, "");
            }
            exchange::respond_create_child(ctx, sa, h.message_id, inner);
            return finish(true, "");
        default:
            // IKE_SA_INIT on an SA that exists, IKE_INTERMEDIATE, IKE_FOLLOWUP_KE: not for now.
            exchange::send_response(ctx, sa, h.exchange, h.message_id,
                                    {wire::make_notify(NotifyType::INVALID_SYNTAX)});
            return finish(true, "");
    }
}

void Engine::on_timer(TimePoint now, Actions& out) {
    Impl& impl = *impl_;
    Ctx ctx = impl.ctx(*this, now, out);
    while (!impl.timers.empty() && impl.timers.begin()->first <= now) {
        const std::uint64_t spi = impl.timers.begin()->second;
        impl.timers.erase(impl.timers.begin());
        auto it = impl.by_spi.find(spi);
        if (it == impl.by_spi.end()) continue;
        IkeSa& sa = *it->second;
        sa.timer_due = TimePoint::max();  // its entry just left the queue

        switch (sa.tasks.on_timer(now)) {
            case sa::TaskManager::Timeout::Retransmit:
                ++stats_.retransmitted;
                ctx.log(&sa, "retransmitting request " +
                                 std::to_string(sa.tasks.next_request_id().value()) + " (" +
                                 std::to_string(sa.tasks.retransmits()) + ")");
                exchange::send_datagrams(ctx, sa, sa.tasks.outstanding());
                break;
            case sa::TaskManager::Timeout::GiveUp:
                destroy(impl, ctx, sa, "peer did not answer");
                continue;
            case sa::TaskManager::Timeout::None:
                break;
        }
        if (sa.state() == IkeSaState::HalfOpen && now >= sa.created + config_.half_open_timeout) {
            ++stats_.half_open_expired;
            destroy(impl, ctx, sa, "half-open too long");
            continue;
        }
        if (sa.state() == IkeSaState::Rekeyed && now >= sa.linger_until) {
            // The peer never deleted the IKE SA its rekey replaced: we do.
            if (sa.tasks.busy()) {
                destroy(impl, ctx, sa, "replaced, the peer never deleted it");
                continue;
            }
            exchange::start_delete(ctx, sa);
        }
        if (sa.established() && now >= sa.reauth_at && sa.role == sa::Role::Initiator) {
            sa.reauth_at = TimePoint::max();  // set again if it fails
            start_reauth(ctx, sa);
        }
        if (sa.established() && now >= sa.reauth_at && sa.role == sa::Role::Responder) {
            // RFC 4478: the peer was told to reauthenticate by now and did not.
            ctx.log(&sa, "the peer did not reauthenticate within its AUTH_LIFETIME");
            if (sa.tasks.busy()) {
                destroy(impl, ctx, sa, "not reauthenticated in time");
                continue;
            }
            exchange::start_delete(ctx, sa);
        }
        if (sa.established() && now >= sa.expire_at) {
            // Not rekeyed in time (§2.8: the hard lifetime).
            ctx.log(&sa, "IKE SA lifetime ended");
            if (sa.tasks.busy()) {
                destroy(impl, ctx, sa, "lifetime ended");
                continue;
            }
            exchange::start_delete(ctx, sa);
        }
        if (sa.established()) expire_children(ctx, sa);
        if (sa.established() && !sa.tasks.busy()) start_work(ctx, sa);
        if (sa.established() && sa.nat_local && config_.nat_keepalive.count() > 0 &&
            now >= sa.last_keepalive + config_.nat_keepalive) {
            out.send.push_back(Datagram{sa.local, sa.remote, Bytes{0xff}});
            sa.last_keepalive = now;
        }
        reschedule(impl, config_, sa);
    }
}

void Engine::expire_children(const Ctx& ctx, IkeSa& sa) {
    std::vector<EspSpi> ended;
    for (const auto& c : sa.children)
        if (ctx.now >= c.expire_at) ended.push_back(c.spi_in);
    for (EspSpi spi : ended)
        end_child(ctx, sa, spi, "hard lifetime reached");
}

void Engine::end_child(const Ctx& ctx, IkeSa& sa, EspSpi spi_in, const std::string& why) {
    const sa::ChildSa* c = exchange::find_child(sa, spi_in, /*inbound=*/true);
    if (!c) return;
    // Its Delete goes out as soon as the window allows; the data plane state goes now. A
    // Delete already on its way covers it.
    if (c->state != sa::ChildState::Deleting) sa.pending_child_deletes.push_back(spi_in);
    exchange::remove_child(ctx, sa, spi_in, "deleted: " + why);
}

void Engine::start_reauth(const Ctx& ctx, IkeSa& old) {
    // §2.8.3, make-before-break: a new IKE SA from scratch for the same connection and peer;
    // once it is up, the old one is deleted (exchange::retire_reauthenticated).
    Impl& impl = *impl_;
    auto sa = std::make_unique<IkeSa>(
        impl.take_id(), sa::Role::Initiator,
        sa::RetransmitPolicy{config_.retransmit_timeout, config_.retransmit_base,
                             config_.retransmit_tries});
    sa->connection = old.connection;
    sa->local = old.local;
    sa->remote = old.remote;
    sa->reauth_of = old.id;
    sa->reauth_addresses = old.assigned;
    sa->created = sa->last_heard = sa->last_keepalive = ctx.now;
    exchange::start_ike_sa_init(ctx, *sa);
    if (sa->state() == IkeSaState::Dead) {
        old.reauth_at = exchange::retry_time(ctx);
        return;
    }
    ctx.log(&old, "reauthenticating (new IKE SA " + std::to_string(sa->id) + ")");
    impl.adopt(std::move(sa));
}

void Engine::start_work(const Ctx& ctx, IkeSa& sa) {
    // One request at a time (§2.3), most urgent first: Deletes of CHILD_SAs that are gone or
    // replaced, rekeying the IKE SA, rekeying a CHILD_SA, a liveness check. An address
    // update (MOBIKE) goes before all of them: nothing else gets through until it is done.
    // (Reauthenticating uses another IKE SA: on_timer starts it whatever this one's window.)
    if (sa.update_addresses_due) {
        exchange::start_update_addresses(ctx, sa);
        return;
    }
    if (child_delete_due(sa) && exchange::start_child_delete(ctx, sa)) return;
    if (ctx.now >= sa.rekey_at) {
        sa.rekey_at = TimePoint::max();  // set again by the rekey, or by its failure
        exchange::start_ike_rekey(ctx, sa);
        if (sa.tasks.busy()) return;
    }
    if (sa::ChildSa* c = child_to_rekey(sa, ctx.now)) {
        exchange::start_child_rekey(ctx, sa, c->spi_in);
        if (sa.tasks.busy()) return;
    }
    if (config_.dpd_delay.count() > 0 && ctx.now >= sa.last_heard + config_.dpd_delay &&
        !esp_arrived(sa, ctx.now))
        exchange::start_liveness_check(ctx, sa);
}

bool Engine::esp_arrived(IkeSa& sa, TimePoint now) {
    if (!config_.inbound_idle) return false;
    std::optional<std::chrono::seconds> least;
    for (const auto& c : sa.children) {
        if (!c.installed) continue;
        auto idle = config_.inbound_idle(c.spi_in);
        if (idle && (!least || *idle < *least)) least = idle;
    }
    if (!least || *least >= config_.dpd_delay) return false;
    // The peer is alive as of the last ESP packet: the next check is dpd_delay after it.
    const TimePoint heard = now - std::chrono::duration_cast<TimePoint::duration>(*least);
    if (heard > sa.last_heard) sa.last_heard = heard;
    ++stats_.dpd_skipped;
    return true;
}

std::optional<TimePoint> Engine::next_timer() const {
    if (impl_->timers.empty()) return std::nullopt;
    return impl_->timers.begin()->first;
}

tl::expected<std::uint64_t, std::string> Engine::initiate(const std::string& name,
                                                          const Endpoint& local, TimePoint now,
                                                          Actions& out) {
    const ConnectionConfig* conn = nullptr;
    for (const auto& c : config_.connections)
        if (c.name == name) conn = &c;
    if (!conn) return tl::unexpected("no connection named " + name);
    if (!conn->remote_endpoint)
        return tl::unexpected("connection " + name + " has no remote address");
    if (conn->ike_proposals.empty() || conn->ike_proposals.front().ke.empty())
        return tl::unexpected("connection " + name + " has no IKE proposal with a key exchange");
    Impl& impl = *impl_;
    Ctx ctx = impl.ctx(*this, now, out);
    auto sa = std::make_unique<IkeSa>(
        impl.take_id(), sa::Role::Initiator,
        sa::RetransmitPolicy{config_.retransmit_timeout, config_.retransmit_base,
                             config_.retransmit_tries});
    sa->connection = conn;
    sa->local = local;
    sa->remote = *conn->remote_endpoint;
    sa->created = sa->last_heard = sa->last_keepalive = now;
    exchange::start_ike_sa_init(ctx, *sa);
    if (sa->state() == IkeSaState::Dead)
        return tl::unexpected(std::string("cannot start IKE_SA_INIT"));
    const std::uint64_t id = sa->id;
    IkeSa& ref = impl.insert(std::move(sa));
    reschedule(impl, config_, ref);
    return id;
}

bool Engine::terminate(std::uint64_t id, TimePoint now, Actions& out) {
    Impl& impl = *impl_;
    Ctx ctx = impl.ctx(*this, now, out);
    IkeSa* sa = impl.by_id(id);
    if (!sa) return false;
    if (sa->established() && !sa->tasks.busy()) {
        exchange::start_delete(ctx, *sa);
        reschedule(impl, config_, *sa);
    } else {
        destroy(impl, ctx, *sa, "terminated");
    }
    return true;
}

void Engine::abandon_all(TimePoint now, Actions& out) {
    Impl& impl = *impl_;
    Ctx ctx = impl.ctx(*this, now, out);
    // In SPI order, as everywhere several SAs are acted on: the actions come out the same way
    // each run, whatever the hash table's order.
    for (std::uint64_t spi : impl.sorted_spis())
        if (auto it = impl.by_spi.find(spi); it != impl.by_spi.end())
            destroy(impl, ctx, *it->second, "abandoned at shutdown");
}

bool Engine::expire_child(EspSpi spi, bool inbound, bool hard, TimePoint now, Actions& out) {
    Impl& impl = *impl_;
    Ctx ctx = impl.ctx(*this, now, out);
    for (auto& [ours, sa] : impl.by_spi) {
        sa::ChildSa* c = exchange::find_child(*sa, spi, inbound);
        if (!c) continue;
        const char* dir = inbound ? "inbound" : "outbound";
        if (!hard) {
            // Rekey it now (if it is not being rekeyed or replaced already).
            if (c->state == sa::ChildState::Installed && c->rekey_at > now) {
                ctx.log(sa.get(), exchange::describe_child(*c) + ": " + dir +
                                      " soft lifetime reached, rekeying");
                c->rekey_at = now;
            }
        } else {
            end_child(ctx, *sa, c->spi_in, std::string(dir) + " hard lifetime reached");
        }
        if (sa->established() && !sa->tasks.busy()) start_work(ctx, *sa);
        reschedule(impl, config_, *sa);
        return true;
    }
    return false;
}

std::size_t Engine::local_address_changed(std::uint64_t id, const Endpoint& local, TimePoint now,
                                          Actions& out) {
    Impl& impl = *impl_;
    Ctx ctx = impl.ctx(*this, now, out);
    std::size_t n = 0;
    for (std::uint64_t spi : impl.sorted_spis()) {
        IkeSa* sa = impl.by_spi.at(spi).get();
        if ((id != 0 && sa->id != id) || sa->retired || !sa->established()) continue;
        if (sa->role != sa::Role::Initiator) continue;  // RFC 4555 §3.5: the initiator updates
        const bool forced = sa->connection && sa->connection->emulate.mobike_unnegotiated;
        if (!sa->mobike && !forced) {
            ctx.log(sa, "our address changed to " + local.to_string() +
                            ", but MOBIKE was not negotiated");
            continue;
        }
        if (local.address.family() != sa->remote.address.family()) {
            ctx.log(sa, "our new address " + local.to_string() +
                            " is not of the peer's address family");
            continue;
        }
        Endpoint next = local;
        if (next.port == 0) next.port = sa->local.port;
        ctx.log(sa, "our address changed from " + sa->local.to_string() + " to " +
                        next.to_string() + ": UPDATE_SA_ADDRESSES");
        // An outstanding request is retransmitted from the new address; the update follows
        // as soon as it is answered (RFC 4555 §3.5).
        sa->local = next;
        sa->update_addresses_due = true;
        if (!sa->tasks.busy()) start_work(ctx, *sa);
        reschedule(impl, config_, *sa);
        ++n;
    }
    return n;
}

std::vector<IkeSaInfo> Engine::list() const {
    std::vector<IkeSaInfo> out;
    for (const auto& [spi, sa] : impl_->by_spi) {
        // A replaced IKE SA, or one a rekey collision may still discard, is not a connection.
        if (sa->retired || sa->provisional) continue;
        IkeSaInfo i{sa->id,
                    sa->connection ? sa->connection->name : "",
                    sa->role,
                    sa->state(),
                    sa->spi_i,
                    sa->spi_r,
                    sa->local,
                    sa->remote,
                    sa->established() ? policy::to_string(sa->remote_identity) : "",
                    sa->algorithms.to_string(),
                    std::nullopt,
                    sa->children.size(),
                    sa->nat_local,
                    sa->nat_remote,
                    sa->mobike,
                    sa->established() ? sa->user : "",
                    {},
                    sa->created,
                    sa->established_at,
                    {}};
        for (const auto& v : sa->virtual_ips)
            i.virtual_ips.push_back(v.address);
        for (const auto& a : sa->assigned)
            i.virtual_ips.push_back(a);
        if (!i.virtual_ips.empty()) i.virtual_ip = i.virtual_ips.front();
        for (const auto& c : sa->children) {
            ChildSaInfo ci{c.reqid, c.spi_in, c.spi_out,  c.algorithms.to_string(),
                           {},      {},       c.installed};
            for (const auto& ts : c.local_ts)
                ci.local_ts.push_back(ts.to_string());
            for (const auto& ts : c.remote_ts)
                ci.remote_ts.push_back(ts.to_string());
            i.child_sas.push_back(std::move(ci));
        }
        out.push_back(std::move(i));
    }
    // By id, so the listing does not follow the hash table's order.
    std::sort(out.begin(), out.end(),
              [](const IkeSaInfo& a, const IkeSaInfo& b) { return a.id < b.id; });
    return out;
}

Engine::AdmissionTables Engine::admission_tables() const {
    if (const ShardDirectory* d = config_.shards.get())
        return {d->addresses_rated(), d->addresses_half_open(), impl_->unestablished.size()};
    return {impl_->admission.addresses_rated(), impl_->admission.addresses_half_open(),
            impl_->unestablished.size()};
}

std::size_t Engine::ike_sa_count() const {
    return impl_->by_spi.size();
}

std::size_t Engine::connection_count() const {
    std::size_t n = 0;
    for (const auto& [spi, sa] : impl_->by_spi)
        n += !sa->retired && !sa->provisional;
    return n;
}

std::vector<std::uint64_t> Engine::sas_of_user(std::string_view user) const {
    std::vector<std::uint64_t> out;
    for (const IkeSa* sa : impl_->sas_of(std::string(user)))
        if (sa->established() && sa->user == user) out.push_back(sa->id);
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
    return out;
}

std::size_t Engine::reload(EngineConfig config, TimePoint now, Actions& out) {
    Impl& impl = *impl_;
    Ctx ctx = impl.ctx(*this, now, out);
    auto find = [&](const std::string& name) -> const ConnectionConfig* {
        for (const auto& c : config.connections)
            if (c.name == name) return &c;
        return nullptr;
    };
    // SAs whose connection is gone: a Delete goes out (when one can) under the old
    // configuration, and the SA is forgotten at once; its answer will find no SA.
    std::vector<std::uint64_t> orphans;
    for (std::uint64_t spi : impl.sorted_spis()) {
        const IkeSa& sa = *impl.by_spi.at(spi);
        if (sa.connection && !find(sa.connection->name)) orphans.push_back(spi);
    }
    for (auto spi : orphans) {
        IkeSa& sa = *impl.by_spi.at(spi);
        if (sa.established() && !sa.tasks.busy()) exchange::start_delete(ctx, sa);
        destroy(impl, ctx, sa, "connection removed by reload");
    }
    // The rest move to their connection's new definition, by name.
    std::map<std::uint64_t, std::string> names;
    for (auto& [spi, sa] : impl.by_spi)
        if (sa->connection) names[spi] = sa->connection->name;
    if (!config.inbound_idle) config.inbound_idle = std::move(config_.inbound_idle);
    config.shard_index = config_.shard_index;  // an engine stays the shard it is
    config.shard_count = config_.shard_count;
    config.shards = config_.shards;
    config_ = std::move(config);
    for (auto& [spi, name] : names)
        for (const auto& c : config_.connections)
            if (c.name == name) impl.by_spi.at(spi)->connection = &c;
    impl.verifier = verifier_for(config_);
    set_admission_limits(impl.admission, config_);
    impl.certreq.reset();
    if (!config_.trust_anchors.empty())
        impl.certreq = wire::Payload{PayloadType::CERTREQ, false,
                                     crypto::certreq_payload(config_.trust_anchors)};
    return orphans.size();
}

std::size_t Engine::end_user_sas(const std::string& connection, const std::string& user,
                                 const std::string& why, TimePoint now, Actions& out) {
    Impl& impl = *impl_;
    Ctx ctx = impl.ctx(*this, now, out);
    std::vector<std::uint64_t> ended;
    for (const IkeSa* sa : impl.sas_of(user)) {
        if (sa->retired || !sa->established() || sa->user != user) continue;
        if (!sa->connection || sa->connection->name != connection) continue;
        ended.push_back(sa->local_spi().value());
    }
    std::sort(ended.begin(), ended.end());
    for (auto spi : ended) {
        ++stats_.initial_contact_replaced;
        destroy(impl, ctx, *impl.by_spi.at(spi), why);
    }
    return ended.size();
}

}  // namespace postern::ike
