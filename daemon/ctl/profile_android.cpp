// Android: two ways in (notes/native-clients.md §3.3, §3.4).
//   - the strongSwan VPN Client app imports a .sswan file (JSON, the app's
//     VpnProfileImportActivity): type ikev2-eap, the server's address and identity, the CA, the
//     EAP user name; the app asks for the password when the profile is imported or used;
//   - Android's built-in client (11+) has no import format: a text file lists the values to type
//     into Settings > Network & internet > VPN, and the CA travels as its own file.
// The built-in client sends the server address as typed as IDr, so it must be a name in the
// server's certificate; its proposals are fixed (check_android_native) and it never uses PFS.
#include <nlohmann/json.hpp>

#include <string>

#include "daemon/ctl/profile_model.hpp"
#include "daemon/ctl/profile_proposals.hpp"

namespace postern::ctl::profile {

namespace {

std::string native_text(const ProfileInput& in, const AndroidNativeCheck& check) {
    const std::string ca_name = in.ca_common_name.empty() ? "the Postern CA" : in.ca_common_name;
    std::string s;
    s +=
        "Postern VPN for " + in.user + " on Android's built-in VPN client (Android 11 and later)\n";
    s += "=============================================================================\n\n";
    if (!in.ca_der.empty()) {
        s +=
            "First install the CA certificate (the file ending in -ca.crt, or the PEM block below\n"
            "saved as postern-ca.crt): Settings > Security > Encryption & credentials > Install a\n"
            "certificate > CA certificate.\n\n";
    }
    s += "Then Settings > Network & internet > VPN > + and enter:\n\n";
    auto field = [&](std::string_view name, std::string_view value) {
        std::string line = "  " + std::string(name) + ":";
        line.append(line.size() < 28 ? 28 - line.size() : 1, ' ');
        s += line + std::string(value) + "\n";
    };
    field("Name", in.display_name());
    field("Type", in.auth == ClientAuth::eap_mschapv2 ? "IKEv2/IPSec MSCHAPv2" : "IKEv2/IPSec RSA");
    field("Server address", in.server_address);
    field("IPSec identifier", in.user);
    if (in.auth != ClientAuth::eap_mschapv2)
        field("IPSec user certificate", in.user + " (install the PKCS#12 file first)");
    field("IPSec CA certificate",
          in.ca_der.empty() ? "(don't verify server)  <- not recommended" : ca_name);
    field("IPSec server certificate", "(received from server)");
    if (in.auth == ClientAuth::eap_mschapv2) {
        field("Username", in.user);
        field("Password", "(the user's password; not in this file)");
    }
    s += "\nThe server address must be exactly a name in the server's certificate (" +
         in.server_identity +
         "):\nAndroid asks the server for that identity and refuses any "
         "other.\n";
    if (in.server_address != in.server_identity)
        s += "WARNING: the address given (" + in.server_address +
             ") differs from the server identity (" + in.server_identity +
             "); the built-in client will only connect if the server's certificate also names " +
             in.server_address + ".\n";
    if (!check.ike || !check.esp) {
        s +=
            "\nWARNING: the built-in client cannot connect to this server: its fixed proposals\n(" +
            std::string(kAndroidNativeSupports) + ")\nmatch none of the server's " +
            (check.ike ? "ESP" : "IKE") +
            " proposals. Use the strongSwan app with the .sswan file instead.\n";
    } else {
        s += "\nProposals the built-in client will agree on: IKE " + *check.ike + ", ESP " +
             *check.esp + ".\n";
    }
    if (!in.ca_der.empty())
        s += "\nCA certificate (" + in.ca_subject + "):\n\n" + pem_certificate(in.ca_der);
    return s;
}

}  // namespace

Result<Profile> generate_android(const ProfileInput& in) {
    auto crypto = choose_strongswan(in);
    if (!crypto) return tl::unexpected(crypto.error());
    const bool with_cert = in.auth != ClientAuth::eap_mschapv2;
    if (with_cert && in.p12.empty())
        return tl::unexpected(
            ProfileError{2, "connection \"" + in.connection +
                                "\" authenticates users with certificates: give "
                                "the user's certificate and key as a PKCS#12 file with --p12"});

    Profile profile;
    profile.target = Target::android;

    nlohmann::ordered_json j;
    j["uuid"] = profile_uuid(in, "sswan");
    j["name"] = in.display_name();
    switch (in.auth) {
        case ClientAuth::eap_mschapv2:
            j["type"] = "ikev2-eap";
            break;
        case ClientAuth::eap_tls:
            j["type"] = "ikev2-eap-tls";
            break;
        case ClientAuth::pubkey:
            j["type"] = "ikev2-cert";
            break;
    }
    j["remote"]["addr"] = in.server_address;
    j["remote"]["id"] = in.server_identity;
    if (!in.ca_der.empty()) j["remote"]["cert"] = base64(in.ca_der);
    if (in.auth == ClientAuth::eap_mschapv2) {
        j["local"]["eap_id"] = in.user;
    } else {
        j["local"]["id"] = in.user;
        j["local"]["p12"] = base64(in.p12);
    }
    j["ike-proposal"] = crypto->ike;
    j["esp-proposal"] = crypto->esp;
    if (!full_tunnel(in)) {
        std::string subnets;
        for (const auto& ts : in.remote_ts)
            subnets += (subnets.empty() ? "" : " ") + ts;
        j["split-tunneling"]["subnets"] = subnets;
    }
    profile.files.push_back({"sswan", ".sswan", j.dump(2) + "\n", false});

    const auto check = check_android_native(in);
    profile.files.push_back({"android-txt", "-android.txt", native_text(in, check), false});
    if (!in.ca_der.empty())
        profile.files.push_back({"ca", "-ca.crt", pem_certificate(in.ca_der), false, false});
    if (!check.ike || !check.esp)
        profile.warnings.push_back("Android's built-in client cannot use any of the server's " +
                                   std::string(check.ike ? "ESP" : "IKE") +
                                   " proposals; only the strongSwan app (.sswan) will connect");
    if (in.server_address != in.server_identity)
        profile.warnings.push_back("Android's built-in client asks for the server address (" +
                                   in.server_address +
                                   ") as the server's identity; it must be in "
                                   "the server's certificate");
    return profile;
}

}  // namespace postern::ctl::profile
