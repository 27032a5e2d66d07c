// The psk plugin: pre-shared keys by the peer's identity, for connections with remote_auth or
// local_auth = "psk" that have no `psk` of their own (one connection, a key per device):
//
//   [plugins.psk.secrets]
//   "phone.alice@example.com" = "file:secrets/alice-phone.psk"   # first line of the file
//   "192.0.2.7" = "an inline key of 16 characters or more"
//
// Keys of fewer than 16 characters are refused (offline guessing); a file is read at start-up
// and at `postern reload` (a reload that fails keeps the previous keys).
//
// Concurrent (Registry::set_concurrent): the keys are an immutable table swapped whole by a
// reload, so the IKE threads look keys up without this plugin's lock.
#include <atomic>
#include <fstream>
#include <map>

#include "postern/plugin/plugin.hpp"

namespace {

using namespace postern;

using Secrets = std::map<std::string, SecretBytes>;

tl::expected<Secrets, std::string> read_secrets(const plugin::Settings& settings,
                                                const std::string& config_dir) {
    for (const auto& key : settings.keys())
        if (key != "secrets")
            return tl::unexpected(settings.error(key, "unknown key (secrets)"));
    Secrets out;
    const auto table = settings.string_table("secrets");
    if (!table) return out;
    for (const auto& [identity, value] : *table) {
        std::string secret = value;
        if (value.rfind("file:", 0) == 0) {
            std::string path = value.substr(5);
            if (!path.empty() && path.front() != '/') path = config_dir + "/" + path;
            std::ifstream in(path, std::ios::binary);
            if (!in || !std::getline(in, secret))
                return tl::unexpected(
                    settings.error("secrets", "\"" + identity + "\": cannot read " + path));
            if (!secret.empty() && secret.back() == '\r') secret.pop_back();
        }
        if (secret.size() < 16)
            return tl::unexpected(settings.error(
                "secrets", "\"" + identity + "\": the key is shorter than 16 characters"));
        out.emplace(identity, SecretBytes(std::string_view(secret)));
        std::fill(secret.begin(), secret.end(), '\0');
    }
    return out;
}

class PskTable final : public plugin::PskSource {
  public:
    std::optional<SecretBytes> psk(const plugin::PskRequest& r) override {
        const std::shared_ptr<const Secrets> now = secrets_.load();
        auto it = now->find(r.remote_identity);
        if (it == now->end()) return std::nullopt;
        return it->second;
    }
    void replace(Secrets s) { secrets_.store(std::make_shared<const Secrets>(std::move(s))); }

  private:
    // A lookup keeps the table it loaded alive until it is done, even across a reload.
    std::atomic<std::shared_ptr<const Secrets>> secrets_{std::make_shared<const Secrets>()};
};

class PskPlugin final : public plugin::Plugin {
  public:
    PskPlugin(std::shared_ptr<PskTable> table, std::string dir)
        : table_(std::move(table)), dir_(std::move(dir)) {}
    bool reload(const plugin::Settings& settings, std::string& error) override {
        auto s = read_secrets(settings, dir_);
        if (!s) {
            error = s.error() + " (the previous keys stay)";
            return false;
        }
        table_->replace(std::move(*s));
        return true;
    }

  private:
    std::shared_ptr<PskTable> table_;
    std::string dir_;
};

std::unique_ptr<plugin::Plugin> create(plugin::Host& host, const plugin::Settings& settings,
                                       plugin::Registry& registry, std::string& error) {
    // Relative secret files are resolved like every path of postern.toml.
    const std::string dir = host.config_dir();
    auto table = std::make_shared<PskTable>();
    auto s = read_secrets(settings, dir);
    if (!s) {
        error = s.error();
        return nullptr;
    }
    table->replace(std::move(*s));
    registry.set_concurrent();
    registry.add_psk_source(table);
    return std::make_unique<PskPlugin>(table, dir);
}

}  // namespace

POSTERN_PLUGIN("psk", "pre-shared keys by peer identity ([plugins.psk.secrets])", &create)
