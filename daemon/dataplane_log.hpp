// LoggedDataPlane: any DataPlane with each install and remove logged the same way (SPIs,
// addresses, algorithms, selectors, lifetimes; never keys).
//
// RecordingDataPlane: a DataPlane that forwards nothing. It logs each install and remove (SPIs,
// addresses, algorithms, selectors, lifetimes; never keys) and remembers what is installed, so
// posternd can negotiate SAs before the real data planes exist (userspace ESP: issue 4; kernel
// XFRM: issue 7).
#pragma once

#include <map>
#include <string>

#include "postern/dataplane.hpp"

namespace postern::daemon {

class RecordingDataPlane : public DataPlane {
  public:
    std::string name() const override { return "log-only (no forwarding)"; }
    bool install(const EspSaSpec& sa, std::string& error) override;
    bool remove(EspSpi spi, bool inbound, std::string& error) override;
    bool counters(EspSpi spi, bool inbound, SaCounters& out) override;
    bool move(EspSpi spi, bool inbound, const Endpoint& src, const Endpoint& dst, bool udp_encap,
              std::string& error) override;

    std::size_t installed() const { return sas_.size(); }
    // One line describing an SA without its keys (exposed for tests).
    static std::string describe(const EspSaSpec& sa);

  private:
    std::map<std::pair<std::uint32_t, bool>, std::string> sas_;  // (SPI, inbound) -> description
};

class LoggedDataPlane : public DataPlane {
  public:
    explicit LoggedDataPlane(DataPlane& inner) : inner_(inner) {}
    std::string name() const override { return inner_.name(); }
    bool install(const EspSaSpec& sa, std::string& error) override;
    bool remove(EspSpi spi, bool inbound, std::string& error) override;
    bool counters(EspSpi spi, bool inbound, SaCounters& out) override {
        return inner_.counters(spi, inbound, out);
    }
    bool move(EspSpi spi, bool inbound, const Endpoint& src, const Endpoint& dst, bool udp_encap,
              std::string& error) override;

  private:
    DataPlane& inner_;
};

}  // namespace postern::daemon
