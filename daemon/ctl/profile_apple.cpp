// Apple configuration profile (.mobileconfig) for the built-in IKEv2 client of iOS, iPadOS and
// macOS: a Configuration payload holding
//   com.apple.vpn.managed     the VPN (VPNType IKEv2, the IKEv2 dict of Apple's VPN.IKEv2)
//   com.apple.security.root   the CA that issued the server's certificate
//   com.apple.security.pkcs12 the user's certificate (--p12; eap-tls and pubkey connections)
// Key names and values: apple/device-management mdm/profiles/com.apple.vpn.managed.yaml
// (notes/native-clients.md §3.1).
//
// EAP-MSCHAPv2 is AuthenticationMethod None + ExtendedAuthEnabled: the device sends
// N(EAP_ONLY_AUTHENTICATION) (RFC 5998); posternd still proves itself with its certificate,
// which the device checks against RemoteIdentifier. AuthPassword is left out, so the device
// asks for the password when it first connects (Postern has only the NT hash).
#include <cstdint>
#include <string>

#include "daemon/ctl/profile_model.hpp"
#include "daemon/ctl/profile_proposals.hpp"

namespace postern::ctl::profile {

namespace {

// Writes an XML property list (Apple's PropertyList-1.0 DTD), indented with tabs like
// Apple's own tools; every string goes through xml_escape.
class PlistWriter {
  public:
    PlistWriter() {
        out_ =
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
            "<!DOCTYPE plist PUBLIC \"-//Apple//DTD PLIST 1.0//EN\" "
            "\"http://www.apple.com/DTDs/PropertyList-1.0.dtd\">\n"
            "<plist version=\"1.0\">\n";
    }
    void key(std::string_view k) { line("<key>" + xml_escape(k) + "</key>"); }
    void string(std::string_view k, std::string_view v) {
        key(k);
        line("<string>" + xml_escape(v) + "</string>");
    }
    void integer(std::string_view k, std::int64_t v) {
        key(k);
        line("<integer>" + std::to_string(v) + "</integer>");
    }
    void boolean(std::string_view k, bool v) {
        key(k);
        line(v ? "<true/>" : "<false/>");
    }
    void data(std::string_view k, ByteView v) {
        key(k);
        line("<data>");
        std::string b = base64_lines(v, 52);
        for (std::size_t pos = 0; pos < b.size();) {
            auto nl = b.find('\n', pos);
            line(b.substr(pos, nl - pos));
            pos = nl + 1;
        }
        line("</data>");
    }
    void begin_dict(std::string_view k = {}) {
        if (!k.empty()) key(k);
        line("<dict>");
        ++depth_;
    }
    void end_dict() {
        --depth_;
        line("</dict>");
    }
    void begin_array(std::string_view k) {
        key(k);
        line("<array>");
        ++depth_;
    }
    void end_array() {
        --depth_;
        line("</array>");
    }
    std::string finish() { return out_ + "</plist>\n"; }

  private:
    void line(std::string_view text) {
        out_.append(static_cast<std::size_t>(depth_), '\t');
        out_ += text;
        out_ += '\n';
    }
    std::string out_;
    int depth_ = 0;
};

void sa_parameters(PlistWriter& w, std::string_view key, const AppleSa& sa, std::uint32_t minutes) {
    w.begin_dict(key);
    w.string("EncryptionAlgorithm", sa.encryption);
    if (!sa.integrity.empty()) w.string("IntegrityAlgorithm", sa.integrity);
    w.integer("DiffieHellmanGroup", sa.dh_group);
    w.integer("LifeTimeInMinutes", minutes);
    w.end_dict();
}

}  // namespace

Result<Profile> generate_apple(const ProfileInput& in, bool macos) {
    auto crypto = choose_apple(in);
    if (!crypto) return tl::unexpected(crypto.error());
    const bool with_cert = in.auth != ClientAuth::eap_mschapv2;
    if (with_cert && in.p12.empty())
        return tl::unexpected(
            ProfileError{2, "connection \"" + in.connection +
                                "\" authenticates users with certificates: give "
                                "the user's certificate and key as a PKCS#12 file with --p12"});

    Profile profile;
    profile.target = macos ? Target::macos : Target::ios;
    const std::string id_base = "org.postern.profile." + in.server_identity + "." + in.user;
    const std::string vpn_uuid = profile_uuid(in, "vpn");
    const std::string ca_uuid = profile_uuid(in, "ca");
    const std::string p12_uuid = profile_uuid(in, "identity");

    PlistWriter w;
    w.begin_dict();
    w.begin_array("PayloadContent");

    // ---- the VPN
    w.begin_dict();
    w.string("PayloadType", "com.apple.vpn.managed");
    w.string("PayloadIdentifier", id_base + ".vpn");
    w.string("PayloadUUID", vpn_uuid);
    w.integer("PayloadVersion", 1);
    w.string("PayloadDisplayName", "VPN " + in.display_name());
    w.string("UserDefinedName", in.display_name());
    w.string("VPNType", "IKEv2");
    w.begin_dict("IKEv2");
    w.string("RemoteAddress", in.server_address);
    w.string("RemoteIdentifier", in.server_identity);
    w.string("LocalIdentifier", in.user);
    switch (in.auth) {
        case ClientAuth::eap_mschapv2:
            w.string("AuthenticationMethod", "None");
            w.integer("ExtendedAuthEnabled", 1);
            w.string("AuthName", in.user);
            break;
        case ClientAuth::eap_tls:
            w.string("AuthenticationMethod", "None");
            w.integer("ExtendedAuthEnabled", 1);
            w.string("PayloadCertificateUUID", p12_uuid);
            break;
        case ClientAuth::pubkey:
            w.string("AuthenticationMethod", "Certificate");
            w.integer("ExtendedAuthEnabled", 0);
            w.string("PayloadCertificateUUID", p12_uuid);
            break;
    }
    if (!in.server_cert_type.empty()) w.string("CertificateType", in.server_cert_type);
    if (!in.server_cert_issuer_cn.empty())
        w.string("ServerCertificateIssuerCommonName", in.server_cert_issuer_cn);
    if (!in.server_cert_cn.empty()) w.string("ServerCertificateCommonName", in.server_cert_cn);
    sa_parameters(w, "IKESecurityAssociationParameters", crypto->ike,
                  client_lifetime_minutes(in.ike_lifetime_s));
    sa_parameters(w, "ChildSecurityAssociationParameters", crypto->child,
                  client_lifetime_minutes(in.child_lifetime_s));
    w.integer("EnablePFS", crypto->pfs ? 1 : 0);
    w.string("DeadPeerDetectionRate", "Medium");
    w.integer("DisableMOBIKE", 0);
    w.integer("DisableRedirect", 1);
    w.integer("EnableCertificateRevocationCheck", 0);
    w.integer("UseConfigurationAttributeInternalIPSubnet", 0);
    w.integer("OnDemandEnabled", 0);
    w.end_dict();  // IKEv2
    w.begin_dict("IPv4");
    // 1: every packet goes through the tunnel (the server's traffic selectors cover all).
    w.integer("OverridePrimary", full_tunnel(in) ? 1 : 0);
    w.end_dict();
    w.end_dict();  // VPN payload

    // ---- the CA
    if (!in.ca_der.empty()) {
        w.begin_dict();
        w.string("PayloadType", "com.apple.security.root");
        w.string("PayloadIdentifier", id_base + ".ca");
        w.string("PayloadUUID", ca_uuid);
        w.integer("PayloadVersion", 1);
        w.string("PayloadDisplayName",
                 in.ca_common_name.empty() ? "Postern CA" : in.ca_common_name);
        w.string("PayloadCertificateFileName", "postern-ca.cer");
        w.data("PayloadContent", in.ca_der);
        w.end_dict();
    } else {
        profile.warnings.push_back(
            "no CA certificate in [pki] cacerts: the device must already trust the server's "
            "certificate");
    }

    // ---- the user's certificate; the device asks for the PKCS#12 password at install.
    if (with_cert) {
        w.begin_dict();
        w.string("PayloadType", "com.apple.security.pkcs12");
        w.string("PayloadIdentifier", id_base + ".identity");
        w.string("PayloadUUID", p12_uuid);
        w.integer("PayloadVersion", 1);
        w.string("PayloadDisplayName", in.user);
        w.string("PayloadCertificateFileName",
                 in.p12_name.empty() ? in.user + ".p12" : in.p12_name);
        w.data("PayloadContent", in.p12);
        w.end_dict();
    }
    w.end_array();

    w.string("PayloadDisplayName", in.display_name());
    w.string("PayloadDescription", "IKEv2 VPN to " + in.server_address + " for " + in.user +
                                       " (connection " + in.connection + ")");
    w.string("PayloadIdentifier", id_base);
    w.string("PayloadOrganization", "Postern");
    w.string("PayloadType", "Configuration");
    w.string("PayloadUUID", profile_uuid(in, "configuration"));
    w.integer("PayloadVersion", 1);
    w.boolean("PayloadRemovalDisallowed", false);
    // macOS only (Apple: "Determines if the profile should be installed for the system or the
    // user"): System puts the VPN and the CA where every user and the VPN daemon see them.
    if (macos) w.string("PayloadScope", "System");
    w.end_dict();

    profile.files.push_back({"mobileconfig", "", w.finish(), false});
    if (crypto->pfs)
        profile.warnings.push_back("the server's ESP proposal \"" + crypto->child.source +
                                   "\" requires PFS: the profile enables it (EnablePFS)");
    return profile;
}

}  // namespace postern::ctl::profile
