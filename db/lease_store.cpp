#include "db/lease_store.hpp"

#include <algorithm>
#include <tuple>

namespace postern::db {

namespace {

std::int64_t family_number(IpAddress::Family f) { return f == IpAddress::Family::V4 ? 4 : 6; }

std::string lease_what(std::string_view verb, std::string_view pool, std::string_view identity) {
    return std::string(verb) + " in pool \"" + std::string(pool) + "\" for \"" +
           std::string(identity) + "\"";
}

// The first address in `rows` (a statement selecting one address column) that the range still
// contains. Addresses that no longer parse or fit are skipped, not errors: the configuration
// may have changed since they were written.
Result<std::optional<IpAddress>> first_contained(Statement& st, const AddressRange& range) {
    for (;;) {
        auto row = st.step();
        if (!row) return tl::unexpected(row.error());
        if (!*row) return std::optional<IpAddress>{};
        auto a = IpAddress::parse(st.text(0));
        if (a && a->family() == range.family && range.contains(*a)) return a;
    }
}

}  // namespace

Result<std::optional<IpAddress>> LeaseStore::acquire(std::string_view pool,
                                                     std::string_view identity,
                                                     const AddressRange& range,
                                                     std::optional<IpAddress> requested) {
    auto tx = db_.begin_write(lease_what("acquire an address", pool, identity));
    if (!tx) return tl::unexpected(tx.error());
    bool fresh = false;
    auto chosen = choose(pool, identity, range, requested, fresh);
    if (!chosen || !*chosen) return chosen;  // an error or exhausted: the transaction rolls back
    if (auto r = tx->commit(); !r) return tl::unexpected(r.error());
    if (fresh && range.used_through) *range.used_through = *chosen;
    return chosen;
}

Result<std::optional<IpAddress>> LeaseStore::acquire_in_transaction(
    std::string_view pool, std::string_view identity, const AddressRange& range,
    std::optional<IpAddress> requested) {
    bool fresh = false;
    auto chosen = choose(pool, identity, range, requested, fresh);
    if (chosen && *chosen && fresh && range.used_through) *range.used_through = **chosen;
    return chosen;
}

Result<std::optional<IpAddress>> LeaseStore::choose(std::string_view pool, std::string_view identity,
                                                    const AddressRange& range,
                                                    std::optional<IpAddress> requested,
                                                    bool& fresh) {
    const std::string what = lease_what("acquire an address", pool, identity);

    auto lookup = db_.prepare("SELECT identity, active FROM leases WHERE pool = ?1 AND address = ?2",
                              what);
    if (!lookup) return tl::unexpected(lookup.error());

    std::optional<IpAddress> chosen;

    // 1. The requested address, if it is free and not remembered for someone else.
    if (requested && requested->family() == range.family && range.contains(*requested)) {
        lookup->bind(1, pool).bind(2, requested->to_string());
        auto row = lookup->step();
        if (!row) return tl::unexpected(row.error());
        if (!*row || (lookup->int64(1) == 0 && lookup->text(0) == identity)) chosen = requested;
        lookup->reset();
    }
    // 2. This identity's most recently released address.
    if (!chosen) {
        auto st = db_.prepare(
            "SELECT address FROM leases WHERE pool = ?1 AND identity = ?2 AND family = ?3 "
            "AND active = 0 ORDER BY release_seq DESC",
            what);
        if (!st) return tl::unexpected(st.error());
        st->bind(1, pool).bind(2, identity).bind(3, family_number(range.family));
        auto a = first_contained(*st, range);
        if (!a) return tl::unexpected(a.error());
        chosen = *a;
    }
    // 3. The first never-used address. Each step past a used address costs one indexed
    // lookup, so this is bounded by the number of leases, never by the pool's size; with
    // range.used_through it starts where the last walk ended (O(1) lookups amortised).
    std::optional<IpAddress> walked;  // the last address the walk found with a row
    fresh = false;                    // chosen by this walk
    const std::optional<IpAddress> from =
        range.used_through && *range.used_through ? *range.used_through : std::nullopt;
    for (auto a = chosen ? std::nullopt : range.next(from); !chosen && a; a = range.next(a)) {
        lookup->bind(1, pool).bind(2, a->to_string());
        auto row = lookup->step();
        if (!row) return tl::unexpected(row.error());
        if (!*row) {
            chosen = a;
            fresh = true;
        } else {
            walked = a;
        }
        lookup->reset();
    }
    if (range.used_through && walked) *range.used_through = walked;
    // 4. The address released longest ago, whoever had it.
    if (!chosen) {
        auto st = db_.prepare(
            "SELECT address FROM leases WHERE pool = ?1 AND family = ?2 AND active = 0 "
            "ORDER BY release_seq ASC",
            what);
        if (!st) return tl::unexpected(st.error());
        st->bind(1, pool).bind(2, family_number(range.family));
        auto a = first_contained(*st, range);
        if (!a) return tl::unexpected(a.error());
        chosen = *a;
    }
    if (!chosen) return std::optional<IpAddress>{};  // exhausted

    auto take = db_.prepare(
        "INSERT INTO leases (pool, address, family, identity, active, acquired_at) "
        "VALUES (?1, ?2, ?3, ?4, 1, ?5) "
        "ON CONFLICT (pool, address) DO UPDATE SET family = excluded.family, "
        "identity = excluded.identity, active = 1, acquired_at = excluded.acquired_at, "
        "released_at = NULL",
        what);
    if (!take) return tl::unexpected(take.error());
    take->bind(1, pool).bind(2, chosen->to_string()).bind(3, family_number(range.family));
    take->bind(4, identity).bind(5, db_.now());
    if (auto r = take->run(); !r) return tl::unexpected(r.error());
    return chosen;
}

Result<bool> LeaseStore::release(std::string_view pool, const IpAddress& address) {
    // release_seq orders the releases of a (pool, family) exactly (released_at has one-second
    // steps); the latest is read from the released rows' index in the same statement, under
    // the write lock.
    auto st = db_.prepare(
        "UPDATE leases SET active = 0, released_at = ?3, release_seq = coalesce(("
        "SELECT release_seq FROM leases WHERE pool = ?1 AND family = ?4 AND active = 0 "
        "ORDER BY release_seq DESC LIMIT 1), 0) + 1 "
        "WHERE pool = ?1 AND address = ?2 AND active = 1",
        "release " + address.to_string() + " in pool \"" + std::string(pool) + "\"");
    if (!st) return tl::unexpected(st.error());
    st->bind(1, pool).bind(2, address.to_string()).bind(3, db_.now());
    st->bind(4, family_number(address.family()));
    if (auto r = st->run(); !r) return tl::unexpected(r.error());
    return db_.changes() == 1;
}

Result<std::int64_t> LeaseStore::release_all() {
    const std::string what = "release all leases";
    auto tx = db_.begin_write(what);
    if (!tx) return tl::unexpected(tx.error());
    auto max = db_.prepare("SELECT coalesce(max(release_seq), 0) FROM leases", what);
    if (!max) return tl::unexpected(max.error());
    auto row = max->step();
    if (!row) return tl::unexpected(row.error());
    const std::int64_t base = *row ? max->int64(0) : 0;
    // Numbered in one pass, so each release_seq is distinct and above every earlier one.
    auto st = db_.prepare(
        "UPDATE leases SET active = 0, released_at = ?1, release_seq = ?2 + numbered.n "
        "FROM (SELECT pool, address, row_number() OVER (ORDER BY pool, address) AS n "
        "      FROM leases WHERE active = 1) AS numbered "
        "WHERE leases.pool = numbered.pool AND leases.address = numbered.address",
        what);
    if (!st) return tl::unexpected(st.error());
    st->bind(1, db_.now()).bind(2, base);
    if (auto r = st->run(); !r) return tl::unexpected(r.error());
    const std::int64_t n = db_.changes();
    if (auto r = tx->commit(); !r) return tl::unexpected(r.error());
    return n;
}

namespace {

constexpr std::string_view kLeaseColumns =
    "pool, address, identity, active, acquired_at, released_at";

std::optional<Lease> read_lease(const Statement& st) {
    auto address = IpAddress::parse(st.text(1));
    if (!address) return std::nullopt;
    Lease l;
    l.pool = st.text(0);
    l.address = *address;
    l.identity = st.text(2);
    l.active = st.int64(3) != 0;
    l.acquired_at = st.int64(4);
    l.released_at = st.optional_int64(5);
    return l;
}

}  // namespace

Result<std::optional<Lease>> LeaseStore::find(std::string_view pool, const IpAddress& address) {
    auto st = db_.prepare("SELECT " + std::string(kLeaseColumns) +
                              " FROM leases WHERE pool = ?1 AND address = ?2",
                          "find lease of " + address.to_string());
    if (!st) return tl::unexpected(st.error());
    st->bind(1, pool).bind(2, address.to_string());
    auto row = st->step();
    if (!row) return tl::unexpected(row.error());
    if (!*row) return std::optional<Lease>{};
    return read_lease(*st);
}

Result<std::vector<Lease>> LeaseStore::active(std::optional<std::string_view> pool) {
    auto st = db_.prepare("SELECT " + std::string(kLeaseColumns) +
                              " FROM leases WHERE active = 1 AND (?1 IS NULL OR pool = ?1)",
                          "list active leases");
    if (!st) return tl::unexpected(st.error());
    st->bind(1, pool);
    std::vector<Lease> out;
    for (;;) {
        auto row = st->step();
        if (!row) return tl::unexpected(row.error());
        if (!*row) break;
        if (auto l = read_lease(*st)) out.push_back(std::move(*l));
    }
    // Sorted here: the text column would put 10.0.0.10 before 10.0.0.2.
    std::sort(out.begin(), out.end(), [](const Lease& a, const Lease& b) {
        return std::tie(a.pool, a.address) < std::tie(b.pool, b.address);
    });
    return out;
}

}  // namespace postern::db
