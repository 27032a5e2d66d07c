// Authorization (EngineConfig::authorizers, the plugin API's Authorizer): after the peer has
// authenticated, before it gets addresses and CHILD_SAs. Asked in order; the first that does
// not abstain decides; all abstaining (or none configured) allows. A denial is an
// authentication failure on the wire (AUTHENTICATION_FAILED) with the authorizer's reason in
// the log and the audit row; attributes that do not parse deny too, so a broken script never
// lets a peer in with defaults it did not mean.

#include "ike/exchange/context.hpp"

namespace postern::ike::exchange {

namespace {

tl::expected<sa::Authorization, std::string> convert(const Ctx& ctx,
                                                     const plugin::AuthorizeResult& r) {
    sa::Authorization a;
    a.pool = r.pool;
    a.group = r.group.value_or("");
    auto address = [](const std::optional<std::string>& text, IpAddress::Family family,
                      std::optional<IpAddress>& out) -> tl::expected<void, std::string> {
        if (!text) return {};
        auto ip = IpAddress::parse(*text);
        if (!ip || ip->family() != family)
            return tl::unexpected("\"" + *text + "\" is not an IPv" +
                                  (family == IpAddress::Family::V4 ? "4" : "6") + " address");
        out = *ip;
        return {};
    };
    if (auto ok = address(r.ipv4, IpAddress::Family::V4, a.ipv4); !ok)
        return tl::unexpected("ipv4: " + ok.error());
    if (auto ok = address(r.ipv6, IpAddress::Family::V6, a.ipv6); !ok)
        return tl::unexpected("ipv6: " + ok.error());
    if (r.dns) {
        a.dns.emplace();
        for (const auto& d : *r.dns) {
            auto ip = IpAddress::parse(d);
            if (!ip) return tl::unexpected("dns: \"" + d + "\" is not an IP address");
            a.dns->push_back(*ip);
        }
    }
    if (r.routes) {
        a.routes.emplace();
        for (const auto& s : *r.routes) {
            auto c = policy::parse_cidr(s);
            if (!c) return tl::unexpected("routes: \"" + s + "\": " + c.error());
            a.routes->push_back(*c);
        }
    }
    if (a.pool && a.pool->empty()) return tl::unexpected(std::string("pool: empty name"));
    const auto& known = ctx.config.pool_dns;
    if (a.pool && !known.empty() && !known.count(*a.pool))
        return tl::unexpected("pool: no pool named \"" + *a.pool + "\" in the configuration");
    return a;
}

}  // namespace

std::optional<std::string> authorize(const Ctx& ctx, sa::IkeSa& sa, const std::string& presented) {
    if (ctx.config.authorizers.empty()) return std::nullopt;
    plugin::AuthorizeRequest q;
    q.connection = sa.connection->name;
    q.identity = presented;
    q.user = sa.user.empty() ? policy::to_string(sa.remote_identity) : sa.user;
    q.auth_method = sa.auth_method;
    q.peer = sa.remote.to_string();
    q.local_identity = policy::to_string(sa.local_identity);
    if (ctx.config.eap_users) q.groups = ctx.config.eap_users(q.user).groups;
    q.time = static_cast<std::int64_t>(ctx.wall_now);
    for (const auto& authorizer : ctx.config.authorizers) {
        const plugin::AuthorizeResult r = authorizer->authorize(q);
        switch (r.decision) {
            case plugin::AuthorizeResult::Decision::abstain:
                continue;
            case plugin::AuthorizeResult::Decision::deny:
                return r.reason.empty() ? std::string("denied") : r.reason;
            case plugin::AuthorizeResult::Decision::allow: {
                auto a = convert(ctx, r);
                if (!a) return "the authorizer's attributes are unusable: " + a.error();
                ctx.log(&sa, "authorized " + q.user +
                                 (a->group.empty() ? std::string() : " as group " + a->group) +
                                 (a->pool ? ", pool " + *a->pool : std::string()));
                sa.authorization =
                    a->empty() ? nullptr : std::make_shared<const sa::Authorization>(std::move(*a));
                return std::nullopt;
            }
        }
    }
    return std::nullopt;
}

std::optional<crypto::Secret> psk_for(const Ctx& ctx, const sa::IkeSa& sa,
                                      const policy::Identity& remote) {
    const ConnectionConfig& c = *sa.connection;
    if (!c.psk.empty()) return c.psk;
    const policy::Identity& local = sa.local_identity.data.empty() ? c.local_id : sa.local_identity;
    plugin::PskRequest q{c.name, policy::to_string(local), policy::to_string(remote)};
    for (const auto& source : ctx.config.psk_sources)
        if (auto secret = source->psk(q); secret && !secret->empty())
            return crypto::Secret(secret->view());
    return std::nullopt;
}

}  // namespace postern::ike::exchange
