// From postern.toml (and the certificate files it names) to a ProfileInput.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "daemon/config.hpp"
#include "daemon/ctl/profile_model.hpp"

namespace postern::ctl::profile {

struct InputRequest {
    std::string user;
    std::string connection;  // empty: the first eap-mschapv2 connection, else eap-tls/pubkey
    std::string server;      // empty: the server identity
    Bytes p12;               // --p12 file contents
    std::string p12_name;
};

// Picks the connection, finds the server's identity (local_id, else the certificate's first
// dNSName), the CA (the first of [pki] cacerts that the server's certificate chains to, else
// the first one) and checks every proposal parses. `warnings` collects what is worth telling
// the administrator but not fatal (a server certificate that does not chain to the CA).
Result<ProfileInput> profile_input(const daemon::Config& config, const InputRequest& request,
                                   std::vector<std::string>& warnings);

}  // namespace postern::ctl::profile
