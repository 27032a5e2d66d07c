#include "daemon/config_checks.hpp"

#include <arpa/inet.h>

#include "ike/crypto/algorithms.hpp"
#include "ike/policy/identity.hpp"
#include "ike/policy/traffic_selector.hpp"

namespace postern::daemon {

namespace {

bool parse_address(const std::string& s, int family) {
    unsigned char buf[16];
    return inet_pton(family == 4 ? AF_INET : AF_INET6, s.c_str(), buf) == 1;
}

const toml::node* element(TableReader& r, std::string_view key, std::size_t index) {
    const toml::node* n = r.table().get(key);
    if (auto* arr = n ? n->as_array() : nullptr) n = arr->get(index);
    return n;
}

}  // namespace

void check_cidr(TableReader& r, std::string_view key, const std::string& value, int family) {
    if (value.empty()) return;
    auto c = ike::policy::parse_cidr(value);
    if (!c) {
        r.fail(
            r.table().get(key), r.key_path(key),
            "\"" + value + "\" is not an IPv" + std::to_string(family) + " prefix: " + c.error());
    } else if ((family == 4) != c->network.is_v4()) {
        r.fail(r.table().get(key), r.key_path(key),
               "\"" + value + "\" is not an IPv" + std::to_string(family) + " prefix");
    }
}

void check_address(TableReader& r, std::string_view key, std::size_t index,
                   const std::string& value) {
    if (parse_address(value, 4) || parse_address(value, 6)) return;
    r.fail(element(r, key, index), r.key_path(key) + "[" + std::to_string(index) + "]",
           "\"" + value + "\" is not an IP address");
}

void check_subnet(TableReader& r, std::string_view key, std::size_t index,
                  const std::string& value) {
    auto c = ike::policy::parse_cidr(value);
    if (c) return;
    r.fail(element(r, key, index), r.key_path(key) + "[" + std::to_string(index) + "]",
           "\"" + value + "\" is not a subnet (address/prefix): " + c.error());
}

void check_proposals(TableReader& r, std::string_view key, const std::vector<std::string>& list,
                     ProposalKind kind, bool allow_legacy) {
    ike::crypto::AlgorithmPolicy policy;
    policy.allow_legacy = allow_legacy;
    const auto protocol = kind == ProposalKind::Ike ? ike::ProtocolId::IKE : ike::ProtocolId::ESP;
    for (std::size_t i = 0; i < list.size(); ++i) {
        auto parsed = ike::crypto::parse_proposal(list[i], protocol, policy);
        if (parsed) continue;
        // The crypto layer names its policy flag; say which config key sets it.
        std::string why = parsed.error();
        if (auto at = why.find("set allow_legacy"); at != std::string::npos)
            why.replace(at, std::string("set allow_legacy").size(),
                        "set server.allow_legacy_crypto = true");
        r.fail(element(r, key, i), r.key_path(key) + "[" + std::to_string(i) + "]",
               "\"" + list[i] + "\": " + why);
        return;
    }
}

void check_identity(TableReader& r, std::string_view key, const std::string& value) {
    if (value.empty()) return;
    auto id = ike::policy::parse_identity(value);
    if (!id)
        r.fail(r.table().get(key), r.key_path(key),
               "\"" + value + "\" is not an identity: " + id.error());
}

void check_identity_pattern(TableReader& r, std::string_view key, const std::string& value) {
    auto p = ike::policy::IdentityPattern::parse(value);
    if (!p)
        r.fail(r.table().get(key), r.key_path(key),
               "\"" + value + "\" is not an identity pattern: " + p.error());
}

}  // namespace postern::daemon
