// `postern profile USER --for TARGET`: client profiles for the native IKEv2 clients and
// strongSwan (notes/native-clients.md §3, docs/clients.md).
//
// Two halves, so tests can call the second without a config file, a database or a certificate
// on disk:
//
//   postern.toml + DB + files --profile_input()--> ProfileInput --generate_*()--> ProfileFiles
//
// Every generator is a pure function of ProfileInput: the same input gives the same octets
// (UUIDs are name-based, so a re-issued Apple profile or .sswan replaces the installed one).
// No profile ever carries the user's password: the database holds only its NT hash.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <tl/expected.hpp>

#include "postern/bytes.hpp"

namespace postern::ctl::profile {

enum class Target { ios, macos, windows, android, strongswan };

std::string_view to_string(Target t);
std::optional<Target> parse_target(std::string_view text);

// How the client authenticates (the connection's remote_auth). The server always authenticates
// with its certificate.
enum class ClientAuth {
    eap_mschapv2,  // username + password (the device prompts for the password)
    eap_tls,       // a user certificate (--p12) inside EAP
    pubkey,        // a user certificate (--p12) in IKE_AUTH
};

// Everything a profile is made of, gathered from the configuration (profile_input.cpp).
struct ProfileInput {
    std::string user;        // the DB user name: EAP identity and IKE identity (IDi)
    std::string connection;  // the connection's name in postern.toml
    ClientAuth auth = ClientAuth::eap_mschapv2;
    // The server's IKE identity (IDr the clients send, the name in its certificate): the
    // connection's local_id, else the first dNSName of its certificate. Config text without
    // strongSwan's '@' prefix.
    std::string server_identity;
    std::string server_address;  // what the client connects to: --server, else the identity
    // Proposals in strongSwan syntax, in the server's order; already known to parse.
    std::vector<std::string> ike_proposals;
    std::vector<std::string> esp_proposals;
    bool allow_legacy = false;  // [server] allow_legacy_crypto
    // The server's rekey times (ike_rekey_time, child_rekey_time): clients get shorter ones.
    std::uint32_t ike_lifetime_s = 26 * 3600;
    std::uint32_t child_lifetime_s = 26 * 3600;
    // What the client routes through the tunnel (the connection's local_ts); empty = all.
    std::vector<std::string> remote_ts;
    bool want_ipv4 = true, want_ipv6 = true;  // virtual IPs to ask for (the pools' families)

    // The CA that issued the server's certificate (DER), its subject and file; empty when
    // unknown (the device must trust the server through its own store).
    Bytes ca_der;
    std::string ca_subject;      // "C=CH, O=Postern Test, CN=Postern Test Root CA"
    std::string ca_common_name;  // CN of the CA
    std::string ca_file;
    // From the server's certificate, when the connection names one.
    std::string server_cert_cn;
    std::string server_cert_issuer_cn;
    std::string server_cert_type;  // Apple's CertificateType: RSA, ECDSA256, ECDSA384, ...

    // A PKCS#12 file with the user's certificate and key (--p12), for eap_tls and pubkey.
    Bytes p12;
    std::string p12_name;  // its file name, for the profile's display

    // "Postern VPN (vpn.example.com)": the connection name a user sees on the device.
    std::string display_name() const;
};

// One file of a profile. `suffix` is appended to --out (android writes two files).
struct ProfileFile {
    std::string kind;    // "mobileconfig", "ps1", "sswan", "android-txt", "ca", "swanctl"
    std::string suffix;  // "" for the main file, "-android.txt", ...
    std::string content;
    bool secret = false;    // written with mode 0600 instead of 0644 (none is, today)
    bool on_stdout = true;  // printed with --out - (false: its content is in another file too)
};

struct Profile {
    Target target = Target::ios;
    std::vector<ProfileFile> files;
    std::vector<std::string> warnings;  // printed on stderr as "postern: warning: ..."
};

// A failure with the exit code it maps to (commands.hpp ExitCode).
struct ProfileError {
    int exit_code = 1;
    std::string message;
};

template <typename T>
using Result = tl::expected<T, ProfileError>;

Result<Profile> generate(Target target, const ProfileInput& in);
Result<Profile> generate_apple(const ProfileInput& in, bool macos);
Result<Profile> generate_windows(const ProfileInput& in);
Result<Profile> generate_android(const ProfileInput& in);
Result<Profile> generate_strongswan(const ProfileInput& in);

// ---- helpers shared by the generators (profile_model.cpp)

// RFC 4122 §4.3 name-based UUID, version 5 (SHA-1), lower-case text. `name` is hashed as is.
std::string uuid_v5(std::string_view namespace_uuid, std::string_view name);
// The UUID of one part of a profile: v5 in kProfileNamespace of "identity\nuser\nkind", so a
// re-issued profile replaces the old one and two users' profiles never collide.
inline constexpr std::string_view kProfileNamespace = "5b1c7c4e-2f3a-5d8e-9a41-70f05e7e1a90";
std::string profile_uuid(const ProfileInput& in, std::string_view kind);

std::string base64(ByteView data);
// Base64 folded into lines of `width` characters, each ending in '\n'.
std::string base64_lines(ByteView data, std::size_t width = 64);
std::string pem_certificate(ByteView der);
// Text safe inside an XML element or attribute (& < > " ' escaped).
std::string xml_escape(std::string_view text);
// Text safe inside a PowerShell single-quoted string ('' for ').
std::string ps_quote(std::string_view text);

// Client lifetimes a little shorter than the server's, so the client rekeys first
// (notes/native-clients.md §2, item 18): server - min(30 min, server / 2), in minutes.
std::uint32_t client_lifetime_minutes(std::uint32_t server_seconds);

// Whether the tunnel carries everything (remote_ts empty or containing 0.0.0.0/0).
bool full_tunnel(const ProfileInput& in);

}  // namespace postern::ctl::profile
