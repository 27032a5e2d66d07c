// One IKE SA: its identity (SPIs, role, endpoints), negotiated algorithms and keys, the state
// it is in, its CHILD_SAs, and its task manager.
//
// States are coarse, as in strongSwan and iked; the exchange logic lives in ike/exchange. Every
// change goes through set_state(), which refuses transitions that cannot happen and reports
// old -> new for the log.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ike/crypto/ke.hpp"
#include "ike/crypto/keys.hpp"
#include "ike/crypto/sk.hpp"
#include "ike/policy/identity.hpp"
#include "ike/policy/proposal_select.hpp"
#include "ike/sa/child_sa.hpp"
#include "ike/sa/task_manager.hpp"
#include "postern/ike_types.hpp"
#include "postern/net.hpp"

namespace postern::ike {
struct ConnectionConfig;
}
namespace postern::ike::exchange {
struct EapSession;  // ike/exchange/eap_session.hpp
}

namespace postern::ike::sa {

enum class IkeSaState : std::uint8_t {
    Created,      // initiator: nothing sent yet
    InitSent,     // initiator: IKE_SA_INIT request out
    HalfOpen,     // responder: IKE_SA_INIT answered, waiting for IKE_AUTH
    AuthSent,     // initiator: IKE_AUTH request out
    Established,  // authenticated both ways
    Rekeyed,      // replaced by a rekeyed IKE SA: waiting for the Delete (either way)
    Deleting,     // our Delete is out
    Dead,         // gone; the engine frees it
};
std::string_view to_string(IkeSaState s);

enum class Role : std::uint8_t { Initiator, Responder };

// What our outstanding request is for (one at a time, §2.3), so that its response, or a
// request of the peer crossing it, is understood.
struct OwnRequest {
    enum class Kind : std::uint8_t {
        Other,        // IKE_SA_INIT, IKE_AUTH, liveness checks, the Delete of the IKE SA
        ChildDelete,  // INFORMATIONAL { D(ESP, spis) }
        ChildCreate,  // CREATE_CHILD_SA for a new CHILD_SA
        ChildRekey,   // CREATE_CHILD_SA { N(REKEY_SA) } for the CHILD_SA `rekeyed`
        IkeRekey,     // CREATE_CHILD_SA for a new IKE SA
        UpdateAddresses,  // INFORMATIONAL { N(UPDATE_SA_ADDRESSES), NAT-D, N(COOKIE2) }
    };
    Kind kind = Kind::Other;
    std::vector<EspSpi> spis;  // ChildDelete: our inbound SPIs named in the Delete
    EspSpi rekeyed;            // ChildRekey: our inbound SPI of the CHILD_SA being replaced
    // ChildCreate / ChildRekey: the new one (our SPI, selectors). On the heap: most IKE SAs
    // have no such request outstanding, and a ChildSa is 320 octets.
    std::unique_ptr<ChildSa> child;
    IkeSpi ike_spi;            // IkeRekey: our SPI of the new IKE SA
    std::unique_ptr<crypto::KeyExchange> ke;
    Bytes nonce;
    unsigned invalid_ke = 0;  // INVALID_KE_PAYLOAD round trips so far
    Bytes cookie2;            // UpdateAddresses: the COOKIE2 we sent (empty: none)

    // A collision (§2.8.1, §2.8.2): the peer's rekey of what we are rekeying, which we
    // answered while this request was out. Who keeps which SA is decided by the four nonces
    // once this request's response is in.
    struct Collision {
        Bytes nonce_i, nonce_r;  // the peer's exchange: its Ni, our Nr
        EspSpi child;            // ChildRekey: our inbound SPI of the CHILD_SA it created
        IkeSpi ike;              // IkeRekey: our SPI of the IKE SA it created
    };
    std::optional<Collision> collision;
};

struct VirtualIp {
    std::string pool;
    IpAddress address;
};

// What an authorizer (EngineConfig::authorizers) gave an authenticated peer instead of its
// connection's defaults: unset members keep the connection's.
struct Authorization {
    std::optional<std::string> pool;
    std::optional<IpAddress> ipv4, ipv6;
    std::optional<std::vector<IpAddress>> dns;
    std::optional<std::vector<policy::Cidr>> routes;
    std::string group;
    bool empty() const { return !pool && !ipv4 && !ipv6 && !dns && !routes && group.empty(); }
};

class IkeSa {
  public:
    IkeSa(std::uint64_t unique_id, Role our_role, RetransmitPolicy retransmit)
        : id(unique_id), role(our_role), tasks(retransmit) {}

    // Moves to `next`; returns false (and changes nothing) if that transition is not allowed.
    bool set_state(IkeSaState next);
    IkeSaState state() const { return state_; }
    bool established() const { return state_ == IkeSaState::Established; }
    // Once established: frees what only setting up needed (the key exchange, the copies of
    // the IKE_SA_INIT messages AUTH signed, the cookie, SK_p and the SK_e/SK_a copies the
    // ciphers no longer need), a few hundred octets per SA that a server holding many would
    // otherwise keep for the SA's life.
    void release_setup_state();

    // "conn[12] 192.0.2.1:500" for logs.
    std::string name() const;

    // Our SPI and the peer's, whichever role we have.
    IkeSpi local_spi() const { return role == Role::Initiator ? spi_i : spi_r; }
    IkeSpi remote_spi() const { return role == Role::Initiator ? spi_r : spi_i; }

    const std::uint64_t id;
    const Role role;
    IkeSpi spi_i, spi_r;
    Endpoint local, remote;
    const ConnectionConfig* connection = nullptr;

    // IKE_SA_INIT results.
    policy::Selected algorithms;  // IKE: encr, prf, integ, ke
    std::unique_ptr<crypto::KeyExchange> ke;
    Bytes nonce_i, nonce_r;
    Bytes init_request, init_response;  // the exact messages, for AUTH (§2.15)
    Bytes cookie;                       // initiator: the cookie the responder demanded
    unsigned init_retries = 0;          // initiator: COOKIE / INVALID_KE round trips
    crypto::IkeKeys keys;
    std::optional<crypto::SkCipher> cipher_out, cipher_in;
    bool peer_fragmentation = false;
    bool peer_hash_algorithms = false;  // peer sent SIGNATURE_HASH_ALGORITHMS (RFC 7427)
    std::vector<HashAlgorithm> peer_hashes;
    bool nat_local = false;   // we are behind a NAT
    bool nat_remote = false;  // the peer is behind a NAT
    // The connection forces UDP encapsulation (`encap = true`): our NAT_DETECTION_SOURCE_IP
    // was faked so the peer sees a NAT too, and our CHILD_SAs are ESP-in-UDP either way.
    bool nat_fake = false;
    bool udp_encap() const { return nat_local || nat_remote || nat_fake; }
    // MOBIKE (RFC 4555): the peer sent MOBIKE_SUPPORTED in IKE_AUTH; `mobike` once both
    // ends announced it (our connection allows it). Initiator: our address changed and the
    // UPDATE_SA_ADDRESSES telling the peer is still to be sent.
    bool peer_mobike = false;
    bool mobike = false;
    bool update_addresses_due = false;
    // Where the peer's latest request came from (RFC 7296 §2.11: its response goes back
    // there, whatever the SA's addresses; a MOBIKE peer retransmits from its new address).
    struct RequestPath {
        MessageId id;
        Endpoint local, remote;
    };
    std::optional<RequestPath> request_path;
    // CHILD_SAs (our inbound SPIs) whose data-plane state is gone (hard lifetime) and whose
    // Delete is still to be sent: sent as soon as no request of ours is outstanding.
    std::vector<EspSpi> pending_child_deletes;

    // IKE_AUTH results.
    policy::Identity remote_identity;
    // Responder: who we are in this SA (IDr we send and sign): the connection's local_id, or
    // the identity the peer asked for with its IDr when our certificate holds it
    // (native-clients.md §2 item 11: Android names the server as typed, maybe its address).
    policy::Identity local_identity;
    // The account the peer logged in as (EAP identity, or IDi as text without EAP).
    std::string user;
    // While IKE_AUTH runs EAP (RFC 7296 §2.16), either role; reset once established.
    std::shared_ptr<exchange::EapSession> eap;
    std::vector<VirtualIp> virtual_ips;  // responder: assigned to the peer (v4 and/or v6)
    // Responder: what the authorizers allowed, when they gave any attribute (null: none, as for
    // most SAs: 176 octets not kept in each; immutable, so a rekeyed SA shares it).
    std::shared_ptr<const Authorization> authorization;
    std::string auth_method;             // how the peer authenticated ("psk", "eap-tls", ...)
    std::vector<IpAddress> assigned;     // initiator: what the peer gave us
    std::uint32_t next_child_reqid = 0;
    std::vector<ChildSa> children;

    TaskManager tasks;
    // What the request tasks.outstanding() is about.
    OwnRequest request;
    TimePoint created{}, last_heard{}, last_keepalive{};
    std::optional<TimePoint> established_at;

    // Rekeying (§2.8): when we rekey this IKE SA (time-based, with jitter), when we
    // reauthenticate (initiator, §2.8.3) and when it dies if neither happened; max(): never.
    TimePoint rekey_at = TimePoint::max(), reauth_at = TimePoint::max(),
              expire_at = TimePoint::max();
    // Rekeyed: when we stop waiting for the peer's Delete of this, the replaced IKE SA.
    TimePoint linger_until = TimePoint::max();
    // Replaced (its children and addresses moved to the rekeyed IKE SA) or redundant (the
    // loser of a rekey collision, which never had any): it goes quietly, without the
    // disconnect of a user. Hidden from list().
    bool retired = false;
    // Created by the peer's rekey while ours was out (a collision): it takes over only if it
    // wins. Hidden from list() until then.
    bool provisional = false;
    // Engine bookkeeping, sharded (ike/shard.hpp): counted among its user's IKE SAs in the
    // ShardDirectory (a user does not change once an SA is established, and only those count).
    mutable bool counted_in_directory = false;
    // Engine bookkeeping: the key this SA is filed under in the engine's index of SAs by user
    // (null: not filed; it differs from `user` only until the engine files it again).
    mutable const std::string* filed_key = nullptr;
    // Engine bookkeeping: when this SA's entry in the engine's timer queue is due (max(): it
    // has none).
    mutable TimePoint timer_due = TimePoint::max();
    // Initiator, reauthentication (§2.8.3): the IKE SA this one replaces once established
    // (0: none), and the virtual IPs it held, which this one asks for again.
    std::uint64_t reauth_of = 0;
    std::vector<IpAddress> reauth_addresses;

  private:
    IkeSaState state_ = IkeSaState::Created;
};

}  // namespace postern::ike::sa
