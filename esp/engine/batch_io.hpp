// Batched datagram I/O for the data-plane workers: recvmmsg() fills a batch of the worker's
// buffers in one syscall, sendmmsg() sends a batch queued while processing (flushed at the end
// of each batch, or when it is full). The message headers, address and control buffers are
// allocated once; receiving and sending allocate nothing.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

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

  private:
    struct Control {
        alignas(cmsghdr) unsigned char bytes[kPktinfoSpace];
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

    std::size_t size() const { return count_; }
    bool empty() const { return count_ == 0; }
    bool full() const { return count_ == msgs_.size(); }

    // Queues one datagram to `dst`; `data` must stay valid until flush(). With `src` given
    // (not unspecified), the packet leaves from that address (IP_PKTINFO / IPV6_PKTINFO).
    // Call only when !full().
    void add(ByteView data, const Endpoint& dst, const IpAddress* src);

    struct Result {
        std::size_t sent = 0;
        std::size_t failed = 0;  // refused one by one (e.g. no route); the rest still went
        int first_error = 0;     // errno of the first refusal
    };
    // sendmmsg() until every queued datagram is sent or refused; empties the batch.
    Result flush(int fd);

  private:
    struct Control {
        alignas(cmsghdr) unsigned char bytes[kPktinfoSpace];
    };
    std::vector<mmsghdr> msgs_;
    std::vector<iovec> iovs_;
    std::vector<sockaddr_storage> names_;
    std::vector<Control> controls_;
    std::size_t count_ = 0;
};

}  // namespace postern::esp
