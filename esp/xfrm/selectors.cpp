#include "esp/xfrm/selectors.hpp"

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstring>

namespace postern::esp::xfrm {

namespace {

__extension__ typedef unsigned __int128 u128;

u128 to_u128(const IpAddress& a) {
    u128 v = 0;
    for (auto b : a.bytes()) v = v << 8 | static_cast<std::uint8_t>(b);
    return v;
}

IpAddress from_u128(u128 v, bool v4) {
    std::uint8_t bytes[16];
    const std::size_t n = v4 ? 4 : 16;
    for (std::size_t i = 0; i < n; ++i) bytes[n - 1 - i] = static_cast<std::uint8_t>(v >> (8 * i));
    return *IpAddress::from_bytes(ByteView(bytes, n));
}

}  // namespace

std::string Prefix::to_string() const {
    return address.to_string() + "/" + std::to_string(length);
}

bool Prefix::contains(const IpAddress& a) const {
    if (a.family() != address.family()) return false;
    const unsigned bits = address.is_v4() ? 32 : 128;
    if (length == 0) return true;
    const u128 mask = ~u128{0} << (bits - length);
    const u128 full = address.is_v4() ? (u128{1} << 32) - 1 : ~u128{0};
    return ((to_u128(a) ^ to_u128(address)) & mask & full) == 0;
}

std::vector<Prefix> range_to_prefixes(const IpAddress& start, const IpAddress& end) {
    std::vector<Prefix> out;
    if (start.family() != end.family()) return out;
    const bool v4 = start.is_v4();
    const unsigned bits = v4 ? 32 : 128;
    u128 lo = to_u128(start);
    const u128 hi = to_u128(end);
    if (lo > hi) return out;
    for (;;) {
        // The largest aligned block starting at lo that ends at or before hi.
        unsigned size_bits = 0;
        while (size_bits < bits) {
            const unsigned next = size_bits + 1;
            const u128 block = next == 128 ? ~u128{0} : (u128{1} << next) - 1;  // size - 1
            if ((lo & block) != 0) break;   // not aligned
            if (lo + block > hi || lo + block < lo) break;  // past the end (or wraps)
            size_bits = next;
        }
        out.push_back({from_u128(lo, v4), static_cast<std::uint8_t>(bits - size_bits)});
        const u128 last = size_bits == 128 ? ~u128{0} : lo + ((u128{1} << size_bits) - 1);
        if (last >= hi) break;
        lo = last + 1;
    }
    return out;
}

std::vector<PortBlock> port_blocks(std::uint16_t start, std::uint16_t end) {
    std::vector<PortBlock> out;
    if (start > end) return out;
    if (start == 0 && end == 0xffff) return {{0, 0}};
    unsigned lo = start;
    const unsigned hi = end;
    while (lo <= hi) {
        unsigned size_bits = 0;
        while (size_bits < 16) {
            const unsigned block = (1u << (size_bits + 1)) - 1;
            if ((lo & block) != 0 || lo + block > hi) break;
            ++size_bits;
        }
        out.push_back({static_cast<std::uint16_t>(lo),
                       static_cast<std::uint16_t>(0xffffu << size_bits)});
        lo += 1u << size_bits;
    }
    return out;
}

xfrm_address_t to_xfrm(const IpAddress& a) {
    xfrm_address_t x{};
    std::memcpy(&x, a.bytes().data(), a.size());
    return x;
}

IpAddress from_xfrm(const xfrm_address_t& a, int family) {
    const auto* p = reinterpret_cast<const std::uint8_t*>(&a);
    return *IpAddress::from_bytes(ByteView(p, family == AF_INET ? 4 : 16));
}

int af(const IpAddress& a) { return a.is_v4() ? AF_INET : AF_INET6; }

SelectorList make_selectors(const std::vector<Selector>& src, const std::vector<Selector>& dst,
                            std::size_t limit) {
    SelectorList out;
    for (const auto& s : src) {
        for (const auto& d : dst) {
            if (s.start.family() != d.start.family()) continue;
            if (s.ip_protocol && d.ip_protocol && s.ip_protocol != d.ip_protocol) continue;
            const std::uint8_t proto = s.ip_protocol ? s.ip_protocol : d.ip_protocol;
            const auto sp = range_to_prefixes(s.start, s.end);
            const auto dp = range_to_prefixes(d.start, d.end);
            const auto sports = port_blocks(s.start_port, s.end_port);
            const auto dports = port_blocks(d.start_port, d.end_port);
            if (sports.empty() || dports.empty()) {
                out.error = "OPAQUE ports (start > end) cannot be expressed as an XFRM selector";
                return out;
            }
            for (const auto& a : sp)
                for (const auto& b : dp)
                    for (const auto& pa : sports)
                        for (const auto& pb : dports) {
                            if (out.selectors.size() == limit) {
                                out.error = "the traffic selectors split into more than " +
                                            std::to_string(limit) + " XFRM policies";
                                out.selectors.clear();
                                return out;
                            }
                            xfrm_selector sel{};
                            sel.family = static_cast<std::uint16_t>(af(a.address));
                            sel.saddr = to_xfrm(a.address);
                            sel.daddr = to_xfrm(b.address);
                            sel.prefixlen_s = a.length;
                            sel.prefixlen_d = b.length;
                            sel.proto = proto;
                            sel.sport = htons(pa.port);
                            sel.sport_mask = htons(pa.mask);
                            sel.dport = htons(pb.port);
                            sel.dport_mask = htons(pb.mask);
                            out.selectors.push_back(sel);
                        }
        }
    }
    return out;
}

std::string to_string(const xfrm_selector& sel) {
    auto side = [&](const xfrm_address_t& a, std::uint8_t len, std::uint16_t port,
                    std::uint16_t mask) {
        std::string s = from_xfrm(a, sel.family).to_string() + "/" + std::to_string(len);
        if (mask) {
            s += ":" + std::to_string(ntohs(port));
            if (ntohs(mask) != 0xffff) s += "/" + std::to_string(ntohs(mask));
        }
        return s;
    };
    std::string s = side(sel.saddr, sel.prefixlen_s, sel.sport, sel.sport_mask) + " -> " +
                    side(sel.daddr, sel.prefixlen_d, sel.dport, sel.dport_mask);
    if (sel.proto) s += " proto " + std::to_string(sel.proto);
    return s;
}

}  // namespace postern::esp::xfrm
