#include "esp/engine/batch_io.hpp"

#include <cerrno>
#include <cstring>

#include "esp/engine/esp_socket.hpp"

namespace postern::esp {

RecvBatch::RecvBatch(std::size_t capacity)
    : msgs_(capacity), iovs_(capacity), names_(capacity), controls_(capacity) {
    for (std::size_t i = 0; i < capacity; ++i)
        msgs_[i].msg_hdr.msg_iov = &iovs_[i];
}

void RecvBatch::set_buffer(std::size_t i, MutableByteView buffer) {
    iovs_[i] = {buffer.data(), buffer.size()};
}

long RecvBatch::receive(int fd) {
    // The kernel overwrites the lengths and flags of each header it fills: reset them all.
    for (std::size_t i = 0; i < msgs_.size(); ++i) {
        msghdr& h = msgs_[i].msg_hdr;
        h.msg_name = &names_[i];
        h.msg_namelen = sizeof names_[i];
        h.msg_iov = &iovs_[i];
        h.msg_iovlen = 1;
        h.msg_control = controls_[i].bytes;
        h.msg_controllen = sizeof controls_[i].bytes;
        h.msg_flags = 0;
        msgs_[i].msg_len = 0;
    }
    for (;;) {
        const int n = ::recvmmsg(fd, msgs_.data(), static_cast<unsigned>(msgs_.size()),
                                 MSG_DONTWAIT, nullptr);
        if (n >= 0) return n;
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) return 0;
        return -errno;
    }
}

Endpoint RecvBatch::from(std::size_t i) const {
    return from_sockaddr(names_[i]);
}

std::optional<IpAddress> RecvBatch::local(std::size_t i) const {
    // CMSG_NXTHDR takes a non-const header; nothing is written through it.
    auto& h = const_cast<msghdr&>(msgs_[i].msg_hdr);
    for (cmsghdr* c = CMSG_FIRSTHDR(&h); c; c = CMSG_NXTHDR(&h, c)) {
        if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
            in_pktinfo pi;
            std::memcpy(&pi, CMSG_DATA(c), sizeof pi);
            return IpAddress::from_bytes(
                ByteView(reinterpret_cast<const std::uint8_t*>(&pi.ipi_addr), 4));
        }
        if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO) {
            in6_pktinfo pi;
            std::memcpy(&pi, CMSG_DATA(c), sizeof pi);
            return IpAddress::from_bytes(
                ByteView(reinterpret_cast<const std::uint8_t*>(&pi.ipi6_addr), 16));
        }
    }
    return std::nullopt;
}

SendBatch::SendBatch(std::size_t capacity)
    : msgs_(capacity), iovs_(capacity), names_(capacity), controls_(capacity) {}

void SendBatch::add(ByteView data, const Endpoint& dst, const IpAddress* src) {
    const std::size_t i = count_++;
    iovs_[i] = {const_cast<std::uint8_t*>(data.data()), data.size()};
    msghdr& h = msgs_[i].msg_hdr;
    h = {};
    h.msg_name = &names_[i];
    h.msg_namelen = to_sockaddr(dst, names_[i]);
    h.msg_iov = &iovs_[i];
    h.msg_iovlen = 1;
    if (!src || src->is_unspecified() || src->family() != dst.address.family()) return;
    std::memset(controls_[i].bytes, 0, sizeof controls_[i].bytes);
    h.msg_control = controls_[i].bytes;
    cmsghdr* c = reinterpret_cast<cmsghdr*>(controls_[i].bytes);
    if (src->is_v4()) {
        in_pktinfo pi{};
        std::memcpy(&pi.ipi_spec_dst, src->bytes().data(), 4);
        c->cmsg_level = IPPROTO_IP;
        c->cmsg_type = IP_PKTINFO;
        c->cmsg_len = CMSG_LEN(sizeof pi);
        std::memcpy(CMSG_DATA(c), &pi, sizeof pi);
        h.msg_controllen = CMSG_SPACE(sizeof pi);
    } else {
        in6_pktinfo pi{};
        std::memcpy(&pi.ipi6_addr, src->bytes().data(), 16);
        c->cmsg_level = IPPROTO_IPV6;
        c->cmsg_type = IPV6_PKTINFO;
        c->cmsg_len = CMSG_LEN(sizeof pi);
        std::memcpy(CMSG_DATA(c), &pi, sizeof pi);
        h.msg_controllen = CMSG_SPACE(sizeof pi);
    }
}

SendBatch::Result SendBatch::flush(int fd) {
    Result r;
    std::size_t i = 0;
    while (i < count_) {
        const int n = ::sendmmsg(fd, msgs_.data() + i, static_cast<unsigned>(count_ - i), 0);
        if (n > 0) {
            i += static_cast<std::size_t>(n);
            r.sent += static_cast<std::size_t>(n);
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        // sendmmsg reports an error only for the first datagram of the call: skip that one
        // and go on, so one unreachable peer never holds up the others.
        if (!r.first_error) r.first_error = n < 0 ? errno : EIO;
        ++r.failed;
        ++i;
    }
    count_ = 0;
    return r;
}

}  // namespace postern::esp
