// The NAT-T port (RFC 3948, RFC 7296 §2.23): IKE messages carry a four-octet zero "non-ESP
// marker" in front, ESP packets start with their (non-zero) SPI, and a single 0xFF octet is a
// NAT keepalive. Pure functions, so the framing is tested without sockets.
#pragma once

#include "postern/bytes.hpp"

namespace postern::daemon {

enum class NattKind {
    Ike,        // `ike` is the message without the marker
    Keepalive,  // 0xFF
    Esp,        // ESP-in-UDP (SPI != 0)
    Malformed,  // shorter than a marker or an SPI
};

struct NattDatagram {
    NattKind kind;
    ByteView ike;
};

NattDatagram classify_natt(ByteView datagram);

// What goes on the wire for an IKE datagram the engine sends: the non-ESP marker in front when
// it leaves from the NAT-T socket (`natt`); a NAT keepalive (0xFF) is never prefixed.
Bytes frame_ike(ByteView data, bool natt);

}  // namespace postern::daemon
