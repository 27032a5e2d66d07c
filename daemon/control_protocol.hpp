// The control socket's protocol, shared by posternd (daemon/control_server.hpp) and the
// `postern` CLI (daemon/ctl/control_client.hpp): JSON lines over a UNIX stream socket, one
// request object per line in, one reply object per line out, in order. docs/control.md
// describes every request and reply.
//
//   --> {"cmd":"sa.kill","user":"alice"}
//   <-- {"ok":true,"result":{"killed":[7]}}
//   --> {"cmd":"frobnicate"}
//   <-- {"ok":false,"error":{"code":"unknown_command","message":"unknown command \"frobnicate\"
//   ..."}}
//
// Parsing validates first (a JSON object, "cmd" a known string, each field of the right type,
// no unknown field), then builds a Request; every failure names the field and what is wrong.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>
#include <tl/expected.hpp>

#include "daemon/config.hpp"

namespace postern::daemon::control {

// A request line longer than this (without its '\n') is answered with line_too_long and the
// connection is closed.
inline constexpr std::size_t kMaxLine = 64 * 1024;
// Clients served at once; one more is answered with busy and closed.
inline constexpr std::size_t kMaxClients = 16;
inline constexpr const char* kDefaultSocket = "/run/postern/control.sock";
inline constexpr const char* kVersion = "0.1.0";

enum class Command { Status, SaList, SaKill, Reload };
std::string_view to_string(Command c);  // "status", "sa.list", "sa.kill", "reload"

struct Request {
    Command command = Command::Status;
    std::optional<std::string> user;  // sa.list: only this user's SAs; sa.kill: all of them
    std::vector<std::uint64_t> ids;   // sa.kill: these IKE SAs
};

enum class ErrorCode {
    Malformed,       // not JSON, or not an object
    LineTooLong,     // over kMaxLine
    UnknownCommand,  // "cmd" names no command
    BadRequest,      // a field missing, of the wrong type, or unknown
    Denied,          // the peer is neither root nor in the socket's group
    Busy,            // kMaxClients already connected
    ReloadFailed,    // the configuration has an error; nothing changed
    Internal,
};
std::string_view to_string(ErrorCode c);  // "malformed", "line_too_long", ...
std::optional<ErrorCode> error_code_from(std::string_view s);

struct Error {
    ErrorCode code = ErrorCode::Internal;
    std::string message;
};

// One request line (without the '\n').
tl::expected<Request, Error> parse_request(std::string_view line);
// The request as sent by the client (parse_request(encode(to_json(r))) == r).
nlohmann::json to_json(const Request& r);

// {"ok":true,"result":...} and {"ok":false,"error":{"code":...,"message":...}}.
nlohmann::json ok_reply(nlohmann::json result);
nlohmann::json error_reply(const Error& e);
// One reply line: the result, or the daemon's error.
tl::expected<nlohmann::json, Error> parse_reply(std::string_view line);

// One JSON value as one line, '\n' included. Invalid UTF-8 in strings (identities come from
// the network) is replaced, never an exception.
std::string encode(const nlohmann::json& j);

// Where the socket is: [server] control_socket (relative to the config file's folder), else
// kDefaultSocket.
std::string socket_path(const Config& c);

}  // namespace postern::daemon::control
