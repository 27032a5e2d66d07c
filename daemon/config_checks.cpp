#include "daemon/config_checks.hpp"

#include <arpa/inet.h>

#include <charconv>

#include "ike/crypto/algorithms.hpp"

namespace postern::daemon {

namespace {

bool parse_address(const std::string& s, int family) {
    unsigned char buf[16];
    return inet_pton(family == 4 ? AF_INET : AF_INET6, s.c_str(), buf) == 1;
}

// "10.0.0.0/24" or "fd00::/64"; family 0 accepts either.
bool parse_cidr(const std::string& s, int family) {
    auto slash = s.find('/');
    std::string addr = s.substr(0, slash);
    int fam = family;
    if (fam == 0) fam = addr.find(':') != std::string::npos ? 6 : 4;
    if (!parse_address(addr, fam)) return false;
    if (slash == std::string::npos) return true;
    unsigned bits = 0;
    const char* b = s.data() + slash + 1;
    const char* e = s.data() + s.size();
    auto [p, ec] = std::from_chars(b, e, bits);
    return ec == std::errc() && p == e && b != e && bits <= (fam == 4 ? 32u : 128u);
}

}  // namespace

void check_cidr(TableReader& r, std::string_view key, const std::string& value, int family) {
    if (value.empty()) return;
    if (!parse_cidr(value, family))
        r.fail(r.table().get(key), r.key_path(key),
               "\"" + value + "\" is not an IPv" + std::to_string(family) + " prefix");
}

void check_address(TableReader& r, std::string_view key, std::size_t index,
                   const std::string& value) {
    if (parse_address(value, 4) || parse_address(value, 6)) return;
    const toml::node* n = r.table().get(key);
    if (auto* arr = n ? n->as_array() : nullptr) n = arr->get(index);
    r.fail(n, r.key_path(key) + "[" + std::to_string(index) + "]",
           "\"" + value + "\" is not an IP address");
}

void check_subnet(TableReader& r, std::string_view key, std::size_t index,
                  const std::string& value) {
    if (parse_cidr(value, 0)) return;
    const toml::node* n = r.table().get(key);
    if (auto* arr = n ? n->as_array() : nullptr) n = arr->get(index);
    r.fail(n, r.key_path(key) + "[" + std::to_string(index) + "]",
           "\"" + value + "\" is not a subnet (address/prefix)");
}

void check_proposals(TableReader& r, std::string_view key, const std::vector<std::string>& list,
                     ProposalKind kind, bool allow_legacy) {
    ike::crypto::AlgorithmPolicy policy;
    policy.allow_legacy = allow_legacy;
    const auto protocol = kind == ProposalKind::Ike ? ike::ProtocolId::IKE : ike::ProtocolId::ESP;
    for (std::size_t i = 0; i < list.size(); ++i) {
        auto parsed = ike::crypto::parse_proposal(list[i], protocol, policy);
        if (parsed) continue;
        const toml::node* n = r.table().get(key);
        if (auto* arr = n ? n->as_array() : nullptr) n = arr->get(i);
        // The crypto layer names its policy flag; say which config key sets it.
        std::string why = parsed.error();
        if (auto at = why.find("set allow_legacy"); at != std::string::npos)
            why.replace(at, std::string("set allow_legacy").size(),
                        "set server.allow_legacy_crypto = true");
        r.fail(n, r.key_path(key) + "[" + std::to_string(i) + "]", "\"" + list[i] + "\": " + why);
        return;
    }
}

}  // namespace postern::daemon
