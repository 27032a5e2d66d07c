// Bounds on what IKE_AUTH does for a peer (DoS protection, docs/configuration.md): how much
// certificate chain an unauthenticated peer may make us parse and verify, and how many IKE
// SAs one authenticated identity may hold at once.

#include "ike/exchange/context.hpp"

namespace postern::ike::exchange {

tl::expected<void, std::string> check_cert_chain(const Ctx& ctx,
                                                 const std::vector<wire::Payload>& in) {
    std::size_t count = 0, octets = 0;
    for (const auto& p : in)
        if (const auto* cp = p.get<wire::CertPayload>()) {
            ++count;
            octets += cp->data.size();
        }
    const auto& c = ctx.config;
    if (c.max_peer_certs != 0 && count > c.max_peer_certs) {
        ++ctx.stats.refused_cert_chain;
        return tl::unexpected("certificate chain of " + std::to_string(count) +
                              " certificates refused (max_peer_certs " +
                              std::to_string(c.max_peer_certs) + ")");
    }
    if (c.max_peer_cert_bytes != 0 && octets > c.max_peer_cert_bytes) {
        ++ctx.stats.refused_cert_chain;
        return tl::unexpected("certificate chain of " + std::to_string(octets) +
                              " octets refused (max_peer_cert_bytes " +
                              std::to_string(c.max_peer_cert_bytes) + ")");
    }
    return {};
}

std::optional<std::string> sa_limit_reached(const Ctx& ctx, const sa::IkeSa& sa,
                                            const std::string& user) {
    unsigned limit = ctx.config.max_ike_sas_per_identity;
    if (sa.connection && sa.connection->max_ike_sas_per_identity)
        limit = *sa.connection->max_ike_sas_per_identity;
    if (limit == 0) return std::nullopt;
    const std::size_t held = ctx.sas.count_user(user, sa);
    if (held < limit) return std::nullopt;
    ++ctx.stats.refused_sa_limit;
    return user + " already has " + std::to_string(held) + " IKE SA" + (held == 1 ? "" : "s") +
           " (max_ike_sas_per_identity " + std::to_string(limit) + ")";
}

}  // namespace postern::ike::exchange
