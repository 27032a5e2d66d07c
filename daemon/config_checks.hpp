// Semantic checks of config values (addresses, subnets, proposals, identities), reported
// through the TableReader so the error carries file, line and key.
#pragma once

#include <string>
#include <vector>

#include "daemon/config_reader.hpp"

namespace postern::daemon {

enum class ProposalKind { Ike, Esp };

// `value` must be a prefix of the given family (4 or 6) without host bits; empty is accepted.
void check_cidr(TableReader& r, std::string_view key, const std::string& value, int family);
// One element of an address array (e.g. dns[2]), IPv4 or IPv6.
void check_address(TableReader& r, std::string_view key, std::size_t index,
                   const std::string& value);
// One element of a subnet array (local_ts[0]): IPv4 or IPv6 prefix without host bits.
void check_subnet(TableReader& r, std::string_view key, std::size_t index,
                  const std::string& value);
// Each proposal string must parse (strongSwan syntax); legacy algorithms need
// server.allow_legacy_crypto.
void check_proposals(TableReader& r, std::string_view key, const std::vector<std::string>& list,
                     ProposalKind kind, bool allow_legacy);
// An identity (local_id; empty is accepted) or an identity pattern (remote_id).
void check_identity(TableReader& r, std::string_view key, const std::string& value);
void check_identity_pattern(TableReader& r, std::string_view key, const std::string& value);

}  // namespace postern::daemon
