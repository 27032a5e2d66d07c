// When SAs are renewed and when they die (RFC 7296 §2.8): ConnectionConfig::ike_life and
// child_life, strongSwan's model. The rekey time is jittered (a random part of `jitter` is taken
// off) so that two ends with the same configuration rarely rekey at once (§2.8.1); the hard
// lifetime is not. Volume limits are the data plane's (EspSaSpec soft/hard bytes and packets).

#include <algorithm>
#include <limits>

#include "ike/exchange/context.hpp"

namespace postern::ike::exchange {

namespace {

// A uniformly random duration in [0, max], in milliseconds.
std::chrono::milliseconds random_part(const Ctx& ctx, std::chrono::milliseconds max) {
    if (max.count() <= 0) return std::chrono::milliseconds(0);
    Bytes b = ctx.random_bytes(4);
    const std::uint32_t r =
        std::uint32_t{b[0]} << 24 | std::uint32_t{b[1]} << 16 | std::uint32_t{b[2]} << 8 | b[3];
    return std::chrono::milliseconds(static_cast<std::int64_t>(
        static_cast<double>(r) / 4294967295.0 * static_cast<double>(max.count())));
}

struct Times {
    TimePoint rekey = TimePoint::max(), expire = TimePoint::max();
};

Times times_of(const Ctx& ctx, const Lifetime& life) {
    Times t;
    if (life.rekey.count() > 0) {
        // The jitter never takes more than the rekey time itself.
        const auto jitter = std::min<std::chrono::milliseconds>(life.jitter, life.rekey);
        t.rekey = ctx.now + life.rekey - random_part(ctx, jitter);
    }
    if (life.life.count() > 0) t.expire = ctx.now + life.life;
    // A hard lifetime at or before the rekey time would end the SA before it is renewed:
    // rekey then at 9/10 of it (the rekey time is the one a configuration got wrong).
    if (life.rekey.count() > 0 && t.expire != TimePoint::max() && t.rekey >= t.expire)
        t.rekey = ctx.now + std::chrono::duration_cast<std::chrono::milliseconds>(life.life) *
                                9 / 10;
    return t;
}

}  // namespace

void start_child_lifetime(const Ctx& ctx, const sa::IkeSa& sa, sa::ChildSa& child) {
    const Times t = times_of(ctx, sa.connection->child_life);
    child.rekey_at = t.rekey;
    child.expire_at = t.expire;
}

void start_ike_lifetime(const Ctx& ctx, sa::IkeSa& sa) {
    const Times t = times_of(ctx, sa.connection->ike_life);
    sa.rekey_at = t.rekey;
    sa.expire_at = t.expire;
}

std::optional<wire::Payload> auth_lifetime(const Ctx& ctx, sa::IkeSa& sa) {
    const auto t = sa.connection->reauth_time;
    if (t.count() <= 0 || sa.role != sa::Role::Responder) return std::nullopt;
    // The peer reauthenticates before t is over (strongSwan's clients at t minus up to their
    // rand_time); past t plus a tenth (at least a minute, at most an hour) the SA goes.
    const auto grace = std::clamp<std::chrono::seconds>(t / 10, std::chrono::minutes(1),
                                                        std::chrono::hours(1));
    sa.reauth_at = ctx.now + t + grace;
    const auto secs = static_cast<std::uint32_t>(
        std::min<std::int64_t>(t.count(), std::numeric_limits<std::uint32_t>::max()));
    return wire::make_notify(NotifyType::AUTH_LIFETIME,
                             Bytes{static_cast<std::uint8_t>(secs >> 24),
                                   static_cast<std::uint8_t>(secs >> 16),
                                   static_cast<std::uint8_t>(secs >> 8),
                                   static_cast<std::uint8_t>(secs)});
}

void start_reauth_timer(const Ctx& ctx, sa::IkeSa& sa,
                        const std::vector<wire::Payload>& response) {
    const ConnectionConfig& c = *sa.connection;
    if (c.reauth_time.count() > 0) {
        const auto jitter = std::min<std::chrono::milliseconds>(c.ike_life.jitter, c.reauth_time);
        sa.reauth_at = ctx.now + c.reauth_time - random_part(ctx, jitter);
    }
    const auto* n = wire::find_notify(response, NotifyType::AUTH_LIFETIME);
    if (!n || n->data.size() != 4) return;
    const std::uint32_t secs = std::uint32_t{n->data[0]} << 24 | std::uint32_t{n->data[1]} << 16 |
                               std::uint32_t{n->data[2]} << 8 | n->data[3];
    // Reauthenticate with a tenth of the lifetime to spare (5 s to 5 min).
    const std::chrono::seconds life(secs);
    const auto spare = std::clamp<std::chrono::seconds>(life / 10, std::chrono::seconds(5),
                                                        std::chrono::minutes(5));
    const TimePoint by = ctx.now + (life > spare ? life - spare : life / 2);
    if (by < sa.reauth_at) sa.reauth_at = by;
    ctx.log(&sa, "the responder wants reauthentication within " + std::to_string(secs) + " s");
}

TimePoint retry_time(const Ctx& ctx) {
    // strongSwan retries a failed rekey after 10 to 30 s; so do we (with jitter, so that a
    // collision does not repeat itself).
    return ctx.now + std::chrono::seconds(10) + random_part(ctx, std::chrono::seconds(20));
}

}  // namespace postern::ike::exchange
