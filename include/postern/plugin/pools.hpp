// Plugin API: virtual IP addresses for peers (RFC 7296 §3.15 configuration payloads).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "postern/net.hpp"

namespace postern::plugin {

// A pool as postern.toml defines it ([pools.<name>]): CIDR ranges and DNS servers.
struct PoolDefinition {
    std::string name;
    std::string ipv4, ipv6;  // "10.99.0.0/24", may be empty
    std::vector<std::string> dns;
    // Addresses never to hand out: the gateway's own address in each range (posternd puts it
    // on its TUN device).
    std::vector<std::string> reserved;
};

// Address pools by name.
class AddressPools {
  public:
    virtual ~AddressPools() = default;
    // An address of `family` from `pool` for `identity` (the same one it had before, when
    // possible), or the requested one if free; nullopt when the pool has no such family or is
    // exhausted.
    virtual std::optional<IpAddress> acquire(const std::string& pool, const std::string& identity,
                                             IpAddress::Family family,
                                             std::optional<IpAddress> requested) = 0;
    virtual void release(const std::string& pool, const IpAddress& address) = 0;
    // Makes every acquire() so far durable. posternd calls it on its I/O thread before it sends
    // the answers of a batch of handshakes, so a pool that keeps leases in storage may write a
    // batch of them in one go instead of one at a time (the sqlite-users plugin: one SQLite
    // transaction per batch): an address acquired but not yet synced has not reached the
    // client. Until it is called an acquire may stay pending, never longer.
    virtual void sync() {}
};

}  // namespace postern::plugin
