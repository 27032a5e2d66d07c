// The eap-mschapv2 plugin: EAP-MSCHAPv2 (RFC 2759 with the EAP framing of Windows and
// strongSwan) for connections with remote_auth = "eap-mschapv2" or "eap": the account's NT hash
// comes from the user stores. Settings:
//
//   [plugins.eap-mschapv2]
//   server_name = "postern"   # the Name in the Challenge (at most 255 octets)
#include "ike/eap/methods.hpp"
#include "postern/plugin/plugin.hpp"

namespace {

using namespace postern;

class MsChapV2Plugin final : public plugin::Plugin {};

std::unique_ptr<plugin::Plugin> create(plugin::Host&, const plugin::Settings& settings,
                                       plugin::Registry& registry, std::string& error) {
    for (const auto& key : settings.keys())
        if (key != "server_name") {
            error = settings.error(key, "unknown key (server_name)");
            return nullptr;
        }
    const std::string name = settings.string("server_name").value_or("postern");
    if (name.empty() || name.size() > 255) {
        error = settings.error("server_name", "must be 1 to 255 octets");
        return nullptr;
    }
    // The factory is immutable and each conversation's method its own object (the NT hash comes
    // through the host's stores, under their plugins' locks): no lock of this plugin needed.
    registry.set_concurrent();
    registry.add_eap_method(ike::eap::mschapv2_method(name));
    return std::make_unique<MsChapV2Plugin>();
}

}  // namespace

POSTERN_PLUGIN("eap-mschapv2", "EAP-MSCHAPv2: user name and password (NT hash)", &create)
