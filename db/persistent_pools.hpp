// ike::AddressPools backed by the lease store: the engine's virtual IP pools with leases that
// survive a restart. The prefix arithmetic (which addresses a pool may hand out: no network,
// broadcast or reserved gateway address) is ike::policy::AddressPool's; which address goes to
// whom is the database's (db/lease_store.hpp), so a returning identity gets its old address
// after a restart too.
//
// The engine's interface has no room for errors, so a database failure makes acquire() answer
// "no address" (the client gets no virtual IP, as with an exhausted pool) and is reported to
// the error sink for the log.
//
// Releases are batched: release() only queues, and the queue is written in one transaction by
// sync() (posternd calls it before each batch of answers, and once per turn of its event loop
// with the audit log's flush), by the next acquire() (in its transaction, before it chooses: a
// returning identity finds its address released), when it reaches kMaxPendingReleases, and by
// the destructor. A disconnect
// then costs no commit of its own, and a shutdown with 100,000 SAs writes its releases in a
// hundred transactions rather than 100,000. Nothing is lost by a crash meanwhile: a release
// not yet written leaves the lease active, and the next start releases every active lease
// (create(release_stale)). Until then the address is not handed to anyone else, which is the
// safe side.
//
// With `batch_commits`, acquires are batched too: the first one opens a write transaction and
// the next ones join it; sync() commits it. The caller must call sync() before an acquired
// address reaches anyone (posternd does, before sending a batch of answers: one commit for the
// batch instead of one per login), and soon (the transaction holds SQLite's write lock: the
// CLI's writes wait for it, up to their busy timeout). Without it each acquire commits itself.
#pragma once

#include <functional>
#include <map>
#include <utility>
#include <optional>
#include <string>
#include <vector>

#include "db/database.hpp"
#include "db/lease_store.hpp"
#include "ike/engine.hpp"
#include "ike/policy/address_pool.hpp"

namespace postern::db {

struct PoolSpec {
    std::string name;
    std::string cidr;                  // "10.10.0.0/24", "fd00:10::/64"
    std::vector<IpAddress> reserve;    // never handed out (the gateway's own address)
};

// The addresses `pool` may hand out, in order, for LeaseStore::acquire. `pool` must outlive
// the range.
AddressRange range_of(const ike::policy::AddressPool& pool);

class PersistentPools : public ike::AddressPools {
  public:
    using ErrorSink = std::function<void(const Error&)>;

    // One AddressPool per spec (a name may have one IPv4 and one IPv6 spec). With
    // `release_stale`, every lease left active by the previous run is released first: no SA
    // survives a restart, and released leases stay sticky.
    static Result<PersistentPools> create(Database& db, const std::vector<PoolSpec>& pools,
                                          bool release_stale = true, ErrorSink on_error = {},
                                          bool batch_commits = false);

    static constexpr std::size_t kMaxPendingReleases = 1024;

    PersistentPools(PersistentPools&&) = default;
    PersistentPools& operator=(PersistentPools&&) = delete;
    ~PersistentPools() override { sync(); }

    std::optional<IpAddress> acquire(const std::string& pool, const std::string& identity,
                                     IpAddress::Family family,
                                     std::optional<IpAddress> requested) override;
    // Queued; written by sync() or the next acquire().
    void release(const std::string& pool, const IpAddress& address) override;
    // Writes the queued releases and commits the batch of acquires, in one transaction.
    void sync() override;
    std::size_t pending_releases() const { return pending_.size(); }
    bool transaction_open() const { return open_.has_value(); }

  private:
    PersistentPools(Database& db, ErrorSink on_error, bool batch)
        : db_(&db), leases_(db), on_error_(std::move(on_error)), batch_(batch) {}
    // A release not written yet.
    struct PendingRelease {
        std::string pool;
        IpAddress address;
    };
    // Begins open_ (when there is none); false (reported) when SQLite refused.
    bool begin(const std::string& what);
    // Writes pending_ in the transaction in progress.
    void write_releases();
    void report(const Error& e) const {
        if (on_error_) on_error_(e);
    }

    Database* db_;
    LeaseStore leases_;
    ErrorSink on_error_;
    bool batch_;
    std::optional<Transaction> open_;  // batch_commits: the batch's transaction
    std::map<std::string, std::vector<ike::policy::AddressPool>> pools_;
    // Per pool name and family: AddressRange::used_through, where the walk for a never-used
    // address resumes.
    std::map<std::pair<std::string, IpAddress::Family>, std::optional<IpAddress>> used_through_;
    std::vector<PendingRelease> pending_;
};

}  // namespace postern::db
