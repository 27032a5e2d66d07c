// strongSwan on Linux (swanctl/charon, or charon-nm with the same values): a swanctl.conf
// snippet. strongSwan speaks the proposal syntax postern.toml uses, so every server proposal is
// copied as written and the two sides negotiate as the server orders them. Rekey times are a
// little shorter than the server's lifetimes so the client rekeys first.
#include <algorithm>
#include <cctype>
#include <string>

#include "daemon/ctl/profile_model.hpp"

namespace postern::ctl::profile {

namespace {

std::string join(const std::vector<std::string>& list, std::string_view sep) {
    std::string out;
    for (const auto& s : list)
        out += (out.empty() ? "" : std::string(sep)) + s;
    return out;
}

// swanctl.conf values: bare when made of safe characters, else double-quoted.
std::string value(std::string_view v) {
    const bool bare = !v.empty() && std::all_of(v.begin(), v.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) ||
               std::string_view("-_.:/@,").find(c) != std::string_view::npos;
    });
    if (bare) return std::string(v);
    std::string out = "\"";
    for (char c : v) {
        if (c == '"' || c == '\\') out += '\\';
        out += c;
    }
    return out + "\"";
}

// A section name: letters, digits, '-', '_' and '.'.
std::string section(std::string_view v) {
    std::string out;
    for (char c : v)
        out += std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.'
                   ? c
                   : '_';
    return out.empty() ? "postern" : out;
}

// Seconds as swanctl writes time values ("23h30m" -> "84600s").
std::string seconds(std::uint32_t s) {
    return std::to_string(s) + "s";
}

}  // namespace

Result<Profile> generate_strongswan(const ProfileInput& in) {
    if (in.ike_proposals.empty() || in.esp_proposals.empty())
        return tl::unexpected(
            ProfileError{1, "connection \"" + in.connection + "\" has no proposals"});
    const bool with_cert = in.auth != ClientAuth::eap_mschapv2;
    Profile profile;
    profile.target = Target::strongswan;

    const std::string name = section(in.connection);
    const std::string ca_file = "postern-" + section(in.server_identity) + "-ca.pem";
    std::vector<std::string> vips;
    if (in.want_ipv4) vips.push_back("0.0.0.0");
    if (in.want_ipv6) vips.push_back("::");
    std::vector<std::string> remote_ts =
        in.remote_ts.empty() ? std::vector<std::string>{"0.0.0.0/0", "::/0"} : in.remote_ts;
    // strongSwan's defaults (IKE 4h, CHILD 1h) when they are shorter than the server's.
    const std::uint32_t ike_rekey =
        std::min<std::uint32_t>(4 * 3600, client_lifetime_minutes(in.ike_lifetime_s) * 60);
    const std::uint32_t child_rekey =
        std::min<std::uint32_t>(3600, client_lifetime_minutes(in.child_lifetime_s) * 60);

    std::string s;
    s += "# swanctl.conf for " + in.user + " to " + in.server_address + " (Postern connection " +
         in.connection + "),\n";
    s += "# made by `postern profile " + in.user + " --for strongswan`.\n#\n";
    s += "# Save as /etc/swanctl/conf.d/postern.conf";
    if (!in.ca_der.empty())
        s += ", the CA (with --out FILE: FILE-ca.pem, else the\n# commented block at the end) as "
             "/etc/swanctl/x509ca/" +
             ca_file;
    s += ",\n# put the password into the secrets section, then:\n";
    s += "#   swanctl --load-all && swanctl --initiate --child " + name + "\n";
    s += "# (Debian: apt install strongswan-swanctl charon-systemd libcharon-extra-plugins "
         "for eap-mschapv2.)\n\n";
    s += "connections {\n";
    s += "    " + name + " {\n";
    s += "        version = 2\n";
    s += "        remote_addrs = " + value(in.server_address) + "\n";
    s += "        vips = " + join(vips, ",") + "\n";
    s += "        proposals = " + join(in.ike_proposals, ",") + "\n";
    s += "        rekey_time = " + seconds(ike_rekey) + "\n";
    s += "        local {\n";
    switch (in.auth) {
        case ClientAuth::eap_mschapv2:
            s += "            auth = eap-mschapv2\n";
            s += "            eap_id = " + value(in.user) + "\n";
            break;
        case ClientAuth::eap_tls:
            s += "            auth = eap-tls\n";
            s += "            eap_id = " + value(in.user) + "\n";
            s += "            certs = " + value(in.user) + ".pem\n";
            break;
        case ClientAuth::pubkey:
            s += "            auth = pubkey\n";
            s += "            id = " + value(in.user) + "\n";
            s += "            certs = " + value(in.user) + ".pem\n";
            break;
    }
    s += "        }\n";
    s += "        remote {\n";
    s += "            auth = pubkey\n";
    s += "            id = " + value(in.server_identity) + "\n";
    if (!in.ca_der.empty()) s += "            cacerts = " + ca_file + "\n";
    s += "        }\n";
    s += "        children {\n";
    s += "            " + name + " {\n";
    s += "                remote_ts = " + join(remote_ts, ",") + "\n";
    s += "                esp_proposals = " + join(in.esp_proposals, ",") + "\n";
    s += "                rekey_time = " + seconds(child_rekey) + "\n";
    s += "                start_action = none\n";
    s += "            }\n";
    s += "        }\n";
    s += "    }\n";
    s += "}\n\n";
    if (with_cert) {
        s += "# The user's certificate goes to /etc/swanctl/x509/" + in.user +
             ".pem and its key to /etc/swanctl/private/\n# (openssl pkcs12 -in " +
             (in.p12_name.empty() ? "user.p12" : in.p12_name) + " -nokeys / -nocerts -nodes).\n";
    } else {
        s += "secrets {\n";
        s += "    eap-" + section(in.user) + " {\n";
        s += "        id = " + value(in.user) + "\n";
        s += "        secret = \"<password>\"  # fill in " + in.user +
             "'s password (never stored by Postern)\n";
        s += "    }\n";
        s += "}\n";
    }
    if (!in.ca_der.empty())
        s += "\n# " + ca_file + " (" + in.ca_subject + "):\n" + [&] {
            std::string pem = pem_certificate(in.ca_der), out;
            for (std::size_t pos = 0; pos < pem.size();) {
                auto nl = pem.find('\n', pos);
                out += "# " + pem.substr(pos, nl - pos) + "\n";
                pos = nl + 1;
            }
            return out;
        }();
    profile.files.push_back({"swanctl", "", s, false, true});
    if (!in.ca_der.empty())
        profile.files.push_back({"ca", "-ca.pem", pem_certificate(in.ca_der), false, false});
    return profile;
}

}  // namespace postern::ctl::profile
