#include "esp/engine/ip_packet.hpp"

namespace postern::esp {

namespace {

constexpr std::size_t kIpv4MinHeader = 20;
constexpr std::size_t kIpv6Header = 40;
constexpr int kMaxIpv6ExtensionHeaders = 8;  // bound on work per packet, far above real use

std::uint16_t be16(const std::uint8_t* p) {
    return static_cast<std::uint16_t>(p[0] << 8 | p[1]);
}

bool has_ports(std::uint8_t protocol) {
    return protocol == kIpProtoTcp || protocol == kIpProtoUdp || protocol == kIpProtoSctp ||
           protocol == 33 /* DCCP */ || protocol == 136 /* UDP-Lite */;
}

// Fills the ports from the upper-layer header at l4 (within the packet's declared length).
void read_ports(IpPacketInfo& info, ByteView l4) {
    if (has_ports(info.protocol) && l4.size() >= 4) {
        info.src_port = be16(l4.data());
        info.dst_port = be16(l4.data() + 2);
        info.ports_known = true;
    } else if ((info.protocol == kIpProtoIcmp || info.protocol == kIpProtoIcmpV6) &&
               l4.size() >= 2) {
        info.src_port = info.dst_port = be16(l4.data());  // Type << 8 | Code
        info.ports_known = true;
    }
}

std::optional<IpPacketInfo> parse_ipv4(ByteView data) {
    if (data.size() < kIpv4MinHeader) return std::nullopt;
    const std::size_t ihl = std::size_t{data[0] & 0x0fu} * 4;
    const std::size_t total = be16(&data[2]);
    if (ihl < kIpv4MinHeader || total < ihl || total > data.size()) return std::nullopt;
    IpPacketInfo info;
    info.version = 4;
    info.total_length = total;
    info.protocol = data[9];
    info.src = *IpAddress::from_bytes(data.subspan(12, 4));
    info.dst = *IpAddress::from_bytes(data.subspan(16, 4));
    const std::uint16_t fragment_offset = be16(&data[6]) & 0x1fff;
    if (fragment_offset == 0) read_ports(info, data.subspan(ihl, total - ihl));
    return info;
}

std::optional<IpPacketInfo> parse_ipv6(ByteView data) {
    if (data.size() < kIpv6Header) return std::nullopt;
    const std::size_t payload = be16(&data[4]);
    // Payload Length 0 announces a jumbogram (RFC 2675), which a tunnel MTU never carries.
    if (payload == 0 || kIpv6Header + payload > data.size()) return std::nullopt;
    IpPacketInfo info;
    info.version = 6;
    info.total_length = kIpv6Header + payload;
    info.src = *IpAddress::from_bytes(data.subspan(8, 16));
    info.dst = *IpAddress::from_bytes(data.subspan(24, 16));
    const ByteView packet = data.first(info.total_length);
    std::uint8_t next = data[6];
    std::size_t offset = kIpv6Header;
    bool fragment_tail = false;
    for (int i = 0;; ++i) {
        const bool generic = next == 0 /* Hop-by-Hop */ || next == 43 /* Routing */ ||
                             next == 60 /* Destination Options */ || next == 135 /* Mobility */;
        if (!generic && next != 44 /* Fragment */ && next != 51 /* AH */) break;
        if (i == kMaxIpv6ExtensionHeaders || packet.size() - offset < 8) return std::nullopt;
        const std::uint8_t* h = packet.data() + offset;
        std::size_t length;
        if (next == 44) {
            length = 8;  // RFC 8200 §4.5: fixed size
            if ((be16(h + 2) & 0xfff8) != 0) fragment_tail = true;
        } else if (next == 51) {
            length = (std::size_t{h[1]} + 2) * 4;  // RFC 4302 §2.2: in 4-octet units, minus 2
        } else {
            length = (std::size_t{h[1]} + 1) * 8;  // RFC 8200 §4.3: in 8-octet units, minus 1
        }
        if (length > packet.size() - offset) return std::nullopt;
        next = h[0];
        offset += length;
    }
    info.protocol = next;
    if (!fragment_tail) read_ports(info, packet.subspan(offset));
    return info;
}

}  // namespace

std::optional<IpPacketInfo> parse_ip_packet(ByteView data) {
    if (data.empty()) return std::nullopt;
    switch (data[0] >> 4) {
        case 4:
            return parse_ipv4(data);
        case 6:
            return parse_ipv6(data);
        default:
            return std::nullopt;
    }
}

bool selector_covers(const Selector& s, const IpAddress& address, std::uint8_t protocol,
                     bool ports_known, std::uint16_t port) {
    if (s.start.family() != address.family() || address < s.start || s.end < address) return false;
    if (s.ip_protocol != 0 && s.ip_protocol != protocol) return false;
    const bool any_port = s.start_port == 0 && s.end_port == 0xffff;
    if (any_port) return true;
    return ports_known && port >= s.start_port && port <= s.end_port;
}

bool matches(const std::vector<Selector>& local, const std::vector<Selector>& remote,
             const IpPacketInfo& packet, TrafficDirection direction) {
    const bool inbound = direction == TrafficDirection::inbound;
    const std::vector<Selector>& src_side = inbound ? remote : local;
    const std::vector<Selector>& dst_side = inbound ? local : remote;
    auto covered = [&](const std::vector<Selector>& side, const IpAddress& a, std::uint16_t port) {
        for (const Selector& s : side)
            if (selector_covers(s, a, packet.protocol, packet.ports_known, port)) return true;
        return false;
    };
    return covered(src_side, packet.src, packet.src_port) &&
           covered(dst_side, packet.dst, packet.dst_port);
}

}  // namespace postern::esp
