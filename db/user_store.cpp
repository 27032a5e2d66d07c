#include "db/user_store.hpp"

#include <utility>

namespace postern::db {

namespace {

std::string quoted(std::string_view s) { return "\"" + std::string(s) + "\""; }

constexpr std::string_view kUserColumns =
    "id, name, nt_hash IS NOT NULL, enabled, created_at, last_login, static_ipv4, static_ipv6, "
    "attributes";

User read_user(const Statement& st) {
    User u;
    u.id = st.int64(0);
    u.name = st.text(1);
    u.has_password = st.int64(2) != 0;
    u.enabled = st.int64(3) != 0;
    u.created_at = st.int64(4);
    u.last_login = st.optional_int64(5);
    // The schema only ever receives addresses printed by IpAddress; parse cannot fail for
    // them, and an address edited into the file by hand that does not parse reads as unset.
    if (auto a = st.optional_text(6)) u.static_ipv4 = IpAddress::parse(*a);
    if (auto a = st.optional_text(7)) u.static_ipv6 = IpAddress::parse(*a);
    u.attributes = st.text(8);
    return u;
}

Result<void> check_hash(ByteView nt_hash) {
    if (nt_hash.size() != kNtHashSize) {
        return fail(ErrorKind::invalid_argument,
                    "NT hash must be " + std::to_string(kNtHashSize) + " bytes, got " +
                        std::to_string(nt_hash.size()));
    }
    return {};
}

// The same error with the message a person reads ("user "alice" already exists") instead of
// SQLite's ("UNIQUE constraint failed: users.name"), kept after it for the details.
Error explain(Error e, std::string message) {
    e.message = std::move(message) + " (" + e.message + ")";
    return e;
}

}  // namespace

// ---- users -----------------------------------------------------------------------------------

Result<User> UserStore::add(std::string_view name, std::optional<ByteView> nt_hash) {
    if (name.empty()) return fail(ErrorKind::invalid_argument, "add user: empty name");
    if (nt_hash)
        if (auto r = check_hash(*nt_hash); !r)
            return fail(ErrorKind::invalid_argument, "add user " + quoted(name) + ": " +
                                                         r.error().message);
    const std::string what = "add user " + quoted(name);
    auto st = db_.prepare("INSERT INTO users (name, nt_hash, created_at) VALUES (?1, ?2, ?3)",
                          what);
    if (!st) return tl::unexpected(st.error());
    st->bind(1, name).bind(2, nt_hash).bind(3, db_.now());
    if (auto r = st->run(); !r) {
        if (r.error().kind == ErrorKind::already_exists)
            return tl::unexpected(explain(r.error(), "user " + quoted(name) + " already exists"));
        return tl::unexpected(r.error());
    }
    return get(name);
}

Result<User> UserStore::get(std::string_view name) {
    const std::string what = "get user " + quoted(name);
    auto st = db_.prepare("SELECT " + std::string(kUserColumns) + " FROM users WHERE name = ?1",
                          what);
    if (!st) return tl::unexpected(st.error());
    st->bind(1, name);
    auto row = st->step();
    if (!row) return tl::unexpected(row.error());
    if (!*row) return fail(ErrorKind::not_found, "no user " + quoted(name));
    return read_user(*st);
}

Result<std::vector<User>> UserStore::list() {
    auto st = db_.prepare("SELECT " + std::string(kUserColumns) + " FROM users ORDER BY name",
                          "list users");
    if (!st) return tl::unexpected(st.error());
    std::vector<User> out;
    for (;;) {
        auto row = st->step();
        if (!row) return tl::unexpected(row.error());
        if (!*row) return out;
        out.push_back(read_user(*st));
    }
}

Result<void> UserStore::remove(std::string_view name) {
    // Group memberships go with the user (ON DELETE CASCADE); audit rows stay (history).
    auto st = db_.prepare("DELETE FROM users WHERE name = ?1", "delete user " + quoted(name));
    if (!st) return tl::unexpected(st.error());
    st->bind(1, name);
    if (auto r = st->run(); !r) return r;
    if (db_.changes() == 0) return fail(ErrorKind::not_found, "no user " + quoted(name));
    return {};
}

Result<Credentials> UserStore::credentials(std::string_view name) {
    auto st = db_.prepare("SELECT id, enabled, nt_hash FROM users WHERE name = ?1",
                          "read credentials of " + quoted(name));
    if (!st) return tl::unexpected(st.error());
    st->bind(1, name);
    auto row = st->step();
    if (!row) return tl::unexpected(row.error());
    if (!*row) return fail(ErrorKind::not_found, "no user " + quoted(name));
    Credentials c;
    c.user_id = st->int64(0);
    c.enabled = st->int64(1) != 0;
    // Straight from SQLite's buffer into the wiping one: no other copy of the hash is made
    // here. (SQLite's own page cache is outside our reach.)
    c.nt_hash = ike::crypto::Secret(st->blob_view(2));
    return c;
}

template <typename T>
Result<void> UserStore::update_user(std::string_view sql, std::string_view name, const T& value,
                                    std::string_view what) {
    auto st = db_.prepare(sql, what);
    if (!st) return tl::unexpected(st.error());
    st->bind(1, name).bind(2, value);
    if (auto r = st->run(); !r) return r;
    if (db_.changes() == 0) return fail(ErrorKind::not_found, "no user " + quoted(name));
    return {};
}

Result<void> UserStore::set_password_hash(std::string_view name, ByteView nt_hash) {
    const std::string what = "set password of " + quoted(name);
    if (auto r = check_hash(nt_hash); !r)
        return fail(ErrorKind::invalid_argument, what + ": " + r.error().message);
    return update_user("UPDATE users SET nt_hash = ?2 WHERE name = ?1", name, nt_hash, what);
}

Result<void> UserStore::clear_password(std::string_view name) {
    return update_user("UPDATE users SET nt_hash = ?2 WHERE name = ?1", name, std::nullopt,
                       "clear password of " + quoted(name));
}

Result<void> UserStore::set_enabled(std::string_view name, bool enabled) {
    return update_user("UPDATE users SET enabled = ?2 WHERE name = ?1", name,
                       std::int64_t{enabled ? 1 : 0},
                       (enabled ? "enable user " : "disable user ") + quoted(name));
}

Result<void> UserStore::set_attributes(std::string_view name, std::string_view json) {
    const std::string what = "set attributes of " + quoted(name);
    auto r = update_user("UPDATE users SET attributes = ?2 WHERE name = ?1", name, json, what);
    if (!r && r.error().kind == ErrorKind::invalid_argument)
        return tl::unexpected(explain(r.error(), what + ": not a JSON object"));
    return r;
}

Result<void> UserStore::set_static_address(std::string_view name, IpAddress::Family family,
                                           std::optional<IpAddress> address) {
    const bool v4 = family == IpAddress::Family::V4;
    const std::string what = "set static " + std::string(v4 ? "IPv4" : "IPv6") +
                             " address of " + quoted(name);
    if (address && address->family() != family) {
        return fail(ErrorKind::invalid_argument,
                    what + ": " + address->to_string() + " is not an " + (v4 ? "IPv4" : "IPv6") +
                        " address");
    }
    std::optional<std::string> text;
    if (address) text = address->to_string();
    auto r = update_user(v4 ? "UPDATE users SET static_ipv4 = ?2 WHERE name = ?1"
                            : "UPDATE users SET static_ipv6 = ?2 WHERE name = ?1",
                         name, text, what);
    if (!r && r.error().kind == ErrorKind::already_exists) {
        return tl::unexpected(
            explain(r.error(), what + ": " + *text + " is another user's static address"));
    }
    return r;
}

Result<void> UserStore::record_login(std::string_view name) {
    return update_user("UPDATE users SET last_login = ?2 WHERE name = ?1", name, db_.now(),
                       "record login of " + quoted(name));
}

Result<std::int64_t> UserStore::user_id(std::string_view name) {
    auto st = db_.prepare("SELECT id FROM users WHERE name = ?1", "find user " + quoted(name));
    if (!st) return tl::unexpected(st.error());
    st->bind(1, name);
    auto row = st->step();
    if (!row) return tl::unexpected(row.error());
    if (!*row) return fail(ErrorKind::not_found, "no user " + quoted(name));
    return st->int64(0);
}

// ---- groups ----------------------------------------------------------------------------------

Result<std::int64_t> UserStore::group_id(std::string_view name) {
    auto st = db_.prepare("SELECT id FROM groups WHERE name = ?1", "find group " + quoted(name));
    if (!st) return tl::unexpected(st.error());
    st->bind(1, name);
    auto row = st->step();
    if (!row) return tl::unexpected(row.error());
    if (!*row) return fail(ErrorKind::not_found, "no group " + quoted(name));
    return st->int64(0);
}

Result<Group> UserStore::add_group(std::string_view name) {
    if (name.empty()) return fail(ErrorKind::invalid_argument, "add group: empty name");
    auto st = db_.prepare("INSERT INTO groups (name, created_at) VALUES (?1, ?2)",
                          "add group " + quoted(name));
    if (!st) return tl::unexpected(st.error());
    const std::int64_t now = db_.now();
    st->bind(1, name).bind(2, now);
    if (auto r = st->run(); !r) {
        if (r.error().kind == ErrorKind::already_exists)
            return tl::unexpected(explain(r.error(), "group " + quoted(name) + " already exists"));
        return tl::unexpected(r.error());
    }
    return Group{db_.last_insert_id(), std::string(name), now};
}

Result<void> UserStore::remove_group(std::string_view name) {
    auto st = db_.prepare("DELETE FROM groups WHERE name = ?1", "delete group " + quoted(name));
    if (!st) return tl::unexpected(st.error());
    st->bind(1, name);
    if (auto r = st->run(); !r) return r;
    if (db_.changes() == 0) return fail(ErrorKind::not_found, "no group " + quoted(name));
    return {};
}

Result<std::vector<Group>> UserStore::list_groups() {
    auto st = db_.prepare("SELECT id, name, created_at FROM groups ORDER BY name", "list groups");
    if (!st) return tl::unexpected(st.error());
    std::vector<Group> out;
    for (;;) {
        auto row = st->step();
        if (!row) return tl::unexpected(row.error());
        if (!*row) return out;
        out.push_back(Group{st->int64(0), st->text(1), st->int64(2)});
    }
}

Result<void> UserStore::add_member(std::string_view group, std::string_view user) {
    const std::string what = "add " + quoted(user) + " to group " + quoted(group);
    // One statement resolves both names, so no other writer can delete either in between.
    auto st = db_.prepare(
        "INSERT OR IGNORE INTO group_members (group_id, user_id) "
        "SELECT g.id, u.id FROM groups g, users u WHERE g.name = ?1 AND u.name = ?2",
        what);
    if (!st) return tl::unexpected(st.error());
    st->bind(1, group).bind(2, user);
    if (auto r = st->run(); !r) return r;
    if (db_.changes() == 1) return {};
    // Nothing inserted: already a member, or a name is unknown (say which).
    if (auto g = group_id(group); !g) return tl::unexpected(g.error());
    if (auto u = user_id(user); !u) return tl::unexpected(u.error());
    return {};
}

Result<void> UserStore::remove_member(std::string_view group, std::string_view user) {
    const std::string what = "remove " + quoted(user) + " from group " + quoted(group);
    auto st = db_.prepare(
        "DELETE FROM group_members WHERE group_id = (SELECT id FROM groups WHERE name = ?1) "
        "AND user_id = (SELECT id FROM users WHERE name = ?2)",
        what);
    if (!st) return tl::unexpected(st.error());
    st->bind(1, group).bind(2, user);
    if (auto r = st->run(); !r) return r;
    if (db_.changes() == 1) return {};
    if (auto g = group_id(group); !g) return tl::unexpected(g.error());
    if (auto u = user_id(user); !u) return tl::unexpected(u.error());
    return fail(ErrorKind::not_found,
                what + ": " + quoted(user) + " is not a member of " + quoted(group));
}

namespace {

Result<std::vector<std::string>> names(Statement& st) {
    std::vector<std::string> out;
    for (;;) {
        auto row = st.step();
        if (!row) return tl::unexpected(row.error());
        if (!*row) return out;
        out.push_back(st.text(0));
    }
}

}  // namespace

Result<std::vector<std::string>> UserStore::groups_of(std::string_view user) {
    // Read in one snapshot, so "no such user" and the list agree.
    auto tx = db_.begin_read("groups of " + quoted(user));
    if (!tx) return tl::unexpected(tx.error());
    auto id = user_id(user);
    if (!id) return tl::unexpected(id.error());
    auto st = db_.prepare(
        "SELECT g.name FROM groups g JOIN group_members m ON m.group_id = g.id "
        "WHERE m.user_id = ?1 ORDER BY g.name",
        "groups of " + quoted(user));
    if (!st) return tl::unexpected(st.error());
    st->bind(1, *id);
    return names(*st);
}

Result<std::vector<std::string>> UserStore::members_of(std::string_view group) {
    auto tx = db_.begin_read("members of " + quoted(group));
    if (!tx) return tl::unexpected(tx.error());
    auto id = group_id(group);
    if (!id) return tl::unexpected(id.error());
    auto st = db_.prepare(
        "SELECT u.name FROM users u JOIN group_members m ON m.user_id = u.id "
        "WHERE m.group_id = ?1 ORDER BY u.name",
        "members of " + quoted(group));
    if (!st) return tl::unexpected(st.error());
    st->bind(1, *id);
    return names(*st);
}

}  // namespace postern::db
