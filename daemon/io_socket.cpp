#include "daemon/io_socket.hpp"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <boost/asio/ip/v6_only.hpp>

#include "postern/sockaddr.hpp"

namespace postern::daemon {

namespace asio = boost::asio;

namespace {

std::string errno_text(int e) {
    return std::strerror(e);
}

std::string bind_error(const std::string& where, int e, std::uint16_t port) {
    std::string hint;
    if (e == EACCES && port < 1024)
        hint = " (ports below 1024 need root or CAP_NET_BIND_SERVICE)";
    else if (e == EADDRINUSE)
        hint = " (another IKE daemon, such as strongSwan's charon, may be running)";
    else if (e == EADDRNOTAVAIL)
        hint = " (no interface has this address)";
    return "cannot bind " + where + ": " + errno_text(e) + hint;
}

// Binds a throwaway socket without SO_REUSEPORT: fails if anything holds the port, whether
// or not it set SO_REUSEPORT (a port 0 request always succeeds and proves nothing).
int probe_bind(const IpAddress& address, std::uint16_t port) {
    if (port == 0) return 0;
    const int fd = ::socket(address.is_v4() ? AF_INET : AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return errno;
    const int one = 1;
    if (address.is_v6()) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    sockaddr_storage ss;
    const socklen_t len = to_sockaddr(Endpoint{address, port}, ss);
    const int rc = ::bind(fd, reinterpret_cast<sockaddr*>(&ss), len) == 0 ? 0 : errno;
    ::close(fd);
    return rc;
}

}  // namespace

tl::expected<std::unique_ptr<UdpSocket>, std::string> UdpSocket::open(asio::io_context& io,
                                                                      const IpAddress& address,
                                                                      std::uint16_t port,
                                                                      bool reuseport) {
    std::unique_ptr<UdpSocket> s(new UdpSocket(io));
    const std::string where = "UDP " + Endpoint{address, port}.to_string();
    boost::system::error_code ec;
    s->socket_.open(address.is_v4() ? asio::ip::udp::v4() : asio::ip::udp::v6(), ec);
    if (ec) return tl::unexpected("cannot open a socket for " + where + ": " + ec.message());
    const int fd = s->socket_.native_handle();
    const int one = 1;
    if (address.is_v6()) {
        s->socket_.set_option(asio::ip::v6_only(true), ec);
        if (!ec && setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one, sizeof one) != 0)
            ec.assign(errno, boost::system::system_category());
    } else if (setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof one) != 0) {
        ec.assign(errno, boost::system::system_category());
    }
    if (!ec && reuseport && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0)
        ec.assign(errno, boost::system::system_category());
    if (ec) return tl::unexpected("cannot set socket options for " + where + ": " + ec.message());
    // A rush of clients (a restart, Monday morning) sends IKE_SA_INITs in bursts: the kernel's
    // default receive buffer (212 KiB, ~600 requests) overflowed at a few hundred in flight,
    // and every datagram lost there costs its client a 2 s retransmission. 4 MiB, beyond
    // net.core.rmem_max with SO_RCVBUFFORCE (posternd starts as root); the plain option
    // (capped at rmem_max) otherwise. Failing both only leaves the default.
    const int buffer = 4 << 20;
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &buffer, sizeof buffer) != 0)
        (void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buffer, sizeof buffer);
    if (reuseport)
        if (const int e = probe_bind(address, port)) return tl::unexpected(bind_error(where, e, port));
    sockaddr_storage ss;
    socklen_t len = to_sockaddr(Endpoint{address, port}, ss);
    if (::bind(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0)
        return tl::unexpected(bind_error(where, errno, port));
    len = sizeof ss;
    getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len);
    s->bound_ = from_sockaddr(ss);
    s->socket_.non_blocking(true, ec);
    return s;
}

void UdpSocket::start(Handler handler) {
    handler_ = std::move(handler);
    wait();
}

void UdpSocket::wait() {
    socket_.async_wait(asio::ip::udp::socket::wait_read, [this](boost::system::error_code ec) {
        if (ec) return;  // closed
        drain();
        if (socket_.is_open()) wait();
    });
}

void UdpSocket::drain() {
    const int fd = socket_.native_handle();
    for (int budget = 64; budget > 0 && socket_.is_open(); --budget) {
        sockaddr_storage from;
        iovec iov{buffer_.data(), buffer_.size()};
        alignas(cmsghdr) unsigned char
            control[CMSG_SPACE(sizeof(in6_pktinfo)) + CMSG_SPACE(sizeof(in_pktinfo))];
        msghdr msg{};
        msg.msg_name = &from;
        msg.msg_namelen = sizeof from;
        msg.msg_iov = &iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control;
        msg.msg_controllen = sizeof control;
        const ssize_t n = ::recvmsg(fd, &msg, MSG_DONTWAIT);
        if (n < 0) return;  // EAGAIN, or an ICMP error reported on the socket: wait again
        if (msg.msg_flags & MSG_TRUNC) continue;
        Received r;
        r.remote = from_sockaddr(from);
        r.local = bound_;
        for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
            if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
                in_pktinfo pi;
                std::memcpy(&pi, CMSG_DATA(c), sizeof pi);
                r.local.address = *IpAddress::from_bytes(
                    ByteView(reinterpret_cast<const std::uint8_t*>(&pi.ipi_addr), 4));
            } else if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO) {
                in6_pktinfo pi;
                std::memcpy(&pi, CMSG_DATA(c), sizeof pi);
                r.local.address = *IpAddress::from_bytes(
                    ByteView(reinterpret_cast<const std::uint8_t*>(&pi.ipi6_addr), 16));
            }
        }
        r.data = ByteView(buffer_.data(), static_cast<std::size_t>(n));
        handler_(*this, r);
    }
}

tl::expected<void, std::string> UdpSocket::send(const Endpoint& from, const Endpoint& to,
                                                ByteView data) {
    if (!socket_.is_open()) return tl::unexpected(std::string("socket closed"));
    if (to.address.family() != bound_.address.family())
        return tl::unexpected("cannot send to " + to.to_string() + " from a socket on " +
                              bound_.to_string());
    sockaddr_storage ss;
    socklen_t len = to_sockaddr(to, ss);
    iovec iov{const_cast<std::uint8_t*>(data.data()), data.size()};
    msghdr msg{};
    msg.msg_name = &ss;
    msg.msg_namelen = len;
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    alignas(cmsghdr) unsigned char control[CMSG_SPACE(sizeof(in6_pktinfo))] = {};
    if (wildcard() && !from.address.is_unspecified() &&
        from.address.family() == bound_.address.family()) {
        msg.msg_control = control;
        cmsghdr* c = reinterpret_cast<cmsghdr*>(control);
        if (from.address.is_v4()) {
            in_pktinfo pi{};
            std::memcpy(&pi.ipi_spec_dst, from.address.bytes().data(), 4);
            c->cmsg_level = IPPROTO_IP;
            c->cmsg_type = IP_PKTINFO;
            c->cmsg_len = CMSG_LEN(sizeof pi);
            std::memcpy(CMSG_DATA(c), &pi, sizeof pi);
            msg.msg_controllen = CMSG_SPACE(sizeof pi);
        } else {
            in6_pktinfo pi{};
            std::memcpy(&pi.ipi6_addr, from.address.bytes().data(), 16);
            c->cmsg_level = IPPROTO_IPV6;
            c->cmsg_type = IPV6_PKTINFO;
            c->cmsg_len = CMSG_LEN(sizeof pi);
            std::memcpy(CMSG_DATA(c), &pi, sizeof pi);
            msg.msg_controllen = CMSG_SPACE(sizeof pi);
        }
    }
    if (::sendmsg(socket_.native_handle(), &msg, MSG_DONTWAIT) < 0)
        return tl::unexpected("send to " + to.to_string() + " failed: " + errno_text(errno));
    return {};
}

void UdpSocket::close() {
    boost::system::error_code ec;
    socket_.close(ec);
}

std::optional<IpAddress> source_address_for(const IpAddress& remote) {
    const int fd = ::socket(remote.is_v4() ? AF_INET : AF_INET6, SOCK_DGRAM, 0);
    if (fd < 0) return std::nullopt;
    sockaddr_storage ss;
    socklen_t len = to_sockaddr(Endpoint{remote, 9}, ss);
    std::optional<IpAddress> out;
    if (::connect(fd, reinterpret_cast<sockaddr*>(&ss), len) == 0) {
        len = sizeof ss;
        if (getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) == 0)
            out = from_sockaddr(ss).address;
    }
    ::close(fd);
    return out;
}

}  // namespace postern::daemon
