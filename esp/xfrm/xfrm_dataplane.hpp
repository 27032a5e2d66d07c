// The kernel data plane: postern::DataPlane on Linux XFRM over netlink. Each CHILD_SA
// direction becomes a tunnel-mode ESP SA in the kernel, with its policies (out for the
// outbound SA; in and fwd for the inbound one, so decrypted traffic may be delivered and
// forwarded) and, for the outbound SA, routes to the remote prefixes (route_manager.hpp).
// ESP then never leaves the kernel: posternd's sockets see IKE only.
//
// What marks Postern's objects. Every SA and policy template Postern installs carries a reqid
// in 0x50000000-0x50ffffff (0x50 = 'P'); the start-up sweep (after a crash) and the shutdown
// sweep delete exactly those, and Postern's routes (its own table and protocol), never anyone
// else's SAs. One posternd with the kernel data plane per network namespace.
//
// Reqids. The kernel picks the outbound SA of a policy by the template's reqid. The engine's
// reqids are per IKE SA, so the data plane gives each (local address, peer endpoint, remote
// traffic selectors) its own kernel reqid, counted by the SAs using it: both directions of a
// CHILD_SA share one, and so do a CHILD_SA and its rekeyed successor, which makes a rekey need
// no policy change (the kernel prefers the newest outbound SA of a reqid, as with strongSwan's
// reqid reuse). Two CHILD_SAs of one peer with the same remote selectors share one too.
//
// Policies are counted by (direction, selector). When a second owner (another reqid, e.g. a
// client that reconnected from a new port before its old IKE SA went) installs the same
// selector, the policy points at the newest owner, and back at the previous one when the newest
// goes.
//
// Lifetimes are the kernel's: soft and hard time and byte limits go into each SA, and
// XFRM_MSG_EXPIRE comes back as an SaLifetimeEvent through process_events() (soft: the engine
// rekeys; hard: the kernel has already deleted the SA, the engine deletes the CHILD_SA).
//
// Thread: one (posternd's IKE thread), including process_events().
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <tl/expected.hpp>

#include "esp/engine/userspace_dataplane.hpp"
#include "esp/xfrm/netlink_socket.hpp"
#include "esp/xfrm/route_manager.hpp"
#include "esp/xfrm/xfrm_messages.hpp"
#include "postern/dataplane.hpp"

namespace postern::esp::xfrm {

inline constexpr std::uint32_t kReqidBase = 0x50000000;
inline constexpr std::uint32_t kReqidMask = 0xff000000;
inline bool is_postern_reqid(std::uint32_t reqid) {
    return (reqid & kReqidMask) == kReqidBase;
}

enum class LogLevel { debug, info, warning, error };
using LogFn = std::function<void(LogLevel, const std::string&)>;

struct XfrmOptions {
    bool routes = true;  // install routes for remote prefixes (route_manager.hpp)
    RouteOptions route;
    bool sweep_at_start = true;  // remove Postern's stale SAs, policies and routes first
};

// Whether this kernel can carry ESP: installs and deletes a throw-away AES-GCM ESP SA on
// 127.0.0.1 (reqid 0x50ffffff). The error says why not, ready to print ("the kernel cannot
// install an ESP SA: add SA: Protocol not supported (kernel: Requested type not found): no ESP
// support (CONFIG_INET_ESP, module esp4)").
tl::expected<void, std::string> probe_kernel_esp();

// The kernel must decapsulate ESP-in-UDP arriving on the NAT-T socket `fd` (UDP_ENCAP_ESPINUDP,
// RFC 3948); IKE (behind the non-ESP marker) still reaches the socket.
tl::expected<void, std::string> enable_udp_encap(int fd);
// IKE sockets bypass IPsec policies (a policy covering the peer's own address must not catch
// IKE, and ESP-in-UDP leaves through the NAT-T socket itself), as strongSwan does.
tl::expected<void, std::string> bypass_policies(int fd, bool ipv6);

struct XfrmStats {
    std::uint64_t installed = 0, removed = 0, install_errors = 0;
    std::uint64_t soft_expires = 0, hard_expires = 0, acquires = 0, mappings = 0, migrates = 0;
    std::uint64_t events_lost = 0;
};

class XfrmDataPlane final : public DataPlane {
  public:
    using LifetimeFn = std::function<void(const SaLifetimeEvent&)>;

    // Opens the netlink sockets (requests, events, routes) and sweeps stale state.
    static tl::expected<std::unique_ptr<XfrmDataPlane>, std::string> open(XfrmOptions options,
                                                                          LogFn log);
    ~XfrmDataPlane() override;

    std::string name() const override { return "kernel"; }
    bool install(const EspSaSpec& sa, std::string& error) override;
    bool remove(EspSpi spi, bool inbound, std::string& error) override;
    bool counters(EspSpi spi, bool inbound, SaCounters& out) override;

    // XFRM_MSG_ALLOCSPI: an inbound SPI the kernel reserves (a larval SA peer -> local) until
    // install() fills it in.
    tl::expected<EspSpi, std::string> allocate_spi(const IpAddress& peer, const IpAddress& local);

    // Events: watch event_fd() for reading, then call process_events(), which reads every
    // queued event: expires go to the lifetime callback, acquires, NAT mapping changes and
    // migrations are logged (Postern answers; it never starts a CHILD_SA for an acquire).
    int event_fd() const { return events_.fd(); }
    void process_events();
    void set_lifetime_callback(LifetimeFn fn) { on_lifetime_ = std::move(fn); }

    // Removes every SA, policy and route installed, then sweeps (as at start). Returns how
    // many kernel objects went. Called by the destructor when not called before.
    std::size_t shutdown();
    // The start-up sweep: Postern's SAs and policies (by reqid) and routes.
    std::size_t sweep();

    const XfrmStats& stats() const { return stats_; }
    std::size_t sa_count() const { return sas_.size(); }
    std::size_t policy_count() const { return policies_.size(); }

  private:
    XfrmDataPlane(NetlinkSocket requests, NetlinkSocket events,
                  std::optional<RouteManager> routes, XfrmOptions options, LogFn log);

    struct PolicyOwner {
        std::uint32_t reqid;
        IpAddress tmpl_src, tmpl_dst;
        int refs = 0;
        bool operator==(const PolicyOwner& o) const {
            return reqid == o.reqid && tmpl_src == o.tmpl_src && tmpl_dst == o.tmpl_dst;
        }
    };
    struct PolicyState {
        PolicySpec spec;  // the one in the kernel: the newest owner's template
        std::vector<PolicyOwner> owners;
    };
    struct SaEntry {
        EspSpi spi{0};
        bool inbound = false;
        IpAddress src, dst;
        std::uint32_t reqid = 0;         // the kernel's
        std::uint32_t engine_reqid = 0;  // the engine's, for events
        std::string reqid_key;
        std::vector<std::string> policies;  // keys into policies_
        std::vector<Prefix> routes;
        bool gone = false;  // the kernel deleted it (hard expire)
    };
    // A change to policies_ that a netlink message has yet to make true.
    struct PolicyOp {
        std::string key;
        bool created;    // policies_[key] is new
        bool switched;   // an owner was added and the policy now points at it
        Message msg;
    };

    std::uint32_t acquire_reqid(const std::string& key);
    void release_reqid(const std::string& key);
    // Takes a reference on (dir, sel) for `owner`; appends the message to send, if any.
    void acquire_policy(const xfrm_selector& sel, std::uint8_t dir, const PolicyOwner& owner,
                        std::vector<PolicyOp>& ops);
    void undo_policy(const PolicyOp& op, const PolicyOwner& owner);
    // Drops the reference; returns the message to send, if any.
    std::optional<Message> release_policy(const std::string& key, const PolicyOwner& owner);
    void release(SaEntry& e, std::vector<std::string>* errors);
    std::string describe(const SaEntry& e) const;
    void log(LogLevel l, const std::string& text) const {
        if (log_) log_(l, text);
    }

    NetlinkSocket requests_;
    NetlinkSocket events_;
    std::optional<RouteManager> routes_;
    XfrmOptions options_;
    LogFn log_;
    LifetimeFn on_lifetime_;
    std::map<std::pair<std::uint32_t, bool>, SaEntry> sas_;  // (SPI, inbound)
    std::map<std::string, PolicyState> policies_;
    struct ReqidUse {
        std::uint32_t reqid;
        int refs;
    };
    std::map<std::string, ReqidUse> reqids_;
    std::set<std::uint32_t> reqids_in_use_;
    std::uint32_t next_reqid_ = 1;
    std::set<std::uint32_t> larval_;  // SPIs from allocate_spi() not installed yet
    XfrmStats stats_;
    bool shut_down_ = false;
};

}  // namespace postern::esp::xfrm
