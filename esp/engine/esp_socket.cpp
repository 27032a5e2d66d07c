#include "esp/engine/esp_socket.hpp"

#include <netinet/in.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

namespace postern::esp {

namespace {

std::string errno_text(int e) {
    return std::strerror(e);
}

// Socket buffers of a few MiB: a burst of one fast flow (all of it on one worker, since one SA
// has one owner) must not overflow the receive queue while the worker is busy decrypting, and
// the kernel's default (~200 KiB) holds only ~150 full-size packets. SO_RCVBUFFORCE lifts the
// net.core.rmem_max cap where we may (CAP_NET_ADMIN); otherwise the capped size is taken.
void enlarge_buffers(int fd) {
    const int size = 4 << 20;
    if (::setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size) != 0)
        (void)::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
    if (::setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof size) != 0)
        (void)::setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
}

}  // namespace

Fd& Fd::operator=(Fd&& o) noexcept {
    if (this != &o) reset(o.release());
    return *this;
}

void Fd::reset(int fd) {
    // close() releases the fd even when it reports an error; there is nothing to retry.
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
}

tl::expected<EspUdpSocket, std::string> open_udp_reuseport(const Endpoint& bind) {
    const std::string where = "UDP " + bind.to_string();
    const int family = address_family(bind.address);
    EspUdpSocket s;
    s.bound = bind;
    s.fd.reset(::socket(family, SOCK_DGRAM | SOCK_CLOEXEC, IPPROTO_UDP));
    if (!s.fd) return tl::unexpected("cannot open a socket for " + where + ": " + errno_text(errno));
    const int one = 1;
    auto set = [&](int level, int name, const char* what) -> tl::expected<void, std::string> {
        if (::setsockopt(s.fd.get(), level, name, &one, sizeof one) == 0) return {};
        return tl::unexpected(where + ": setsockopt(" + what + "): " + errno_text(errno));
    };
    if (auto ok = set(SOL_SOCKET, SO_REUSEPORT, "SO_REUSEPORT"); !ok)
        return tl::unexpected(ok.error());
    if (family == AF_INET6) {
        if (auto ok = set(IPPROTO_IPV6, IPV6_V6ONLY, "IPV6_V6ONLY"); !ok)
            return tl::unexpected(ok.error());
        if (auto ok = set(IPPROTO_IPV6, IPV6_RECVPKTINFO, "IPV6_RECVPKTINFO"); !ok)
            return tl::unexpected(ok.error());
    } else if (auto ok = set(IPPROTO_IP, IP_PKTINFO, "IP_PKTINFO"); !ok) {
        return tl::unexpected(ok.error());
    }
    enlarge_buffers(s.fd.get());
    sockaddr_storage ss;
    const socklen_t len = to_sockaddr(bind, ss);
    if (::bind(s.fd.get(), reinterpret_cast<sockaddr*>(&ss), len) != 0)
        return tl::unexpected("cannot bind " + where + " (SO_REUSEPORT): " + errno_text(errno));
    return s;
}

tl::expected<EspRawSocket, std::string> open_esp_raw(int family) {
    EspRawSocket s;
    s.family = family;
    s.fd.reset(::socket(family, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_ESP));
    if (!s.fd)
        return tl::unexpected(std::string("cannot open a raw ESP socket (") +
                              (family == AF_INET ? "IPv4" : "IPv6") +
                              ", needs CAP_NET_RAW): " + errno_text(errno));
    enlarge_buffers(s.fd.get());
    return s;
}

std::size_t drain(int fd) {
    std::size_t n = 0;
    char byte;
    while (::recv(fd, &byte, 1, MSG_DONTWAIT | MSG_TRUNC) >= 0)
        ++n;
    return n;
}

std::size_t ipv4_payload_offset(const std::uint8_t* data, std::size_t size) {
    if (size < 20 || (data[0] >> 4) != 4) return 0;
    const std::size_t ihl = std::size_t{data[0] & 0x0fu} * 4;
    if (ihl < 20 || ihl > size) return 0;
    return ihl;
}

}  // namespace postern::esp
