// Engine configurations the scenarios share: a road-warrior initiator and a gateway responder.
#pragma once

#include <fstream>
#include <memory>
#include <sstream>

#include "harness.hpp"

namespace postern::scenario {

// Test certificates and keys from tests/data/pki.
inline std::string pki_path(const std::string& name) {
    return std::string(POSTERN_TEST_DATA_DIR) + "/pki/" + name;
}
inline std::string pki_file(const std::string& name) {
    std::ifstream in(std::string(POSTERN_TEST_DATA_DIR) + "/pki/" + name);
    std::stringstream ss;
    ss << in.rdbuf();
    if (ss.str().empty()) throw std::runtime_error("missing " + name);
    return ss.str();
}
inline ike::crypto::Certificate cert(const std::string& name) {
    auto c = ike::crypto::Certificate::from_pem(pki_file(name));
    if (!c) throw std::runtime_error(c.error());
    return *c;
}
inline std::shared_ptr<const ike::crypto::PrivateKey> key(const std::string& name) {
    auto k = ike::crypto::PrivateKey::from_pem(pki_file(name));
    if (!k) throw std::runtime_error(k.error());
    return std::make_shared<const ike::crypto::PrivateKey>(std::move(*k));
}

inline ike::crypto::Secret secret(const std::string& s) {
    return ike::crypto::Secret(as_bytes(s));
}

// Initiator "home" -> responder, PSK, asking for a virtual IP.
inline ike::EngineConfig psk_initiator(
    const Network& net, const std::string& ike_prop = "aes256gcm16-prfsha256-x25519") {
    ike::ConnectionConfig c;
    c.name = "home";
    c.ike_proposals = {proposal(ike_prop, ike::ProtocolId::IKE)};
    c.esp_proposals = {proposal("aes256gcm16", ike::ProtocolId::ESP)};
    c.local_id = identity("alice@postern.test");
    c.remote_id = pattern("vpn.postern.test");
    c.local_auth = c.remote_auth = ike::AuthClass::Psk;
    c.psk = secret("correct horse battery staple");
    c.remote_endpoint = net.b.address;
    c.request_virtual_ip = true;
    ike::EngineConfig e;
    e.connections.push_back(std::move(c));
    return e;
}

// Responder "rw": any identity with the PSK, addresses from pool "clients".
inline ike::EngineConfig psk_responder(const std::vector<std::string>& ike_props = {
                                           "aes256gcm16-prfsha256-ecp256",
                                           "aes256gcm16-prfsha256-x25519"}) {
    ike::ConnectionConfig c;
    c.name = "rw";
    for (const auto& p : ike_props)
        c.ike_proposals.push_back(proposal(p, ike::ProtocolId::IKE));
    c.esp_proposals = {proposal("aes256gcm16", ike::ProtocolId::ESP),
                       proposal("aes128-sha256", ike::ProtocolId::ESP)};
    c.local_id = identity("vpn.postern.test");
    c.remote_id = pattern("%any");
    c.local_auth = c.remote_auth = ike::AuthClass::Psk;
    c.psk = secret("correct horse battery staple");
    c.pools = {"clients"};
    c.dns = {*IpAddress::parse("10.99.0.1")};
    c.local_ts = {*ike::policy::TrafficSelector::from_cidr("10.0.0.0/8")};
    ike::EngineConfig e;
    e.connections.push_back(std::move(c));
    return e;
}

}  // namespace postern::scenario
