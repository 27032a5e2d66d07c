// posternd's control socket: a UNIX stream socket (default /run/postern/control.sock, mode
// 0660) served on the IKE thread's io_context, so requests reach the engine without locks.
// Each connection sends JSON request lines and gets one reply line per request
// (daemon/control_protocol.hpp); ControlService answers them.
//
// Limits: a request line is at most kMaxLine octets (a longer one gets line_too_long and the
// connection is closed); at most kMaxClients connections at once (one more gets busy); a
// connection idle for a minute is closed. Peers are checked with SO_PEERCRED: root, posternd's
// own user, or a member of the socket's group (the file mode already keeps others out; this
// is the second lock, and the log names who did what).
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>

#include <boost/asio/io_context.hpp>
#include <tl/expected.hpp>

#include "daemon/control_service.hpp"

namespace postern::daemon::control {

class ControlServer {
  public:
    // Creates the socket at `path` and starts accepting on `io`:
    //  - the parent folder is created (0750) when missing;
    //  - an existing socket file is removed only when nothing answers on it (a posternd that
    //    was killed); when something does, the error says another posternd serves it;
    //  - anything else at `path` (a regular file, a folder) is an error, never removed.
    static tl::expected<std::unique_ptr<ControlServer>, std::string> open(
        boost::asio::io_context& io, const std::string& path, ControlService& service);
    // Closes every connection and removes the socket file (when it is still ours).
    ~ControlServer();
    ControlServer(const ControlServer&) = delete;
    ControlServer& operator=(const ControlServer&) = delete;

    void close();
    const std::string& path() const { return path_; }
    std::size_t clients() const;

    class Session;
    struct Shared;

  private:
    ControlServer(boost::asio::io_context& io, std::string path);
    void accept();

    struct Acceptor;
    std::string path_;
    std::unique_ptr<Acceptor> acceptor_;
    std::shared_ptr<Shared> shared_;
    dev_t dev_ = 0;  // the socket file we made, so close() never removes someone else's
    ino_t ino_ = 0;
};

// Whether a peer may use the socket: root, `owner` (posternd's effective uid), or a member of
// `group` (its primary gid or one of `supplementary`).
bool peer_allowed(const Peer& peer, uid_t owner, gid_t group,
                  const std::vector<gid_t>& supplementary);

}  // namespace postern::daemon::control
