#include "esp/engine/batch_io.hpp"

#include <netinet/udp.h>

#include <algorithm>
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

std::uint16_t RecvBatch::gro_segment_size(std::size_t i) const {
    return udp_gro_segment_size(msgs_[i].msg_hdr);
}

namespace {

// The most UDP payload one UDP_SEGMENT send may carry: the whole train is first built as one
// IP packet, so it must fit an IPv4 Total Length (65535 - 20 - 8) and an IPv6 Payload Length.
constexpr std::size_t kUdpGsoMaxBytes = 65535 - 20 - 8;

std::uint32_t first_four(ByteView data) {
    std::uint32_t v = 0;
    std::memcpy(&v, data.data(), std::min<std::size_t>(4, data.size()));
    return v;
}

}  // namespace

SendBatch::SendBatch(std::size_t capacity)
    : msgs_(capacity), iovs_(capacity), names_(capacity), controls_(capacity), trains_(capacity) {}

void SendBatch::set_udp_gso(bool on) {
    gso_ = on;
    iov_stride_ = on ? kUdpMaxSegments : 1;
    if (iovs_.size() < msgs_.size() * iov_stride_) iovs_.resize(msgs_.size() * iov_stride_);
}

bool SendBatch::joins_last(ByteView data, const Endpoint& dst, const IpAddress* src) const {
    if (!gso_ || count_ == 0) return false;
    const Train& t = trains_[count_ - 1];
    const bool same_src = src && !src->is_unspecified() ? t.src == *src : t.src.is_unspecified();
    // Equal sizes, or one shorter datagram that closes the train (UDP_SEGMENT cuts the
    // payload every segment_size octets; only the last piece may be shorter).
    return !t.closed && t.dst == dst && same_src && data.size() <= t.segment_size &&
           data.size() >= 4 && t.key == first_four(data) && t.segments < kUdpMaxSegments &&
           t.bytes + data.size() <= kUdpGsoMaxBytes;
}

void SendBatch::add(ByteView data, const Endpoint& dst, const IpAddress* src) {
    if (joins_last(data, dst, src)) {
        const std::size_t i = count_ - 1;
        Train& t = trains_[i];
        iovs_[i * iov_stride_ + t.segments] = {const_cast<std::uint8_t*>(data.data()),
                                               data.size()};
        ++t.segments;
        t.bytes += data.size();
        t.closed = data.size() < t.segment_size;
        msgs_[i].msg_hdr.msg_iovlen = t.segments;
        return;
    }
    const std::size_t i = count_++;
    iovec* iov = &iovs_[i * iov_stride_];
    iov[0] = {const_cast<std::uint8_t*>(data.data()), data.size()};
    Train& t = trains_[i];
    t.segments = 1;
    t.segment_size = data.size();
    t.bytes = data.size();
    t.closed = false;
    t.dst = dst;
    t.src = src && !src->is_unspecified() ? *src : IpAddress();
    t.key = first_four(data);
    msghdr& h = msgs_[i].msg_hdr;
    h = {};
    h.msg_name = &names_[i];
    h.msg_namelen = to_sockaddr(dst, names_[i]);
    h.msg_iov = iov;
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

void SendBatch::send_one_by_one(int fd, std::size_t message, Result& r) {
    const Train& t = trains_[message];
    msghdr h = msgs_[message].msg_hdr;
    // The control buffer keeps the packet-info cmsg (first) and drops the UDP_SEGMENT one.
    if (h.msg_controllen > kUdpSegmentCmsgSpace) {
        h.msg_controllen -= kUdpSegmentCmsgSpace;
    } else {
        h.msg_control = nullptr;
        h.msg_controllen = 0;
    }
    for (std::size_t s = 0; s < t.segments; ++s) {
        h.msg_iov = &msgs_[message].msg_hdr.msg_iov[s];
        h.msg_iovlen = 1;
        ssize_t n;
        do
            n = ::sendmsg(fd, &h, 0);
        while (n < 0 && errno == EINTR);
        if (n >= 0) {
            ++r.sent;
        } else {
            if (!r.first_error) r.first_error = errno;
            ++r.failed;
        }
    }
}

SendBatch::Result SendBatch::flush(int fd) {
    Result r;
    // Trains of more than one datagram get their UDP_SEGMENT cmsg now that they are complete,
    // after the packet-info one (if any).
    for (std::size_t i = 0; i < count_; ++i) {
        if (trains_[i].segments < 2) continue;
        msghdr& h = msgs_[i].msg_hdr;
        if (!h.msg_control) {
            h.msg_control = controls_[i].bytes;
            h.msg_controllen = 0;
        }
        append_udp_segment_cmsg(h, sizeof controls_[i].bytes,
                                static_cast<std::uint16_t>(trains_[i].segment_size));
    }
    std::size_t i = 0;
    while (i < count_) {
        const int n = ::sendmmsg(fd, msgs_.data() + i, static_cast<unsigned>(count_ - i), 0);
        if (n > 0) {
            for (std::size_t k = i; k < i + static_cast<std::size_t>(n); ++k) {
                r.sent += trains_[k].segments;
                if (trains_[k].segments > 1) ++r.gso_sends;
            }
            i += static_cast<std::size_t>(n);
            continue;
        }
        const int err = n < 0 ? errno : EIO;
        if (err == EINTR) continue;
        // A train the route's device cannot take (EIO: no checksum offload; EINVAL: too many
        // segments or larger than the MTU): send its datagrams one by one, and stop making
        // trains on this socket.
        if (trains_[i].segments > 1 && (err == EIO || err == EINVAL)) {
            r.gso_refused = true;
            r.gso_error = err;
            set_udp_gso(false);
            send_one_by_one(fd, i, r);
            ++i;
            continue;
        }
        // sendmmsg reports an error only for the first message of the call: skip that one
        // and go on, so one unreachable peer never holds up the others.
        if (!r.first_error) r.first_error = err;
        r.failed += trains_[i].segments;
        ++i;
    }
    count_ = 0;
    return r;
}

}  // namespace postern::esp
