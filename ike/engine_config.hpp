// What the engine is told about connections and credentials. The daemon builds it from
// postern.toml (reading files, resolving pools); tests build it directly.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "ike/crypto/algorithms.hpp"
#include "ike/crypto/secret.hpp"
#include "ike/crypto/signature.hpp"
#include "ike/crypto/x509.hpp"
#include "ike/eap/eap_method.hpp"
#include "ike/eap/methods.hpp"
#include "ike/policy/identity.hpp"
#include "ike/policy/traffic_selector.hpp"
#include "ike/wire/constants.hpp"
#include "postern/ike_types.hpp"
#include "postern/net.hpp"
#include "postern/plugin/authorize.hpp"
#include "postern/plugin/users.hpp"
#include "postern/plugin/x509.hpp"

namespace postern::ike {

class ShardDirectory;  // ike/shard.hpp

// How one side authenticates. Eap: an EAP method (RFC 7296 §2.16) from
// ConnectionConfig::eap_methods — as responder against EngineConfig::eap_users, as initiator
// with ConnectionConfig::eap_identity and eap_password (MSCHAPv2) or local_chain/local_key
// (TLS); the other side authenticates with its certificate (or, RFC 5998, with EAP alone).
enum class AuthClass : std::uint8_t { Psk, PublicKey, Eap };

// An EAP method by its IANA type; the two built in by name. A plugin may provide others.
enum class EapMethod : std::uint8_t {
    tls = 13,       // the client's certificate (RFC 5216, RFC 9190)
    mschapv2 = 26,  // user name and password (NT hash in the user store)
};

// When an SA is renewed, strongSwan's model: `rekey` after it was made, less a random part
// of `jitter` (so that both ends do not rekey at once, §2.8.1), and it is deleted at `life`
// (the hard lifetime) if that has not happened. For CHILD_SAs the volume limits work the same
// way, counted by the data plane (its soft event rekeys, its hard event deletes). Zero: no
// limit of that kind.
struct Lifetime {
    std::chrono::seconds rekey{0}, life{0}, jitter{0};
    std::uint64_t rekey_bytes = 0, life_bytes = 0, rekey_packets = 0, life_packets = 0;

    // rekey 26 h, life 10 % longer, jitter 1 h: every renewal between 25 h and 26 h.
    static Lifetime defaults() {
        return {std::chrono::hours(26), std::chrono::seconds(26 * 3600 * 11 / 10),
                std::chrono::hours(1)};
    }
};

struct ConnectionConfig {
    std::string name;
    std::vector<crypto::Proposal> ike_proposals;  // our preference order
    std::vector<crypto::Proposal> esp_proposals;

    policy::Identity local_id;
    policy::IdentityPattern remote_id;  // "%any" accepts everyone
    AuthClass local_auth = AuthClass::PublicKey;
    AuthClass remote_auth = AuthClass::PublicKey;
    crypto::Secret psk;  // for AuthClass::Psk (both directions)

    // Our certificate chain (end entity first) and key, for AuthClass::PublicKey (and as the
    // TLS certificate of EAP-TLS, either role).
    std::vector<crypto::Certificate> local_chain;
    std::shared_ptr<const crypto::PrivateKey> local_key;

    // remote_auth = Eap: the methods offered, in order of preference (the first is proposed,
    // the others accepted when the peer Naks it). local_auth = Eap: the first is ours.
    std::vector<EapMethod> eap_methods{EapMethod::mschapv2};
    // Initiator with local_auth = Eap: the EAP identity (empty behaves like Android: the
    // responder falls back to IDi) and, for MSCHAPv2, the password.
    std::string eap_identity;
    crypto::Secret eap_password;
    // RFC 5998 EAP-only authentication. Responder: when the peer sent
    // EAP_ONLY_AUTHENTICATION, skip our certificate AUTH and rely on the EAP method's mutual
    // authentication and the MSK-bound AUTH; without that notify we always sign. Initiator:
    // send EAP_ONLY_AUTHENTICATION (and accept a responder that does not sign).
    bool eap_only = false;

    // Traffic selectors from our point of view; empty local = 0.0.0.0/0 and ::/0,
    // empty remote = whatever the peer proposes (narrowed to its virtual IP if it got one).
    std::vector<policy::TrafficSelector> local_ts;
    std::vector<policy::TrafficSelector> remote_ts;

    // Responder: pools to assign virtual IPs from (by name, resolved by the AddressPools
    // service) and the CP attributes handed out with them.
    std::vector<std::string> pools;
    std::vector<IpAddress> dns;
    std::vector<std::string> dns_domains;
    std::vector<policy::Cidr> split_include;  // INTERNAL_IP4/6_SUBNET

    // Initiator: where to connect and whether to ask for a virtual IP (CFG_REQUEST).
    std::optional<Endpoint> remote_endpoint;
    bool request_virtual_ip = false;

    // Rekeying (RFC 7296 §2.8). The defaults are longer than every native client's (Apple's
    // longest is 24 h), so clients rekey first (native-clients.md §2 item 18).
    Lifetime ike_life = Lifetime::defaults();
    // Initiator: reauthenticate (§2.8.3: a new IKE SA from scratch, then the old one goes)
    // this long after authenticating; responder: ask the peer to (AUTH_LIFETIME, RFC 4478).
    // 0 = never.
    std::chrono::seconds reauth_time{0};
    Lifetime child_life = Lifetime::defaults();
    bool fragmentation = true;
    // Initiator: send INITIAL_CONTACT (§2.4) in the first IKE_AUTH request when no other IKE
    // SA with the peer is up, so the peer drops what it kept of an earlier one of ours
    // (strongSwan does the same). Off only to emulate clients that never send it.
    bool initial_contact = true;
    // MOBIKE (RFC 4555): announce MOBIKE_SUPPORTED in IKE_AUTH and, when the peer does too,
    // accept its UPDATE_SA_ADDRESSES (responder) or send ours when our address changes
    // (initiator, Engine::local_address_changed).
    bool mobike = true;
    // Force ESP-in-UDP even without a NAT (strongSwan's `encap = yes`): our NAT-D source hash
    // is faked so the peer encapsulates too (RFC 7296 §2.23 allows either side to do this).
    bool force_encap = false;
    // Emulation of other clients, for tests and the load generator: what an initiator adds to
    // its requests beyond what this engine sends by itself, to reproduce a native client's
    // messages (docs: native-clients.md §1). Default-off: every member empty.
    struct InitiatorExtras {
        std::vector<Bytes> vendor_ids;             // IKE_SA_INIT: Vendor ID payloads
        std::vector<NotifyType> init_notifies;     // IKE_SA_INIT: extra (empty) status notifies
        std::vector<NotifyType> auth_notifies;     // first IKE_AUTH request: the same
        std::vector<std::uint16_t> cp_attributes;  // CFG_REQUEST attribute types (empty values),
                                                   // instead of ADDR + DNS; needs
                                                   // request_virtual_ip
        Bytes certreq_extra;  // appended to our CERTREQ's CA hashes (CAs the peer never heard of)
        bool send_certreq = true;  // false: no CERTREQ in IKE_AUTH (Apple, Android native)
        // MOBIKE misbehaviour: send UPDATE_SA_ADDRESSES although MOBIKE was not negotiated,
        // and leave COOKIE2 out of it.
        bool mobike_unnegotiated = false;
        bool mobike_no_cookie2 = false;
        // Notifies (type, data) appended to our UPDATE_SA_ADDRESSES: ADDITIONAL_*_ADDRESS,
        // NO_ADDITIONAL_ADDRESSES, NO_NATS_ALLOWED, a COOKIE2 of a wrong size, ...
        std::vector<std::pair<NotifyType, Bytes>> mobike_update_notifies;
    };
    InitiatorExtras emulate;

    // IKE SAs one identity may hold at once on this connection; unset: the server's
    // EngineConfig::max_ike_sas_per_identity. 0 = no limit.
    std::optional<unsigned> max_ike_sas_per_identity;

    // Destinations a peer of this connection may not reach through the tunnel, taken out of
    // the local selectors of every inbound SA the data plane checks (not of what is
    // negotiated): with client_to_client off, the pools minus the gateway's own address, so
    // one client cannot reach another.
    std::vector<policy::TrafficSelector> isolated;
};

struct EngineConfig {
    std::vector<ConnectionConfig> connections;
    crypto::AlgorithmPolicy algorithms;
    // Trusted CAs for peer certificates.
    std::vector<crypto::Certificate> trust_anchors;
    // Responder, remote_auth = Eap: who may log in (the daemon's user stores, from plugins;
    // tests' maps). Called once per EAP conversation, on the IKE thread. Unset: every EAP
    // login fails. Authorizers see the groups it returns for any authenticated peer.
    eap::UserLookup eap_users;
    // The EAP methods a responder can offer, by type (the eap-* plugins' factories); a
    // connection's eap_methods picks from them. Both built-in ones unless set.
    std::vector<std::shared_ptr<plugin::EapMethodFactory>> eap_factories =
        eap::builtin_methods();
    // Whether a peer's certificate chain is trusted (the x509 plugin's). Unset: the engine
    // checks chains against trust_anchors itself.
    std::shared_ptr<const plugin::CertificateVerifier> verifier;
    // Pre-shared keys for connections without their own `psk`, asked in order (plugins:
    // psk, sqlite-users, lua).
    std::vector<std::shared_ptr<plugin::PskSource>> psk_sources;
    // After a peer authenticated: asked in order, the first that does not abstain decides
    // (plugins: lua). None: every authenticated peer is allowed.
    std::vector<std::shared_ptr<plugin::Authorizer>> authorizers;
    // Every pool of the configuration and its DNS servers: what an authorizer may name (an
    // unknown pool denies) and the DNS servers sent with an address from it. Empty: pools
    // are not checked (tests).
    std::map<std::string, std::vector<IpAddress>> pool_dns;
    // Responder: EAP round trips allowed before the peer must have finished (a bound on work
    // done for an unauthenticated peer; MSCHAPv2 needs 4, EAP-TLS about 10 with 1024-octet
    // fragments; strongSwan's eap-tls allows 32 messages too).
    unsigned eap_max_rounds = 32;
    // Initiator with local_auth = Eap and EAP-TLS: the highest TLS version (0x0303 TLS 1.2,
    // 0x0304 TLS 1.3). (A responder's is the EAP-TLS factory's.)
    std::uint16_t eap_tls_max_version = 0x0303;

    // RFC 7296 §2.6: demand cookies once this many IKE SAs are half-open.
    std::size_t cookie_threshold = 64;
    // A half-open SA (IKE_SA_INIT answered, no IKE_AUTH) is dropped after this long.
    std::chrono::seconds half_open_timeout{30};
    // DoS protection (ike/admission.hpp). Half-open here: a responder SA not established yet
    // (IKE_SA_INIT answered; IKE_AUTH, an EAP conversation say, not finished). A new
    // IKE_SA_INIT request is dropped unanswered
    // when its source address sent more than init_rate_per_address of them in the last second
    // (a token bucket; the table of addresses is bounded by init_rate_table_size), when that
    // address already has half_open_per_address half-open SAs (strongSwan's block_threshold)
    // or when half_open_limit SAs are half-open in all (init_limit_half_open; meant to be
    // above cookie_threshold: it bites when attackers return cookies). 0 = no limit.
    unsigned init_rate_per_address = 10;
    std::size_t init_rate_table_size = 4096;
    unsigned half_open_per_address = 5;
    std::size_t half_open_limit = 1024;
    // IKE SAs one identity (the user an SA reports: EAP identity, else IDi) may hold at once;
    // the next login is refused with AUTHENTICATION_FAILED. SAs replaced by a rekey do not
    // count. 0 = no limit (strongSwan's default, unique = no). A connection may override it.
    unsigned max_ike_sas_per_identity = 0;
    // IKE_AUTH: a peer certificate chain with more CERT payloads or more octets than this is
    // refused before any of it is parsed or verified.
    unsigned max_peer_certs = 8;
    std::size_t max_peer_cert_bytes = 64 * 1024;
    // Retransmission (RFC 7296 §2.1): timeout * 1.8^n for n = 0..tries-1, then give up.
    std::chrono::milliseconds retransmit_timeout{2000};
    double retransmit_base = 1.8;
    unsigned retransmit_tries = 5;
    // Largest IKE message we send unfragmented once fragmentation is negotiated, IKE header
    // included (RFC 7383 §2.5.1: 1280 for IPv6 minus headers; we keep IPv4 and IPv6 alike).
    std::size_t fragment_size = 1280 - 40 - 8 - 4;
    // DPD: send an empty INFORMATIONAL after this long without hearing from the peer
    // (0 = off).
    std::chrono::seconds dpd_delay{30};
    // How long ago the data plane last received ESP on the inbound SA with this SPI (nullopt:
    // unknown, e.g. not installed). ESP that arrives proves the peer alive as well as an IKE
    // message, so DPD waits for dpd_delay after the later of the two (what strongSwan does
    // with the kernel's SA use time). Unset: only IKE messages count. The daemon sets it to
    // its data plane's counters; a reload keeps it.
    std::function<std::optional<std::chrono::seconds>(EspSpi spi_in)> inbound_idle;
    // NAT keepalives (RFC 3948 §4) when we are behind a NAT.
    std::chrono::seconds nat_keepalive{20};
    // Announce RFC 7427 SIGNATURE_HASH_ALGORITHMS in IKE_SA_INIT. Off only to emulate peers
    // that do not (Windows, iOS, macOS), which makes both sides use the classic AUTH methods.
    bool signature_hash_algorithms = true;
    // Responder: pick the first of our proposals the peer accepts (strongSwan's default), or
    // the first of the peer's that we accept.
    bool prefer_server_proposals = true;

    // Sharding (ike/shard.hpp): this engine is shard `shard_index` of `shard_count`, and
    // the IKE SPIs and SA ids it makes say so; `shards` is what the shards of one daemon
    // share (users' SA counts, INITIAL_CONTACT, virtual IPs). Null with a single engine.
    // An engine keeps its own through reload().
    unsigned shard_index = 0, shard_count = 1;
    std::shared_ptr<ShardDirectory> shards;
};

}  // namespace postern::ike
