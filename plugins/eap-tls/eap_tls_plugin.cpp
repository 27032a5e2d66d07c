// The eap-tls plugin: EAP-TLS (RFC 5216; TLS 1.3 per RFC 9190) for connections with
// remote_auth = "eap-tls" or "eap": the server's TLS certificate is the connection's `cert`,
// clients' certificates are checked by the certificate verifier (the x509 plugin) and must
// name the account, which the user stores must know and have enabled. Settings:
//
//   [plugins.eap-tls]
//   max_version = "1.2"     # or "1.3"; 1.2 by default (clients' TLS 1.3 EAP-TLS is uneven)
//   fragment_size = 1024    # TLS octets per EAP message, 256-4096
#include "ike/eap/methods.hpp"
#include "postern/plugin/plugin.hpp"

namespace {

using namespace postern;

class EapTlsPlugin final : public plugin::Plugin {};

std::unique_ptr<plugin::Plugin> create(plugin::Host&, const plugin::Settings& settings,
                                       plugin::Registry& registry, std::string& error) {
    for (const auto& key : settings.keys())
        if (key != "max_version" && key != "fragment_size") {
            error = settings.error(key, "unknown key (max_version, fragment_size)");
            return nullptr;
        }
    ike::eap::TlsMethodOptions options;
    const std::string version = settings.string("max_version").value_or("1.2");
    if (version == "1.3") {
        options.max_version = ike::eap::kTls13;
    } else if (version != "1.2") {
        error = settings.error("max_version", "expected \"1.2\" or \"1.3\", got \"" + version + "\"");
        return nullptr;
    }
    const std::int64_t fragment = settings.integer("fragment_size").value_or(1024);
    if (fragment < 256 || fragment > 4096) {
        error = settings.error("fragment_size", "expected 256-4096");
        return nullptr;
    }
    options.fragment_size = static_cast<std::size_t>(fragment);
    // The factory is immutable and each conversation has its own TLS context and state (the
    // verifier is thread-safe, the certificate cache locked per shard of its own): EAP-TLS
    // conversations on different IKE threads run side by side.
    registry.set_concurrent();
    registry.add_eap_method(ike::eap::tls_method(options));
    return std::make_unique<EapTlsPlugin>();
}

}  // namespace

POSTERN_PLUGIN("eap-tls", "EAP-TLS: client certificates (TLS 1.2, 1.3)", &create)
