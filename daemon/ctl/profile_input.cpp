#include "daemon/ctl/profile_input.hpp"

#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/x509.h>

#include <algorithm>
#include <ctime>

#include "daemon/ctl/commands.hpp"
#include "daemon/engine_setup.hpp"
#include "ike/crypto/algorithms.hpp"
#include "ike/crypto/x509.hpp"
#include "ike/policy/identity.hpp"

namespace postern::ctl::profile {

namespace {

using daemon::AuthKind;
using daemon::Config;
using daemon::Connection;
using ike::crypto::Certificate;

tl::unexpected<ProfileError> failure(int code, std::string message) {
    return tl::unexpected(ProfileError{code, std::move(message)});
}

std::string common_name(X509_NAME* name) {
    int i = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
    if (i < 0) return {};
    ASN1_STRING* s = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, i));
    unsigned char* utf8 = nullptr;
    int len = ASN1_STRING_to_UTF8(&utf8, s);
    if (len < 0) return {};
    std::string out(reinterpret_cast<char*>(utf8), static_cast<std::size_t>(len));
    OPENSSL_free(utf8);
    return out;
}

// Apple's CertificateType for the server's key; empty for RSA (Apple's default).
std::string apple_certificate_type(const Certificate& cert) {
    EVP_PKEY* key = X509_get0_pubkey(cert.get());
    if (!key) return {};
    switch (EVP_PKEY_get_base_id(key)) {
        case EVP_PKEY_EC:
            switch (EVP_PKEY_get_bits(key)) {
                case 256:
                    return "ECDSA256";
                case 384:
                    return "ECDSA384";
                case 521:
                    return "ECDSA521";
                default:
                    return {};
            }
        case EVP_PKEY_ED25519:
            return "Ed25519";
        default:
            return {};
    }
}

bool printable(std::string_view s) {
    return std::none_of(s.begin(), s.end(),
                        [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; });
}

const Connection* pick_connection(const Config& c, const std::string& wanted) {
    if (!wanted.empty()) {
        for (const auto& conn : c.connections)
            if (conn.name == wanted) return &conn;
        return nullptr;
    }
    for (const auto& conn : c.connections)
        if (conn.remote_auth == AuthKind::EapMschapv2 || conn.remote_auth == AuthKind::Eap)
            return &conn;
    for (const auto& conn : c.connections)
        if (conn.remote_auth == AuthKind::EapTls || conn.remote_auth == AuthKind::Pubkey)
            return &conn;
    return nullptr;
}

}  // namespace

Result<ProfileInput> profile_input(const Config& c, const InputRequest& req,
                                   std::vector<std::string>& warnings) {
    if (req.user.empty() || !printable(req.user))
        return failure(kUsage, "the user name is empty or has control characters");
    const Connection* conn = pick_connection(c, req.connection);
    if (!conn && !req.connection.empty())
        return failure(kNotFound, c.file + ": no connection named \"" + req.connection + "\"");
    if (!conn)
        return failure(kFailure, c.file +
                                     ": no connection for users (remote_auth = eap-mschapv2, "
                                     "eap, eap-tls or pubkey)");
    if (conn->remote_auth == AuthKind::Psk)
        return failure(kFailure, "connection \"" + conn->name +
                                     "\" uses pre-shared keys (remote_auth = psk); profiles are "
                                     "for eap-mschapv2, eap-tls and pubkey connections");
    if (conn->local_auth != AuthKind::Pubkey)
        return failure(kFailure, "connection \"" + conn->name +
                                     "\": native clients need the server to authenticate with a "
                                     "certificate (local_auth = pubkey)");

    ProfileInput in;
    in.user = req.user;
    in.connection = conn->name;
    // remote_auth = "eap" offers both: a user handed a certificate (--p12) uses EAP-TLS.
    in.auth = conn->remote_auth == AuthKind::EapMschapv2 ? ClientAuth::eap_mschapv2
              : conn->remote_auth == AuthKind::EapTls    ? ClientAuth::eap_tls
              : conn->remote_auth == AuthKind::Eap
                  ? (req.p12.empty() ? ClientAuth::eap_mschapv2 : ClientAuth::eap_tls)
                  : ClientAuth::pubkey;
    in.p12 = req.p12;
    in.p12_name = req.p12_name;
    if (in.auth == ClientAuth::eap_mschapv2 && !in.p12.empty())
        warnings.push_back("--p12 ignored: connection \"" + conn->name +
                           "\" authenticates users with EAP-MSCHAPv2");
    if (in.auth == ClientAuth::eap_mschapv2) in.p12.clear();

    // The server's certificate: its names, CN and issuer.
    std::vector<Certificate> chain;
    if (!conn->cert.empty()) {
        auto text = daemon::read_text_file(conn->cert);
        if (!text) return failure(kFailure, "cannot read " + conn->cert + ": " + text.error());
        auto certs = ike::crypto::load_pem_chain(*text);
        if (!certs) return failure(kFailure, conn->cert + ": " + certs.error());
        chain = std::move(*certs);
        const Certificate& ee = chain.front();
        in.server_cert_cn = common_name(X509_get_subject_name(ee.get()));
        in.server_cert_issuer_cn = common_name(X509_get_issuer_name(ee.get()));
        in.server_cert_type = apple_certificate_type(ee);
    }

    // The identity clients ask for (IDr) and check the certificate against.
    if (!conn->local_id.empty()) {
        auto id = ike::policy::parse_identity(conn->local_id);
        if (!id)
            return failure(kFailure, "connection \"" + conn->name + "\" local_id: " + id.error());
        if (id->type == ike::IdType::ID_DER_ASN1_DN || id->type == ike::IdType::ID_KEY_ID)
            return failure(kFailure,
                           "connection \"" + conn->name + "\": local_id \"" + conn->local_id +
                               "\" is not a DNS name or address; native clients can only ask "
                               "for those (set local_id to a DNS name of the certificate)");
        in.server_identity =
            conn->local_id.front() == '@' ? conn->local_id.substr(1) : conn->local_id;
    } else if (!chain.empty() && !chain.front().dns_names().empty()) {
        in.server_identity = chain.front().dns_names().front();
    } else {
        return failure(kFailure, "connection \"" + conn->name +
                                     "\": cannot tell the server's identity (no local_id, and "
                                     "no DNS name in the certificate)");
    }
    if (!printable(in.server_identity))
        return failure(kFailure, "the server identity has control characters");
    in.server_address = req.server.empty() ? in.server_identity : req.server;
    if (!printable(in.server_address)) return failure(kUsage, "--server has control characters");

    // Proposals, checked the way posternd reads them.
    in.allow_legacy = c.allow_legacy_crypto;
    in.ike_proposals =
        conn->ike_proposals.empty() ? daemon::kDefaultIkeProposals : conn->ike_proposals;
    in.esp_proposals =
        conn->esp_proposals.empty() ? daemon::kDefaultEspProposals : conn->esp_proposals;
    for (auto [list, proto] : {std::pair{&in.ike_proposals, ike::ProtocolId::IKE},
                               std::pair{&in.esp_proposals, ike::ProtocolId::ESP}})
        for (const auto& p : *list)
            if (auto ok = ike::crypto::parse_proposal(p, proto, {in.allow_legacy}); !ok)
                return failure(kFailure,
                               "connection \"" + conn->name + "\": \"" + p + "\": " + ok.error());
    // Clients are told to rekey before the server would.
    in.ike_lifetime_s = conn->ike_rekey_s;
    in.child_lifetime_s = conn->child_rekey_s;
    in.remote_ts = conn->local_ts;

    // Virtual IP families: those of the connection's pools (both when it names none).
    if (!conn->pools.empty()) {
        in.want_ipv4 = in.want_ipv6 = false;
        for (const auto& name : conn->pools)
            for (const auto& pool : c.pools)
                if (pool.name == name) {
                    in.want_ipv4 |= !pool.ipv4.empty();
                    in.want_ipv6 |= !pool.ipv6.empty();
                }
        if (!in.want_ipv4 && !in.want_ipv6) in.want_ipv4 = true;
    }

    // The CA: the first of [pki] cacerts the server's certificate chains to.
    std::vector<std::pair<Certificate, std::string>> cas;
    for (const auto& file : c.cacerts) {
        auto text = daemon::read_text_file(file);
        if (!text) return failure(kFailure, "cannot read " + file + ": " + text.error());
        auto certs = ike::crypto::load_pem_chain(*text);
        if (!certs) return failure(kFailure, file + ": " + certs.error());
        for (auto& cert : *certs)
            cas.emplace_back(std::move(cert), file);
    }
    const std::pair<Certificate, std::string>* ca = cas.empty() ? nullptr : &cas.front();
    if (!chain.empty() && !cas.empty()) {
        const std::vector<Certificate> intermediates(chain.begin() + 1, chain.end());
        const std::pair<Certificate, std::string>* issuer = nullptr;
        for (const auto& candidate : cas) {
            ike::crypto::CertificateValidator v({candidate.first});
            if (v.validate(chain.front(), intermediates, std::time(nullptr))) {
                issuer = &candidate;
                break;
            }
        }
        if (issuer) {
            ca = issuer;
        } else {
            warnings.push_back("the server certificate " + conn->cert +
                               " does not chain to any CA of [pki] cacerts (now); clients given "
                               "the CA \"" +
                               ca->first.subject_text() + "\" will refuse it");
        }
    }
    if (ca) {
        in.ca_der = ca->first.der();
        in.ca_subject = ca->first.subject_text();
        in.ca_common_name = common_name(X509_get_subject_name(ca->first.get()));
        in.ca_file = ca->second;
    }
    if (!chain.empty()) {
        auto id = ike::policy::parse_identity(in.server_address);
        if (id && !ike::policy::certificate_matches_identity(chain.front(), *id))
            warnings.push_back("the server address \"" + in.server_address +
                               "\" is not a name in the server certificate " + conn->cert +
                               "; Windows and Android's built-in client will refuse the server");
    }
    return in;
}

}  // namespace postern::ctl::profile
