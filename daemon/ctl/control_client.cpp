#include "daemon/ctl/control_client.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace postern::ctl {

namespace {

using Clock = std::chrono::steady_clock;

// A reply larger than this is not posternd's (sa.list of ~100k SAs stays below it).
constexpr std::size_t kMaxReply = 64u * 1024 * 1024;

tl::unexpected<ControlError> error(ControlError::Kind kind, std::string message) {
    return tl::unexpected(
        ControlError{kind, daemon::control::ErrorCode::Internal, std::move(message)});
}

class Fd {
  public:
    explicit Fd(int fd) : fd_(fd) {}
    ~Fd() {
        if (fd_ >= 0) ::close(fd_);
    }
    Fd(const Fd&) = delete;
    Fd& operator=(const Fd&) = delete;
    int get() const { return fd_; }

  private:
    int fd_;
};

// Milliseconds left until `deadline`, at least 0.
int left(Clock::time_point deadline) {
    const auto ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    return ms < 0 ? 0 : static_cast<int>(ms);
}

// Waits for `events` on `fd`; false on timeout or error (errno set, ETIMEDOUT for the timeout).
bool wait_for(int fd, short events, Clock::time_point deadline) {
    for (;;) {
        pollfd p{fd, events, 0};
        const int n = ::poll(&p, 1, left(deadline));
        if (n > 0) return true;
        if (n == 0) {
            errno = ETIMEDOUT;
            return false;
        }
        if (errno != EINTR) return false;
    }
}

}  // namespace

tl::expected<std::string, ControlError> control_exchange(const std::string& path,
                                                         const std::string& line,
                                                         std::chrono::milliseconds timeout) {
    const auto deadline = Clock::now() + timeout;
    sockaddr_un sa{};
    if (path.empty() || path.size() >= sizeof sa.sun_path)
        return error(ControlError::Kind::Unreachable,
                     path.empty() ? "no socket path" : "socket path too long");
    sa.sun_family = AF_UNIX;
    std::memcpy(sa.sun_path, path.c_str(), path.size());

    Fd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (fd.get() < 0) return error(ControlError::Kind::Unreachable, std::strerror(errno));
    // A listening UNIX socket accepts at once (or refuses at once when its backlog is full:
    // EAGAIN), so a blocking connect does not hang.
    if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
        const int e = errno;
        const bool not_running = e == ENOENT || e == ECONNREFUSED;
        return error(not_running ? ControlError::Kind::NotRunning : ControlError::Kind::Unreachable,
                     std::strerror(e));
    }

    std::string out = line;
    if (out.empty() || out.back() != '\n') out += '\n';
    std::size_t sent = 0;
    while (sent < out.size()) {
        if (!wait_for(fd.get(), POLLOUT, deadline))
            return error(ControlError::Kind::Io, std::string("sending: ") + std::strerror(errno));
        const ssize_t n = ::send(fd.get(), out.data() + sent, out.size() - sent, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR || errno == EAGAIN) continue;
            return error(ControlError::Kind::Io, std::string("sending: ") + std::strerror(errno));
        }
        sent += static_cast<std::size_t>(n);
    }

    std::string in;
    char buf[16384];
    for (;;) {
        if (auto nl = in.find('\n'); nl != std::string::npos) return in.substr(0, nl);
        if (in.size() > kMaxReply)
            return error(ControlError::Kind::Io,
                         "reply over " + std::to_string(kMaxReply) + " octets without a newline");
        if (!wait_for(fd.get(), POLLIN, deadline))
            return error(ControlError::Kind::Io,
                         std::string("waiting for the reply: ") + std::strerror(errno));
        const ssize_t n = ::recv(fd.get(), buf, sizeof buf, 0);
        if (n < 0) {
            if (errno == EINTR || errno == EAGAIN) continue;
            return error(ControlError::Kind::Io,
                         std::string("reading the reply: ") + std::strerror(errno));
        }
        if (n == 0)
            return error(ControlError::Kind::Io, "posternd closed the connection without a reply");
        in.append(buf, static_cast<std::size_t>(n));
    }
}

tl::expected<nlohmann::json, ControlError> control_request(const std::string& path,
                                                           const daemon::control::Request& request,
                                                           std::chrono::milliseconds timeout) {
    namespace control = daemon::control;
    auto line = control_exchange(path, control::encode(control::to_json(request)), timeout);
    if (!line) return tl::unexpected(line.error());
    auto reply = control::parse_reply(*line);
    if (!reply) {
        if (reply.error().code == control::ErrorCode::Malformed)
            return error(ControlError::Kind::Io, reply.error().message);
        return tl::unexpected(
            ControlError{ControlError::Kind::Daemon, reply.error().code, reply.error().message});
    }
    return std::move(*reply);
}

}  // namespace postern::ctl
