// IP addresses and UDP endpoints as plain values: no sockets involved, so the sans-I/O engine
// and the plugins can use them. Parsing and printing use inet_pton/inet_ntop.
#pragma once

#include <arpa/inet.h>

#include <array>
#include <compare>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

#include "postern/bytes.hpp"

namespace postern {

class IpAddress {
public:
    enum class Family : std::uint8_t { V4 = 4, V6 = 6 };

    IpAddress() = default;  // 0.0.0.0
    static IpAddress v4(std::uint32_t host_order) {
        IpAddress a;
        a.bytes_[0] = static_cast<std::uint8_t>(host_order >> 24);
        a.bytes_[1] = static_cast<std::uint8_t>(host_order >> 16);
        a.bytes_[2] = static_cast<std::uint8_t>(host_order >> 8);
        a.bytes_[3] = static_cast<std::uint8_t>(host_order);
        return a;
    }
    // 4 octets -> IPv4, 16 octets -> IPv6, anything else -> nullopt.
    static std::optional<IpAddress> from_bytes(ByteView b) {
        IpAddress a;
        if (b.size() == 4) {
            a.family_ = Family::V4;
        } else if (b.size() == 16) {
            a.family_ = Family::V6;
        } else {
            return std::nullopt;
        }
        std::memcpy(a.bytes_.data(), b.data(), b.size());
        return a;
    }
    static std::optional<IpAddress> parse(std::string_view text) {
        std::string s(text);
        IpAddress a;
        if (inet_pton(AF_INET, s.c_str(), a.bytes_.data()) == 1) return a;
        a.family_ = Family::V6;
        if (inet_pton(AF_INET6, s.c_str(), a.bytes_.data()) == 1) return a;
        return std::nullopt;
    }

    Family family() const { return family_; }
    bool is_v4() const { return family_ == Family::V4; }
    bool is_v6() const { return family_ == Family::V6; }
    std::size_t size() const { return is_v4() ? 4 : 16; }
    // Network byte order, 4 or 16 octets.
    ByteView bytes() const { return {bytes_.data(), size()}; }
    std::uint8_t* data() { return bytes_.data(); }
    // IPv4 only: host-order value.
    std::uint32_t v4_value() const {
        return std::uint32_t{bytes_[0]} << 24 | std::uint32_t{bytes_[1]} << 16 |
               std::uint32_t{bytes_[2]} << 8 | bytes_[3];
    }
    bool is_unspecified() const {
        for (std::size_t i = 0; i < size(); ++i)
            if (bytes_[i]) return false;
        return true;
    }

    std::string to_string() const {
        char buf[INET6_ADDRSTRLEN] = {};
        inet_ntop(is_v4() ? AF_INET : AF_INET6, bytes_.data(), buf, sizeof buf);
        return buf;
    }

    bool operator==(const IpAddress& o) const {
        return family_ == o.family_ && std::memcmp(bytes_.data(), o.bytes_.data(), size()) == 0;
    }
    std::strong_ordering operator<=>(const IpAddress& o) const {
        if (family_ != o.family_) return family_ <=> o.family_;
        int c = std::memcmp(bytes_.data(), o.bytes_.data(), size());
        return c < 0 ? std::strong_ordering::less
                     : c > 0 ? std::strong_ordering::greater : std::strong_ordering::equal;
    }

private:
    Family family_ = Family::V4;
    std::array<std::uint8_t, 16> bytes_{};
};

// FNV-1a over an address's octets, for hash tables keyed by address (noexcept, so that
// libstdc++'s unordered containers do not keep a copy of the hash in every node).
struct IpAddressHash {
    std::size_t operator()(const IpAddress& a) const noexcept {
        std::uint64_t h = 0xcbf29ce484222325ULL;
        for (std::uint8_t b : a.bytes())
            h = (h ^ b) * 0x100000001b3ULL;
        return static_cast<std::size_t>(h);
    }
};

// An address and a UDP port (host order).
struct Endpoint {
    IpAddress address;
    std::uint16_t port = 0;

    bool operator==(const Endpoint&) const = default;
    auto operator<=>(const Endpoint&) const = default;
    std::string to_string() const {
        return address.is_v4() ? address.to_string() + ":" + std::to_string(port)
                               : "[" + address.to_string() + "]:" + std::to_string(port);
    }
};

}  // namespace postern
