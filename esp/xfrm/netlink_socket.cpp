#include "esp/xfrm/netlink_socket.hpp"

#include <linux/netlink.h>
#include <netlink/msg.h>
#include <openssl/crypto.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>

namespace postern::esp::xfrm {

namespace {

// Messages per sendmsg: their acknowledgements must fit the receive buffer.
constexpr std::size_t kBatch = 64;
constexpr std::size_t kBufferSize = 256 * 1024;

// Calls f(h) for each complete netlink message in the first len bytes of buf (the kernel writes
// them NLMSG_ALIGNTO-aligned into our heap buffer); stops at a truncated or malformed header, or
// when f returns false.
template <class F>
void each_message(unsigned char* buf, std::size_t len, F&& f) {
    std::size_t off = 0;
    while (len - off >= sizeof(nlmsghdr)) {
        auto* h = static_cast<nlmsghdr*>(static_cast<void*>(buf + off));
        if (h->nlmsg_len < sizeof(nlmsghdr) || h->nlmsg_len > len - off) return;
        if (!f(h)) return;
        off += std::min<std::size_t>(NLMSG_ALIGN(h->nlmsg_len), len - off);
    }
}

// The text of an NLMSG_ERROR's extended ack (NLMSGERR_ATTR_MSG), if any.
std::string ext_ack_text(const nlmsghdr* h) {
    if (!(h->nlmsg_flags & NLM_F_ACK_TLVS)) return {};
    const auto* err = static_cast<const nlmsgerr*>(NLMSG_DATA(h));
    std::size_t offset = NLMSG_HDRLEN + sizeof(nlmsgerr);
    if (!(h->nlmsg_flags & NLM_F_CAPPED)) offset += err->msg.nlmsg_len - NLMSG_HDRLEN;
    const auto* base = reinterpret_cast<const unsigned char*>(h);
    while (offset + NLA_HDRLEN <= h->nlmsg_len) {
        nlattr a;
        std::memcpy(&a, base + offset, sizeof a);
        if (a.nla_len < NLA_HDRLEN || offset + a.nla_len > h->nlmsg_len) break;
        if ((a.nla_type & NLA_TYPE_MASK) == NLMSGERR_ATTR_MSG) {
            std::string s(reinterpret_cast<const char*>(base + offset + NLA_HDRLEN),
                          a.nla_len - NLA_HDRLEN);
            while (!s.empty() && (s.back() == '\0' || s.back() == '.')) s.pop_back();
            return s;
        }
        offset += NLA_ALIGN(a.nla_len);
    }
    return {};
}

}  // namespace

std::string NetlinkResult::text() const {
    if (error == 0) return "success";
    std::string s = std::strerror(-error);
    if (!kernel_text.empty()) s += " (kernel: " + kernel_text + ")";
    return s;
}

Message& Message::operator=(Message&& o) noexcept {
    if (this != &o) {
        this->~Message();
        msg_ = o.msg_;
        secret_ = o.secret_;
        o.msg_ = nullptr;
    }
    return *this;
}

Message::~Message() {
    if (!msg_) return;
    if (secret_) OPENSSL_cleanse(nlmsg_hdr(msg_), nlmsg_hdr(msg_)->nlmsg_len);
    nlmsg_free(msg_);
}

nlmsghdr* Message::header() const { return nlmsg_hdr(msg_); }

tl::expected<NetlinkSocket, std::string> NetlinkSocket::open(int protocol,
                                                             std::vector<unsigned> groups) {
    int fd = ::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, protocol);
    if (fd < 0)
        return tl::unexpected(std::string("cannot open a netlink socket (") +
                              (protocol == NETLINK_XFRM ? "XFRM" : "route") +
                              "): " + std::strerror(errno));
    NetlinkSocket s(fd);
    int one = 1;
    ::setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof one);
    ::setsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof one);
    int rcvbuf = groups.empty() ? 1 << 20 : 4 << 20;
    // SO_RCVBUFFORCE passes the system limit with CAP_NET_ADMIN; without, the plain one.
    if (::setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof rcvbuf) != 0)
        ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    sockaddr_nl addr{};
    addr.nl_family = AF_NETLINK;
    if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
        return tl::unexpected(std::string("cannot bind a netlink socket: ") +
                              std::strerror(errno));
    for (unsigned g : groups)
        if (::setsockopt(fd, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, &g, sizeof g) != 0)
            return tl::unexpected("cannot join netlink multicast group " + std::to_string(g) +
                                  ": " + std::strerror(errno));
    s.buf_.resize(kBufferSize);
    return s;
}

NetlinkSocket::NetlinkSocket(NetlinkSocket&& o) noexcept
    : fd_(o.fd_), seq_(o.seq_), buf_(std::move(o.buf_)) {
    o.fd_ = -1;
}

NetlinkSocket& NetlinkSocket::operator=(NetlinkSocket&& o) noexcept {
    if (this != &o) {
        if (fd_ >= 0) ::close(fd_);
        fd_ = o.fd_;
        seq_ = o.seq_;
        buf_ = std::move(o.buf_);
        o.fd_ = -1;
    }
    return *this;
}

NetlinkSocket::~NetlinkSocket() {
    if (fd_ >= 0) ::close(fd_);
}

bool NetlinkSocket::send_all(const std::vector<const Message*>& msgs,
                             std::vector<std::uint32_t>& seqs, int& err) {
    std::vector<unsigned char> out;
    bool secret = false;
    for (const Message* m : msgs) {
        nlmsghdr* h = m->header();
        h->nlmsg_seq = seq_++;
        h->nlmsg_pid = 0;
        seqs.push_back(h->nlmsg_seq);
        const auto* p = reinterpret_cast<const unsigned char*>(h);
        out.insert(out.end(), p, p + NLMSG_ALIGN(h->nlmsg_len));
        secret = true;  // cheap enough to wipe always
    }
    sockaddr_nl kernel{};
    kernel.nl_family = AF_NETLINK;
    ssize_t n;
    do {
        n = ::sendto(fd_, out.data(), out.size(), 0, reinterpret_cast<sockaddr*>(&kernel),
                     sizeof kernel);
    } while (n < 0 && errno == EINTR);
    err = n < 0 ? errno : 0;
    if (secret) OPENSSL_cleanse(out.data(), out.size());
    return n >= 0;
}

std::vector<NetlinkResult> NetlinkSocket::transact(const std::vector<const Message*>& msgs) {
    std::vector<NetlinkResult> results(msgs.size());
    for (std::size_t first = 0; first < msgs.size(); first += kBatch) {
        const std::size_t last = std::min(msgs.size(), first + kBatch);
        std::vector<const Message*> part(msgs.begin() + static_cast<std::ptrdiff_t>(first),
                                         msgs.begin() + static_cast<std::ptrdiff_t>(last));
        for (const Message* m : part)
            m->header()->nlmsg_flags |= NLM_F_ACK | NLM_F_REQUEST;
        std::vector<std::uint32_t> seqs;
        int err = 0;
        if (!send_all(part, seqs, err)) {
            for (std::size_t i = first; i < last; ++i) results[i].error = -err;
            continue;
        }
        std::map<std::uint32_t, std::size_t> pending;
        for (std::size_t i = 0; i < seqs.size(); ++i) pending[seqs[i]] = first + i;
        while (!pending.empty()) {
            ssize_t n = ::recv(fd_, buf_.data(), buf_.size(), 0);
            if (n < 0 && errno == EINTR) continue;
            if (n < 0) {
                for (auto& [seq, i] : pending) results[i].error = -errno;
                break;
            }
            each_message(buf_.data(), static_cast<std::size_t>(n), [&](nlmsghdr* h) {
                if (h->nlmsg_type != NLMSG_ERROR) return true;
                if (h->nlmsg_len < NLMSG_LENGTH(sizeof(nlmsgerr))) return true;
                auto it = pending.find(h->nlmsg_seq);
                if (it == pending.end()) return true;
                const auto* e = static_cast<const nlmsgerr*>(NLMSG_DATA(h));
                results[it->second].error = e->error;
                if (e->error) results[it->second].kernel_text = ext_ack_text(h);
                pending.erase(it);
                return true;
            });
        }
    }
    return results;
}

NetlinkResult NetlinkSocket::transact(const Message& msg) { return transact({&msg}).front(); }

NetlinkResult NetlinkSocket::request(const Message& msg, const Handler& on_reply) {
    nlmsghdr* req = msg.header();
    req->nlmsg_flags |= NLM_F_REQUEST;
    const bool dump = (req->nlmsg_flags & NLM_F_DUMP) == NLM_F_DUMP;
    std::vector<std::uint32_t> seqs;
    int err = 0;
    NetlinkResult r;
    if (!send_all({&msg}, seqs, err)) {
        r.error = -err;
        return r;
    }
    const std::uint32_t seq = seqs.front();
    for (;;) {
        ssize_t n = ::recv(fd_, buf_.data(), buf_.size(), 0);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            r.error = -errno;
            return r;
        }
        bool done = false;
        each_message(buf_.data(), static_cast<std::size_t>(n), [&](nlmsghdr* h) {
            if (h->nlmsg_seq != seq) return true;
            if (h->nlmsg_type == NLMSG_ERROR) {
                if (h->nlmsg_len >= NLMSG_LENGTH(sizeof(nlmsgerr))) {
                    const auto* e = static_cast<const nlmsgerr*>(NLMSG_DATA(h));
                    r.error = e->error;
                    if (e->error) r.kernel_text = ext_ack_text(h);
                } else {
                    r.error = -EPROTO;
                }
                done = true;
                return false;
            }
            if (h->nlmsg_type == NLMSG_DONE) {
                done = true;
                return false;
            }
            on_reply(h);
            done = !dump;
            return !done;
        });
        if (done) return r;
    }
}

bool NetlinkSocket::receive(const Handler& on_message, bool& overrun, std::string& error) {
    overrun = false;
    for (;;) {
        ssize_t n = ::recv(fd_, buf_.data(), buf_.size(), MSG_DONTWAIT);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return true;
        if (n < 0 && errno == ENOBUFS) {
            overrun = true;
            return false;
        }
        if (n < 0) {
            error = std::strerror(errno);
            return false;
        }
        each_message(buf_.data(), static_cast<std::size_t>(n), [&](nlmsghdr* h) {
            on_message(h);
            return true;
        });
    }
}

}  // namespace postern::esp::xfrm
