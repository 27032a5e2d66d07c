// Internal to the engine: what every exchange sees while it handles one message or timer, and
// the exchanges' entry points. Each exchange lives in its own file:
//   ike_init.cpp       IKE_SA_INIT, both roles (proposals, KE, nonces, NAT-D, cookies)
//   ike_auth.cpp       IKE_AUTH, both roles (identities, PSK and signature AUTH)
//   eap_auth.cpp       IKE_AUTH with EAP (RFC 7296 §2.16, RFC 5998), both roles
//   authorize.cpp      authorizers and PSK sources (the plugins' hooks into IKE_AUTH)
//   auth_limits.cpp    work bounded before and after authentication (certificate chain
//                      caps, IKE SAs per identity)
//   child.cpp          the CHILD_SA carried in IKE_AUTH, and what all CHILD_SAs share
//                      (ESP proposal, TS narrowing, keys, the data plane)
//   create_child.cpp   CREATE_CHILD_SA for CHILD_SAs, both roles: new ones and rekeys, with
//                      and without PFS, and rekey collisions (§1.3, §2.8, §2.8.1)
//   ike_rekey.cpp      CREATE_CHILD_SA rekeying the IKE SA, both roles (§1.3.2, §2.8.2)
//   lifetimes.cpp      when SAs are rekeyed and when they die (jitter, limits)
//   config_payload.cpp the CP payload (virtual IPs, DNS, split include)
//   informational.cpp  INFORMATIONAL (Delete, liveness checks)
//   mobike.cpp         MOBIKE (RFC 4555): MOBIKE_SUPPORTED, UPDATE_SA_ADDRESSES both roles,
//                      NAT detection on the new addresses, COOKIE2
//   messages.cpp       building, protecting and sending messages for an IKE SA
//   spis.cpp           SPIs: random ones, wire forms
#pragma once

#include <ctime>
#include <string>
#include <vector>

#include "ike/crypto/x509.hpp"
#include "ike/engine.hpp"
#include "ike/sa/ike_sa.hpp"
#include "ike/wire/message.hpp"

namespace postern::ike::exchange {

// Nonces we send (§2.10: at least 16 octets and half the PRF key size; 32 covers every PRF).
constexpr std::size_t kNonceSize = 32;

struct Ctx;

// The engine's IKE SAs, for exchanges that make or touch another one (rekeying).
class SaTable {
  public:
    // By our SPI.
    virtual sa::IkeSa* find(IkeSpi ours) = 0;
    // Takes a new IKE SA (made by a rekey) into the engine, keyed by its local SPI.
    virtual sa::IkeSa& adopt(std::unique_ptr<sa::IkeSa> sa) = 0;
    // Its timers changed (another SA's exchange gave it CHILD_SAs).
    virtual void touch(const sa::IkeSa& sa) = 0;
    // RFC 7296 §2.4, INITIAL_CONTACT: ends at once, without a Delete, every other established
    // IKE SA of `fresh`'s connection whose peer logged in as `user`, with its CHILD_SAs and
    // virtual IPs (the peer lost them, e.g. it rebooted). Returns how many.
    virtual std::size_t end_duplicates(const Ctx& ctx, const sa::IkeSa& fresh,
                                       const std::string& user) = 0;
    // The IKE SA with this unique id that is not retired, or null.
    virtual sa::IkeSa* by_id(std::uint64_t id) = 0;
    // Whether another IKE SA than `sa` is established with the same peer address and our
    // same identity (strongSwan's "has contact"): then an initiator sends no INITIAL_CONTACT.
    virtual bool has_contact(const sa::IkeSa& sa) const = 0;
    // A peer reauthenticating (§2.8.3) asks for the virtual IP its older IKE SA holds: that
    // SA, if it is of the same connection and user, gives it up (its end will not release
    // it) and the address moves to `fresh`.
    virtual std::optional<sa::VirtualIp> take_virtual_ip(const sa::IkeSa& fresh,
                                                         const std::string& user,
                                                         const IpAddress& address) = 0;
    // Established IKE SAs other than `except` whose user is `user` (rekeyed ones, waiting
    // for their Delete, and provisional ones of a rekey collision not counted).
    virtual std::size_t count_user(const std::string& user, const sa::IkeSa& except) const = 0;
    // Sharded engines (ike/shard.hpp): `sa` of `user` got `v` from the pool; and whether a
    // virtual IP an SA gives up goes back to the pool (no SA on another shard shares it).
    virtual void held_virtual_ip(const sa::IkeSa& sa, const std::string& user,
                                 const sa::VirtualIp& v) = 0;
    virtual bool let_go_virtual_ip(const sa::VirtualIp& v) = 0;
    // An inbound ESP SPI no other CHILD_SA of the daemon has (ike/shard.hpp).
    virtual EspSpi new_esp_spi() = 0;

  protected:
    ~SaTable() = default;
};

struct Ctx {
    const EngineConfig& config;
    EngineStats& stats;
    AddressPools* pools;
    const Engine::Random& random;
    TimePoint now;
    Actions& out;
    std::time_t wall_now;  // for certificate validity only
    // config.verifier, else one built once from config.trust_anchors (an X509_STORE per
    // authentication would be waste). Shared: an EAP-TLS conversation keeps it.
    const std::shared_ptr<const plugin::CertificateVerifier>& verifier;
    // CERTREQ naming our trust anchors (SHA-1 of each SPKI), built once; nullopt without any.
    const std::optional<wire::Payload>& certreq;
    SaTable& sas;

    Bytes random_bytes(std::size_t n) const {
        Bytes b(n);
        random(b);
        return b;
    }
    void event(EventKind kind, const sa::IkeSa* sa, std::string text) const {
        out.events.push_back(Event{kind, sa ? sa->id : 0, std::move(text)});
    }
    void log(const sa::IkeSa* sa, std::string text) const {
        event(EventKind::Log, sa, sa ? sa->name() + ": " + text : text);
    }
};

// ---- messages.cpp -------------------------------------------------------------------------
wire::Header make_header(const sa::IkeSa& sa, ExchangeType exchange, bool response, MessageId id);
// The datagrams of one message: IKE_SA_INIT in the clear, everything else inside SK, split
// into SKF fragments when it is too big and the peer supports fragmentation (RFC 7383).
std::vector<Bytes> encode(const Ctx& ctx, const sa::IkeSa& sa, const wire::Header& header,
                          const std::vector<wire::Payload>& inner);
void send_datagrams(const Ctx& ctx, const sa::IkeSa& sa, const std::vector<Bytes>& datagrams);
// The same, between the given addresses (a cached response goes back where the retransmitted
// request came from, RFC 7296 §2.11).
void send_datagrams(const Ctx& ctx, const Endpoint& local, const Endpoint& remote,
                    const std::vector<Bytes>& datagrams);
// Sends a request built by `inner` with the next message ID and arms retransmission.
void send_request(const Ctx& ctx, sa::IkeSa& sa, ExchangeType exchange,
                  const std::vector<wire::Payload>& inner);
// Sends a response to request `id` and caches it for retransmitted requests.
void send_response(const Ctx& ctx, sa::IkeSa& sa, ExchangeType exchange, MessageId id,
                   const std::vector<wire::Payload>& inner);
// The same, between the given addresses (where the request came from, when the IKE SA's
// addresses are not those: a refused UPDATE_SA_ADDRESSES).
void send_response_to(const Ctx& ctx, sa::IkeSa& sa, ExchangeType exchange, MessageId id,
                      const std::vector<wire::Payload>& inner, const Endpoint& local,
                      const Endpoint& remote);

// ---- ike_init.cpp -------------------------------------------------------------------------
// Responder: a new IKE_SA_INIT request. Returns the new SA (HalfOpen) or nullptr when the
// request was answered without creating one (COOKIE, INVALID_KE_PAYLOAD, NO_PROPOSAL_CHOSEN)
// or dropped.
std::unique_ptr<sa::IkeSa> respond_ike_sa_init(const Ctx& ctx, std::uint64_t id, const Datagram& in,
                                               const wire::Message& m, bool require_cookie,
                                               ByteView cookie_secret);
// Initiator.
void start_ike_sa_init(const Ctx& ctx, sa::IkeSa& sa);
// Returns false if the SA failed and must go.
bool handle_ike_sa_init_response(const Ctx& ctx, sa::IkeSa& sa, const Datagram& in,
                                 const wire::Message& m);

// ---- ike_auth.cpp -------------------------------------------------------------------------
// Responder; returns false if the SA failed and must go.
bool respond_ike_auth(const Ctx& ctx, sa::IkeSa& sa, MessageId id,
                      const std::vector<wire::Payload>& inner);
void start_ike_auth(const Ctx& ctx, sa::IkeSa& sa);
bool handle_ike_auth_response(const Ctx& ctx, sa::IkeSa& sa,
                              const std::vector<wire::Payload>& inner);
// Shared with eap_auth.cpp:
wire::IdPayload id_payload(const policy::Identity& id);
// IDType | RESERVED | data: what prf(SK_p, ...) covers.
Bytes id_body(const policy::Identity& id);
// Our AUTH payload (and certificates) for `octets`, as the connection's local_auth says
// (PSK or signature).
// `remote`: the peer's identity as far as known (picks the PSK when a source provides it).
tl::expected<std::vector<wire::Payload>, std::string> build_auth(const Ctx& ctx,
                                                                 const sa::IkeSa& sa,
                                                                 ByteView octets,
                                                                 const policy::Identity& remote);
// Checks the peer's AUTH (and certificates) against connection `c` (PSK or signature).
tl::expected<void, std::string> verify_peer(const Ctx& ctx, const sa::IkeSa& sa,
                                            const ConnectionConfig& c,
                                            const std::vector<wire::Payload>& in,
                                            const policy::Identity& peer, ByteView octets);
// Both roles end IKE_AUTH here: state, counters, and the event that names the peer, the
// algorithms and `how` the peer authenticated.
void mark_established(const Ctx& ctx, sa::IkeSa& sa, const policy::Identity& peer,
                      const std::string& how);
// For the AuthFailed event (the audit log): what the peer presented, the account if known to
// exist, and a short reason (empty: the `why` text).
struct AuthFailure {
    std::string identity, user, reason;
};
void fail_auth(const Ctx& ctx, sa::IkeSa& sa, const std::string& why, AuthFailure detail);
// Initiator: our CERTREQ with ConnectionConfig::emulate.certreq_extra appended to its CA data.
// Initiator: the IKE SA `fresh` reauthenticated (reauth_of) is deleted now that `fresh` is up.
void retire_reauthenticated(const Ctx& ctx, sa::IkeSa& fresh);
// Responder, peer authenticated and authorized: an INITIAL_CONTACT in its (first) IKE_AUTH
// request ends its earlier IKE SAs on this connection (SaTable::end_duplicates).
void honor_initial_contact(const Ctx& ctx, sa::IkeSa& sa, const std::vector<wire::Payload>& request,
                           const std::string& user);
// Initiator: N(INITIAL_CONTACT) for the first IKE_AUTH request, when it is due (the connection
// wants it, the emulated client does not add it itself, no other IKE SA with the peer).
std::optional<wire::Payload> initial_contact(const Ctx& ctx, const sa::IkeSa& sa);
wire::Payload with_certreq_extra(const wire::Payload& certreq, const Bytes& extra);

// ---- eap_auth.cpp -------------------------------------------------------------------------
// Responder: the first IKE_AUTH request had no AUTH and `sa.connection` (chosen) wants EAP:
// answers IDr, CERT+AUTH (unless EAP-only), EAP-Request/Identity.
bool start_eap(const Ctx& ctx, sa::IkeSa& sa, MessageId id, const std::vector<wire::Payload>& in,
               const policy::Identity& peer);
// Responder: every later IKE_AUTH request of the conversation (EAP responses, then AUTH).
bool continue_eap(const Ctx& ctx, sa::IkeSa& sa, MessageId id,
                  const std::vector<wire::Payload>& in);
// Initiator with local_auth = Eap.
void start_eap_initiator(const Ctx& ctx, sa::IkeSa& sa);
bool handle_eap_response(const Ctx& ctx, sa::IkeSa& sa, const std::vector<wire::Payload>& in);

// ---- auth_limits.cpp ----------------------------------------------------------------------
// The peer's CERT payloads against EngineConfig::max_peer_certs and max_peer_cert_bytes,
// before any is parsed; counts a refusal in stats.refused_cert_chain.
tl::expected<void, std::string> check_cert_chain(const Ctx& ctx,
                                                 const std::vector<wire::Payload>& in);
// Responder, the peer authenticated as `user`: the reason to refuse it when that identity
// already holds as many IKE SAs as the connection (else the server) allows; counts a
// refusal in stats.refused_sa_limit.
std::optional<std::string> sa_limit_reached(const Ctx& ctx, const sa::IkeSa& sa,
                                            const std::string& user);

// ---- authorize.cpp ------------------------------------------------------------------------
// Responder, the peer authenticated (sa.user, sa.auth_method set): asks the authorizers and
// keeps what the deciding one allowed in sa.authorization. Returns the denial's reason, or
// nullopt when the peer may in. `presented`: the identity it presented.
std::optional<std::string> authorize(const Ctx& ctx, sa::IkeSa& sa, const std::string& presented);
// The PSK of the SA's connection for this peer: the connection's own, else the first PSK
// source (EngineConfig::psk_sources) that knows one.
std::optional<crypto::Secret> psk_for(const Ctx& ctx, const sa::IkeSa& sa,
                                      const policy::Identity& remote);

// ---- spis.cpp -----------------------------------------------------------------------------
IkeSpi random_ike_spi(const Ctx& ctx);
EspSpi random_esp_spi(const Ctx& ctx);
Bytes spi_bytes(EspSpi spi);
Bytes spi_bytes(IkeSpi spi);
std::optional<EspSpi> esp_spi_from(ByteView b);
std::optional<IkeSpi> ike_spi_from(ByteView b);  // nullopt also for zero

// ---- child.cpp ----------------------------------------------------------------------------
// Responder: negotiates the CHILD_SA of an IKE_AUTH request. On success appends SA, TSi, TSr to
// `reply` and records the ChildSa (not yet installed); on failure appends the error notify
// (NO_PROPOSAL_CHOSEN, TS_UNACCEPTABLE) and the IKE SA stays up (RFC 7296 §1.2).
void respond_child(const Ctx& ctx, sa::IkeSa& sa, const std::vector<wire::Payload>& request,
                   std::vector<wire::Payload>& reply);
// Initiator: SA, TSi, TSr of our IKE_AUTH request (remembers the SPI we chose).
void request_child(const Ctx& ctx, sa::IkeSa& sa, std::vector<wire::Payload>& request);
bool handle_child_response(const Ctx& ctx, sa::IkeSa& sa,
                           const std::vector<wire::Payload>& response);
// Hands the SA's not-yet-installed CHILD_SAs to the data plane (the inbound SA only while
// outbound_deferred) and starts their lifetimes.
void install_children(const Ctx& ctx, sa::IkeSa& sa);
// Installs the outbound SA a CHILD_SA held back (ChildSa::outbound_deferred).
void install_outbound(const Ctx& ctx, sa::IkeSa& sa, sa::ChildSa& child);
// Takes one CHILD_SA (by our inbound SPI) out of the data plane and the SA; a CHILD_SA that
// replaced it and held its outbound SA back installs it now.
void remove_child(const Ctx& ctx, sa::IkeSa& sa, EspSpi spi_in, const std::string& why);
void remove_children(const Ctx& ctx, sa::IkeSa& sa);
sa::ChildSa* find_child(sa::IkeSa& sa, EspSpi spi, bool inbound);
// Responder, any CHILD_SA: the ESP proposal and selectors of `request` (SA, TSi, TSr) for this
// IKE SA (a virtual IP narrows TSi to it). The new CHILD_SA has our SPI, the peer's, the
// algorithms and selectors; no reqid or keys yet. On failure the error notify is in `reply`.
std::optional<sa::ChildSa> negotiate_child(const Ctx& ctx, sa::IkeSa& sa,
                                           const std::vector<wire::Payload>& request,
                                           bool ignore_ke, std::vector<wire::Payload>& reply);
// Responder: SA (the chosen proposal with our SPI), TSi, TSr.
void answer_child(const sa::ChildSa& child, std::vector<wire::Payload>& reply);
// Initiator: the responder's SA, TSi, TSr for a CHILD_SA we proposed (`child` has our SPI and
// the selectors we sent); fills in its SPI, the algorithms and the narrowed selectors.
// Returns why it is unacceptable.
std::optional<std::string> accept_child(sa::ChildSa& child,
                                        const std::vector<wire::Payload>& response,
                                        std::span<const crypto::Proposal> offered);
// KEYMAT (§2.17) into the child's four keys; g_ir empty without PFS.
bool derive_child(const Ctx& ctx, const sa::IkeSa& sa, sa::ChildSa& child, ByteView g_ir,
                  ByteView ni, ByteView nr, bool we_initiated);
wire::Payload ts_payload(PayloadType type, const std::vector<policy::TrafficSelector>& ts);
std::string describe_child(const sa::ChildSa& child);

// ---- create_child.cpp ---------------------------------------------------------------------
// Responder: a CREATE_CHILD_SA request (a new CHILD_SA, a CHILD_SA rekey, or an IKE SA rekey,
// handed to respond_ike_rekey).
void respond_create_child(const Ctx& ctx, sa::IkeSa& sa, MessageId id,
                          const std::vector<wire::Payload>& inner);
// Initiator: rekeys the CHILD_SA with our inbound SPI `spi_in` (its state becomes Rekeying).
void start_child_rekey(const Ctx& ctx, sa::IkeSa& sa, EspSpi spi_in);
// The response to our CREATE_CHILD_SA (sa.request says which).
void handle_create_child_response(const Ctx& ctx, sa::IkeSa& sa,
                                  const std::vector<wire::Payload>& inner);
// The nonce rule of §2.8.1: true when the lowest of the four nonces is one of `ours` (so the
// SA our exchange made is the redundant one). Octet by octet; a nonce that is a prefix of
// another is the lower.
bool lowest_nonce_is_ours(ByteView our_ni, ByteView our_nr, ByteView their_ni,
                          ByteView their_nr);

// ---- ike_rekey.cpp ------------------------------------------------------------------------
void respond_ike_rekey(const Ctx& ctx, sa::IkeSa& sa, MessageId id,
                       const std::vector<wire::Payload>& inner);
void start_ike_rekey(const Ctx& ctx, sa::IkeSa& sa);
void handle_ike_rekey_response(const Ctx& ctx, sa::IkeSa& sa,
                               const std::vector<wire::Payload>& inner);
// Moves the CHILD_SAs and virtual IPs of `from` to `to`, its successor (a rekeyed IKE SA).
void hand_over(const Ctx& ctx, sa::IkeSa& from, sa::IkeSa& to);
// SK_* and the two SK ciphers of `sa` from SKEYSEED (§2.14), with sa.algorithms, its nonces
// and SPIs.
bool set_ike_keys(const Ctx& ctx, sa::IkeSa& sa, const crypto::Secret& skeyseed);

// ---- lifetimes.cpp ------------------------------------------------------------------------
// When the CHILD_SA is rekeyed and when it dies (ConnectionConfig::child_life), from now.
void start_child_lifetime(const Ctx& ctx, const sa::IkeSa& sa, sa::ChildSa& child);
// The same for an IKE SA (ike_life, and reauth_time for an initiator, or the peer's
// AUTH_LIFETIME), from now.
void start_ike_lifetime(const Ctx& ctx, sa::IkeSa& sa);
// A rekey that failed for a reason that may pass (TEMPORARY_FAILURE, a lost peer answer):
// when to try again.
TimePoint retry_time(const Ctx& ctx);
// Responder with reauth_time: the AUTH_LIFETIME notify (RFC 4478) for the last IKE_AUTH
// response; sets reauth_at to when the SA goes unless the peer reauthenticated.
std::optional<wire::Payload> auth_lifetime(const Ctx& ctx, sa::IkeSa& sa);
// Initiator: when to reauthenticate, from the connection's reauth_time (with jitter), or
// earlier when the responder's AUTH_LIFETIME in `response` says so.
void start_reauth_timer(const Ctx& ctx, sa::IkeSa& sa, const std::vector<wire::Payload>& response);

// ---- config_payload.cpp -------------------------------------------------------------------
// Responder: answers a CFG_REQUEST (appending CP(CFG_REPLY) to reply when there is anything to
// say) and remembers the virtual IP. Returns false when the peer asked for an address and none
// could be assigned (the caller answers INTERNAL_ADDRESS_FAILURE / FAILED_CP_REQUIRED).
bool respond_config(const Ctx& ctx, sa::IkeSa& sa, const std::vector<wire::Payload>& request,
                    std::vector<wire::Payload>& reply);
void request_config(const Ctx& ctx, const sa::IkeSa& sa, std::vector<wire::Payload>& request);
void handle_config_reply(const Ctx& ctx, sa::IkeSa& sa, const std::vector<wire::Payload>& response);
void release_virtual_ip(const Ctx& ctx, sa::IkeSa& sa);

// ---- informational.cpp --------------------------------------------------------------------
// Responder for INFORMATIONAL; returns false when the IKE SA was deleted.
bool respond_informational(const Ctx& ctx, sa::IkeSa& sa, MessageId id,
                           const std::vector<wire::Payload>& inner);
void start_delete(const Ctx& ctx, sa::IkeSa& sa);
void start_liveness_check(const Ctx& ctx, sa::IkeSa& sa);
// Sends INFORMATIONAL { D(ESP, ...) } for sa.pending_child_deletes (gone from the data plane
// already) and for the CHILD_SAs in state Rekeyed (removed when the answer comes, §1.4.1).
// False when there was nothing to delete.
bool start_child_delete(const Ctx& ctx, sa::IkeSa& sa);
// The response to our Delete of CHILD_SAs: what was left of them goes.
void handle_child_delete_response(const Ctx& ctx, sa::IkeSa& sa);

// ---- mobike.cpp ---------------------------------------------------------------------------
// Any IKE_AUTH message of the peer: remembers its MOBIKE_SUPPORTED.
void note_mobike_supported(sa::IkeSa& sa, const std::vector<wire::Payload>& in);
// Responder, the IKE_AUTH response that completes it: N(MOBIKE_SUPPORTED) when the peer
// announced it and the connection allows it.
void answer_mobike_supported(sa::IkeSa& sa, std::vector<wire::Payload>& reply);
// Initiator, first IKE_AUTH request: N(MOBIKE_SUPPORTED) when the connection allows it.
void request_mobike_supported(const sa::IkeSa& sa, std::vector<wire::Payload>& request);
// Both roles, at establishment: MOBIKE is in use when both ends announced it.
void settle_mobike(const Ctx& ctx, sa::IkeSa& sa);
// An INFORMATIONAL request's COOKIE2 (§3.6), copied into the response.
void append_cookie2(const std::vector<wire::Payload>& request, std::vector<wire::Payload>& reply);
// Any other INFORMATIONAL request with NAT-D payloads under MOBIKE (a client behind a NAT
// checking its mapping, as strongSwan does in its liveness checks): our NAT-D for the
// addresses the request came by.
void answer_natd(const Ctx& ctx, const sa::IkeSa& sa, const std::vector<wire::Payload>& request,
                 std::vector<wire::Payload>& reply);
bool is_update_addresses(const std::vector<wire::Payload>& in);
// Responder: UPDATE_SA_ADDRESSES received in datagram `from` (authenticated already).
void respond_update_addresses(const Ctx& ctx, sa::IkeSa& sa, MessageId id,
                              const std::vector<wire::Payload>& in, const Datagram& from);
// Initiator: UPDATE_SA_ADDRESSES from sa.local to sa.remote.
void start_update_addresses(const Ctx& ctx, sa::IkeSa& sa);
void handle_update_addresses_response(const Ctx& ctx, sa::IkeSa& sa,
                                      const std::vector<wire::Payload>& in);
// MoveChildSa for every installed CHILD_SA to the IKE SA's addresses and encapsulation.
void move_children(const Ctx& ctx, sa::IkeSa& sa);

}  // namespace postern::ike::exchange
