// The data-plane interface: what the IKE engine asks of whoever carries ESP traffic (the Linux
// kernel over XFRM, or Postern's userspace engine). The engine never calls it directly: it
// emits install/remove actions, and the daemon applies them to the configured DataPlane.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "postern/bytes.hpp"
#include "postern/ike_types.hpp"
#include "postern/net.hpp"

namespace postern {

// One selector of an SA's traffic (RFC 7296 §3.13.1) in data-plane terms.
struct Selector {
    IpAddress start, end;
    std::uint8_t ip_protocol = 0;  // 0 = any
    std::uint16_t start_port = 0, end_port = 0xffff;
};

// One direction of a CHILD_SA (ESP, tunnel mode). Keys are borrowed from the engine for the
// duration of the call and must be copied; the engine wipes its copy afterwards.
struct EspSaSpec {
    EspSpi spi;
    bool inbound = false;
    Endpoint src, dst;  // outer addresses; ports matter only with UDP encapsulation
    bool udp_encap = false;  // ESP-in-UDP (RFC 3948) on port 4500
    std::uint16_t encr_id = 0;   // IKEv2 transform ID (ENCR_AES_GCM_16, ...)
    std::uint16_t encr_key_bits = 0;
    std::uint16_t integ_id = 0;  // AUTH_NONE for AEAD
    ByteView encr_key;           // AEAD: key || 4-octet salt
    ByteView integ_key;
    bool esn = false;
    std::uint32_t replay_window = 64;
    std::vector<Selector> local_ts, remote_ts;  // as negotiated (from our point of view)
    std::uint32_t reqid = 0;  // ties the two directions and their policies together
    // Lifetime limits (0 = unlimited). Soft: report it (the engine rekeys); hard: report it
    // and carry nothing more. The engine keeps time-based rekeying itself and hands over the
    // hard time limit only as a backstop.
    std::uint64_t soft_bytes = 0, hard_bytes = 0;
    std::uint64_t soft_packets = 0, hard_packets = 0;
    std::uint32_t soft_seconds = 0, hard_seconds = 0;
};

struct SaCounters {
    std::uint64_t bytes = 0, packets = 0;
    std::uint64_t last_used_seconds_ago = 0;
};

class DataPlane {
public:
    virtual ~DataPlane() = default;
    virtual std::string name() const = 0;
    // Installs one direction; the error says why, naming the SA.
    virtual bool install(const EspSaSpec& sa, std::string& error) = 0;
    virtual bool remove(EspSpi spi, bool inbound, std::string& error) = 0;
    virtual bool counters(EspSpi spi, bool inbound, SaCounters& out) = 0;
    // MOBIKE (RFC 4555): one direction of an installed SA gets new outer addresses (`src` ->
    // `dst`, ports used with UDP encapsulation) and ESP-in-UDP on or off; SPI, keys,
    // sequence numbers and replay window stay. A data plane that cannot says so.
    virtual bool move(EspSpi /*spi*/, bool /*inbound*/, const Endpoint& /*src*/,
                      const Endpoint& /*dst*/, bool /*udp_encap*/, std::string& error) {
        error = name() + ": moving SAs to new addresses is not supported";
        return false;
    }
};

}  // namespace postern
