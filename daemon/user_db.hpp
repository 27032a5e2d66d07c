// posternd's side of the SQLite user database (db/): who may log in with EAP-MSCHAPv2, which
// address each account gets, and the audit log of logins, failures and disconnects.
//
//   - EAP lookups read the user's NT hash and enabled flag per login (a password change, a
//     disabled or deleted user take effect at the next login without a reload; `postern user
//     disable|del` also ends the user's current SAs over the control socket).
//   - Virtual IPs come from PersistentPools (leases in SQLite: the same address for a returning
//     account, across restarts), or the account's static address when it has one inside the
//     connection's pool. Static addresses are kept out of the dynamic range as read at start.
//   - Every login, failed login (with the reason) and disconnect of a logged-in peer is one
//     audit row; a login also sets the user's last_login.
//
// All of it runs on the IKE thread, which owns this Database; the CLI opens its own on the
// same file (WAL: readers and the one writer do not block each other).
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include <tl/expected.hpp>

#include "daemon/config.hpp"
#include "db/database.hpp"
#include "db/persistent_pools.hpp"
#include "ike/eap/eap_method.hpp"
#include "ike/engine.hpp"
#include "ike/policy/address_pool.hpp"

namespace postern::daemon {

class UserDb {
  public:
    // Opens (creating, mode 0600, with its folder 0700) the database at config.user_db and
    // migrates it. The error names the file and what failed.
    static tl::expected<std::unique_ptr<UserDb>, std::string> open(const Config& config);

    // For EngineConfig::eap_users.
    ike::eap::UserRecord lookup(std::string_view name);
    // The pools the engine hands virtual IPs from (leases in this database). Call once.
    tl::expected<std::unique_ptr<ike::AddressPools>, std::string> pools(const Config& config);
    // Server::set_event_sink: audit rows for IkeEstablished, AuthFailed and IkeDeleted.
    void on_event(const ike::Event& e);

    db::Database& database() { return *db_; }
    const std::string& path() const { return path_; }

  private:
    UserDb(std::string path, std::unique_ptr<db::Database> db)
        : path_(std::move(path)), db_(std::move(db)) {}
    std::string path_;
    std::unique_ptr<db::Database> db_;
};

}  // namespace postern::daemon
