// The network sockets of one data-plane worker (worker.hpp):
//
//   UDP   one per NAT-T listen address, bound to the NAT-T port with SO_REUSEPORT so that it
//         joins the reuseport group of the IKE thread's socket on the same address (the IKE
//         socket must be bound first, and with SO_REUSEPORT too: daemon/io_socket.cpp). The
//         steering program (steering.hpp) sends each datagram to the right member. IP_PKTINFO /
//         IPV6_RECVPKTINFO give the local address of what arrives, for IKE datagrams handed to
//         the IKE thread and for choosing the source address of what is sent.
//   raw   one IPPROTO_ESP socket per address family for plain ESP (IP protocol 50), unbound, so
//         it sees ESP to every local address; a socket filter keeps the worker's own SPIs.
//         Sending: the kernel builds the outer IP header; the source address is given per
//         packet with IP_PKTINFO / IPV6_PKTINFO.
//
// Every socket gets 4 MiB receive and send buffers (esp_socket.cpp says why), is close-on-exec
// and blocking: receives use MSG_DONTWAIT (the worker waits in
// epoll), sends block when the socket buffer is full, which is the back-pressure that slows
// the TUN side down instead of dropping packets.
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <string>

#include <tl/expected.hpp>

#include "postern/net.hpp"
#include "postern/sockaddr.hpp"

namespace postern::esp {

// An owned file descriptor.
class Fd {
  public:
    Fd() = default;
    explicit Fd(int fd) : fd_(fd) {}
    Fd(Fd&& o) noexcept : fd_(o.release()) {}
    Fd& operator=(Fd&& o) noexcept;
    Fd(const Fd&) = delete;
    Fd& operator=(const Fd&) = delete;
    ~Fd() { reset(); }

    int get() const { return fd_; }
    explicit operator bool() const { return fd_ >= 0; }
    int release() {
        int fd = fd_;
        fd_ = -1;
        return fd;
    }
    void reset(int fd = -1);

  private:
    int fd_ = -1;
};

struct EspUdpSocket {
    Fd fd;
    Endpoint bound;  // as given (a wildcard address stays a wildcard)

    bool wildcard() const { return bound.address.is_unspecified(); }
};

// Opens a UDP socket bound to `bind` with SO_REUSEPORT (and IPV6_V6ONLY for IPv6), with
// packet-info reception on. The error names the endpoint and the failing call.
tl::expected<EspUdpSocket, std::string> open_udp_reuseport(const Endpoint& bind);

struct EspRawSocket {
    Fd fd;
    int family = 0;  // AF_INET or AF_INET6
};

// Opens a raw IPPROTO_ESP socket of `family` (needs CAP_NET_RAW). Packets that arrive before
// the caller attaches its filter are queued unfiltered: drain() them after attaching.
tl::expected<EspRawSocket, std::string> open_esp_raw(int family);

// Reads and discards everything queued on `fd` (non-blocking); returns how many.
std::size_t drain(int fd);

// Where the ESP header starts in what a raw IPv4 socket hands us (the IPv4 header first):
// IHL * 4, or 0 when the header is malformed (not version 4, IHL < 5, or longer than `size`).
std::size_t ipv4_payload_offset(const std::uint8_t* data, std::size_t size);

}  // namespace postern::esp
