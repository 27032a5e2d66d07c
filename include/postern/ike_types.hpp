// Strong types for IKE identifiers that travel between the protocol engine, the daemon and
// plugins. An SPI is never a bare integer: mixing up initiator and responder SPIs or an SPI
// with a message ID is a compile error.
#pragma once

#include <compare>
#include <cstdint>

namespace postern {

template <typename Tag, typename Rep>
class StrongInt {
  public:
    constexpr StrongInt() = default;
    constexpr explicit StrongInt(Rep v) : value_(v) {}
    constexpr Rep value() const { return value_; }
    constexpr auto operator<=>(const StrongInt&) const = default;

  private:
    Rep value_{};
};

struct IkeSpiTag;
struct EspSpiTag;
struct MessageIdTag;

// 8-octet IKE SA SPI (RFC 7296 §3.1), stored in host order.
using IkeSpi = StrongInt<IkeSpiTag, std::uint64_t>;
// 4-octet ESP SPI (RFC 4303 §2.1), host order.
using EspSpi = StrongInt<EspSpiTag, std::uint32_t>;
// IKE message ID (RFC 7296 §3.1), host order.
using MessageId = StrongInt<MessageIdTag, std::uint32_t>;

}  // namespace postern
