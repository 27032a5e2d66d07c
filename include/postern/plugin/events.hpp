// Plugin API: what happened to peers, for event sinks (audit logs, webhooks, metrics).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace postern::plugin {

struct ConnectEvent {
    std::uint64_t ike_sa = 0;  // the IKE SA's id (as `postern sa list` shows it)
    std::string connection;
    std::string identity;  // as presented
    std::string user;      // the account, else the IKE identity
    std::string auth_method;
    std::string peer;                      // "192.0.2.7:4500"
    std::vector<std::string> virtual_ips;  // assigned addresses
    std::int64_t time = 0;                 // Unix seconds
};

struct DisconnectEvent {
    std::uint64_t ike_sa = 0;
    std::string connection;
    std::string user;
    std::string peer;
    std::string reason;  // "deleted by the peer", "deleted by us", "peer did not answer", ...
    std::int64_t time = 0;
};

struct AuthFailureEvent {
    std::string connection;  // empty when no connection matched
    std::string identity;
    std::string user;  // the account when it exists
    std::string peer;
    std::string reason;  // "bad_password", "unknown_user", "denied: <authorizer's reason>", ...
    std::int64_t time = 0;
};

class EventSink {
  public:
    virtual ~EventSink() = default;
    virtual void on_connect(const ConnectEvent& e) { (void)e; }
    virtual void on_disconnect(const DisconnectEvent& e) { (void)e; }
    virtual void on_auth_failure(const AuthFailureEvent& e) { (void)e; }
    // Called once the daemon has handled the datagrams it had (one event-loop turn), after
    // the events above: a sink that writes somewhere slow may buffer them and write them
    // together here (the sqlite-users audit log: one transaction per turn, not per login).
    virtual void flush() {}
};

}  // namespace postern::plugin
