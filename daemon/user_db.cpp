#include "daemon/user_db.hpp"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <optional>
#include <set>

#include "daemon/logging.hpp"
#include "daemon/tun_setup.hpp"
#include "db/audit_log.hpp"
#include "db/user_store.hpp"

namespace postern::daemon {

namespace {

// PersistentPools, with each account's static address (when it has one inside the pool)
// before the dynamic leases.
class UserPools final : public ike::AddressPools {
  public:
    UserPools(db::Database& db, db::PersistentPools dynamic,
              std::map<std::string, std::vector<ike::policy::AddressPool>> ranges)
        : db_(db), dynamic_(std::move(dynamic)), ranges_(std::move(ranges)) {}

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

  private:
    std::optional<IpAddress> static_address(const std::string& pool, const std::string& identity,
                                            IpAddress::Family family) {
        auto user = db::UserStore(db_).get(identity);
        if (!user) return std::nullopt;  // not an account (PSK, certificate identity)
        const auto& fixed = family == IpAddress::Family::V4 ? user->static_ipv4 : user->static_ipv6;
        if (!fixed) return std::nullopt;
        auto it = ranges_.find(pool);
        bool inside = false;
        if (it != ranges_.end())
            for (const auto& r : it->second)
                inside |= r.contains(*fixed);
        if (!inside) {
            logger(Subsystem::Cfg)
                .warn("user {}: static address {} is outside pool {}; using the pool", identity,
                      fixed->to_string(), pool);
            return std::nullopt;
        }
        if (!statics_in_use_.insert(*fixed).second) {
            logger(Subsystem::Ike)
                .warn("user {}: static address {} is in use by another SA of the same user; "
                      "using the pool",
                      identity, fixed->to_string());
            return std::nullopt;
        }
        return fixed;
    }

    db::Database& db_;
    db::PersistentPools dynamic_;
    std::map<std::string, std::vector<ike::policy::AddressPool>> ranges_;
    std::set<IpAddress> statics_in_use_;
};

std::string parent_dir(const std::string& path) {
    auto slash = path.rfind('/');
    if (slash == std::string::npos || slash == 0) return {};
    return path.substr(0, slash);
}

}  // namespace

tl::expected<std::unique_ptr<UserDb>, std::string> UserDb::open(const Config& config) {
    std::string path = config.user_db.empty() ? "/var/lib/postern/postern.db" : config.user_db;
    if (auto dir = parent_dir(path); !dir.empty()) {
        struct stat st {};
        if (::stat(dir.c_str(), &st) != 0) {
            // One level is enough for /var/lib/postern; deeper trees are the admin's.
            if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST)
                return tl::unexpected("server.user_db: cannot create " + dir + ": " +
                                      std::strerror(errno));
        }
    }
    auto db = db::Database::open(path);
    if (!db) return tl::unexpected("server.user_db: " + path + ": " + db.error().message);
    // open() has applied the migrations.
    return std::unique_ptr<UserDb>(
        new UserDb(path, std::make_unique<db::Database>(std::move(*db))));
}

ike::eap::UserRecord UserDb::lookup(std::string_view name) {
    auto c = db::UserStore(*db_).credentials(name);
    if (!c) {
        if (c.error().kind != db::ErrorKind::not_found)
            logger(Subsystem::Ike).error("user database: {}", c.error().message);
        return ike::eap::UserRecord::unknown_user();
    }
    if (!c->enabled) return ike::eap::UserRecord::disabled_user();
    // No password set yet: nobody can log in as this user (the same answer as unknown).
    if (c->nt_hash.size() != db::kNtHashSize) return ike::eap::UserRecord::unknown_user();
    return ike::eap::UserRecord::found(std::move(c->nt_hash));
}

tl::expected<std::unique_ptr<ike::AddressPools>, std::string> UserDb::pools(const Config& config) {
    std::vector<db::PoolSpec> specs;
    std::map<std::string, std::vector<ike::policy::AddressPool>> ranges;
    // Static addresses of every account, kept out of the dynamic range.
    std::vector<IpAddress> statics;
    if (auto users = db::UserStore(*db_).list()) {
        for (const auto& u : *users) {
            if (u.static_ipv4) statics.push_back(*u.static_ipv4);
            if (u.static_ipv6) statics.push_back(*u.static_ipv6);
        }
    } else {
        return tl::unexpected("server.user_db: " + path_ + ": " + users.error().message);
    }
    for (const auto& p : config.pools)
        for (const auto& cidr : {p.ipv4, p.ipv6}) {
            if (cidr.empty()) continue;
            db::PoolSpec spec{p.name, cidr, statics};
            if (auto gw = pool_gateway_address(cidr)) spec.reserve.push_back(*gw);
            specs.push_back(std::move(spec));
            if (auto r = ike::policy::AddressPool::create(cidr)) ranges[p.name].push_back(*r);
        }
    auto dynamic = db::PersistentPools::create(*db_, specs, /*release_stale=*/true,
                                               [](const db::Error& e) {
                                                   logger(Subsystem::Ike)
                                                       .error("address leases: {}", e.message);
                                               });
    if (!dynamic) return tl::unexpected("server.user_db: " + path_ + ": " + dynamic.error().message);
    return std::unique_ptr<ike::AddressPools>(
        std::make_unique<UserPools>(*db_, std::move(*dynamic), std::move(ranges)));
}

void UserDb::on_event(const ike::Event& e) {
    const std::string peer = e.peer ? e.peer->to_string() : "";
    db::AuditLog audit(*db_);
    db::Result<db::AuditEntry> row = tl::unexpected(db::Error{});
    switch (e.kind) {
        case ike::EventKind::IkeEstablished:
            row = audit.append(db::AuditEvent::login_ok, e.identity,
                               e.user.empty() ? std::nullopt : std::optional<std::string_view>(e.user),
                               peer);
            // Only accounts have a last_login; a PSK or certificate identity is not one.
            if (auto r = db::UserStore(*db_).record_login(e.user);
                !r && r.error().kind != db::ErrorKind::not_found)
                logger(Subsystem::Ike).error("user database: {}", r.error().message);
            break;
        case ike::EventKind::AuthFailed:
            row = audit.append(db::AuditEvent::login_failed, e.identity,
                               e.user.empty() ? std::nullopt : std::optional<std::string_view>(e.user),
                               peer, e.reason);
            break;
        case ike::EventKind::IkeDeleted:
            if (e.user.empty()) return;  // never logged in
            row = audit.append(db::AuditEvent::disconnect, e.identity, e.user, peer, e.reason);
            break;
        default:
            return;
    }
    if (!row) logger(Subsystem::Ike).error("audit log: {}", row.error().message);
}

}  // namespace postern::daemon
