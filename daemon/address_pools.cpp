#include "daemon/address_pools.hpp"

#include "daemon/tun_setup.hpp"

namespace postern::daemon {

tl::expected<MemoryPools, ConfigError> MemoryPools::create(const Config& c) {
    MemoryPools out;
    for (const auto& p : c.pools) {
        auto& list = out.pools_[p.name];
        for (const auto& [family, cidr] : {std::pair{"ipv4", p.ipv4}, std::pair{"ipv6", p.ipv6}}) {
            if (cidr.empty()) continue;
            // The gateway's own address on the TUN link is never handed out.
            std::vector<IpAddress> reserve;
            if (auto gw = pool_gateway_address(cidr)) reserve.push_back(*gw);
            auto pool = ike::policy::AddressPool::create(cidr, reserve);
            if (!pool)
                return tl::unexpected(error_at(c, "pools." + p.name + "." + family, pool.error()));
            list.push_back(std::move(*pool));
        }
    }
    return out;
}

std::optional<IpAddress> MemoryPools::acquire(const std::string& pool, const std::string& identity,
                                              IpAddress::Family family,
                                              std::optional<IpAddress> requested) {
    auto it = pools_.find(pool);
    if (it == pools_.end()) return std::nullopt;
    for (auto& p : it->second)
        if (p.cidr().network.family() == family) return p.acquire(identity, requested);
    return std::nullopt;
}

void MemoryPools::release(const std::string& pool, const IpAddress& address) {
    auto it = pools_.find(pool);
    if (it == pools_.end()) return;
    for (auto& p : it->second)
        if (p.contains(address)) p.release(address);
}

std::size_t MemoryPools::in_use() const {
    std::size_t n = 0;
    for (const auto& [name, list] : pools_)
        for (const auto& p : list)
            n += p.in_use();
    return n;
}

}  // namespace postern::daemon
