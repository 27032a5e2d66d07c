#include "db/psk_store.hpp"

namespace postern::db {

namespace {
std::string quoted(std::string_view s) { return "\"" + std::string(s) + "\""; }
}  // namespace

Result<void> PskStore::set(std::string_view identity, ByteView secret) {
    const std::string what = "set PSK of " + quoted(identity);
    if (identity.empty()) return fail(ErrorKind::invalid_argument, "set PSK: empty identity");
    if (secret.empty()) return fail(ErrorKind::invalid_argument, what + ": empty secret");
    // An upsert keeps created_at of the first PSK: it says since when the identity has one.
    auto st = db_.prepare(
        "INSERT INTO psks (identity, secret, created_at) VALUES (?1, ?2, ?3) "
        "ON CONFLICT (identity) DO UPDATE SET secret = excluded.secret",
        what);
    if (!st) return tl::unexpected(st.error());
    st->bind(1, identity).bind(2, secret).bind(3, db_.now());
    return st->run();
}

Result<ike::crypto::Secret> PskStore::get(std::string_view identity) {
    auto st = db_.prepare("SELECT secret FROM psks WHERE identity = ?1",
                          "get PSK of " + quoted(identity));
    if (!st) return tl::unexpected(st.error());
    st->bind(1, identity);
    auto row = st->step();
    if (!row) return tl::unexpected(row.error());
    if (!*row) return fail(ErrorKind::not_found, "no PSK for " + quoted(identity));
    return ike::crypto::Secret(st->blob_view(0));
}

Result<void> PskStore::remove(std::string_view identity) {
    auto st = db_.prepare("DELETE FROM psks WHERE identity = ?1",
                          "delete PSK of " + quoted(identity));
    if (!st) return tl::unexpected(st.error());
    st->bind(1, identity);
    if (auto r = st->run(); !r) return r;
    if (db_.changes() == 0) return fail(ErrorKind::not_found, "no PSK for " + quoted(identity));
    return {};
}

Result<std::vector<std::string>> PskStore::identities() {
    auto st = db_.prepare("SELECT identity FROM psks ORDER BY identity", "list PSK identities");
    if (!st) return tl::unexpected(st.error());
    std::vector<std::string> out;
    for (;;) {
        auto row = st->step();
        if (!row) return tl::unexpected(row.error());
        if (!*row) return out;
        out.push_back(st->text(0));
    }
}

}  // namespace postern::db
