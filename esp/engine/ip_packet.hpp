// Minimal inspection of the inner IP packet of an ESP tunnel (RFC 4303 §2.3, tunnel mode): what
// the engine needs to check traffic selectors (RFC 4301 §4.4.1, RFC 7296 §3.13.1) on decap and,
// later, to find the SA for an outbound packet. Never allocates; every read is bounds-checked.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "postern/bytes.hpp"
#include "postern/dataplane.hpp"
#include "postern/net.hpp"

namespace postern::esp {

inline constexpr std::uint8_t kIpProtoIcmp = 1;
inline constexpr std::uint8_t kIpProtoTcp = 6;
inline constexpr std::uint8_t kIpProtoUdp = 17;
inline constexpr std::uint8_t kIpProtoIcmpV6 = 58;
inline constexpr std::uint8_t kIpProtoSctp = 132;

struct IpPacketInfo {
    std::uint8_t version = 0;  // 4 or 6
    IpAddress src, dst;
    // Upper-layer protocol: IPv4 Protocol, or the IPv6 Next Header after extension headers.
    std::uint8_t protocol = 0;
    // Ports for TCP, UDP, SCTP, UDP-Lite and DCCP; for ICMP and ICMPv6 both hold Type << 8 |
    // Code (RFC 7296 §3.13.1). Unknown (false) for other protocols, non-initial fragments and
    // first fragments too short to hold them (RFC 4301 §7: "OPAQUE").
    bool ports_known = false;
    std::uint16_t src_port = 0, dst_port = 0;
    // Length the IP header declares (IPv4 Total Length; IPv6 40 + Payload Length). The bytes
    // after it in the decrypted payload are TFC padding (RFC 4303 §2.7).
    std::size_t total_length = 0;
};

// Parses an IPv4 or IPv6 packet at the start of data. nullopt when the version is neither, the
// header is truncated or inconsistent, or the declared length exceeds data.size(). IPv6
// extension headers are skipped (at most 8, within the packet); a Fragment header with a
// non-zero offset makes the ports unknown.
std::optional<IpPacketInfo> parse_ip_packet(ByteView data);

enum class TrafficDirection : std::uint8_t {
    inbound,   // from the peer (decap): source in remote, destination in local selectors
    outbound,  // to the peer (encap): source in local, destination in remote selectors
};

// True when one selector covers the address, protocol and port (selector ports are inclusive
// ranges; a selector with a 0..65535 range matches packets whose ports are unknown, others
// do not).
bool selector_covers(const Selector& s, const IpAddress& address, std::uint8_t protocol,
                     bool ports_known, std::uint16_t port);

// The traffic selector check of an SA (RFC 4301 §5.2: "no spoofing through the tunnel"). The
// SA covers the product of its local and remote selector lists (RFC 7296 §2.9), so each side
// is checked against its own list.
bool matches(const std::vector<Selector>& local, const std::vector<Selector>& remote,
             const IpPacketInfo& packet, TrafficDirection direction);

}  // namespace postern::esp
