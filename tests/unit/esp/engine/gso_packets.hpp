// Test helpers for esp/engine/gso: building TCP/UDP super-packets as the kernel hands them over
// a TUN device with a virtio-net header, and checking segments with an Internet checksum that
// is written independently of the engine's (byte by byte, 32-bit accumulator, RFC 1071 §4.1).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <ostream>
#include <string>

#include "esp/engine/gso.hpp"
#include "esp/engine/tun_device.hpp"
#include "postern/bytes.hpp"
#include "postern/net.hpp"

namespace postern::esp {
inline std::ostream& operator<<(std::ostream& o, GsoError e) {
    return o << to_string(e);
}
}  // namespace postern::esp

namespace postern::test::gso {

using esp::VirtioNetHdr;

constexpr std::uint8_t kFin = 0x01, kSyn = 0x02, kRst = 0x04, kPsh = 0x08, kAck = 0x10, kUrg = 0x20,
                       kEce = 0x40, kCwr = 0x80;

inline std::uint16_t get16(const std::uint8_t* p) {
    return static_cast<std::uint16_t>(p[0] << 8 | p[1]);
}
inline std::uint32_t get32(const std::uint8_t* p) {
    return std::uint32_t{get16(p)} << 16 | get16(p + 2);
}
inline void put16(std::uint8_t* p, std::uint16_t v) {
    p[0] = static_cast<std::uint8_t>(v >> 8);
    p[1] = static_cast<std::uint8_t>(v);
}
inline void put32(std::uint8_t* p, std::uint32_t v) {
    put16(p, static_cast<std::uint16_t>(v >> 16));
    put16(p + 2, static_cast<std::uint16_t>(v));
}

// Folded, uncomplemented ones'-complement sum, the slow obvious way.
inline std::uint16_t naive_sum(ByteView data, std::uint32_t sum = 0) {
    for (std::size_t i = 0; i < data.size(); ++i)
        sum += i % 2 == 0 ? std::uint32_t{data[i]} << 8 : data[i];
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return static_cast<std::uint16_t>(sum);
}

// Pseudo-header sum for the L4 part of `ip` (IPv4 or IPv6 without extension headers).
inline std::uint32_t naive_pseudo(ByteView ip, std::uint8_t protocol, std::size_t l4_len) {
    const bool v6 = ip[0] >> 4 == 6;
    std::uint32_t sum = naive_sum(v6 ? ip.subspan(8, 32) : ip.subspan(12, 8));
    return sum + protocol + static_cast<std::uint32_t>(l4_len);
}

inline std::size_t l3_size(ByteView ip) {
    return ip[0] >> 4 == 6 ? 40 : static_cast<std::size_t>(ip[0] & 0x0f) * 4;
}

// True when the packet's L4 checksum verifies (and the IPv4 header checksum, for IPv4).
inline bool checksums_ok(ByteView ip, std::string* why = nullptr) {
    const std::size_t l3 = l3_size(ip);
    const std::uint8_t proto = ip[0] >> 4 == 6 ? ip[6] : ip[9];
    if (ip[0] >> 4 == 4 && naive_sum(ip.first(l3)) != 0xffff) {
        if (why) *why = "IPv4 header checksum";
        return false;
    }
    const auto l4 = ip.subspan(l3);
    if (naive_sum(l4, naive_pseudo(ip, proto, l4.size())) != 0xffff) {
        if (why) *why = proto == 6 ? "TCP checksum" : "UDP checksum";
        return false;
    }
    return true;
}

inline std::uint8_t payload_byte(std::size_t i) {
    return static_cast<std::uint8_t>((i * 131 + 7) ^ (i >> 8));
}

struct Super {
    int version = 4;
    bool tcp = true;
    std::size_t payload = 64000;
    std::uint16_t gso_size = 1360;
    std::size_t tcp_options = 12;  // NOP NOP Timestamps, a multiple of 4
    std::size_t ip_options = 0;    // IPv4 only, a multiple of 4
    std::uint8_t flags = kAck | kPsh;
    std::uint32_t seq = 0x10000000;
    std::uint16_t id = 0x1234;
    std::uint8_t tos = 0;
    std::uint8_t ttl = 64;
    std::uint32_t ack = 0x01020304;
    std::uint16_t window = 512;
    std::uint16_t sport = 40000, dport = 443;
    bool partial = true;  // NEEDS_CSUM with the pseudo-header sum in the field, like the kernel
    const char* src4 = "10.1.0.1";
    const char* dst4 = "10.2.0.2";
};

// A super-packet as read from TUN, and its virtio-net header.
inline Bytes build(const Super& s, VirtioNetHdr& hdr) {
    const std::size_t l3 = s.version == 6 ? 40 : 20 + s.ip_options;
    const std::size_t l4h = s.tcp ? 20 + s.tcp_options : 8;
    Bytes p(l3 + l4h + s.payload);
    std::uint8_t* b = p.data();
    const std::uint8_t proto = s.tcp ? 6 : 17;
    if (s.version == 4) {
        b[0] = static_cast<std::uint8_t>(0x40 | l3 / 4);
        b[1] = s.tos;
        put16(b + 2, static_cast<std::uint16_t>(p.size()));
        put16(b + 4, s.id);
        put16(b + 6, 0x4000);  // DF
        b[8] = s.ttl;
        b[9] = proto;
        std::memcpy(b + 12, IpAddress::parse(s.src4)->bytes().data(), 4);
        std::memcpy(b + 16, IpAddress::parse(s.dst4)->bytes().data(), 4);
        for (std::size_t i = 20; i < l3; i += 4) {  // Router Alert (RFC 2113), repeated
            b[i] = 0x94;
            b[i + 1] = 4;
        }
        put16(b + 10, static_cast<std::uint16_t>(~naive_sum(ByteView(b, l3))));
    } else {
        put32(b, 0x60000000u | std::uint32_t{s.tos} << 20 | 0x12345);
        put16(b + 4, static_cast<std::uint16_t>(p.size() - 40));
        b[6] = proto;
        b[7] = s.ttl;
        std::memcpy(b + 8, IpAddress::parse("fd00::1")->bytes().data(), 16);
        std::memcpy(b + 24, IpAddress::parse("fd00::2")->bytes().data(), 16);
    }
    std::uint8_t* l4 = b + l3;
    put16(l4, s.sport);
    put16(l4 + 2, s.dport);
    if (s.tcp) {
        put32(l4 + 4, s.seq);
        put32(l4 + 8, s.ack);
        l4[12] = static_cast<std::uint8_t>(l4h / 4 << 4);
        l4[13] = s.flags;
        put16(l4 + 14, s.window);
        for (std::size_t i = 20; i < l4h; ++i)
            l4[i] = 1;  // NOP
        if (s.tcp_options >= 12) {
            std::uint8_t ts[10] = {8, 10, 0xa1, 0xa2, 0xa3, 0xa4, 0xb1, 0xb2, 0xb3, 0xb4};
            std::memcpy(l4 + 22, ts, sizeof ts);
        }
    } else {
        put16(l4 + 4, static_cast<std::uint16_t>(p.size() - l3));
    }
    for (std::size_t i = 0; i < s.payload; ++i)
        b[l3 + l4h + i] = payload_byte(i);
    const std::size_t field = s.tcp ? 16 : 6;
    const std::size_t l4_len = p.size() - l3;
    const std::uint32_t pseudo = naive_pseudo(p, proto, l4_len);
    if (s.partial) {
        put16(l4 + field, naive_sum({}, pseudo));
    } else {
        std::uint16_t c = static_cast<std::uint16_t>(~naive_sum(ByteView(l4, l4_len), pseudo));
        put16(l4 + field, c ? c : 0xffff);
    }
    hdr = {};
    hdr.flags = s.partial ? VirtioNetHdr::kNeedsCsum : 0;
    hdr.gso_type = s.tcp ? (s.version == 6 ? VirtioNetHdr::kGsoTcpV6 : VirtioNetHdr::kGsoTcpV4)
                         : VirtioNetHdr::kGsoUdpL4;
    hdr.hdr_len = static_cast<std::uint16_t>(l3 + l4h);
    hdr.gso_size = s.gso_size;
    hdr.csum_start = static_cast<std::uint16_t>(l3);
    hdr.csum_offset = static_cast<std::uint16_t>(field);
    return p;
}

// Recomputes the IPv4 header checksum and the full L4 checksum (after a test changed fields).
inline void fix_checksums(Bytes& p) {
    const std::size_t l3 = l3_size(p);
    if (p[0] >> 4 == 4) {
        put16(&p[10], 0);
        put16(&p[10], static_cast<std::uint16_t>(~naive_sum(ByteView(p).first(l3))));
    }
    const std::uint8_t proto = p[0] >> 4 == 6 ? p[6] : p[9];
    const std::size_t field = l3 + (proto == 6 ? 16 : 6);
    if (field + 2 > p.size()) return;
    put16(&p[field], 0);
    const auto l4 = ByteView(p).subspan(l3);
    const auto c = static_cast<std::uint16_t>(~naive_sum(l4, naive_pseudo(p, proto, l4.size())));
    put16(&p[field], c ? c : 0xffff);
}

}  // namespace postern::test::gso
