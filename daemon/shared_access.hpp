// What the IKE shard threads (daemon/ike_shards.hpp) share with each other and with the I/O
// thread, made safe to call from all of them: one call at a time, each short.
//
//   LockedPools          the address pools (MemoryPools, or the sqlite-users plugin's leases)
//   SerializedDataPlane  the data plane: the I/O thread installs and removes SAs, the shards
//                        read an SA's counters for DPD (ike::EngineConfig::inbound_idle), the
//                        control socket reads them for sa.list; the kernel's is one netlink
//                        socket
#pragma once

#include <memory>
#include <mutex>
#include <string>

#include "ike/engine.hpp"
#include "postern/dataplane.hpp"

namespace postern::daemon {

class LockedPools final : public ike::AddressPools {
  public:
    explicit LockedPools(std::shared_ptr<ike::AddressPools> inner) : inner_(std::move(inner)) {}
    std::optional<IpAddress> acquire(const std::string& pool, const std::string& identity,
                                     IpAddress::Family family,
                                     std::optional<IpAddress> requested) override {
        std::lock_guard lock(m_);
        return inner_->acquire(pool, identity, family, requested);
    }
    void release(const std::string& pool, const IpAddress& address) override {
        std::lock_guard lock(m_);
        inner_->release(pool, address);
    }
    void sync() override {
        std::lock_guard lock(m_);
        inner_->sync();
    }

  private:
    std::mutex m_;
    std::shared_ptr<ike::AddressPools> inner_;
};

class SerializedDataPlane final : public DataPlane {
  public:
    explicit SerializedDataPlane(DataPlane& inner) : inner_(inner) {}
    std::string name() const override { return inner_.name(); }
    bool install(const EspSaSpec& sa, std::string& error) override {
        std::lock_guard lock(m_);
        return inner_.install(sa, error);
    }
    bool remove(EspSpi spi, bool inbound, std::string& error) override {
        std::lock_guard lock(m_);
        return inner_.remove(spi, inbound, error);
    }
    bool counters(EspSpi spi, bool inbound, SaCounters& out) override {
        std::lock_guard lock(m_);
        return inner_.counters(spi, inbound, out);
    }
    bool move(EspSpi spi, bool inbound, const Endpoint& src, const Endpoint& dst, bool udp_encap,
              std::string& error) override {
        std::lock_guard lock(m_);
        return inner_.move(spi, inbound, src, dst, udp_encap, error);
    }

  private:
    std::mutex m_;
    DataPlane& inner_;
};

}  // namespace postern::daemon
