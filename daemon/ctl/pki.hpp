// A small certificate authority for `postern pki` and `postern init` (OpenSSL 3, EVP and X509;
// never the openssl binary):
//
//   init:  ca.pem/ca.key      RSA 3072, CN "Postern CA <first name>", basicConstraints
//                             CA:TRUE (critical), keyUsage keyCertSign|cRLSign, SKI
//          server.pem/.key    RSA 3072, CN <first name>, EKU serverAuth + IKE intermediate
//                             (1.3.6.1.5.5.8.2.2, which Windows wants), SAN: every name as a
//                             dNSName, every address as an iPAddress AND a dNSName (Windows
//                             and Apple match the server address typed by the user against
//                             either, depending on the version)
//   issue: USER.pem/.key/.p12 RSA 3072 or ECDSA P-256, CN USER, EKU clientAuth, SAN
//                             rfc822Name (USER has an '@') or dNSName, signed by the CA. The
//                             PKCS#12 bundles the CA and uses PBE-SHA1-3DES for the key and the
//                             certificates with a SHA-1 MAC: what iOS/macOS and Windows import.
//
// Keys (and the .p12) are written with mode 0600, certificates 0644.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include <tl/expected.hpp>

namespace postern::ctl::pki {

template <class T>
using Result = tl::expected<T, std::string>;

inline constexpr int kCaDays = 3650;
inline constexpr int kLeafDays = 825;  // Apple refuses longer-lived server certificates for TLS
inline constexpr int kRsaBits = 3072;

struct InitRequest {
    std::vector<std::string> names;      // DNS names; the first is the server's CN
    std::vector<std::string> addresses;  // IPv4/IPv6 literals
    std::filesystem::path out;
    int days = kLeafDays;  // the server certificate; the CA lives max(days, kCaDays)
    bool force = false;    // overwrite existing files
};

struct InitResult {
    std::filesystem::path ca_cert, ca_key, server_cert, server_key;
};

// The files init() writes into `dir`.
InitResult init_paths(const std::filesystem::path& dir);

// Checks the request (at least one name, names are DNS names, addresses parse) and writes the
// CA and the server certificate. Refuses when any of the four files exists unless force.
Result<InitResult> init(const InitRequest& req);

struct IssueRequest {
    std::string user;
    std::filesystem::path ca_dir;  // holds ca.pem and ca.key
    std::filesystem::path out;     // empty: <ca_dir>/clients
    int days = kLeafDays;
    bool ecdsa = false;        // P-256 instead of RSA 3072
    std::string p12_password;  // required (the command generates one when not given)
    bool force = false;
};

struct IssueResult {
    std::filesystem::path cert, key, p12;
};

Result<IssueResult> issue(const IssueRequest& req);

// A DNS name as a SAN accepts it: labels of [A-Za-z0-9-] (a leading "*." allowed), 1..253
// characters.
bool is_dns_name(std::string_view name);

}  // namespace postern::ctl::pki
