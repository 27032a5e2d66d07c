#include "esp/engine/udp_offload.hpp"

#include <netinet/in.h>
#include <netinet/udp.h>

#include <cstring>

namespace postern::esp {

UdpOffloads probe_udp_offloads(int fd, bool enable_gro) {
    UdpOffloads o;
    // getsockopt(UDP_SEGMENT) answers with the socket's default segment size on any kernel
    // that knows the option, and ENOPROTOOPT on those that do not; it changes nothing.
    int size = 0;
    socklen_t len = sizeof size;
    o.gso = ::getsockopt(fd, SOL_UDP, UDP_SEGMENT, &size, &len) == 0;
    if (enable_gro) {
        const int on = 1;
        o.gro = ::setsockopt(fd, SOL_UDP, UDP_GRO, &on, sizeof on) == 0;
    }
    return o;
}

bool append_udp_segment_cmsg(msghdr& msg, std::size_t capacity, std::uint16_t segment_size) {
    if (segment_size == 0 || msg.msg_control == nullptr) return false;
    const std::size_t used = msg.msg_controllen;
    if (reinterpret_cast<std::uintptr_t>(msg.msg_control) % alignof(cmsghdr) != 0 ||
        used % alignof(cmsghdr) != 0 || used > capacity || capacity - used < kUdpSegmentCmsgSpace)
        return false;
    // The cmsg is written by hand at `used` rather than with CMSG_NXTHDR, which needs the
    // final msg_controllen and returns null for the last slot.
    auto* base = static_cast<unsigned char*>(msg.msg_control) + used;
    std::memset(base, 0, kUdpSegmentCmsgSpace);
    cmsghdr c{};
    c.cmsg_level = SOL_UDP;
    c.cmsg_type = UDP_SEGMENT;
    c.cmsg_len = CMSG_LEN(sizeof segment_size);
    std::memcpy(base, &c, sizeof c);
    std::memcpy(base + CMSG_LEN(0), &segment_size, sizeof segment_size);  // CMSG_DATA
    msg.msg_controllen = used + kUdpSegmentCmsgSpace;
    return true;
}

std::uint16_t udp_gro_segment_size(const msghdr& msg) {
    if (msg.msg_control == nullptr) return 0;
    const auto* begin = static_cast<const unsigned char*>(msg.msg_control);
    for (const cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr;
         c = CMSG_NXTHDR(const_cast<msghdr*>(&msg), const_cast<cmsghdr*>(c))) {
        // CMSG_FIRSTHDR does not look at cmsg_len: keep the whole cmsg inside the buffer.
        const std::size_t offset =
            static_cast<std::size_t>(reinterpret_cast<const unsigned char*>(c) - begin);
        if (c->cmsg_len < CMSG_LEN(0) || c->cmsg_len > msg.msg_controllen - offset) return 0;
        if (c->cmsg_level != SOL_UDP || c->cmsg_type != UDP_GRO) continue;
        // The kernel sends an int (udp_cmsg_recv); accept a 16-bit value too.
        if (c->cmsg_len >= CMSG_LEN(sizeof(int))) {
            int v = 0;
            std::memcpy(&v, CMSG_DATA(c), sizeof v);
            return v > 0 && v <= 0xffff ? static_cast<std::uint16_t>(v) : 0;
        }
        if (c->cmsg_len >= CMSG_LEN(sizeof(std::uint16_t))) {
            std::uint16_t v = 0;
            std::memcpy(&v, CMSG_DATA(c), sizeof v);
            return v;
        }
        return 0;
    }
    return 0;
}

bool UdpGroSplitter::next(ByteView& datagram) {
    if (done_) return false;
    if (segment_size_ == 0) {
        datagram = rest_;
        rest_ = {};
        done_ = true;
        ++taken_;
        return true;
    }
    if (rest_.empty()) {
        done_ = true;
        return false;
    }
    const std::size_t n = rest_.size() < segment_size_ ? rest_.size() : segment_size_;
    datagram = rest_.first(n);
    rest_ = rest_.subspan(n);
    ++taken_;
    return true;
}

std::size_t UdpGroSplitter::count() const {
    const std::size_t left = done_ ? 0
                             : segment_size_ == 0
                                 ? 1
                                 : (rest_.size() + segment_size_ - 1) / segment_size_;
    return taken_ + left;
}

}  // namespace postern::esp
