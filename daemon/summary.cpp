#include "daemon/summary.hpp"

#include <sstream>

namespace postern::daemon {

namespace {

std::string join(const std::vector<std::string>& v, const char* sep = ", ") {
    std::string s;
    for (const auto& e : v) {
        if (!s.empty()) s += sep;
        s += e;
    }
    return s.empty() ? "-" : s;
}

}  // namespace

std::string describe(const Config& c) {
    std::ostringstream o;
    o << "configuration " << c.file << "\n";
    o << "  listen      " << join(c.listen) << " on UDP " << c.ike_port << " and " << c.natt_port
      << "\n";
    o << "  data plane  " << to_string(c.dataplane) << "\n";
    o << "  legacy      "
      << (c.allow_legacy_crypto ? "allowed (3DES, SHA-1, MODP-1024)" : "refused") << "\n";
    for (const auto& p : c.pools) {
        o << "  pool " << p.name << ": ";
        if (!p.ipv4.empty()) o << p.ipv4 << " ";
        if (!p.ipv6.empty()) o << p.ipv6 << " ";
        o << "dns " << join(p.dns) << "\n";
    }
    for (const auto& k : c.connections) {
        o << "  connection " << k.name << ": local " << (k.local_id.empty() ? "-" : k.local_id)
          << " (" << to_string(k.local_auth) << "), remote " << k.remote_id << " ("
          << to_string(k.remote_auth) << ")\n";
        o << "    IKE  " << join(k.ike_proposals) << ", lifetime " << k.ike_lifetime_s << " s\n";
        o << "    ESP  " << join(k.esp_proposals) << ", lifetime " << k.child_lifetime_s << " s\n";
        o << "    pools " << join(k.pools) << ", local traffic " << join(k.local_ts) << "\n";
    }
    return o.str();
}

}  // namespace postern::daemon
