// Admission of new IKE_SA_INIT requests under load (DoS protection, RFC 7296 §2.6 and what
// strongSwan users know as block_threshold, init_limit_half_open): before a responder spends a
// key exchange on a request that creates state, it asks here. Three limits, cheapest first:
//
//   rate       a token bucket per source address (requests per second, burst the same),
//              kept in a table of bounded size: when it is full the address seen longest ago
//              is forgotten, so a flood from spoofed addresses cannot grow it without bound
//   per peer   half-open IKE SAs of one source address (block_threshold)
//   total      half-open IKE SAs in all, a hard cap above the cookie threshold
//
// An IPv6 source counts as its /64 (one subscriber's prefix: its owner picks the rest of the
// address at will), an IPv4 source as itself.
//
// A request over a limit is dropped silently (no answer: answering a flood amplifies it) and
// counted by the engine. Half-open SAs are counted per address as the engine opens and
// closes them; that table holds only addresses with at least one half-open SA.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <list>
#include <map>
#include <unordered_map>
#include <utility>

#include "ike/sa/task_manager.hpp"
#include "postern/net.hpp"

namespace postern::ike {

struct AdmissionLimits {
    unsigned rate_per_address = 0;       // IKE_SA_INIT requests/s per address; 0 = no limit
    std::size_t rate_table_size = 4096;  // addresses the rate limiter remembers
    unsigned half_open_per_address = 0;  // 0 = no limit
    std::size_t half_open_limit = 0;     // 0 = no limit
};

class InitAdmission {
  public:
    enum class Verdict { admit, rate_limited, per_address, total };

    explicit InitAdmission(AdmissionLimits limits = {}) : limits_(limits) {}
    void set_limits(AdmissionLimits limits);

    // Whether a new IKE_SA_INIT from `from` may be processed now, `half_open` being the
    // engine's current count. Takes a token when the rate limit applies.
    Verdict check(const IpAddress& from, std::size_t half_open, sa::TimePoint now);

    // The engine made / ended a half-open SA of this address.
    void opened(const IpAddress& from);
    void closed(const IpAddress& from);

    std::size_t half_open_of(const IpAddress& from) const;
    // What the limits count by: the address, or an IPv6 address's /64.
    static IpAddress key(const IpAddress& from);
    std::size_t addresses_rated() const { return buckets_.size(); }
    std::size_t addresses_half_open() const { return per_address_.size(); }

  private:
    bool take_token(const IpAddress& from, sa::TimePoint now);

    struct Bucket {
        double tokens;
        sa::TimePoint last;
        std::list<IpAddress>::iterator lru;  // position in lru_ (front: most recent)
    };

    AdmissionLimits limits_;
    // The table is bounded, so collisions of the address hash cost little.
    std::unordered_map<IpAddress, Bucket, IpAddressHash> buckets_;
    std::list<IpAddress> lru_;
    std::map<IpAddress, std::size_t> per_address_;
};

}  // namespace postern::ike
