// Batched datagram I/O for the data-plane workers: recvmmsg() fills a batch of the worker's
// buffers in one syscall, sendmmsg() sends a batch queued while processing (flushed at the end
// of each batch, or when it is full). The message headers, address and control buffers are
// allocated once; receiving and sending allocate nothing.
//
// UDP offloads (udp_offload.hpp), when the worker turns them on:
//   send  SendBatch::set_udp_gso(true): consecutive datagrams to the same destination from the
//         same source, with the same first four octets (for ESP the SPI) and of the same size
//         (the last may be shorter, and ends the train) share one message, one iovec each (no
//         copy), sent with a UDP_SEGMENT cmsg: the kernel cuts them apart again, once per
//         train instead of once per datagram in the stack. One SPI per train, because a train
//         travels as one skb as far as the receiver's socket lookup (loopback, veth), where
//         the reuseport program steers all of it by its first datagram's SPI (steering.hpp).
//   recv  with UDP_GRO on the socket, one buffer may hold a train of datagrams;
//         RecvBatch::gro_segment_size() gives their size for UdpGroSplitter.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "esp/engine/udp_offload.hpp"
#include "postern/bytes.hpp"
#include "postern/net.hpp"

namespace postern::esp {

// Room for one IP_PKTINFO or IPV6_PKTINFO control message.
inline constexpr std::size_t kPktinfoSpace =
    CMSG_SPACE(sizeof(in6_pktinfo)) > CMSG_SPACE(sizeof(in_pktinfo))
        ? CMSG_SPACE(sizeof(in6_pktinfo))
        : CMSG_SPACE(sizeof(in_pktinfo));

class RecvBatch {
  public:
    explicit RecvBatch(std::size_t capacity);
    RecvBatch(const RecvBatch&) = delete;
    RecvBatch& operator=(const RecvBatch&) = delete;

    std::size_t capacity() const { return msgs_.size(); }
    // Where message i is received (the caller's storage, kept until changed).
    void set_buffer(std::size_t i, MutableByteView buffer);

    // One recvmmsg(MSG_DONTWAIT) into every buffer. Returns how many arrived (0: nothing
    // waited), or -errno for a real error (EINTR is retried).
    long receive(int fd);

    std::size_t size(std::size_t i) const { return msgs_[i].msg_len; }
    // The datagram did not fit its buffer (cut by the kernel).
    bool truncated(std::size_t i) const { return msgs_[i].msg_hdr.msg_flags & MSG_TRUNC; }
    Endpoint from(std::size_t i) const;
    // The local address it was sent to (IP_PKTINFO / IPV6_PKTINFO), when the socket reports it.
    std::optional<IpAddress> local(std::size_t i) const;
    // With UDP_GRO on the socket: the size of each datagram in buffer i (the last may be
    // shorter); 0 when it holds one datagram.
    std::uint16_t gro_segment_size(std::size_t i) const;

  private:
    struct Control {
        alignas(cmsghdr) unsigned char bytes[kPktinfoSpace + kUdpGroCmsgSpace];
    };
    std::vector<mmsghdr> msgs_;
    std::vector<iovec> iovs_;
    std::vector<sockaddr_storage> names_;
    std::vector<Control> controls_;
};

class SendBatch {
  public:
    explicit SendBatch(std::size_t capacity);
    SendBatch(const SendBatch&) = delete;
    SendBatch& operator=(const SendBatch&) = delete;

    // Messages queued (a UDP_SEGMENT train is one).
    std::size_t size() const { return count_; }
    bool empty() const { return count_ == 0; }
    // No room for another message: flush() before add(). A datagram that joins the last
    // train needs no new message, but add() does not rely on that.
    bool full() const { return count_ == msgs_.size(); }

    // Lets add() join datagrams into UDP_SEGMENT trains (only for UDP sockets whose kernel
    // knows UDP_SEGMENT: probe_udp_offloads). Allocates the iovecs once; call before use.
    void set_udp_gso(bool on);
    bool udp_gso() const { return gso_; }

    // Queues one datagram to `dst`; `data` must stay valid until flush(). With `src` given
    // (not unspecified), the packet leaves from that address (IP_PKTINFO / IPV6_PKTINFO).
    // Call only when !full().
    void add(ByteView data, const Endpoint& dst, const IpAddress* src);

    struct Result {
        std::size_t sent = 0;      // datagrams
        std::size_t failed = 0;    // datagrams refused (e.g. no route); the rest still went
        int first_error = 0;       // errno of the first refusal
        std::size_t gso_sends = 0;  // messages of more than one datagram sent (UDP_SEGMENT)
        // A train was refused with EIO/EINVAL (the route's device cannot do it) and its
        // datagrams were sent one by one; set_udp_gso(false) was applied.
        bool gso_refused = false;
        int gso_error = 0;
    };
    // sendmmsg() until every queued datagram is sent or refused; empties the batch.
    Result flush(int fd);

  private:
    struct Control {
        alignas(cmsghdr) unsigned char bytes[kPktinfoSpace + kUdpSegmentCmsgSpace];
    };
    // One queued message: a datagram, or a UDP_SEGMENT train of `segments` datagrams of
    // `segment_size` octets (the last may be shorter, then `closed`).
    struct Train {
        std::size_t segments = 0;
        std::size_t segment_size = 0;
        std::size_t bytes = 0;
        bool closed = false;
        Endpoint dst;
        IpAddress src;  // unspecified: none given
        std::uint32_t key = 0;  // the first four octets (the SPI)
    };
    bool joins_last(ByteView data, const Endpoint& dst, const IpAddress* src) const;
    void send_one_by_one(int fd, std::size_t message, Result& r);

    std::vector<mmsghdr> msgs_;
    std::vector<iovec> iovs_;  // per message: 1, or kUdpMaxSegments with set_udp_gso(true)
    std::vector<sockaddr_storage> names_;
    std::vector<Control> controls_;
    std::vector<Train> trains_;
    std::size_t iov_stride_ = 1;
    std::size_t count_ = 0;
    bool gso_ = false;
};

}  // namespace postern::esp
