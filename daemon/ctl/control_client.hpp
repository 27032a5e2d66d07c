// The `postern` side of posternd's control socket (daemon/control_protocol.hpp): connect, send
// one request line, read one reply line. Blocking, with a time limit on each step; nothing here
// prints (control_commands.cpp turns the errors into messages and exit codes).
#pragma once

#include <chrono>
#include <string>

#include <nlohmann/json.hpp>
#include <tl/expected.hpp>

#include "daemon/control_protocol.hpp"

namespace postern::ctl {

struct ControlError {
    enum class Kind {
        NotRunning,   // no socket file, or nothing listens on it (ENOENT, ECONNREFUSED)
        Unreachable,  // connecting failed otherwise (EACCES, path too long, ...)
        Io,           // sending or reading failed, timed out, or the reply is not ours
        Daemon,       // posternd answered with an error (`code`)
    };
    Kind kind = Kind::Io;
    daemon::control::ErrorCode code = daemon::control::ErrorCode::Internal;
    std::string message;  // why, without the path
};

inline constexpr std::chrono::seconds kControlTimeout{30};

// Sends `request` to the socket at `path` on a connection of its own; the reply's result.
tl::expected<nlohmann::json, ControlError> control_request(
    const std::string& path, const daemon::control::Request& request,
    std::chrono::milliseconds timeout = kControlTimeout);

// The same for a raw line (tests send malformed ones); the reply line without its '\n'.
tl::expected<std::string, ControlError> control_exchange(const std::string& path,
                                                         const std::string& line,
                                                         std::chrono::milliseconds timeout);

}  // namespace postern::ctl
