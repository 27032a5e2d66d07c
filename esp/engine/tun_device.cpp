#include "esp/engine/tun_device.hpp"

#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/uio.h>
#include <unistd.h>

#include <bit>
#include <cerrno>
#include <cstring>
#include <utility>

// USO (UDP segmentation offload, Linux 6.2) is missing from older uapi headers (Debian 12's):
// the values are fixed by the kernel ABI. A kernel without it refuses the bits with EINVAL and
// offload_candidates() steps down.
#ifndef TUN_F_USO4
#define TUN_F_USO4 0x20
#endif
#ifndef TUN_F_USO6
#define TUN_F_USO6 0x40
#endif

namespace postern::esp {

// Legacy virtio-net headers are in the host's byte order (TUN's default without
// TUNSETVNETLE/BE); reading them field by field as little-endian is right only on such hosts.
static_assert(std::endian::native == std::endian::little,
              "VirtioNetHdr handling assumes a little-endian host");
// <linux/virtio_net.h> cannot be included from C++ (a member named `class`), so VirtioNetHdr
// restates struct virtio_net_hdr; its size is checked in the header.

namespace {

constexpr unsigned kMaxQueues = 256;  // MAX_TAP_QUEUES in drivers/net/tun.c

std::string errno_text(int err) {
    return std::strerror(err);
}

std::string fail(const std::string& call, const std::string& object, int err) {
    return call + " " + object + ": " + errno_text(err);
}

// A non-blocking, close-on-exec fd on the TUN clone device.
tl::expected<int, std::string> open_clone() {
    int fd = ::open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) return tl::unexpected(fail("open", "/dev/net/tun", errno));
    return fd;
}

// The offload sets to try, largest first: a kernel that does not know a TUN_F_* bit refuses the
// whole request with EINVAL, so we step down until one is accepted.
std::vector<unsigned> offload_candidates() {
    std::vector<unsigned> sets;
    unsigned tso = TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6;
#if defined(TUN_F_USO4) && defined(TUN_F_USO6)
    sets.push_back(tso | TUN_F_USO4 | TUN_F_USO6);
#endif
    sets.push_back(tso);
    sets.push_back(TUN_F_CSUM);
    return sets;
}

}  // namespace

tl::expected<unsigned, std::string> TunDevice::features() {
    auto fd = open_clone();
    if (!fd) return tl::unexpected(fd.error());
    unsigned flags = 0;
    int rc = ::ioctl(*fd, TUNGETFEATURES, &flags);
    int err = errno;
    ::close(*fd);
    if (rc < 0) return tl::unexpected(fail("ioctl(TUNGETFEATURES)", "/dev/net/tun", err));
    return flags;
}

tl::expected<TunDevice, std::string> TunDevice::create(const TunOptions& options) {
    if (options.name.empty() || options.name.size() >= IFNAMSIZ)
        return tl::unexpected("TUN device name \"" + options.name + "\": must be 1 to " +
                              std::to_string(IFNAMSIZ - 1) + " characters");
    if (options.queues == 0 || options.queues > kMaxQueues)
        return tl::unexpected("TUN device " + options.name + ": " + std::to_string(options.queues) +
                              " queues (1 to " + std::to_string(kMaxQueues) + " allowed)");

    auto supported = features();
    if (!supported) return tl::unexpected(supported.error());

    TunDevice dev;
    dev.multi_queue_ = options.queues > 1;
    if (dev.multi_queue_ && !(*supported & IFF_MULTI_QUEUE))
        return tl::unexpected("TUN device " + options.name +
                              ": the kernel has no multi-queue TUN (IFF_MULTI_QUEUE)");
    // Asked for but not supported: run without it (the worker falls back to plain packets);
    // the caller sees vnet_hdr() == false and can log it.
    dev.vnet_hdr_ = options.vnet_hdr && (*supported & IFF_VNET_HDR);

    short flags = IFF_TUN | IFF_NO_PI;
    if (dev.multi_queue_) flags |= IFF_MULTI_QUEUE;
    if (dev.vnet_hdr_) flags |= IFF_VNET_HDR;

    // Every queue is attached with the same flags (the kernel refuses a mismatch); the first
    // TUNSETIFF resolves the pattern, the others name the device it created.
    std::string name = options.name;
    for (unsigned q = 0; q < options.queues; ++q) {
        auto fd = open_clone();
        if (!fd) return tl::unexpected(fd.error());
        dev.fds_.push_back(*fd);  // closed by dev's destructor on any error below
        ifreq ifr{};
        std::memcpy(ifr.ifr_name, name.data(), name.size());
        ifr.ifr_flags = flags;
        if (::ioctl(*fd, TUNSETIFF, &ifr) < 0)
            return tl::unexpected(
                fail("ioctl(TUNSETIFF)", name + (q ? " queue " + std::to_string(q) : ""), errno));
        name.assign(ifr.ifr_name, ::strnlen(ifr.ifr_name, IFNAMSIZ));
    }
    dev.name_ = name;

    if (dev.vnet_hdr_) {
        // 10 octets is the kernel's default; set it anyway so the size never depends on it.
        int size = sizeof(VirtioNetHdr);
        if (::ioctl(dev.fds_[0], TUNSETVNETHDRSZ, &size) < 0)
            return tl::unexpected(fail("ioctl(TUNSETVNETHDRSZ)", name, errno));
        // Offloads belong to the device, not to a queue: one call covers all fds.
        for (unsigned set : offload_candidates()) {
            if (::ioctl(dev.fds_[0], TUNSETOFFLOAD, static_cast<unsigned long>(set)) == 0) {
                dev.offloads_ = set;
                break;
            }
            if (errno != EINVAL) return tl::unexpected(fail("ioctl(TUNSETOFFLOAD)", name, errno));
        }
    }

    dev.ifindex_ = ::if_nametoindex(name.c_str());
    if (dev.ifindex_ == 0) return tl::unexpected(fail("if_nametoindex", name, errno));
    return dev;
}

TunDevice::TunDevice(TunDevice&& other) noexcept
    : name_(std::move(other.name_)),
      ifindex_(std::exchange(other.ifindex_, 0)),
      fds_(std::exchange(other.fds_, {})),
      multi_queue_(other.multi_queue_),
      vnet_hdr_(other.vnet_hdr_),
      offloads_(other.offloads_) {}

TunDevice& TunDevice::operator=(TunDevice&& other) noexcept {
    if (this != &other) {
        close();
        name_ = std::move(other.name_);
        ifindex_ = std::exchange(other.ifindex_, 0);
        fds_ = std::exchange(other.fds_, {});
        multi_queue_ = other.multi_queue_;
        vnet_hdr_ = other.vnet_hdr_;
        offloads_ = other.offloads_;
    }
    return *this;
}

void TunDevice::close() {
    // close() on Linux releases the fd even when it reports an error; there is nothing to retry.
    for (int fd : fds_)
        ::close(fd);
    fds_.clear();
}

std::string TunDevice::offloads_text() const {
    std::string s;
    auto add = [&s](const char* word) {
        if (!s.empty()) s += ' ';
        s += word;
    };
    if (offloads_ & TUN_F_CSUM) add("csum");
    if (offloads_ & TUN_F_TSO4) add("tso4");
    if (offloads_ & TUN_F_TSO6) add("tso6");
#if defined(TUN_F_USO4) && defined(TUN_F_USO6)
    if (offloads_ & TUN_F_USO4) add("uso4");
    if (offloads_ & TUN_F_USO6) add("uso6");
#endif
    return s.empty() ? "none" : s;
}

std::string TunQueue::what(const char* call) const {
    return std::string(call) + "(TUN queue " + std::to_string(index_) + ")";
}

tl::expected<std::size_t, std::string> TunQueue::read_batch(std::span<TunPacket> packets) const {
    std::size_t n = 0;
    while (n < packets.size()) {
        TunPacket& p = packets[n];
        iovec iov[2];
        int iovcnt = 0;
        if (vnet_hdr_) iov[iovcnt++] = {&p.vnet, sizeof p.vnet};
        iov[iovcnt++] = {p.buffer.data(), p.buffer.size()};
        ssize_t got = ::readv(fd_, iov, iovcnt);
        if (got < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK) break;
            if (errno == EINTR) continue;
            return tl::unexpected(what("readv") + ": " + errno_text(errno));
        }
        std::size_t header = vnet_hdr_ ? sizeof p.vnet : 0;
        p.size =
            static_cast<std::size_t>(got) > header ? static_cast<std::size_t>(got) - header : 0;
        // The kernel cuts a packet to the buffer without saying so; a full buffer is suspect.
        p.truncated = p.size == p.buffer.size();
        if (!vnet_hdr_) p.vnet = {};
        ++n;
    }
    return n;
}

tl::expected<TunWriteResult, std::string> TunQueue::write_batch(
    std::span<const ByteView> packets) const {
    static const VirtioNetHdr kPlain{};
    TunWriteResult result;
    for (std::size_t i = 0; i < packets.size();) {
        iovec iov[2];
        int iovcnt = 0;
        if (vnet_hdr_) iov[iovcnt++] = {const_cast<VirtioNetHdr*>(&kPlain), sizeof kPlain};
        iov[iovcnt++] = {const_cast<std::uint8_t*>(packets[i].data()), packets[i].size()};
        if (::writev(fd_, iov, iovcnt) < 0) {
            int err = errno;
            if (err == EINTR) continue;
            if (err == EAGAIN || err == EWOULDBLOCK) break;
            // Refusals of this one packet: skip it and go on with the rest.
            if (err == EINVAL || err == EMSGSIZE || err == EFAULT) {
                ++result.rejected;
            } else {
                return tl::unexpected(what("writev") + ": " + errno_text(err));
            }
        }
        ++result.consumed;
        ++i;
    }
    return result;
}

tl::expected<void, std::string> TunQueue::write(const VirtioNetHdr& hdr, ByteView packet) const {
    if (!vnet_hdr_) return tl::unexpected(what("writev") + ": queue has no virtio-net header");
    iovec iov[2] = {{const_cast<VirtioNetHdr*>(&hdr), sizeof hdr},
                    {const_cast<std::uint8_t*>(packet.data()), packet.size()}};
    for (;;) {
        if (::writev(fd_, iov, 2) >= 0) return {};
        if (errno != EINTR) return tl::unexpected(what("writev") + ": " + errno_text(errno));
    }
}

}  // namespace postern::esp
