#include "daemon/address_watch.hpp"

#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace postern::daemon {

AddressWatch::AddressWatch(boost::asio::io_context& io, std::function<void()> changed)
    : sd_(io), changed_(std::move(changed)) {}

tl::expected<void, std::string> AddressWatch::start() {
    const int fd = ::socket(AF_NETLINK, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, NETLINK_ROUTE);
    if (fd < 0) return tl::unexpected("netlink socket: " + std::string(std::strerror(errno)));
    sockaddr_nl sa{};
    sa.nl_family = AF_NETLINK;
    sa.nl_groups = RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR;
    if (::bind(fd, reinterpret_cast<const sockaddr*>(&sa), sizeof sa) != 0) {
        const int e = errno;
        ::close(fd);
        return tl::unexpected("netlink bind (address groups): " + std::string(std::strerror(e)));
    }
    sd_.assign(fd);
    arm();
    return {};
}

void AddressWatch::arm() {
    sd_.async_wait(boost::asio::posix::stream_descriptor::wait_read,
                   [this](const boost::system::error_code& ec) {
                       if (ec) return;  // closed
                       // Drain the burst; what changed is looked up by the owner (routes).
                       while (::recv(sd_.native_handle(), buf_.data(), buf_.size(),
                                     MSG_DONTWAIT) > 0) {
                       }
                       changed_();
                       arm();
                   });
}

}  // namespace postern::daemon
