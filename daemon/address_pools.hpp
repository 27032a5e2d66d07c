// The daemon's virtual IP pools ([pools] in postern.toml), in memory: a restart forgets the
// leases. The lease store in SQLite replaces this with issue 5.
#pragma once

#include <map>
#include <string>
#include <vector>

#include <tl/expected.hpp>

#include "daemon/config.hpp"
#include "ike/engine.hpp"
#include "ike/policy/address_pool.hpp"

namespace postern::daemon {

class MemoryPools : public ike::AddressPools {
  public:
    static tl::expected<MemoryPools, ConfigError> create(const Config& c);

    std::optional<IpAddress> acquire(const std::string& pool, const std::string& identity,
                                     IpAddress::Family family,
                                     std::optional<IpAddress> requested) override;
    void release(const std::string& pool, const IpAddress& address) override;
    std::size_t in_use() const;

  private:
    std::map<std::string, std::vector<ike::policy::AddressPool>> pools_;
};

}  // namespace postern::daemon
