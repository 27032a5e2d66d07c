// The built-in EAP methods as plugin-API factories (include/postern/plugin/eap.hpp): the
// eap-mschapv2 and eap-tls plugins register these, and EngineConfig starts out with both, so an
// engine built without plugins (tests, the load generator) offers them too.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "ike/eap/tls_server.hpp"  // kTlsFragmentSize
#include "ike/eap/tls_session.hpp"  // kTls12
#include "postern/plugin/eap.hpp"

namespace postern::ike::eap {

// EAP-MSCHAPv2; `server_name` is the Name of its Challenge.
std::shared_ptr<plugin::EapMethodFactory> mschapv2_method(std::string server_name = "postern");

struct TlsMethodOptions {
    std::uint16_t max_version = kTls12;  // kTls13 to offer TLS 1.3 (RFC 9190)
    std::size_t fragment_size = kTlsFragmentSize;
};
// EAP-TLS with the connection's certificate and key, checking clients with the context's
// verifier (its anchors are the CAs named in CertificateRequest).
std::shared_ptr<plugin::EapMethodFactory> tls_method(TlsMethodOptions options = {});

// Both, MSCHAPv2 first.
std::vector<std::shared_ptr<plugin::EapMethodFactory>> builtin_methods();

}  // namespace postern::ike::eap
