// The control socket's JSON lines (daemon/control_protocol.hpp): every request parses and
// round-trips, and every malformed line gets the error code and reason it should.

#include <boost/test/unit_test.hpp>

#include "daemon/control_protocol.hpp"

using namespace postern::daemon;
using namespace postern::daemon::control;

namespace {

// The error of a line that must not parse.
Error refused(const std::string& line) {
    auto r = parse_request(line);
    BOOST_REQUIRE_MESSAGE(!r, "accepted: " + line);
    return r.error();
}

void expect_error(const std::string& line, ErrorCode code, const std::string& part) {
    const Error e = refused(line);
    BOOST_TEST(to_string(e.code) == to_string(code), line + " -> " + e.message);
    BOOST_TEST(e.message.find(part) != std::string::npos, line + " -> " + e.message);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(control_protocol)

BOOST_AUTO_TEST_CASE(each_command_parses) {
    auto status = parse_request(R"({"cmd":"status"})");
    BOOST_REQUIRE(status);
    BOOST_TEST((status->command == Command::Status));

    auto list = parse_request(R"({"cmd":"sa.list","user":"alice"})");
    BOOST_REQUIRE(list);
    BOOST_TEST((list->command == Command::SaList));
    BOOST_TEST(list->user.value_or("") == "alice");
    auto all = parse_request(R"({"cmd":"sa.list"})");
    BOOST_REQUIRE(all);
    BOOST_TEST(!all->user);

    auto kill = parse_request(R"( {"ids":[3, 18446744073709551615], "cmd":"sa.kill"} )");
    BOOST_REQUIRE(kill);
    BOOST_TEST((kill->command == Command::SaKill));
    BOOST_TEST(kill->ids == (std::vector<std::uint64_t>{3, 18446744073709551615ull}));
    auto kill_user = parse_request(R"({"cmd":"sa.kill","user":"bob@example.com"})");
    BOOST_REQUIRE(kill_user);
    BOOST_TEST(kill_user->user.value_or("") == "bob@example.com");

    auto reload = parse_request(R"({"cmd":"reload"})");
    BOOST_REQUIRE(reload);
    BOOST_TEST((reload->command == Command::Reload));
}

BOOST_AUTO_TEST_CASE(requests_round_trip) {
    const std::vector<Request> requests{
        {Command::Status, std::nullopt, {}},
        {Command::SaList, std::nullopt, {}},
        {Command::SaList, std::string("alice"), {}},
        {Command::SaKill, std::nullopt, {1, 2, 3}},
        {Command::SaKill, std::string("ünïcode user"), {}},
        {Command::Reload, std::nullopt, {}},
    };
    for (const auto& r : requests) {
        const std::string line = encode(to_json(r));
        BOOST_TEST(line.back() == '\n');
        BOOST_TEST(line.find('\n') == line.size() - 1);
        auto back = parse_request(std::string_view(line).substr(0, line.size() - 1));
        BOOST_REQUIRE_MESSAGE(back, line);
        BOOST_TEST((back->command == r.command));
        BOOST_TEST((back->user == r.user));
        BOOST_TEST(back->ids == r.ids);
    }
}

BOOST_AUTO_TEST_CASE(malformed_lines) {
    expect_error("", ErrorCode::Malformed, "not a JSON value");
    expect_error("status", ErrorCode::Malformed, "not a JSON value");
    expect_error(R"({"cmd":"status")", ErrorCode::Malformed, "not a JSON value");
    expect_error(R"({"cmd":"status"} {"cmd":"status"})", ErrorCode::Malformed, "not a JSON");
    expect_error("[1,2]", ErrorCode::Malformed, "not array");
    expect_error("\"status\"", ErrorCode::Malformed, "not string");
    expect_error("\xff\xfe{}", ErrorCode::Malformed, "not a JSON value");
}

BOOST_AUTO_TEST_CASE(bad_fields) {
    expect_error("{}", ErrorCode::BadRequest, "\"cmd\" is missing");
    expect_error(R"({"cmd":7})", ErrorCode::BadRequest, "\"cmd\" must be a string, not number");
    expect_error(R"({"cmd":"status","user":"alice"})", ErrorCode::BadRequest,
                 "\"status\" takes no field \"user\"");
    expect_error(R"({"cmd":"reload","ids":[1]})", ErrorCode::BadRequest, "takes no field \"ids\"");
    expect_error(R"({"cmd":"sa.list","ids":[1]})", ErrorCode::BadRequest, "takes no field \"ids\"");
    expect_error(R"({"cmd":"sa.list","user":5})", ErrorCode::BadRequest,
                 "\"user\" must be a string, not number");
    expect_error(R"({"cmd":"sa.list","user":""})", ErrorCode::BadRequest, "\"user\" is empty");
    expect_error(R"({"cmd":"sa.kill"})", ErrorCode::BadRequest, "needs \"ids\" (non-empty) or");
    expect_error(R"({"cmd":"sa.kill","ids":[]})", ErrorCode::BadRequest, "needs \"ids\"");
    expect_error(R"({"cmd":"sa.kill","ids":[1],"user":"a"})", ErrorCode::BadRequest, "not both");
    expect_error(R"({"cmd":"sa.kill","ids":"3"})", ErrorCode::BadRequest,
                 "\"ids\" must be an array of IKE SA ids, not string");
    expect_error(R"({"cmd":"sa.kill","ids":[1,-2]})", ErrorCode::BadRequest,
                 "\"ids\"[1] must be a non-negative integer");
    expect_error(R"({"cmd":"sa.kill","ids":[1.5]})", ErrorCode::BadRequest, "\"ids\"[0]");
    expect_error(R"({"cmd":"sa.kill","ids":[18446744073709551616]})", ErrorCode::BadRequest,
                 "\"ids\"[0]");
}

BOOST_AUTO_TEST_CASE(unknown_command_names_the_known_ones) {
    expect_error(R"({"cmd":"frobnicate"})", ErrorCode::UnknownCommand,
                 "unknown command \"frobnicate\" (known: status, sa.list, sa.kill, reload)");
    // A long name is cut in the message.
    const Error e = refused(R"({"cmd":")" + std::string(1000, 'x') + "\"}");
    BOOST_TEST(to_string(e.code) == "unknown_command");
    BOOST_TEST(e.message.size() < 200u);
}

BOOST_AUTO_TEST_CASE(line_length_bound) {
    // Exactly kMaxLine octets is fine (padding with spaces); one more is refused unread.
    std::string ok = R"({"cmd":"status"})";
    ok += std::string(kMaxLine - ok.size(), ' ');
    BOOST_TEST(ok.size() == kMaxLine);
    BOOST_TEST(parse_request(ok).has_value());
    expect_error(ok + " ", ErrorCode::LineTooLong, "at most 65536");
}

// Every prefix of a valid request is refused with a reason, never accepted or thrown.
BOOST_AUTO_TEST_CASE(every_prefix_is_refused) {
    const std::string line = R"({"cmd":"sa.kill","ids":[12,34]})";
    for (std::size_t n = 0; n < line.size(); ++n) {
        auto r = parse_request(std::string_view(line).substr(0, n));
        BOOST_TEST(!r.has_value(), n);
        if (!r) BOOST_TEST(!r.error().message.empty());
    }
    BOOST_TEST(parse_request(line).has_value());
}

BOOST_AUTO_TEST_CASE(replies) {
    const auto ok = parse_reply(encode(ok_reply({{"killed", {7}}})));
    BOOST_REQUIRE(ok);
    BOOST_TEST((*ok)["killed"][0].get<int>() == 7);

    const auto err = parse_reply(encode(error_reply(Error{ErrorCode::ReloadFailed, "f:3: k: m"})));
    BOOST_REQUIRE(!err);
    BOOST_TEST(to_string(err.error().code) == "reload_failed");
    BOOST_TEST(err.error().message == "f:3: k: m");

    BOOST_TEST(!parse_reply("garbage"));
    BOOST_TEST(!parse_reply(R"({"result":1})"));
    const auto odd = parse_reply(R"({"ok":false,"error":{"code":"new_in_v9","message":"x"}})");
    BOOST_REQUIRE(!odd);
    BOOST_TEST(to_string(odd.error().code) == "internal");
    BOOST_TEST(odd.error().message == "x");
    for (auto c : {ErrorCode::Malformed, ErrorCode::LineTooLong, ErrorCode::UnknownCommand,
                   ErrorCode::BadRequest, ErrorCode::Denied, ErrorCode::Busy,
                   ErrorCode::ReloadFailed, ErrorCode::Internal})
        BOOST_TEST((error_code_from(to_string(c)) == c));
}

// Identities come from the network: invalid UTF-8 must not make encode() throw.
BOOST_AUTO_TEST_CASE(encode_replaces_invalid_utf8) {
    const std::string line = encode(nlohmann::json{{"user", std::string("bad\xff\xfe\n")}});
    BOOST_TEST(line.find('\n') == line.size() - 1);
    BOOST_TEST(nlohmann::json::accept(line));
}

BOOST_AUTO_TEST_CASE(socket_path_from_config) {
    Config c;
    BOOST_TEST(socket_path(c) == "/run/postern/control.sock");
    c.dir = "/etc/postern";
    c.control_socket = "/var/run/p.sock";
    BOOST_TEST(socket_path(c) == "/var/run/p.sock");
    c.control_socket = "run/../ctl.sock";
    BOOST_TEST(socket_path(c) == "/etc/postern/ctl.sock");
}

BOOST_AUTO_TEST_SUITE_END()
