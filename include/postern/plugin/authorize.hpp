// Plugin API: after a peer authenticated, before it gets addresses and CHILD_SAs, authorizers
// decide whether it may in, and with what.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace postern::plugin {

// What is known of the peer at that point.
struct AuthorizeRequest {
    std::string connection;
    std::string identity;     // as presented (EAP identity, else IDi)
    std::string user;         // the account (EAP logins), else the IKE identity
    std::string auth_method;  // "psk", "pubkey", "eap-mschapv2", "eap-tls"
    std::string peer;         // "192.0.2.7:4500"
    std::string local_identity;
    std::vector<std::string> groups;  // the account's, from the user stores
    std::int64_t time = 0;            // Unix seconds
};

struct AuthorizeResult {
    // abstain: no opinion, the next authorizer decides; all abstaining allows.
    enum class Decision { abstain, allow, deny };
    Decision decision = Decision::abstain;
    std::string reason;  // deny: for the log and the audit row ("outside office hours")

    // With allow, what the peer gets instead of the connection's defaults:
    std::optional<std::string> pool;                 // a pool name from postern.toml
    std::optional<std::string> ipv4, ipv6;           // a fixed virtual address
    std::optional<std::vector<std::string>> dns;     // DNS servers
    std::optional<std::vector<std::string>> routes;  // split-include subnets (CIDR)
    std::optional<std::string> group;                // the group it is let in as, for the log

    static AuthorizeResult abstain() { return {}; }
    static AuthorizeResult allow() {
        AuthorizeResult r;
        r.decision = Decision::allow;
        return r;
    }
    static AuthorizeResult deny(std::string why) {
        AuthorizeResult r;
        r.decision = Decision::deny;
        r.reason = std::move(why);
        return r;
    }
};

class Authorizer {
  public:
    virtual ~Authorizer() = default;
    virtual AuthorizeResult authorize(const AuthorizeRequest& request) = 0;
};

}  // namespace postern::plugin
