// When SAs are renewed and when they die (RFC 7296 §2.8): ConnectionConfig::ike_life and
// child_life, strongSwan's model. The rekey time is jittered (a random part of `jitter` is taken
// off) so that two ends with the same configuration rarely rekey at once (§2.8.1); the hard
// lifetime is not. Volume limits are the data plane's (EspSaSpec soft/hard bytes and packets).

#include <algorithm>

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

TimePoint retry_time(const Ctx& ctx) {
    // strongSwan retries a failed rekey after 10 to 30 s; so do we (with jitter, so that a
    // collision does not repeat itself).
    return ctx.now + std::chrono::seconds(10) + random_part(ctx, std::chrono::seconds(20));
}

}  // namespace postern::ike::exchange
