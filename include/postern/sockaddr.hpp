// Endpoint <-> struct sockaddr conversions, for every place that talks to the socket API
// (posternd's IKE sockets, the data-plane workers' sockets, the test clients).
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstring>

#include "postern/net.hpp"

namespace postern {

inline int address_family(const IpAddress& a) {
    return a.is_v4() ? AF_INET : AF_INET6;
}

// Fills `ss` (zeroed first) and returns the length to pass with it.
inline socklen_t to_sockaddr(const Endpoint& e, sockaddr_storage& ss) {
    std::memset(&ss, 0, sizeof ss);
    if (e.address.is_v4()) {
        auto& s4 = reinterpret_cast<sockaddr_in&>(ss);
        s4.sin_family = AF_INET;
        s4.sin_port = htons(e.port);
        std::memcpy(&s4.sin_addr, e.address.bytes().data(), 4);
        return sizeof s4;
    }
    auto& s6 = reinterpret_cast<sockaddr_in6&>(ss);
    s6.sin6_family = AF_INET6;
    s6.sin6_port = htons(e.port);
    std::memcpy(&s6.sin6_addr, e.address.bytes().data(), 16);
    return sizeof s6;
}

// AF_INET and AF_INET6 only; any other family gives the default Endpoint (0.0.0.0:0).
inline Endpoint from_sockaddr(const sockaddr_storage& ss) {
    Endpoint e;
    if (ss.ss_family == AF_INET) {
        const auto& s4 = reinterpret_cast<const sockaddr_in&>(ss);
        e.address = *IpAddress::from_bytes(
            ByteView(reinterpret_cast<const std::uint8_t*>(&s4.sin_addr), 4));
        e.port = ntohs(s4.sin_port);
    } else if (ss.ss_family == AF_INET6) {
        const auto& s6 = reinterpret_cast<const sockaddr_in6&>(ss);
        e.address = *IpAddress::from_bytes(
            ByteView(reinterpret_cast<const std::uint8_t*>(&s6.sin6_addr), 16));
        e.port = ntohs(s6.sin6_port);
    }
    return e;
}

}  // namespace postern
