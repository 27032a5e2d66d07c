#include "daemon/control_server.hpp"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <set>

#include <boost/asio/buffers_iterator.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/write.hpp>

#include "daemon/logging.hpp"

namespace postern::daemon::control {

namespace asio = boost::asio;
using stream = asio::local::stream_protocol;

namespace {

constexpr auto kIdleTimeout = std::chrono::seconds(60);

spdlog::logger& log() {
    return logger(Subsystem::Net);
}

std::string errno_text(int e) {
    return std::strerror(e);
}

// Creates each missing folder above `path` with mode 0750 (the socket's folder holds nothing
// but the socket; its group may reach it).
tl::expected<void, std::string> make_parent(const std::string& path) {
    namespace fs = std::filesystem;
    const fs::path parent = fs::path(path).parent_path();
    if (parent.empty()) return {};
    fs::path at;
    for (const auto& part : parent) {
        at /= part;
        struct stat st {};
        if (::stat(at.c_str(), &st) == 0) {
            if (!S_ISDIR(st.st_mode)) return tl::unexpected(at.string() + " is not a folder");
            continue;
        }
        if (::mkdir(at.c_str(), 0750) != 0 && errno != EEXIST)
            return tl::unexpected("cannot create " + at.string() + ": " + errno_text(errno));
        ::chmod(at.c_str(), 0750);  // whatever the umask
        log().info("control: created {} (mode 0750)", at.string());
    }
    return {};
}

// Whether something accepts connections on the socket file at `path`: 1 yes, 0 no (nothing
// listens: a stale file), -1 cannot tell (`why`).
int someone_listens(const std::string& path, std::string& why) {
    const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        why = errno_text(errno);
        return -1;
    }
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    std::memcpy(sa.sun_path, path.c_str(), path.size());
    const int rc = ::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa);
    const int e = errno;
    ::close(fd);
    if (rc == 0) return 1;
    if (e == ECONNREFUSED) return 0;
    why = errno_text(e);
    return -1;
}

Peer credentials_of(int fd) {
    Peer p;
    ucred cred{};
    socklen_t len = sizeof cred;
    if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0) {
        p.pid = cred.pid;
        p.uid = cred.uid;
        p.gid = cred.gid;
    } else {
        // Unknown: nobody (never root).
        p.uid = static_cast<uid_t>(-1);
        p.gid = static_cast<gid_t>(-1);
    }
    return p;
}

// The peer's supplementary groups (SO_PEERGROUPS, Linux 4.13); empty when unknown.
std::vector<gid_t> groups_of(int fd) {
    std::vector<gid_t> groups;
#ifdef SO_PEERGROUPS
    groups.resize(32);
    for (int attempt = 0; attempt < 2; ++attempt) {
        socklen_t len = static_cast<socklen_t>(groups.size() * sizeof(gid_t));
        if (::getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups.data(), &len) == 0) {
            groups.resize(len / sizeof(gid_t));
            return groups;
        }
        if (errno != ERANGE) break;
        groups.resize(len / sizeof(gid_t) + 1);
    }
    groups.clear();
#else
    (void)fd;
#endif
    return groups;
}

}  // namespace

bool peer_allowed(const Peer& peer, uid_t owner, gid_t group,
                  const std::vector<gid_t>& supplementary) {
    if (peer.uid == 0 || peer.uid == owner || peer.gid == group) return true;
    return std::find(supplementary.begin(), supplementary.end(), group) != supplementary.end();
}

// What the sessions share with the server; it outlives the server while sessions remain
// (their handlers may be destroyed after it, with the io_context).
struct ControlServer::Shared {
    ControlService* service = nullptr;
    std::set<Session*> sessions;
    uid_t owner = 0;
    gid_t group = 0;
};

struct ControlServer::Acceptor {
    explicit Acceptor(asio::io_context& io) : acceptor(io) {}
    stream::acceptor acceptor;
};

// One client connection: read a line, answer it, read the next.
class ControlServer::Session : public std::enable_shared_from_this<Session> {
  public:
    Session(stream::socket socket, std::shared_ptr<Shared> shared)
        : socket_(std::move(socket)),
          shared_(std::move(shared)),
          buf_(kMaxLine + 1),
          idle_(socket_.get_executor()) {}
    ~Session() { shared_->sessions.erase(this); }

    void start() {
        shared_->sessions.insert(this);
        const int fd = socket_.native_handle();
        peer_ = credentials_of(fd);
        if (!peer_allowed(peer_, shared_->owner, shared_->group, groups_of(fd))) {
            log().warn("control: {} refused: neither root nor in the socket's group (gid {})",
                       peer_.to_string(), shared_->group);
            reply_and_close(error_reply(
                Error{ErrorCode::Denied, "only root and the control socket's group may use it"}));
            return;
        }
        log().debug("control: {} connected", peer_.to_string());
        read();
    }

    // Answers `reply` and closes, without reading anything (busy, denied, line too long).
    void reply_and_close(const nlohmann::json& reply) {
        out_ = encode(reply);
        asio::async_write(
            socket_, asio::buffer(out_),
            [self = shared_from_this()](boost::system::error_code, std::size_t) { self->stop(); });
    }

    void stop() {
        boost::system::error_code ec;
        idle_.cancel();
        socket_.shutdown(stream::socket::shutdown_both, ec);
        socket_.close(ec);
    }

  private:
    void read() {
        idle_.expires_after(kIdleTimeout);
        idle_.async_wait([weak = weak_from_this()](boost::system::error_code ec) {
            if (ec) return;
            if (auto self = weak.lock()) {
                log().debug("control: {} idle for {} s, closed", self->peer_.to_string(),
                            kIdleTimeout.count());
                self->stop();
            }
        });
        asio::async_read_until(
            socket_, buf_, '\n',
            [self = shared_from_this()](boost::system::error_code ec, std::size_t n) {
                self->on_read(ec, n);
            });
    }

    void on_read(boost::system::error_code ec, std::size_t n) {
        if (ec == asio::error::not_found) {  // kMaxLine + 1 octets and no '\n'
            log().warn("control: {}: request line over {} octets; closing", peer_.to_string(),
                       kMaxLine);
            reply_and_close(
                error_reply(Error{ErrorCode::LineTooLong,
                                  "request line over " + std::to_string(kMaxLine) + " octets"}));
            return;
        }
        if (ec) {  // closed by the peer (EOF), reset, or by us
            if (ec != asio::error::operation_aborted)
                log().debug("control: {} disconnected", peer_.to_string());
            stop();
            return;
        }
        auto begin = asio::buffers_begin(buf_.data());
        std::string line(begin, begin + static_cast<std::ptrdiff_t>(n - 1));
        buf_.consume(n);
        if (!line.empty() && line.back() == '\r') line.pop_back();
        if (line.find_first_not_of(" \t") == std::string::npos) {  // blank: nothing to answer
            read();
            return;
        }
        idle_.cancel();
        out_ = shared_->service->handle_line(line, peer_);
        asio::async_write(socket_, asio::buffer(out_),
                          [self = shared_from_this()](boost::system::error_code wec, std::size_t) {
                              if (wec)
                                  self->stop();
                              else
                                  self->read();
                          });
    }

    stream::socket socket_;
    std::shared_ptr<Shared> shared_;
    asio::streambuf buf_;
    asio::steady_timer idle_;
    Peer peer_;
    std::string out_;
};

ControlServer::ControlServer(asio::io_context& io, std::string path)
    : path_(std::move(path)),
      acceptor_(std::make_unique<Acceptor>(io)),
      shared_(std::make_shared<Shared>()) {}

tl::expected<std::unique_ptr<ControlServer>, std::string> ControlServer::open(
    asio::io_context& io, const std::string& path, ControlService& service) {
    const std::string what = "control socket " + path;
    if (path.empty()) return tl::unexpected(std::string("control socket: empty path"));
    if (path.size() >= sizeof(sockaddr_un{}.sun_path))
        return tl::unexpected(what + ": path longer than " +
                              std::to_string(sizeof(sockaddr_un{}.sun_path) - 1) + " octets");
    if (auto ok = make_parent(path); !ok) return tl::unexpected(what + ": " + ok.error());

    struct stat st {};
    if (::lstat(path.c_str(), &st) == 0) {
        if (!S_ISSOCK(st.st_mode))
            return tl::unexpected(what +
                                  ": something else than a socket is there; not touching "
                                  "it");
        std::string why;
        switch (someone_listens(path, why)) {
            case 1:
                return tl::unexpected(what +
                                      ": another posternd is serving it (stop it first, or "
                                      "set [server] control_socket to another path)");
            case 0:
                if (::unlink(path.c_str()) != 0 && errno != ENOENT)
                    return tl::unexpected(what +
                                          ": cannot remove the stale socket: " + errno_text(errno));
                log().info("control: removed the stale socket {} (nothing listened on it)", path);
                break;
            default:
                return tl::unexpected(what + ": cannot tell whether a posternd serves it: " + why);
        }
    }

    std::unique_ptr<ControlServer> s(new ControlServer(io, path));
    auto& acc = s->acceptor_->acceptor;
    boost::system::error_code ec;
    acc.open(stream(), ec);
    if (ec) return tl::unexpected(what + ": " + ec.message());
    // Linux creates the file with the socket inode's mode minus the umask: 0660 from the start,
    // and chmod afterwards in case the umask took more.
    ::fchmod(acc.native_handle(), 0660);
    acc.bind(stream::endpoint(path), ec);
    if (ec) return tl::unexpected(what + ": cannot bind: " + ec.message());
    if (::chmod(path.c_str(), 0660) != 0 || ::stat(path.c_str(), &st) != 0) {
        const int e = errno;
        ::unlink(path.c_str());
        return tl::unexpected(what + ": " + errno_text(e));
    }
    s->dev_ = st.st_dev;
    s->ino_ = st.st_ino;
    acc.listen(static_cast<int>(kMaxClients), ec);
    if (ec) return tl::unexpected(what + ": cannot listen: " + ec.message());
    s->shared_->service = &service;
    s->shared_->owner = ::geteuid();
    s->shared_->group = st.st_gid;
    log().info("control socket {} (mode 0660, group {})", path, st.st_gid);
    s->accept();
    return s;
}

ControlServer::~ControlServer() {
    close();
}

std::size_t ControlServer::clients() const {
    return shared_->sessions.size();
}

void ControlServer::accept() {
    acceptor_->acceptor.async_accept([this](boost::system::error_code ec, stream::socket socket) {
        if (ec == asio::error::operation_aborted || !acceptor_->acceptor.is_open()) return;
        if (ec) {
            log().warn("control: accept failed: {}", ec.message());
        } else if (shared_->sessions.size() >= kMaxClients) {
            log().warn("control: {} clients connected already; one more refused", kMaxClients);
            // Not registered as a session: it only says why and goes.
            auto busy = std::make_shared<Session>(std::move(socket), std::make_shared<Shared>());
            busy->reply_and_close(error_reply(
                Error{ErrorCode::Busy, "posternd serves " + std::to_string(kMaxClients) +
                                           " control clients at once; try again"}));
        } else {
            std::make_shared<Session>(std::move(socket), shared_)->start();
        }
        accept();
    });
}

void ControlServer::close() {
    if (!acceptor_->acceptor.is_open()) return;
    boost::system::error_code ec;
    acceptor_->acceptor.close(ec);
    const auto sessions = shared_->sessions;
    for (Session* s : sessions)
        s->stop();
    // Only our own file: a second posternd may have replaced it meanwhile.
    struct stat st {};
    if (::lstat(path_.c_str(), &st) == 0 && st.st_dev == dev_ && st.st_ino == ino_)
        ::unlink(path_.c_str());
    log().debug("control: socket {} closed", path_);
}

}  // namespace postern::daemon::control
