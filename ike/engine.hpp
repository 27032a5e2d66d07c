// ike::Engine: the IKEv2 protocol engine, sans-I/O. It is fed datagrams and the time and
// answers with actions (datagrams to send, CHILD_SAs to install or remove, events); it never
// touches a socket, a clock or a file, so two engines passing bytes in one process, with a fake
// clock, exercise every exchange (tests/scenario).
//
//   daemon:  on UDP datagram  -> engine.on_datagram(d, now, actions)
//            when next_timer() passes -> engine.on_timer(now, actions)
//            then: send actions.send, apply actions.dataplane, log actions.events
#pragma once

#include <chrono>
#include <cstdint>
#include <ctime>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <tl/expected.hpp>

#include "ike/engine_config.hpp"
#include "ike/policy/address_pool.hpp"
#include "ike/sa/ike_sa.hpp"
#include "postern/bytes.hpp"
#include "postern/dataplane.hpp"
#include "postern/net.hpp"
#include "postern/plugin/pools.hpp"

namespace postern::ike {
namespace exchange {
struct Ctx;
}

using Clock = sa::Clock;
using TimePoint = sa::TimePoint;

// One IKE message on the wire. On port 4500 the daemon strips the non-ESP marker before
// on_datagram and adds it to everything sent from or to port 4500.
struct Datagram {
    Endpoint local, remote;
    Bytes data;
};

struct InstallChildSa {
    std::uint64_t ike_sa;
    EspSaSpec in, out;  // key views point into `keys`
    std::shared_ptr<std::vector<crypto::Secret>> keys;
    // Which directions to install now. A CHILD_SA made by the peer's rekey gets its inbound
    // SA first and its outbound SA (a second InstallChildSa) once the SA it replaces is gone.
    bool install_in = true, install_out = true;
};

struct RemoveChildSa {
    std::uint64_t ike_sa;
    std::uint32_t reqid;
    EspSpi spi_in, spi_out;
    bool remove_out = true;  // false: the outbound SA was never installed
};

// MOBIKE (RFC 4555): the IKE SA moved, so every CHILD_SA's outer addresses move with it,
// keys, SPIs, sequence numbers and replay windows unchanged (no rekey). The data plane
// replaces the outer endpoints (and ESP-in-UDP on or off) of both directions.
struct MoveChildSa {
    std::uint64_t ike_sa;
    std::uint32_t reqid;
    EspSpi spi_in, spi_out;
    Endpoint local, remote;  // the new outer addresses: inbound remote->local, outbound local->remote
    bool udp_encap = false;
    bool move_out = true;  // false: the outbound SA is not installed (held back by a rekey)
};

enum class EventKind {
    IkeEstablished,
    IkeDeleted,
    ChildInstalled,
    ChildDeleted,
    AuthFailed,
    Dropped,  // a datagram dropped (malformed, unknown SPI, out of window, failed integrity)
    Log,      // anything else worth a log line
};

struct Event {
    Event(EventKind k, std::uint64_t sa, std::string t) : kind(k), ike_sa(sa), text(std::move(t)) {}

    EventKind kind;
    std::uint64_t ike_sa = 0;  // 0 when no SA is involved
    std::string text;
    // IkeEstablished, IkeDeleted and AuthFailed, for the audit log: the peer's address, the
    // identity it presented (EAP identity, else IDi), the account that identity names (set
    // once known to exist: after a successful login, or a failed one of a known user) and why
    // a login failed ("bad_password", "unknown_user", "disabled", "bad AUTH", ...).
    std::optional<Endpoint> peer;
    std::string identity;
    std::string user;
    std::string reason;
    // For event sinks (plugins): the connection (once one was chosen), how the peer
    // authenticated ("psk", "pubkey", "eap-mschapv2", "eap-tls") and its virtual IPs.
    std::string connection;
    std::string auth_method;
    std::vector<IpAddress> virtual_ips;
};

struct Actions {
    std::vector<Datagram> send;
    std::vector<InstallChildSa> install;
    std::vector<RemoveChildSa> remove;
    std::vector<MoveChildSa> move;
    std::vector<Event> events;
    void clear() {
        send.clear();
        install.clear();
        remove.clear();
        move.clear();
        events.clear();
    }
};

// Address pools by name (the plugin API's interface: the daemon's come from a plugin, e.g.
// sqlite-users' leases, or from memory).
using plugin::AddressPools;

// Counters of what happened, for logs, metrics and tests.
struct EngineStats {
    std::uint64_t received = 0, sent = 0, retransmitted = 0;
    std::uint64_t dropped_malformed = 0, dropped_unknown_spi = 0, dropped_window = 0,
                  dropped_integrity = 0;
    std::uint64_t cookies_sent = 0, invalid_ke_sent = 0, no_proposal_chosen = 0;
    std::uint64_t auth_failed = 0, established = 0, deleted = 0, half_open_expired = 0;
    // Rekeying (§2.8), whoever started it: IKE SAs and CHILD_SAs replaced, CHILD_SAs made
    // by CREATE_CHILD_SA, and rekeys of the same SA by both ends at once.
    std::uint64_t ike_rekeyed = 0, child_rekeyed = 0, child_created = 0, rekey_collisions = 0;
    // Liveness checks not sent because ESP had arrived; IKE SAs ended by a peer's
    // INITIAL_CONTACT (§2.4) from a new one.
    std::uint64_t dpd_skipped = 0, initial_contact_replaced = 0;
    // DoS protection: new IKE_SA_INIT requests dropped by the per-address rate limit, the
    // per-address and the total half-open caps; logins refused by the per-identity SA cap;
    // certificate chains refused for their length or size before verification; datagrams
    // dropped before parsing as not IKE at all (shorter than a header, or a length field
    // that is not the datagram's size; also counted in dropped_malformed).
    std::uint64_t dropped_init_rate = 0, dropped_half_open_address = 0,
                  dropped_half_open_total = 0, refused_sa_limit = 0, refused_cert_chain = 0,
                  dropped_garbage = 0;
    // MOBIKE (RFC 4555): address updates applied (either role), and UPDATE_SA_ADDRESSES
    // refused (not negotiated, NO_NATS_ALLOWED with a NAT).
    std::uint64_t mobike_updates = 0, mobike_refused = 0;
};

// A read-only view of one CHILD_SA, for the control socket.
struct ChildSaInfo {
    std::uint32_t reqid;
    EspSpi spi_in, spi_out;  // ours (inbound) and the peer's (outbound)
    std::string algorithms;  // "AES_GCM_16_256/NO_EXT_SEQ"
    std::vector<std::string> local_ts, remote_ts;
    bool installed;
};

// A read-only view of one IKE SA, for the control socket and tests.
struct IkeSaInfo {
    std::uint64_t id;
    std::string connection;
    sa::Role role;
    sa::IkeSaState state;
    IkeSpi spi_i, spi_r;
    Endpoint local, remote;
    std::string remote_identity;
    std::string algorithms;
    std::optional<IpAddress> virtual_ip;
    std::size_t children;
    bool nat_local, nat_remote;
    bool mobike;  // MOBIKE negotiated (RFC 4555)
    // The account the peer logged in as: the EAP identity with EAP, else the IKE identity
    // (empty until authenticated).
    std::string user;
    std::vector<IpAddress> virtual_ips;  // every address assigned (v4 and v6)
    TimePoint created{};                 // IKE_SA_INIT
    std::optional<TimePoint> established_at;
    std::vector<ChildSaInfo> child_sas;
};

class Engine {
  public:
    using Random = std::function<void(MutableByteView)>;
    // Calendar time, only for certificate validity (the protocol runs on the `now` it is fed).
    using WallClock = std::function<std::time_t()>;

    // `random` defaults to RAND_bytes, `wall_clock` to time(2).
    explicit Engine(EngineConfig config, AddressPools* pools = nullptr, Random random = {},
                    WallClock wall_clock = {});
    ~Engine();
    Engine(const Engine&) = delete;
    Engine& operator=(const Engine&) = delete;

    void on_datagram(const Datagram& in, TimePoint now, Actions& out);
    void on_timer(TimePoint now, Actions& out);
    // The earliest time on_timer has work to do.
    std::optional<TimePoint> next_timer() const;

    // Initiator: starts IKE_SA_INIT towards the connection's remote_endpoint from `local`.
    tl::expected<std::uint64_t, std::string> initiate(const std::string& connection,
                                                      const Endpoint& local, TimePoint now,
                                                      Actions& out);
    // Sends a Delete for the IKE SA (and so its CHILD_SAs).
    bool terminate(std::uint64_t ike_sa, TimePoint now, Actions& out);
    // Forgets every IKE SA at once, sending nothing (shutdown after the Deletes went
    // unanswered): CHILD_SAs removed, virtual IPs released, IkeDeleted reported for each.
    void abandon_all(TimePoint now, Actions& out);

    // The data plane reports a lifetime event of one direction of a CHILD_SA (by its SPI:
    // ours for inbound, the peer's for outbound).
    //   soft: the byte/packet soft limit or 7/8 of the sequence space: the CHILD_SA is rekeyed
    //         (right away, or as soon as no request of ours is outstanding).
    //   hard: the SA carries no more traffic (hard limit, or the sequence number would
    //         cycle): both directions are removed from the data plane at once, and the peer
    //         gets an INFORMATIONAL Delete for the CHILD_SA (right away, or as soon as no
    //         request of ours is outstanding). The IKE SA stays.
    // False when no CHILD_SA has that SPI (already deleted: events may cross a Delete).
    bool expire_child(EspSpi spi, bool inbound, bool hard, TimePoint now, Actions& out);

    // MOBIKE (RFC 4555), initiator of the IKE SA: our address changed. Every established IKE
    // SA we initiated with MOBIKE negotiated (`ike_sa` = 0), or that one, moves to `local`
    // (port 0: keep the SA's port): UPDATE_SA_ADDRESSES with NAT detection and COOKIE2 goes
    // out from the new address (as soon as no request of ours is outstanding; an outstanding
    // one is retransmitted from the new address), and once it is answered the CHILD_SAs move
    // (MoveChildSa). Returns how many IKE SAs will update.
    std::size_t local_address_changed(std::uint64_t ike_sa, const Endpoint& local, TimePoint now,
                                      Actions& out);

    // INITIAL_CONTACT that reached another shard (ike/shard.hpp): ends at once, without a
    // Delete, every established IKE SA of `connection` whose user is `user`, as
    // end_duplicates does on the shard the new IKE SA is on. Returns how many.
    std::size_t end_user_sas(const std::string& connection, const std::string& user,
                             const std::string& why, TimePoint now, Actions& out);

    // The IKE SAs that are connections (not a replaced one waiting for its Delete).
    std::vector<IkeSaInfo> list() const;
    // Every IKE SA the engine holds, replaced ones included.
    std::size_t ike_sa_count() const;
    // list().size() without building the list.
    std::size_t connection_count() const;
    // The IKE SAs whose user (IkeSaInfo::user) is `user`, compared exactly.
    std::vector<std::uint64_t> sas_of_user(std::string_view user) const;

    // Replaces the configuration (postern reload). SAs whose connection still exists by name
    // carry on under the new definition (their negotiated algorithms, keys and virtual IPs stay
    // as they are); SAs whose connection is gone are deleted as by terminate(). New SAs use
    // the new configuration. Returns how many SAs were deleted.
    std::size_t reload(EngineConfig config, TimePoint now, Actions& out);
    const EngineStats& stats() const { return stats_; }
    // The sizes of the DoS protection's tables (ike/admission.hpp), both bounded.
    struct AdmissionTables {
        std::size_t rated_addresses = 0;      // <= init_rate_table_size
        std::size_t half_open_addresses = 0;  // addresses with a half-open SA
        std::size_t half_open = 0;  // responder SAs not established yet (half-open, in IKE_AUTH)
    };
    AdmissionTables admission_tables() const;
    const EngineConfig& config() const { return config_; }

    struct Impl;

  private:
    // Timer work of one established IKE SA (engine.cpp).
    void expire_children(const exchange::Ctx& ctx, sa::IkeSa& sa);
    void end_child(const exchange::Ctx& ctx, sa::IkeSa& sa, EspSpi spi_in, const std::string& why);
    void start_work(const exchange::Ctx& ctx, sa::IkeSa& sa);
    // Whether ESP arrived on one of the SA's CHILD_SAs within dpd_delay (then last_heard moves
    // to it and no liveness check is needed).
    bool esp_arrived(sa::IkeSa& sa, TimePoint now);
    // Initiator: reauthenticates `old` with a new IKE SA (§2.8.3).
    void start_reauth(const exchange::Ctx& ctx, sa::IkeSa& old);

    EngineConfig config_;
    EngineStats stats_;
    std::unique_ptr<Impl> impl_;
};

}  // namespace postern::ike
