// Virtual IP leases that survive a restart (RFC 7296 §3.15 INTERNAL_IP4/6_ADDRESS). One row
// per (pool, address) ever handed out, kept after release with the identity that had it, so a
// returning identity gets its old address back — after a reconnect, a posternd restart or a
// crash alike.
//
// The store knows nothing of prefixes: the caller describes the pool with an AddressRange
// (db/persistent_pools.hpp builds one from ike::policy::AddressPool). acquire() follows the
// in-memory AddressPool's order, inside one write transaction:
//   1. the requested address (CP re-request, §3.15.1) if in the range, not in use and not
//      remembered for another identity;
//   2. the address this identity released most recently;
//   3. the first never-used address of the range;
//   4. the address another identity released longest ago (that identity loses its claim).
// An identity that holds an address already gets another one (a second device).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "db/database.hpp"
#include "postern/net.hpp"

namespace postern::db {

struct AddressRange {
    IpAddress::Family family = IpAddress::Family::V4;
    // Whether the pool may hand this address out (a lease left from an older, wider pool
    // configuration is not reused when this says no).
    std::function<bool(const IpAddress&)> contains;
    // The pool's addresses in order: next(nullopt) is the first, next(a) the one after a;
    // nullopt past the last.
    std::function<std::optional<IpAddress>(const std::optional<IpAddress>&)> next;
    // Optional, in and out: every address of the range up to and including *used_through has
    // a row already (rows are never deleted, only released), so the walk for a never-used
    // address (step 3) starts after it, and acquire() moves it forward. Without it that walk
    // starts at the first address: one lookup per lease ever made, for every acquire.
    std::optional<IpAddress>* used_through = nullptr;
};

struct Lease {
    std::string pool;
    IpAddress address;
    std::string identity;
    bool active = false;
    std::int64_t acquired_at = 0;
    std::optional<std::int64_t> released_at;
};

class LeaseStore {
  public:
    explicit LeaseStore(Database& db) : db_(db) {}

    // An address of `range` for `identity` (see the order above), or nullopt when the range
    // is exhausted; in a write transaction of its own.
    Result<std::optional<IpAddress>> acquire(std::string_view pool, std::string_view identity,
                                             const AddressRange& range,
                                             std::optional<IpAddress> requested = std::nullopt);
    // The same inside a write transaction the caller holds (and commits): several leases, and
    // releases before them (release()), written with one commit.
    Result<std::optional<IpAddress>> acquire_in_transaction(
        std::string_view pool, std::string_view identity, const AddressRange& range,
        std::optional<IpAddress> requested = std::nullopt);
    // Marks the lease released (it stays remembered for its identity). False when the address
    // is not in use. In a transaction of the caller's, or one of its own.
    Result<bool> release(std::string_view pool, const IpAddress& address);
    // Releases every active lease, returning how many. At daemon start no SA survives from
    // before, so the leases it held are free again (and still sticky).
    Result<std::int64_t> release_all();

    Result<std::optional<Lease>> find(std::string_view pool, const IpAddress& address);
    // Active leases, of one pool or all, sorted by pool, then address.
    Result<std::vector<Lease>> active(std::optional<std::string_view> pool = std::nullopt);

  private:
    // Steps 1-4 and the row written, in the transaction in progress; `fresh` when step 3 chose.
    Result<std::optional<IpAddress>> choose(std::string_view pool, std::string_view identity,
                                            const AddressRange& range,
                                            std::optional<IpAddress> requested, bool& fresh);

    Database& db_;
};

}  // namespace postern::db
