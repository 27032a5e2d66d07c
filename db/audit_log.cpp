#include "db/audit_log.hpp"

#include <limits>

namespace postern::db {

std::string_view to_string(AuditEvent e) {
    switch (e) {
        case AuditEvent::login_ok: return "login_ok";
        case AuditEvent::login_failed: return "login_failed";
        case AuditEvent::disconnect: return "disconnect";
    }
    return "unknown";
}

std::optional<AuditEvent> parse_audit_event(std::string_view text) {
    for (auto e : {AuditEvent::login_ok, AuditEvent::login_failed, AuditEvent::disconnect})
        if (to_string(e) == text) return e;
    return std::nullopt;
}

namespace {

constexpr std::string_view kColumns = "id, at, event, identity, user_name, peer, reason";

Result<std::vector<AuditEntry>> read_entries(Statement& st) {
    std::vector<AuditEntry> out;
    for (;;) {
        auto row = st.step();
        if (!row) return tl::unexpected(row.error());
        if (!*row) return out;
        AuditEntry e;
        e.id = st.int64(0);
        e.at = st.int64(1);
        // The schema's CHECK admits only the three names.
        e.event = parse_audit_event(st.text(2)).value_or(AuditEvent::login_failed);
        e.identity = st.text(3);
        e.user = st.optional_text(4);
        e.peer = st.text(5);
        e.reason = st.text(6);
        out.push_back(std::move(e));
    }
}

std::int64_t clamp_limit(std::size_t limit) {
    constexpr auto max = static_cast<std::size_t>(std::numeric_limits<std::int64_t>::max());
    return static_cast<std::int64_t>(limit > max ? max : limit);
}

}  // namespace

Result<AuditEntry> AuditLog::append(AuditEvent event, std::string_view identity,
                                    std::optional<std::string_view> user, std::string_view peer,
                                    std::string_view reason) {
    auto st = db_.prepare(
        "INSERT INTO audit_log (at, event, identity, user_name, peer, reason) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        "audit " + std::string(to_string(event)) + " of \"" + std::string(identity) + "\"");
    if (!st) return tl::unexpected(st.error());
    AuditEntry e;
    e.at = db_.now();
    e.event = event;
    e.identity = identity;
    if (user) e.user = std::string(*user);
    e.peer = peer;
    e.reason = reason;
    st->bind(1, e.at).bind(2, to_string(event)).bind(3, identity).bind(4, user).bind(5, peer);
    st->bind(6, reason);
    if (auto r = st->run(); !r) return tl::unexpected(r.error());
    e.id = db_.last_insert_id();
    return e;
}

Result<std::vector<AuditEntry>> AuditLog::recent(std::size_t limit) {
    auto st = db_.prepare("SELECT " + std::string(kColumns) +
                              " FROM audit_log ORDER BY id DESC LIMIT ?1",
                          "read audit log");
    if (!st) return tl::unexpected(st.error());
    st->bind(1, clamp_limit(limit));
    return read_entries(*st);
}

Result<std::vector<AuditEntry>> AuditLog::by_user(std::string_view user, std::size_t limit) {
    auto st = db_.prepare("SELECT " + std::string(kColumns) +
                              " FROM audit_log WHERE user_name = ?1 ORDER BY id DESC LIMIT ?2",
                          "read audit log of \"" + std::string(user) + "\"");
    if (!st) return tl::unexpected(st.error());
    st->bind(1, user).bind(2, clamp_limit(limit));
    return read_entries(*st);
}

Result<std::int64_t> AuditLog::prune(std::int64_t before) {
    auto st = db_.prepare("DELETE FROM audit_log WHERE at < ?1", "prune audit log");
    if (!st) return tl::unexpected(st.error());
    st->bind(1, before);
    if (auto r = st->run(); !r) return tl::unexpected(r.error());
    return std::int64_t{db_.changes()};
}

}  // namespace postern::db
