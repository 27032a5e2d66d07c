// Plugin API: who the users are (UserStore) and which pre-shared keys exist (PskSource).
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "postern/secret.hpp"

namespace postern::plugin {

// What a store knows of an account.
struct UserInfo {
    enum class Status { ok, unknown, disabled };
    Status status = Status::unknown;
    // NtPasswordHash (RFC 2759 §8.3), 16 octets, for EAP-MSCHAPv2; empty when the store has
    // none (an account that logs in with a certificate only).
    SecretBytes nt_hash;
    std::vector<std::string> groups;
    std::optional<std::string> static_ipv4, static_ipv6;  // textual addresses
    std::map<std::string, std::string> attributes;        // free-form, from the store

    // An enabled account with this NT hash (anything with view(): SecretBytes, ...).
    template <class Secret>
    static UserInfo found(const Secret& nt_hash) {
        UserInfo u;
        u.status = Status::ok;
        u.nt_hash = SecretBytes(nt_hash.view());
        return u;
    }
    static UserInfo unknown_user() { return {}; }
    static UserInfo disabled_user() {
        UserInfo u;
        u.status = Status::disabled;
        return u;
    }
};

class UserStore {
  public:
    virtual ~UserStore() = default;
    // unknown: this store does not know the account, the next store is asked. ok or
    // disabled: the answer.
    virtual UserInfo lookup(std::string_view name) = 0;
};

// A pre-shared key for an IKE SA: the connection, our identity and the peer's (as text, e.g.
// "alice@example.com", "192.0.2.7", "C=CH, O=Org, CN=x").
struct PskRequest {
    std::string connection;
    std::string local_identity;
    std::string remote_identity;
};

class PskSource {
  public:
    virtual ~PskSource() = default;
    // nullopt: not known here, the next source is asked.
    virtual std::optional<SecretBytes> psk(const PskRequest& request) = 0;
};

}  // namespace postern::plugin
