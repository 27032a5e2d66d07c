#include "ike/eap/methods.hpp"

#include <openssl/evp.h>

#include "ike/crypto/verifier.hpp"
#include "ike/eap/mschapv2_server.hpp"

namespace postern::ike::eap {

namespace {

class MsChapV2Factory final : public plugin::EapMethodFactory {
  public:
    explicit MsChapV2Factory(std::string server_name) : server_name_(std::move(server_name)) {}
    std::uint8_t type() const override { return static_cast<std::uint8_t>(EapType::MSCHAPV2); }
    std::string_view name() const override { return "EAP-MSCHAPv2"; }
    std::unique_ptr<plugin::EapMethod> create(const plugin::EapContext& ctx) override {
        return std::make_unique<MsChapV2Server>(MsChapV2Server::Config{server_name_},
                                                ctx.identity, ctx.users,
                                                ctx.random ? Random(ctx.random) : system_random());
    }

  private:
    std::string server_name_;
};

class TlsFactory final : public plugin::EapMethodFactory {
  public:
    explicit TlsFactory(TlsMethodOptions options) : options_(options) {}
    std::uint8_t type() const override { return static_cast<std::uint8_t>(EapType::TLS); }
    std::string_view name() const override { return "EAP-TLS"; }
    std::unique_ptr<plugin::EapMethod> create(const plugin::EapContext& ctx) override {
        // Our side: the connection's chain and key. Without them (a PSK connection) no TLS.
        if (ctx.local_chain.empty() || !ctx.local_key || !ctx.verifier) return nullptr;
        auto chain = crypto::parse_chain(ctx.local_chain);
        auto anchors = crypto::parse_chain(ctx.verifier->anchors());
        if (!chain || !anchors) return nullptr;
        auto* pkey = static_cast<EVP_PKEY*>(ctx.local_key);
        if (EVP_PKEY_up_ref(pkey) != 1) return nullptr;
        EapTlsServer::Config c;
        c.tls.chain = std::move(*chain);
        c.tls.key = std::make_shared<const crypto::PrivateKey>(crypto::ossl::Pkey(pkey));
        c.tls.client_cas = std::move(*anchors);
        c.tls.max_version = options_.max_version;
        c.fragment_size = options_.fragment_size;
        c.chain_check = [verifier = ctx.verifier, now = ctx.now](
                            std::span<const crypto::Certificate> certs)
            -> tl::expected<void, std::string> {
            std::vector<Bytes> der;
            for (const auto& cert : certs)
                der.push_back(cert.der());
            return verifier->verify(der, now);
        };
        return std::make_unique<EapTlsServer>(std::move(c), ctx.identity, ctx.users);
    }

  private:
    TlsMethodOptions options_;
};

}  // namespace

std::shared_ptr<plugin::EapMethodFactory> mschapv2_method(std::string server_name) {
    return std::make_shared<MsChapV2Factory>(std::move(server_name));
}

std::shared_ptr<plugin::EapMethodFactory> tls_method(TlsMethodOptions options) {
    return std::make_shared<TlsFactory>(options);
}

std::vector<std::shared_ptr<plugin::EapMethodFactory>> builtin_methods() {
    return {mschapv2_method(), tls_method()};
}

}  // namespace postern::ike::eap
