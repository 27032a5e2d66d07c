// The x509 plugin: whether a peer's certificate chain is trusted, for certificate
// authentication in IKE_AUTH and for EAP-TLS clients. Trust anchors are the CA files of
// [pki] cacerts (PEM, every certificate in each file); chains are built and checked by OpenSSL
// (signatures, validity at the engine's clock, CA constraints, path length, size caps:
// ike/crypto/x509.hpp). No settings of its own.
#include <fstream>
#include <sstream>

#include "ike/crypto/verifier.hpp"
#include "postern/plugin/plugin.hpp"

namespace {

using namespace postern;

class X509Plugin final : public plugin::Plugin {};

std::unique_ptr<plugin::Plugin> create(plugin::Host& host, const plugin::Settings& settings,
                                       plugin::Registry& registry, std::string& error) {
    for (const auto& key : settings.keys()) {
        error = settings.error(key, "unknown key (the x509 plugin reads [pki] cacerts)");
        return nullptr;
    }
    std::vector<ike::crypto::Certificate> anchors;
    for (const auto& file : host.cacerts()) {
        std::ifstream in(file, std::ios::binary);
        std::stringstream text;
        text << in.rdbuf();
        if (!in) {
            error = "cannot read CA file " + file;
            return nullptr;
        }
        auto certs = ike::crypto::load_pem_chain(text.str());
        if (!certs) {
            error = file + ": " + certs.error();
            return nullptr;
        }
        anchors.insert(anchors.end(), certs->begin(), certs->end());
    }
    host.log(plugin::LogLevel::debug,
             std::to_string(anchors.size()) + " trust anchor(s) from [pki] cacerts");
    registry.set_concurrent();  // the verifier is immutable (and const) once made
    registry.set_certificate_verifier(
        std::make_shared<ike::crypto::AnchorVerifier>(std::move(anchors)));
    return std::make_unique<X509Plugin>();
}

}  // namespace

POSTERN_PLUGIN("x509", "certificate chains checked against [pki] cacerts", &create)
