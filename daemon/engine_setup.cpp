#include "daemon/engine_setup.hpp"

#include <openssl/evp.h>
#include <openssl/x509.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>

#include "daemon/tun_setup.hpp"
#include "ike/policy/identity.hpp"
#include "ike/policy/traffic_selector.hpp"

namespace postern::daemon {

const std::vector<std::string> kDefaultIkeProposals = {
    "aes256gcm16-prfsha256-x25519", "aes256gcm16-prfsha384-ecp384", "aes256gcm16-prfsha256-ecp256",
    "aes256-sha256-ecp256",         "aes256-sha256-modp2048",
};
const std::vector<std::string> kDefaultEspProposals = {
    "aes256gcm16", "aes128gcm16", "chacha20poly1305", "aes256-sha256", "aes128-sha256",
};

tl::expected<std::string, std::string> read_text_file(const std::string& path) {
    errno = 0;
    std::ifstream in(path, std::ios::binary);
    if (!in) return tl::unexpected(std::string(errno ? std::strerror(errno) : "cannot open"));
    std::stringstream ss;
    ss << in.rdbuf();
    if (in.bad()) return tl::unexpected(std::string("read error"));
    return ss.str();
}

namespace {

// ConnectionConfig's rekey/life/rand seconds as the engine's Lifetime (defaults filled in).
ike::Lifetime lifetime_of(std::uint32_t rekey_s, std::uint32_t life_s, std::uint32_t rand_s) {
    ike::Lifetime l;
    l.rekey = std::chrono::seconds(rekey_s);
    l.life = std::chrono::seconds(life_s ? life_s : std::uint64_t{rekey_s} * 11 / 10);
    l.jitter = std::chrono::seconds(rand_s != Connection::kUnset
                                        ? rand_s
                                        : std::min<std::uint32_t>(3600, rekey_s / 10));
    return l;
}

using ike::crypto::Certificate;

struct Builder {
    const Config& c;
    std::vector<std::string>* warnings;

    // An error at `key` of the connection, or at the connection itself when the key was not
    // written (a default).
    ConfigError at(const Connection& conn, const std::string& key, std::string msg) const {
        const std::string full = conn.where + "." + key;
        auto e = error_at(c, full, std::move(msg));
        if (!e.line) e.line = conn.line;
        return e;
    }
    void warn(const Connection& conn, const std::string& key, const std::string& msg) const {
        if (warnings) warnings->push_back(at(conn, key, msg).to_string());
    }

    tl::expected<std::string, ConfigError> read(const std::string& key, const std::string& file,
                                                const Connection* conn) const {
        auto text = read_text_file(file);
        if (text) return *text;
        std::string msg = "cannot read " + file + ": " + text.error();
        return tl::unexpected(conn ? at(*conn, key, msg) : error_at(c, key, msg));
    }

    tl::expected<std::vector<ike::crypto::Proposal>, ConfigError> proposals(
        const Connection& conn, const std::string& key, const std::vector<std::string>& list,
        ike::ProtocolId protocol) const {
        ike::crypto::AlgorithmPolicy policy;
        policy.allow_legacy = c.allow_legacy_crypto;
        const auto& texts = list.empty() ? (protocol == ike::ProtocolId::IKE ? kDefaultIkeProposals
                                                                             : kDefaultEspProposals)
                                         : list;
        std::vector<ike::crypto::Proposal> out;
        for (std::size_t i = 0; i < texts.size(); ++i) {
            auto p = ike::crypto::parse_proposal(texts[i], protocol, policy);
            if (!p)
                return tl::unexpected(at(conn, key + "[" + std::to_string(i) + "]",
                                         "\"" + texts[i] + "\": " + p.error()));
            out.push_back(std::move(*p));
        }
        return out;
    }

    tl::expected<void, ConfigError> secrets(const Connection& conn,
                                            ike::ConnectionConfig& e) const {
        const bool uses_psk = conn.local_auth == AuthKind::Psk || conn.remote_auth == AuthKind::Psk;
        if (!uses_psk) {
            if (!conn.psk.empty() || !conn.psk_file.empty())
                warn(conn, conn.psk.empty() ? "psk_file" : "psk",
                     "ignored: neither local_auth nor remote_auth is psk");
            return {};
        }
        std::string secret = conn.psk;
        if (!conn.psk_file.empty()) {
            auto text = read("psk_file", conn.psk_file, &conn);
            if (!text) return tl::unexpected(text.error());
            secret = text->substr(0, text->find('\n'));
            if (!secret.empty() && secret.back() == '\r') secret.pop_back();
            if (secret.empty())
                return tl::unexpected(
                    at(conn, "psk_file", conn.psk_file + ": the first line (the PSK) is empty"));
        }
        // No key of its own: a plugin's PSK source must know the peers (the psk plugin's
        // [plugins.psk.secrets], sqlite-users, lua); PluginSet::apply refuses the connection
        // when none is loaded.
        if (secret.empty()) return {};
        if (secret == "postern-example-psk-CHANGE-ME")
            warn(conn, "psk", "this is the PSK of the example configuration: change it");
        else if (secret.size() < 16)
            warn(conn, conn.psk_file.empty() ? "psk" : "psk_file",
                 "the PSK is shorter than 16 characters; an eavesdropper can guess short PSKs "
                 "offline");
        e.psk = ike::crypto::Secret(as_bytes(secret));
        std::fill(secret.begin(), secret.end(), '\0');
        return {};
    }

    // The methods an EAP side uses, in order: what remote_auth / local_auth names, or
    // eap_methods (default: MSCHAPv2, then TLS) for remote_auth = "eap".
    static std::vector<ike::EapMethod> eap_methods(const Connection& conn) {
        for (AuthKind k : {conn.local_auth, conn.remote_auth}) {
            if (k == AuthKind::EapMschapv2) return {ike::EapMethod::mschapv2};
            if (k == AuthKind::EapTls) return {ike::EapMethod::tls};
        }
        if (conn.remote_auth != AuthKind::Eap || conn.eap_methods.empty())
            return {ike::EapMethod::mschapv2, ike::EapMethod::tls};
        std::vector<ike::EapMethod> out;
        for (const auto& m : conn.eap_methods)
            out.push_back(m == "tls" ? ike::EapMethod::tls : ike::EapMethod::mschapv2);
        return out;
    }

    tl::expected<void, ConfigError> credentials(const Connection& conn,
                                                ike::ConnectionConfig& e) const {
        // pubkey signs with them; an EAP-TLS client presents them in TLS.
        if (conn.local_auth != AuthKind::Pubkey && conn.local_auth != AuthKind::EapTls) {
            if (!conn.cert.empty() || !conn.key_file.empty())
                warn(conn, conn.cert.empty() ? "key" : "cert",
                     "ignored: local_auth is neither pubkey nor eap-tls");
            return {};
        }
        const std::string how = "local_auth = " + to_string(conn.local_auth);
        if (conn.cert.empty())
            return tl::unexpected(at(conn, "cert", how + " needs cert (a PEM file)"));
        if (conn.key_file.empty())
            return tl::unexpected(at(conn, "key", how + " needs key (a PEM file)"));
        auto cert_text = read("cert", conn.cert, &conn);
        if (!cert_text) return tl::unexpected(cert_text.error());
        auto chain = ike::crypto::load_pem_chain(*cert_text);
        if (!chain) return tl::unexpected(at(conn, "cert", conn.cert + ": " + chain.error()));
        auto key_text = read("key", conn.key_file, &conn);
        if (!key_text) return tl::unexpected(key_text.error());
        auto key = ike::crypto::PrivateKey::from_pem(*key_text);
        std::fill(key_text->begin(), key_text->end(), '\0');
        if (!key) return tl::unexpected(at(conn, "key", conn.key_file + ": " + key.error()));
        const Certificate& ee = chain->front();
        if (EVP_PKEY_eq(X509_get0_pubkey(ee.get()), key->get()) != 1)
            return tl::unexpected(at(conn, "key",
                                     conn.key_file +
                                         ": the key does not belong to the certificate in " +
                                         conn.cert + " (" + ee.subject_text() + ")"));
        if (conn.local_id.empty()) {
            auto dns = ee.dns_names();
            if (!dns.empty()) {
                e.local_id = *ike::policy::parse_identity("@" + dns.front());
            } else {
                e.local_id = ike::policy::Identity{ike::IdType::ID_DER_ASN1_DN, ee.subject_der()};
            }
            warn(conn, "local_id",
                 "not set; using \"" + ike::policy::to_string(e.local_id) + "\" from " + conn.cert);
        } else if (!ike::policy::certificate_matches_identity(ee, e.local_id)) {
            std::string names;
            for (const auto& d : ee.dns_names())
                names += (names.empty() ? "" : ", ") + d;
            for (const auto& r : ee.rfc822_names())
                names += (names.empty() ? "" : ", ") + r;
            return tl::unexpected(at(conn, "local_id",
                                     "\"" + conn.local_id + "\" is not in the certificate " +
                                         conn.cert + " (subject \"" + ee.subject_text() + "\"" +
                                         (names.empty() ? "" : ", names " + names) + ")"));
        }
        e.local_chain = std::move(*chain);
        e.local_key = std::make_shared<const ike::crypto::PrivateKey>(std::move(*key));
        return {};
    }

    tl::expected<ike::ConnectionConfig, ConfigError> connection(const Connection& conn,
                                                                bool have_cas) const {
        const bool local_eap = is_eap(conn.local_auth);
        const bool remote_eap = is_eap(conn.remote_auth);
        if (local_eap && remote_eap)
            return tl::unexpected(at(conn, "remote_auth",
                                     "EAP authenticates one side only: the other side needs "
                                     "pubkey (or psk)"));
        if (remote_eap && conn.local_auth != AuthKind::Pubkey && conn.local_auth != AuthKind::Psk)
            return tl::unexpected(at(conn, "local_auth", "must be pubkey (or psk) with EAP"));
        auto methods = eap_methods(conn);
        const bool offers_tls =
            remote_eap && std::find(methods.begin(), methods.end(), ike::EapMethod::tls) !=
                              methods.end();
        if (offers_tls && conn.local_auth != AuthKind::Pubkey)
            return tl::unexpected(at(conn, "local_auth",
                                     "EAP-TLS needs local_auth = pubkey: the server's TLS "
                                     "certificate is the connection's cert"));
        if (offers_tls && !have_cas)
            return tl::unexpected(at(conn, "remote_auth",
                                     "EAP-TLS needs CA certificates in pki.cacerts to check "
                                     "clients' certificates against"));
        if (conn.local_auth == AuthKind::EapMschapv2 && conn.eap_password.empty())
            return tl::unexpected(
                at(conn, "eap_password", "local_auth = eap-mschapv2 needs eap_password"));
        if (conn.local_auth == AuthKind::EapTls && !have_cas)
            return tl::unexpected(at(conn, "local_auth",
                                     "local_auth = eap-tls needs CA certificates in pki.cacerts "
                                     "to check the server's TLS certificate against"));
        if (!local_eap && (!conn.eap_id.empty() || !conn.eap_password.empty()))
            warn(conn, conn.eap_id.empty() ? "eap_password" : "eap_id",
                 "ignored: local_auth is not eap-mschapv2 or eap-tls");
        else if (conn.local_auth == AuthKind::EapTls && !conn.eap_password.empty())
            warn(conn, "eap_password", "ignored: local_auth = eap-tls uses cert and key");
        ike::ConnectionConfig e;
        e.name = conn.name;
        auto ike_p = proposals(conn, "ike_proposals", conn.ike_proposals, ike::ProtocolId::IKE);
        if (!ike_p) return tl::unexpected(ike_p.error());
        e.ike_proposals = std::move(*ike_p);
        auto esp_p = proposals(conn, "esp_proposals", conn.esp_proposals, ike::ProtocolId::ESP);
        if (!esp_p) return tl::unexpected(esp_p.error());
        e.esp_proposals = std::move(*esp_p);

        auto auth_class = [](AuthKind k) {
            return k == AuthKind::Psk ? ike::AuthClass::Psk
                   : is_eap(k)        ? ike::AuthClass::Eap
                                      : ike::AuthClass::PublicKey;
        };
        e.local_auth = auth_class(conn.local_auth);
        e.remote_auth = auth_class(conn.remote_auth);
        e.eap_methods = std::move(methods);
        e.eap_identity = conn.eap_id;
        e.eap_password = ike::crypto::Secret(as_bytes(conn.eap_password));
        e.eap_only = conn.eap_only;
        if (!conn.local_id.empty()) {
            auto id = ike::policy::parse_identity(conn.local_id);
            if (!id) return tl::unexpected(at(conn, "local_id", id.error()));
            e.local_id = std::move(*id);
        } else if (conn.local_auth == AuthKind::Psk || conn.local_auth == AuthKind::EapMschapv2) {
            return tl::unexpected(at(conn, "local_id",
                                     "required with local_auth = " + to_string(conn.local_auth) +
                                         " (e.g. the server's DNS name)"));
        }
        auto pattern = ike::policy::IdentityPattern::parse(conn.remote_id);
        if (!pattern) return tl::unexpected(at(conn, "remote_id", pattern.error()));
        e.remote_id = std::move(*pattern);
        if (conn.remote_auth == AuthKind::Pubkey && !have_cas)
            return tl::unexpected(at(conn, "remote_auth",
                                     "remote_auth = pubkey needs CA certificates in pki.cacerts "
                                     "to check the peer's certificate against"));

        if (auto ok = secrets(conn, e); !ok) return tl::unexpected(ok.error());
        if (auto ok = credentials(conn, e); !ok) return tl::unexpected(ok.error());

        auto selectors =
            [&](const char* key, const std::vector<std::string>& list,
                std::vector<ike::policy::TrafficSelector>& out) -> tl::expected<void, ConfigError> {
            for (std::size_t i = 0; i < list.size(); ++i) {
                auto ts = ike::policy::TrafficSelector::from_cidr(list[i]);
                if (!ts)
                    return tl::unexpected(
                        at(conn, std::string(key) + "[" + std::to_string(i) + "]", ts.error()));
                out.push_back(*ts);
            }
            return {};
        };
        if (auto ok = selectors("local_ts", conn.local_ts, e.local_ts); !ok)
            return tl::unexpected(ok.error());
        if (auto ok = selectors("remote_ts", conn.remote_ts, e.remote_ts); !ok)
            return tl::unexpected(ok.error());
        for (std::size_t i = 0; i < conn.split_include.size(); ++i) {
            auto cidr = ike::policy::parse_cidr(conn.split_include[i]);
            if (!cidr)
                return tl::unexpected(
                    at(conn, "split_include[" + std::to_string(i) + "]", cidr.error()));
            e.split_include.push_back(*cidr);
        }

        e.pools = conn.pools;
        std::set<IpAddress> seen;
        for (const auto& name : conn.pools)
            for (const auto& pool : c.pools)
                if (pool.name == name)
                    for (const auto& d : pool.dns)
                        if (auto a = IpAddress::parse(d); a && seen.insert(*a).second)
                            e.dns.push_back(*a);
        e.dns_domains = conn.dns_domains;

        if (!conn.remote_addrs.empty()) {
            auto a = IpAddress::parse(conn.remote_addrs.front());
            if (!a) return tl::unexpected(at(conn, "remote_addrs[0]", "not an IP address"));
            e.remote_endpoint = Endpoint{*a, conn.remote_port};
        }
        e.request_virtual_ip = conn.request_virtual_ip;
        e.ike_life = lifetime_of(conn.ike_rekey_s, conn.ike_life_s, conn.rand_s);
        e.reauth_time = std::chrono::seconds(conn.reauth_s);
        e.child_life = lifetime_of(conn.child_rekey_s, conn.child_life_s, conn.rand_s);
        e.child_life.rekey_bytes = conn.child_rekey_bytes;
        e.child_life.rekey_packets = conn.child_rekey_packets;
        // Unset hard volume limits are 10 % above the soft ones, as the times.
        e.child_life.life_bytes = conn.child_life_bytes ? conn.child_life_bytes
                                                        : conn.child_rekey_bytes / 10 * 11;
        e.child_life.life_packets = conn.child_life_packets ? conn.child_life_packets
                                                            : conn.child_rekey_packets / 10 * 11;
        e.fragmentation = conn.fragmentation;
        e.force_encap = conn.encap;
        e.max_ike_sas_per_identity = conn.max_ike_sas_per_identity;
        e.mobike = conn.mobike;
        // Client isolation: unless client_to_client, a client of a connection with pools may
        // reach a pool address only at the gateway's own one (daemon/tun_setup.hpp); every pool
        // of the file, not only the connection's, since an authorizer may hand out any.
        if (!conn.client_to_client && !conn.pools.empty())
            for (const auto& pool : c.pools)
                for (const auto& cidr : {pool.ipv4, pool.ipv6}) {
                    auto ts = ike::policy::TrafficSelector::from_cidr(cidr);
                    if (cidr.empty() || !ts) continue;
                    std::vector<ike::policy::TrafficSelector> range{*ts};
                    if (auto gw = pool_gateway_address(cidr))
                        range = ike::policy::subtract(range, ike::policy::TrafficSelector::host(*gw));
                    e.isolated.insert(e.isolated.end(), range.begin(), range.end());
                }
        return e;
    }
};

}  // namespace

tl::expected<ike::EngineConfig, ConfigError> build_engine_config(
    const Config& c, std::vector<std::string>* warnings) {
    Builder b{c, warnings};
    ike::EngineConfig e;
    e.algorithms.allow_legacy = c.allow_legacy_crypto;
    for (std::size_t i = 0; i < c.cacerts.size(); ++i) {
        const std::string key = "pki.cacerts[" + std::to_string(i) + "]";
        auto text = b.read(key, c.cacerts[i], nullptr);
        if (!text) return tl::unexpected(text.error());
        auto certs = ike::crypto::load_pem_chain(*text);
        if (!certs) return tl::unexpected(error_at(c, key, c.cacerts[i] + ": " + certs.error()));
        for (auto& cert : *certs) {
            if (!cert.is_ca() && warnings)
                warnings->push_back(error_at(c, key,
                                             c.cacerts[i] + ": \"" + cert.subject_text() +
                                                 "\" is not a CA certificate; trusted anyway")
                                        .to_string());
            e.trust_anchors.push_back(std::move(cert));
        }
    }
    for (const auto& conn : c.connections) {
        auto cc = b.connection(conn, !e.trust_anchors.empty());
        if (!cc) return tl::unexpected(cc.error());
        e.connections.push_back(std::move(*cc));
    }
    e.cookie_threshold = c.cookie_threshold;
    e.prefer_server_proposals = c.prefer_server_proposals;
    e.half_open_timeout = std::chrono::seconds(c.half_open_timeout_s);
    e.dpd_delay = std::chrono::seconds(c.dpd_delay_s);
    e.nat_keepalive = std::chrono::seconds(c.nat_keepalive_s);
    e.fragment_size = c.fragment_size;
    e.retransmit_timeout = std::chrono::milliseconds(c.retransmit_timeout_ms);
    e.retransmit_tries = c.retransmit_tries;
    e.init_rate_per_address = c.init_rate_per_address;
    e.half_open_per_address = c.half_open_per_address;
    e.half_open_limit = c.half_open_limit;
    e.max_ike_sas_per_identity = c.max_ike_sas_per_identity;
    e.max_peer_certs = c.max_peer_certs;
    e.max_peer_cert_bytes = c.max_peer_cert_bytes;
    for (const auto& p : c.pools) {
        auto& dns = e.pool_dns[p.name];
        for (const auto& d : p.dns)
            if (auto a = IpAddress::parse(d)) dns.push_back(*a);
    }
    // posternd as an EAP-TLS client takes the eap-tls plugin's highest version too (the
    // plugin checks the value; the server side is the plugin's own).
    if (auto it = c.plugins.settings.find("eap-tls"); it != c.plugins.settings.end())
        if (auto v = it->second.values.find("max_version"); v != it->second.values.end())
            if (const auto* s = std::get_if<std::string>(&v->second); s && *s == "1.3")
                e.eap_tls_max_version = 0x0304;
    return e;
}

}  // namespace postern::daemon
