// Users and groups in the database: what `postern user ...` edits and what the EAP-MSCHAPv2
// authenticator reads. Passwords are never stored: the caller computes the NT hash
// (MD4 of the UTF-16LE password, RFC 2759 NtPasswordHash) and hands over its 16 bytes.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "db/database.hpp"
#include "ike/crypto/secret.hpp"
#include "postern/net.hpp"

namespace postern::db {

inline constexpr std::size_t kNtHashSize = 16;

struct User {
    std::int64_t id = 0;
    std::string name;
    bool has_password = false;  // an NT hash is set (credentials() returns it)
    bool enabled = true;
    std::int64_t created_at = 0;
    std::optional<std::int64_t> last_login;
    std::optional<IpAddress> static_ipv4, static_ipv6;
    std::string attributes = "{}";  // a JSON object
};

// What an authenticator needs, in one read: the hash is wiped when this is destroyed.
struct Credentials {
    std::int64_t user_id = 0;
    bool enabled = false;
    ike::crypto::Secret nt_hash;  // empty when no password is set
};

struct Group {
    std::int64_t id = 0;
    std::string name;
    std::int64_t created_at = 0;
};

class UserStore {
  public:
    explicit UserStore(Database& db) : db_(db) {}

    // ---- users. Errors: not_found for an unknown name, already_exists for a taken name or
    // static address, invalid_argument for a bad hash length, empty name or bad JSON.
    // `nt_hash` may be omitted: the user exists but cannot log in with EAP-MSCHAPv2 yet.
    Result<User> add(std::string_view name, std::optional<ByteView> nt_hash = std::nullopt);
    Result<User> get(std::string_view name);
    Result<std::vector<User>> list();  // by name
    Result<void> remove(std::string_view name);
    Result<Credentials> credentials(std::string_view name);

    Result<void> set_password_hash(std::string_view name, ByteView nt_hash);
    Result<void> clear_password(std::string_view name);
    Result<void> set_enabled(std::string_view name, bool enabled);
    // A JSON object as text ("{}" clears); anything else is refused by the schema.
    Result<void> set_attributes(std::string_view name, std::string_view json);
    // Sets (or with nullopt clears) the static address of `family`; an address of the other
    // family is refused, one already given to another user is already_exists.
    Result<void> set_static_address(std::string_view name, IpAddress::Family family,
                                    std::optional<IpAddress> address);
    // A successful login: last_login = now.
    Result<void> record_login(std::string_view name);

    // ---- groups and membership. Adding a member twice is a no-op; removing a non-member is
    // not_found.
    Result<Group> add_group(std::string_view name);
    Result<void> remove_group(std::string_view name);
    Result<std::vector<Group>> list_groups();  // by name
    Result<void> add_member(std::string_view group, std::string_view user);
    Result<void> remove_member(std::string_view group, std::string_view user);
    Result<std::vector<std::string>> groups_of(std::string_view user);    // names, sorted
    Result<std::vector<std::string>> members_of(std::string_view group);  // names, sorted

  private:
    Result<std::int64_t> user_id(std::string_view name);
    Result<std::int64_t> group_id(std::string_view name);
    // Runs `sql` (an UPDATE of users with the name as ?1 and the value as ?2); not_found when
    // no user has that name.
    template <typename T>
    Result<void> update_user(std::string_view sql, std::string_view name, const T& value,
                             std::string_view what);

    Database& db_;
};

}  // namespace postern::db
