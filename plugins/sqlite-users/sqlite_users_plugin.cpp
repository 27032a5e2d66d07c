// The sqlite-users plugin: Postern's SQLite user database (db/, the file `postern user ...`
// manages) as the server sees it:
//
//   UserStore      accounts: enabled or not, NT hash, groups, static addresses, attributes
//                  (read per login: a password change, a disabled or deleted user take effect at
//                  the next login without a reload)
//   PskSource      per-identity pre-shared keys (`postern` stores them in the psks table)
//   AddressPools   virtual IPs as leases in the database (a returning account gets its address
//                  again, across restarts), or the account's static address inside the pool;
//                  the leases of a batch of logins are committed together when posternd syncs
//                  the pools, before their answers are sent (db/persistent_pools.hpp)
//   EventSink      the audit log: login_ok (and last_login), login_failed with the reason,
//                  disconnect
//
// The file is server.user_db (default /var/lib/postern/postern.db: its folder is created 0700,
// the file 0600, migrations applied). Everything runs on the IKE thread; `postern` opens the
// same file in its own process (WAL: readers and the one writer do not block each other).
// No settings of its own.
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>
#include <set>

#include "db/audit_log.hpp"
#include "db/persistent_pools.hpp"
#include "db/psk_store.hpp"
#include "db/user_store.hpp"
#include "postern/plugin/plugin.hpp"

namespace {

using namespace postern;

// The database and the log, shared by the components.
struct Shared {
    plugin::Host& host;
    std::unique_ptr<db::Database> db;
    // The dynamic leases, whose batch (queued releases, acquires not yet committed) the audit
    // log's flush writes before its own rows; null until the pools exist and after they are
    // gone.
    db::PersistentPools* leases = nullptr;
    void error(const std::string& what, const db::Error& e) {
        host.log(plugin::LogLevel::error, what + ": " + e.message);
    }
};

class Users final : public plugin::UserStore {
  public:
    explicit Users(std::shared_ptr<Shared> s) : s_(std::move(s)) {}
    plugin::UserInfo lookup(std::string_view name) override {
        db::UserStore store(*s_->db);
        auto c = store.credentials(name);
        if (!c) {
            if (c.error().kind != db::ErrorKind::not_found) s_->error("user database", c.error());
            return plugin::UserInfo::unknown_user();
        }
        if (!c->enabled) return plugin::UserInfo::disabled_user();
        // An account without a password logs in with a certificate only (EAP-TLS).
        plugin::UserInfo u = plugin::UserInfo::found(c->nt_hash);
        if (auto user = store.get(name)) {
            if (user->static_ipv4) u.static_ipv4 = user->static_ipv4->to_string();
            if (user->static_ipv6) u.static_ipv6 = user->static_ipv6->to_string();
            auto attributes = nlohmann::json::parse(user->attributes, nullptr, false);
            if (attributes.is_object())
                for (const auto& [k, v] : attributes.items())
                    u.attributes[k] = v.is_string() ? v.get<std::string>() : v.dump();
        }
        if (auto groups = store.groups_of(name)) u.groups = std::move(*groups);
        return u;
    }

  private:
    std::shared_ptr<Shared> s_;
};

class Psks final : public plugin::PskSource {
  public:
    explicit Psks(std::shared_ptr<Shared> s) : s_(std::move(s)) {}
    std::optional<SecretBytes> psk(const plugin::PskRequest& r) override {
        auto secret = db::PskStore(*s_->db).get(r.remote_identity);
        if (!secret) {
            if (secret.error().kind != db::ErrorKind::not_found) s_->error("PSK store", secret.error());
            return std::nullopt;
        }
        return SecretBytes(secret->view());
    }

  private:
    std::shared_ptr<Shared> s_;
};

// PersistentPools, with each account's static address (when it has one inside the pool)
// before the dynamic leases.
class Pools final : public plugin::AddressPools {
  public:
    Pools(std::shared_ptr<Shared> s, db::PersistentPools dynamic,
          std::map<std::string, std::vector<ike::policy::AddressPool>> ranges)
        : s_(std::move(s)), dynamic_(std::move(dynamic)), ranges_(std::move(ranges)) {
        s_->leases = &dynamic_;
    }
    ~Pools() override { s_->leases = nullptr; }  // dynamic_'s destructor writes what is queued

    std::optional<IpAddress> acquire(const std::string& pool, const std::string& identity,
                                     IpAddress::Family family,
                                     std::optional<IpAddress> requested) override {
        if (auto fixed = static_address(pool, identity, family)) return fixed;
        return dynamic_.acquire(pool, identity, family, requested);
    }
    void release(const std::string& pool, const IpAddress& address) override {
        if (statics_in_use_.erase(address)) return;
        dynamic_.release(pool, address);
    }
    // posternd calls it before sending a batch of answers: the batch's leases in one commit.
    void sync() override { dynamic_.sync(); }

  private:
    std::optional<IpAddress> static_address(const std::string& pool, const std::string& identity,
                                            IpAddress::Family family) {
        auto user = db::UserStore(*s_->db).get(identity);
        if (!user) return std::nullopt;  // not an account (PSK, certificate identity)
        const auto& fixed = family == IpAddress::Family::V4 ? user->static_ipv4 : user->static_ipv6;
        if (!fixed) return std::nullopt;
        auto it = ranges_.find(pool);
        bool inside = false;
        if (it != ranges_.end())
            for (const auto& r : it->second)
                inside |= r.contains(*fixed);
        if (!inside) {
            s_->host.log(plugin::LogLevel::warning,
                         "user " + identity + ": static address " + fixed->to_string() +
                             " is outside pool " + pool + "; using the pool");
            return std::nullopt;
        }
        if (!statics_in_use_.insert(*fixed).second) {
            s_->host.log(plugin::LogLevel::warning,
                         "user " + identity + ": static address " + fixed->to_string() +
                             " is in use by another SA of the same user; using the pool");
            return std::nullopt;
        }
        return fixed;
    }

    std::shared_ptr<Shared> s_;
    db::PersistentPools dynamic_;
    std::map<std::string, std::vector<ike::policy::AddressPool>> ranges_;
    std::set<IpAddress> statics_in_use_;
};

// The audit log. Rows are kept until flush(), which the daemon calls once per event-loop
// turn, and written in one transaction: a rush of logins costs one commit per turn instead of
// two per login (the row, and the account's last_login). A crash can lose only the rows of
// the turn in progress; the destructor (shutdown) writes what is left. The same flush writes
// the leases' queued releases (db/persistent_pools.hpp), so a disconnect costs no commit of
// its own either.
class Audit final : public plugin::EventSink {
  public:
    explicit Audit(std::shared_ptr<Shared> s) : s_(std::move(s)) {}
    ~Audit() override { flush(); }
    void on_connect(const plugin::ConnectEvent& e) override {
        // Only accounts have a last_login; a PSK or certificate identity is not one.
        add(db::AuditEvent::login_ok, e.identity, e.user, e.peer, {}, /*login=*/true);
    }
    void on_disconnect(const plugin::DisconnectEvent& e) override {
        add(db::AuditEvent::disconnect, e.user, e.user, e.peer, e.reason, false);
    }
    void on_auth_failure(const plugin::AuthFailureEvent& e) override {
        add(db::AuditEvent::login_failed, e.identity, e.user, e.peer, e.reason, false);
    }
    void flush() override {
        if (s_->leases) s_->leases->sync();
        if (pending_.empty()) return;
        std::vector<Row> rows;
        rows.swap(pending_);
        auto tx = s_->db->begin_write("audit log");
        if (!tx) return s_->error("audit log", tx.error());
        for (const auto& r : rows) {
            auto row = db::AuditLog(*s_->db).append(
                r.event, r.identity,
                r.user.empty() ? std::nullopt : std::optional<std::string_view>(r.user), r.peer,
                r.reason);
            if (!row) s_->error("audit log", row.error());
            if (!r.login) continue;
            if (auto u = db::UserStore(*s_->db).record_login(r.user);
                !u && u.error().kind != db::ErrorKind::not_found)
                s_->error("user database", u.error());
        }
        if (auto c = tx->commit(); !c) s_->error("audit log", c.error());
    }

  private:
    struct Row {
        db::AuditEvent event;
        std::string identity, user, peer, reason;
        bool login;  // also the account's last_login
    };
    void add(db::AuditEvent event, const std::string& identity, const std::string& user,
             const std::string& peer, const std::string& reason, bool login) {
        pending_.push_back(Row{event, identity, user, peer, reason, login});
        // Without a daemon calling flush() (tests, tools), rows would wait forever: a bound.
        if (pending_.size() >= 1024) flush();
    }
    std::shared_ptr<Shared> s_;
    std::vector<Row> pending_;
};

std::string parent_dir(const std::string& path) {
    auto slash = path.rfind('/');
    if (slash == std::string::npos || slash == 0) return {};
    return path.substr(0, slash);
}

tl::expected<std::shared_ptr<plugin::AddressPools>, std::string> make_pools(
    const std::shared_ptr<Shared>& s) {
    std::vector<db::PoolSpec> specs;
    std::map<std::string, std::vector<ike::policy::AddressPool>> ranges;
    // Static addresses of every account, kept out of the dynamic range.
    std::vector<IpAddress> statics;
    auto users = db::UserStore(*s->db).list();
    if (!users) return tl::unexpected(users.error().message);
    for (const auto& u : *users) {
        if (u.static_ipv4) statics.push_back(*u.static_ipv4);
        if (u.static_ipv6) statics.push_back(*u.static_ipv6);
    }
    for (const auto& p : s->host.pools())
        for (const auto& cidr : {p.ipv4, p.ipv6}) {
            if (cidr.empty()) continue;
            db::PoolSpec spec{p.name, cidr, statics};
            const bool v6 = cidr.find(':') != std::string::npos;
            for (const auto& r : p.reserved)
                if (auto a = IpAddress::parse(r); a && a->is_v6() == v6) spec.reserve.push_back(*a);
            specs.push_back(std::move(spec));
            if (auto r = ike::policy::AddressPool::create(cidr)) ranges[p.name].push_back(*r);
        }
    auto dynamic = db::PersistentPools::create(
        *s->db, specs, /*release_stale=*/true,
        [weak = std::weak_ptr<Shared>(s)](const db::Error& e) {
            if (auto shared = weak.lock()) shared->error("address leases", e);
        },
        /*batch_commits=*/true);
    if (!dynamic) return tl::unexpected(dynamic.error().message);
    return std::make_shared<Pools>(s, std::move(*dynamic), std::move(ranges));
}

// Check mode's stand-ins (posternd --check, postern check-config).
class NoUsers final : public plugin::UserStore {
  public:
    plugin::UserInfo lookup(std::string_view) override { return plugin::UserInfo::unknown_user(); }
};
class NoPsks final : public plugin::PskSource {
  public:
    std::optional<SecretBytes> psk(const plugin::PskRequest&) override { return std::nullopt; }
};

class SqliteUsersPlugin final : public plugin::Plugin {
  public:
    explicit SqliteUsersPlugin(std::shared_ptr<Shared> s) : s_(std::move(s)) {}

  private:
    std::shared_ptr<Shared> s_;
};

std::unique_ptr<plugin::Plugin> create(plugin::Host& host, const plugin::Settings& settings,
                                       plugin::Registry& registry, std::string& error) {
    for (const auto& key : settings.keys()) {
        error = settings.error(key, "unknown key (the database is server.user_db)");
        return nullptr;
    }
    std::string path = host.user_db();
    if (path.empty()) path = "/var/lib/postern/postern.db";
    if (host.check_only()) {
        // The same kinds of component, answering nothing: no database is opened.
        registry.add_user_store(std::make_shared<NoUsers>());
        registry.add_psk_source(std::make_shared<NoPsks>());
        return std::make_unique<SqliteUsersPlugin>(nullptr);
    }
    if (auto dir = parent_dir(path); !dir.empty()) {
        struct stat st {};
        // One level is enough for /var/lib/postern; deeper trees are the administrator's.
        if (::stat(dir.c_str(), &st) != 0 && ::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
            error = "server.user_db: cannot create " + dir + ": " + std::strerror(errno);
            return nullptr;
        }
    }
    // posternd writes a lease and an audit row per login: synchronous=NORMAL (WAL), no fsync
    // per commit. A crash or kill -9 of posternd loses nothing (the WAL file is the OS's);
    // a power cut can lose the last commits, which describe SAs that died with the machine
    // (leases are all released at the next start anyway). With FULL, logins queue behind the
    // disk: one fsync each caps a rush at the disk's flush rate. The CLI, which changes users,
    // keeps FULL.
    db::Options options;
    options.durability = db::Durability::normal;
    auto db = db::Database::open(path, options);
    if (!db) {
        error = "server.user_db: " + path + ": " + db.error().message;
        return nullptr;
    }
    auto shared = std::make_shared<Shared>(Shared{host, std::make_unique<db::Database>(std::move(*db))});
    auto pools = make_pools(shared);
    if (!pools) {
        error = "server.user_db: " + path + ": " + pools.error();
        return nullptr;
    }
    registry.add_user_store(std::make_shared<Users>(shared));
    registry.add_psk_source(std::make_shared<Psks>(shared));
    registry.set_address_pools(*pools);
    registry.add_event_sink(std::make_shared<Audit>(shared));
    host.log(plugin::LogLevel::info, "users, PSKs, leases and audit log: " + path);
    return std::make_unique<SqliteUsersPlugin>(shared);
}

}  // namespace

POSTERN_PLUGIN("sqlite-users", "users, PSKs, address leases and the audit log in SQLite", &create)
