#include "db/persistent_pools.hpp"

namespace postern::db {

namespace {

// a + 1, or nullopt when it wraps past the family's last address.
std::optional<IpAddress> successor(IpAddress a) {
    for (std::size_t i = a.size(); i-- > 0;) {
        if (++a.data()[i] != 0) return a;
    }
    return std::nullopt;
}

bool in_prefix(const IpAddress& a, const ike::policy::Cidr& cidr) {
    if (a.family() != cidr.network.family()) return false;
    const auto x = a.bytes(), n = cidr.network.bytes();
    unsigned bits = cidr.prefix;
    for (std::size_t i = 0; bits > 0; ++i, bits = bits >= 8 ? bits - 8 : 0) {
        const std::uint8_t mask = bits >= 8 ? 0xff : static_cast<std::uint8_t>(0xff << (8 - bits));
        if ((x[i] & mask) != (n[i] & mask)) return false;
    }
    return true;
}

}  // namespace

AddressRange range_of(const ike::policy::AddressPool& pool) {
    AddressRange r;
    r.family = pool.cidr().network.family();
    r.contains = [&pool](const IpAddress& a) { return pool.contains(a); };
    r.next = [&pool](const std::optional<IpAddress>& after) -> std::optional<IpAddress> {
        // Walk the prefix from the network address, skipping what the pool never hands out
        // (network, broadcast, reserved): at most a few steps past each of those.
        std::optional<IpAddress> a = after ? successor(*after) : pool.cidr().network;
        for (; a && in_prefix(*a, pool.cidr()); a = successor(*a))
            if (pool.contains(*a)) return a;
        return std::nullopt;
    };
    return r;
}

Result<PersistentPools> PersistentPools::create(Database& db, const std::vector<PoolSpec>& pools,
                                                bool release_stale, ErrorSink on_error,
                                                bool batch_commits) {
    PersistentPools out(db, std::move(on_error), batch_commits);
    for (const auto& spec : pools) {
        auto pool = ike::policy::AddressPool::create(spec.cidr, spec.reserve);
        if (!pool) return fail(ErrorKind::invalid_argument, "pool " + spec.name + ": " + pool.error());
        out.pools_[spec.name].push_back(std::move(*pool));
    }
    if (release_stale) {
        if (auto r = out.leases_.release_all(); !r) return tl::unexpected(r.error());
    }
    return out;
}

std::optional<IpAddress> PersistentPools::acquire(const std::string& pool,
                                                  const std::string& identity,
                                                  IpAddress::Family family,
                                                  std::optional<IpAddress> requested) {
    auto it = pools_.find(pool);
    if (it == pools_.end()) return std::nullopt;
    for (const auto& p : it->second) {
        if (p.cidr().network.family() != family) continue;
        AddressRange range = range_of(p);
        range.used_through = &used_through_[{pool, family}];
        if (!open_ && !begin("acquire an address in pool \"" + pool + "\"")) return std::nullopt;
        write_releases();  // first: a returning identity finds its address released
        auto a = leases_.acquire_in_transaction(pool, identity, range, requested);
        if (!a) report(a.error());
        // Committed now, or with the batch by the caller's sync(); after an error, what the
        // transaction holds (SQLite may have rolled it back itself).
        if (!a || !batch_) sync();
        return a ? *a : std::nullopt;
    }
    return std::nullopt;
}

void PersistentPools::release(const std::string& pool, const IpAddress& address) {
    pending_.push_back(PendingRelease{pool, address});
    if (pending_.size() >= kMaxPendingReleases) sync();
}

void PersistentPools::write_releases() {
    // On failure a lease stays active until the next start releases them all (as after a
    // crash): it is not handed out twice.
    for (const auto& r : pending_)
        if (auto done = leases_.release(r.pool, r.address); !done) report(done.error());
    pending_.clear();
}

bool PersistentPools::begin(const std::string& what) {
    auto tx = db_->begin_write(what);
    if (!tx) {
        report(tx.error());
        return false;
    }
    open_.emplace(std::move(*tx));
    return true;
}

void PersistentPools::sync() {
    if (!open_ && pending_.empty()) return;
    if (!open_ && !begin("release " + std::to_string(pending_.size()) + " leases")) {
        pending_.clear();  // those leases stay active until the next start releases them all
        return;
    }
    write_releases();
    Transaction tx = std::move(*open_);
    open_.reset();
    // A failed commit loses the batch's rows: their addresses may be handed out again. Only a
    // broken disk does that (the write lock is held since the first acquire).
    if (auto r = tx.commit(); !r) report(r.error());
}

}  // namespace postern::db
