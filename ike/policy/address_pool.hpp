// Virtual IP address pools (RFC 7296 §3.15, INTERNAL_IP4/6_ADDRESS): one IPv4 or IPv6 prefix,
// addresses handed to identities and remembered after release, so a client that reconnects
// gets the address it had (its open connections survive; logs stay readable).
//
// Memory grows with the addresses handed out, never with the pool size: an IPv6 /64 is a map
// of assignments and a "next never-used" counter. Every operation is O(log n) in the number of
// addresses handed out (amortized: the counter skips each explicitly requested address once).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <utility>

#include <tl/expected.hpp>

#include "ike/policy/traffic_selector.hpp"
#include "postern/net.hpp"

namespace postern::ike::policy {

class AddressPool {
  public:
    // "10.10.0.0/24", "fd00:10::/64". `reserve` lists addresses of the prefix never handed out
    // (typically the gateway's own address on the virtual network). Excluded always: for IPv4
    // the network and broadcast addresses (not for /31 and /32, RFC 3021); for IPv6 the
    // Subnet-Router anycast address, the all-zero host (RFC 4291 §2.6.1; not for /127, /128).
    static tl::expected<AddressPool, std::string> create(std::string_view cidr,
                                                         std::span<const IpAddress> reserve = {});

    // An address for `identity`, or nullopt when the pool is exhausted. In order:
    //  1. `requested` (a client re-requesting its old address in CP, §3.15.1) if it is in the
    //     pool, not reserved, not in use, and not remembered for another identity;
    //  2. an address this identity had and released;
    //  3. a never-used address, lowest first;
    //  4. an address another identity released, the oldest release first (that identity loses
    //     its claim).
    // An identity that already holds an address (a second device with the same credentials)
    // gets a different one: one address never serves two SAs.
    std::optional<IpAddress> acquire(const std::string& identity,
                                     std::optional<IpAddress> requested = std::nullopt);

    // Returns the address to the pool; it stays remembered for its identity. False (and no
    // change) for addresses that are not in use, including ones outside the pool.
    bool release(const IpAddress& address);

    // Addresses currently handed out.
    std::size_t in_use() const { return in_use_; }
    // Addresses the pool can hand out at all (saturating for prefixes shorter than /64, which
    // only ever allocate from their first 2^64 - 1 offsets).
    std::uint64_t size() const { return size_; }
    // Whether the address is one the pool may hand out.
    bool contains(const IpAddress& address) const;
    // The identity an address is handed to, if it is in use.
    std::optional<std::string> holder(const IpAddress& address) const;

    const Cidr& cidr() const { return cidr_; }

  private:
    AddressPool() = default;

    struct Lease {
        std::string identity;
        bool online = true;
        std::uint64_t released_seq = 0;  // valid while offline
    };

    std::optional<std::uint64_t> offset_of(const IpAddress& address) const;
    IpAddress address_at(std::uint64_t offset) const;
    bool allocatable(std::uint64_t offset) const;
    IpAddress take(std::uint64_t offset, const std::string& identity);

    Cidr cidr_;
    std::uint64_t first_ = 0;  // lowest allocatable offset from the network address
    std::uint64_t last_ = 0;   // highest allocatable offset
    std::uint64_t size_ = 0;
    std::set<std::uint64_t> reserved_;

    std::map<std::uint64_t, Lease> leases_;  // online and remembered (offline) leases
    std::map<std::uint64_t, std::uint64_t> released_order_;                // release seq -> offset
    std::set<std::pair<std::string, std::uint64_t>> offline_by_identity_;  // identity, offset
    std::uint64_t next_unused_ = 0;  // every allocatable offset below this has been used
    bool unused_exhausted_ = false;  // ... and so has last_ (the counter cannot pass it)
    std::uint64_t release_seq_ = 0;
    std::size_t in_use_ = 0;
};

}  // namespace postern::ike::policy
