#include "daemon/control_protocol.hpp"

#include <array>
#include <filesystem>
#include <limits>
#include <utility>

namespace postern::daemon::control {

using nlohmann::json;

namespace {

constexpr std::array<std::pair<Command, std::string_view>, 4> kCommands{{
    {Command::Status, "status"},
    {Command::SaList, "sa.list"},
    {Command::SaKill, "sa.kill"},
    {Command::Reload, "reload"},
}};

constexpr std::array<std::pair<ErrorCode, std::string_view>, 8> kCodes{{
    {ErrorCode::Malformed, "malformed"},
    {ErrorCode::LineTooLong, "line_too_long"},
    {ErrorCode::UnknownCommand, "unknown_command"},
    {ErrorCode::BadRequest, "bad_request"},
    {ErrorCode::Denied, "denied"},
    {ErrorCode::Busy, "busy"},
    {ErrorCode::ReloadFailed, "reload_failed"},
    {ErrorCode::Internal, "internal"},
}};

tl::unexpected<Error> bad(ErrorCode code, std::string message) {
    return tl::unexpected(Error{code, std::move(message)});
}

std::string command_list() {
    std::string s;
    for (const auto& [c, name] : kCommands)
        s += (s.empty() ? "" : ", ") + std::string(name);
    return s;
}

// The JSON type of a value, as a person would name it in an error.
std::string type_of(const json& j) {
    return j.type_name();
}

}  // namespace

std::string_view to_string(Command c) {
    for (const auto& [k, name] : kCommands)
        if (k == c) return name;
    return "?";
}

std::string_view to_string(ErrorCode c) {
    for (const auto& [k, name] : kCodes)
        if (k == c) return name;
    return "internal";
}

std::optional<ErrorCode> error_code_from(std::string_view s) {
    for (const auto& [k, name] : kCodes)
        if (name == s) return k;
    return std::nullopt;
}

tl::expected<Request, Error> parse_request(std::string_view line) {
    if (line.size() > kMaxLine)
        return bad(ErrorCode::LineTooLong, "request of " + std::to_string(line.size()) +
                                               " octets; at most " + std::to_string(kMaxLine));
    // Validate: a JSON object with a string "cmd".
    json j = json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded()) return bad(ErrorCode::Malformed, "not a JSON value");
    if (!j.is_object())
        return bad(ErrorCode::Malformed, "a request is a JSON object, not " + type_of(j));
    auto cmd = j.find("cmd");
    if (cmd == j.end()) return bad(ErrorCode::BadRequest, "\"cmd\" is missing");
    if (!cmd->is_string())
        return bad(ErrorCode::BadRequest, "\"cmd\" must be a string, not " + type_of(*cmd));
    Request r;
    const auto& name = cmd->get_ref<const std::string&>();
    bool known = false;
    for (const auto& [c, n] : kCommands)
        if (n == name) {
            r.command = c;
            known = true;
        }
    if (!known) {
        std::string shown = name.size() > 64 ? name.substr(0, 64) + "..." : name;
        return bad(ErrorCode::UnknownCommand,
                   "unknown command \"" + shown + "\" (known: " + command_list() + ")");
    }

    // Then interpret each field the command takes.
    const bool takes_user = r.command == Command::SaList || r.command == Command::SaKill;
    const bool takes_ids = r.command == Command::SaKill;
    for (auto it = j.begin(); it != j.end(); ++it) {
        const std::string& key = it.key();
        if (key == "cmd") continue;
        if (key == "user" && takes_user) {
            if (!it->is_string())
                return bad(ErrorCode::BadRequest, "\"user\" must be a string, not " + type_of(*it));
            r.user = it->get<std::string>();
            if (r.user->empty()) return bad(ErrorCode::BadRequest, "\"user\" is empty");
            continue;
        }
        if (key == "ids" && takes_ids) {
            if (!it->is_array())
                return bad(ErrorCode::BadRequest,
                           "\"ids\" must be an array of IKE SA ids, not " + type_of(*it));
            for (std::size_t i = 0; i < it->size(); ++i) {
                const json& v = (*it)[i];
                if (!v.is_number_unsigned())
                    return bad(ErrorCode::BadRequest,
                               "\"ids\"[" + std::to_string(i) + "] must be a non-negative integer");
                r.ids.push_back(v.get<std::uint64_t>());
            }
            continue;
        }
        return bad(ErrorCode::BadRequest,
                   "\"" + std::string(to_string(r.command)) + "\" takes no field \"" + key + "\"");
    }
    if (r.command == Command::SaKill) {
        if (r.user && !r.ids.empty())
            return bad(ErrorCode::BadRequest, "sa.kill takes \"ids\" or \"user\", not both");
        if (!r.user && r.ids.empty())
            return bad(ErrorCode::BadRequest, "sa.kill needs \"ids\" (non-empty) or \"user\"");
    }
    return r;
}

json to_json(const Request& r) {
    json j{{"cmd", std::string(to_string(r.command))}};
    if (r.user) j["user"] = *r.user;
    if (!r.ids.empty()) j["ids"] = r.ids;
    return j;
}

json ok_reply(json result) {
    return json{{"ok", true}, {"result", std::move(result)}};
}

json error_reply(const Error& e) {
    return json{{"ok", false},
                {"error", {{"code", std::string(to_string(e.code))}, {"message", e.message}}}};
}

tl::expected<json, Error> parse_reply(std::string_view line) {
    json j = json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded() || !j.is_object())
        return bad(ErrorCode::Malformed, "the daemon's reply is not a JSON object");
    auto ok = j.find("ok");
    if (ok == j.end() || !ok->is_boolean())
        return bad(ErrorCode::Malformed, "the daemon's reply has no \"ok\"");
    if (ok->get<bool>()) {
        auto result = j.find("result");
        return result == j.end() ? json::object() : *result;
    }
    Error e{ErrorCode::Internal, "the daemon's reply has no error message"};
    auto err = j.find("error");
    if (err != j.end() && err->is_object()) {
        auto code = err->find("code");
        if (code != err->end() && code->is_string())
            e.code = error_code_from(code->get<std::string>()).value_or(ErrorCode::Internal);
        auto msg = err->find("message");
        if (msg != err->end() && msg->is_string()) e.message = msg->get<std::string>();
    }
    return tl::unexpected(std::move(e));
}

std::string encode(const json& j) {
    return j.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
}

std::string socket_path(const Config& c) {
    if (c.control_socket.empty()) return kDefaultSocket;
    std::filesystem::path p(c.control_socket);
    if (p.is_relative() && !c.dir.empty()) p = std::filesystem::path(c.dir) / p;
    return p.lexically_normal().string();
}

}  // namespace postern::daemon::control
