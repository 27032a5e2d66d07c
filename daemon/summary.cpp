#include "daemon/summary.hpp"

#include <algorithm>

#include "daemon/engine_setup.hpp"
#include "daemon/plugin_set.hpp"

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

std::vector<std::string> describe_lines(const Config& c) {
    std::vector<std::string> o;
    o.push_back("configuration " + c.file);
    o.push_back("  listen      " +
                (c.listen.empty() ? std::string("0.0.0.0, :: (default)") : join(c.listen)) +
                " on UDP " + std::to_string(c.ike_port) + " and " + std::to_string(c.natt_port));
    o.push_back("  data plane  " + to_string(c.dataplane) +
                (c.dataplane == DataPlaneKind::Kernel
                     ? " (Linux XFRM; posternd refuses to start on a kernel without ESP)"
                 : c.dataplane == DataPlaneKind::Userspace
                     ? " (userspace ESP on a TUN device; posternd refuses to start without one)"
                     : " (Linux XFRM when the kernel can install an ESP SA, else userspace ESP on "
                       "a TUN device, else SAs are only logged)"));
    o.push_back("  plugins     " + join(c.plugins.load_given ? c.plugins.load
                                                      : default_plugins(c)) +
                (c.plugins.load_given ? "" : " (the default set)"));
    o.push_back(std::string("  legacy      ") +
                (c.allow_legacy_crypto ? "allowed (3DES, SHA-1, MODP-1024)" : "refused"));
    o.push_back("  CAs         " + join(c.cacerts));
    for (const auto& p : c.pools) {
        std::string s = "  pool " + p.name + ": ";
        if (!p.ipv4.empty()) s += p.ipv4 + " ";
        if (!p.ipv6.empty()) s += p.ipv6 + " ";
        o.push_back(s + "dns " + join(p.dns));
    }
    for (const auto& k : c.connections) {
        o.push_back("  connection " + k.name + ": local " +
                    (k.local_id.empty() ? std::string("(from certificate)") : k.local_id) + " (" +
                    to_string(k.local_auth) + "), remote " + k.remote_id + " (" +
                    to_string(k.remote_auth) +
                    (k.remote_auth == AuthKind::Eap
                         ? ": " + (k.eap_methods.empty() ? std::string("mschapv2, tls")
                                                         : join(k.eap_methods))
                         : std::string()) +
                    ")");
        if (!k.cert.empty()) o.push_back("    cert " + k.cert + ", key " + k.key_file);
        o.push_back("    IKE  " +
                    join(k.ike_proposals.empty() ? kDefaultIkeProposals : k.ike_proposals) +
                    ", rekey " + std::to_string(k.ike_rekey_s) + " s" +
                    (k.reauth_s ? ", reauth " + std::to_string(k.reauth_s) + " s" : ""));
        o.push_back("    ESP  " +
                    join(k.esp_proposals.empty() ? kDefaultEspProposals : k.esp_proposals) +
                    ", rekey " + std::to_string(k.child_rekey_s) + " s");
        o.push_back("    pools " + join(k.pools) + ", local traffic " + join(k.local_ts) +
                    ", remote traffic " + join(k.remote_ts));
        if (!k.split_include.empty() || !k.dns_domains.empty())
            o.push_back("    split include " + join(k.split_include) + ", DNS domains " +
                        join(k.dns_domains));
        if (!k.remote_addrs.empty())
            o.push_back("    peer " + k.remote_addrs.front() + " port " +
                        std::to_string(k.remote_port) + (k.start ? ", started at start-up" : "") +
                        (k.request_virtual_ip ? ", asks for a virtual IP" : ""));
    }
    return o;
}

std::string describe(const Config& c) {
    std::string s;
    for (const auto& l : describe_lines(c))
        s += l + "\n";
    return s;
}

}  // namespace postern::daemon
