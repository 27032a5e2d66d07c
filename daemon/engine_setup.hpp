// From a loaded postern.toml to what ike::Engine is told: reads the files the config points at
// (CA certificates, our certificates and keys, PSK files), parses identities, proposals and
// selectors, and checks that the pieces fit together (a pubkey connection has a certificate
// whose names include local_id, and a key that belongs to it). Errors name the file, line and
// key of the config entry, and what is wrong with the file it pointed at.
#pragma once

#include <string>
#include <vector>

#include <tl/expected.hpp>

#include "daemon/config.hpp"
#include "ike/engine_config.hpp"

namespace postern::daemon {

// Used when a connection lists none (strongSwan-like defaults without legacy algorithms).
extern const std::vector<std::string> kDefaultIkeProposals;
extern const std::vector<std::string> kDefaultEspProposals;

// `warnings` (optional) collects things worth a log line that are not errors: a local_id
// taken from the certificate, a short PSK.
tl::expected<ike::EngineConfig, ConfigError> build_engine_config(
    const Config& c, std::vector<std::string>* warnings = nullptr);

// A file's whole text; the error says why it cannot be read ("No such file or directory").
tl::expected<std::string, std::string> read_text_file(const std::string& path);

}  // namespace postern::daemon
