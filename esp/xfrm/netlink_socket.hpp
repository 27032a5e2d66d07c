// A netlink socket for the kernel data plane (NETLINK_XFRM for SAs and policies, NETLINK_ROUTE
// for routes and rules). Messages are built with libnl-3's nl_msg (xfrm_messages.hpp,
// route_manager.cpp); this class only moves them, because the data plane needs three things
// libnl's nl_sock does not give directly: the kernel's errno per message of a batch (several
// requests in flight, their acknowledgements matched by sequence number), the extended-ack text
// the kernel attaches to an error ("Requested type not found"), and key material wiped from
// every buffer a message passed through.
//
// Not thread-safe: one owner thread (the IKE thread in posternd).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <tl/expected.hpp>

struct nl_msg;
struct nlmsghdr;

namespace postern::esp::xfrm {

// The kernel's answer to one request: 0 or a negative errno, and the extended-ack text.
struct NetlinkResult {
    int error = 0;
    std::string kernel_text;  // NLMSGERR_ATTR_MSG, empty when the kernel gave none

    bool ok() const { return error == 0; }
    // "File exists" or "Protocol not supported (kernel: Requested type not found)".
    std::string text() const;
};

// Owns an nl_msg (nlmsg_free on destruction, after wiping it when it holds keys).
class Message {
  public:
    Message() = default;
    explicit Message(nl_msg* m, bool secret = false) : msg_(m), secret_(secret) {}
    Message(Message&& o) noexcept : msg_(o.msg_), secret_(o.secret_) { o.msg_ = nullptr; }
    Message& operator=(Message&& o) noexcept;
    ~Message();
    nl_msg* get() const { return msg_; }
    explicit operator bool() const { return msg_ != nullptr; }
    nlmsghdr* header() const;

  private:
    nl_msg* msg_ = nullptr;
    bool secret_ = false;
};

class NetlinkSocket {
  public:
    using Handler = std::function<void(const nlmsghdr*)>;

    // Opens and binds a socket of `protocol` (NETLINK_XFRM, NETLINK_ROUTE), subscribed to the
    // multicast `groups` (netlink group numbers, 1-based; none for a request socket).
    static tl::expected<NetlinkSocket, std::string> open(int protocol,
                                                         std::vector<unsigned> groups = {});
    NetlinkSocket(NetlinkSocket&& o) noexcept;
    NetlinkSocket& operator=(NetlinkSocket&& o) noexcept;
    ~NetlinkSocket();

    // Sends every message (NLM_F_ACK added) in as few sendmsg calls as fit, then reads the
    // acknowledgements: result[i] belongs to msgs[i]. A socket error counts for every message
    // that got no answer.
    std::vector<NetlinkResult> transact(const std::vector<const Message*>& msgs);
    NetlinkResult transact(const Message& msg);
    // A request with answers (a GET, or a dump with NLM_F_DUMP set by the builder): `on_reply`
    // sees each answer message; the result is the request's error or 0.
    NetlinkResult request(const Message& msg, const Handler& on_reply);

    // Multicast sockets: reads what is queued without blocking and calls `on_message` for
    // each message. Returns false with `overrun` set when the kernel dropped messages
    // (ENOBUFS), false with `error` set on another error, true otherwise.
    bool receive(const Handler& on_message, bool& overrun, std::string& error);

    int fd() const { return fd_; }

  private:
    explicit NetlinkSocket(int fd) : fd_(fd) {}
    bool send_all(const std::vector<const Message*>& msgs, std::vector<std::uint32_t>& seqs,
                  int& err);

    int fd_ = -1;
    std::uint32_t seq_ = 1;
    std::vector<unsigned char> buf_;
};

}  // namespace postern::esp::xfrm
