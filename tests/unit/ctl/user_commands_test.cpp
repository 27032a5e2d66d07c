// postern user ...: every command's success and error paths against a temporary database.
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdio>
#include <regex>
#include <set>
#include <thread>

#include <boost/test/unit_test.hpp>

#include "cli_capture.hpp"
#include "daemon/ctl/user_password.hpp"
#include "db/audit_log.hpp"
#include "db/user_store.hpp"

using namespace postern;
using namespace postern::ctl;
using namespace postern::ctl::test;

namespace {

std::string hex(ByteView b) {
    static const char* d = "0123456789ABCDEF";
    std::string s;
    for (auto c : b) {
        s += d[c >> 4];
        s += d[c & 15];
    }
    return s;
}

std::string stored_hash(const Cli& cli, const std::string& user) {
    auto db = cli.open();
    auto c = db::UserStore(db).credentials(user);
    BOOST_TEST_REQUIRE(c.has_value());
    return hex(c->nt_hash.view());
}

bool user_exists(const Cli& cli, const std::string& user) {
    auto db = cli.open();
    return db::UserStore(db).get(user).has_value();
}

// The password a command printed ("... (shown once, not stored): <password>").
std::string printed_password(const std::string& out) {
    std::smatch m;
    BOOST_TEST_REQUIRE(std::regex_search(out, m, std::regex("not stored\\): (\\S+)")), out);
    return m[1];
}

}  // namespace

BOOST_AUTO_TEST_SUITE(cli_user_add)

// RFC 2759 §9.2: NtPasswordHash("clientPass") = 44EBBA8D5312B8D611474411F56989AE.
BOOST_AUTO_TEST_CASE(password_stdin_stores_the_rfc2759_nt_hash_and_never_echoes_it) {
    Cli cli;
    auto r = cli({"user", "add", "alice", "--password-stdin"}, "clientPass\n");
    BOOST_TEST(r.code == 0, r.err);
    BOOST_TEST(r.count("clientPass") == 0u);
    BOOST_TEST(r.out.find("Added user alice") != std::string::npos);
    BOOST_TEST(stored_hash(cli, "alice") == "44EBBA8D5312B8D611474411F56989AE");
    // The password itself is nowhere in the file.
    auto db = cli.open();
    auto st = db.prepare(
        "SELECT count(*) FROM users WHERE CAST(nt_hash AS TEXT) LIKE "
        "'%clientPass%' OR attributes LIKE '%clientPass%'",
        "t");
    BOOST_TEST_REQUIRE(*st->step());
    BOOST_TEST(st->int64(0) == 0);
}

BOOST_AUTO_TEST_CASE(crlf_line_is_the_same_password) {
    Cli cli;
    BOOST_TEST(cli({"user", "add", "alice", "--password-stdin"}, "clientPass\r\n").code == 0);
    BOOST_TEST(stored_hash(cli, "alice") == "44EBBA8D5312B8D611474411F56989AE");
}

BOOST_AUTO_TEST_CASE(generated_password_is_printed_once_and_is_the_one_stored) {
    Cli cli;
    auto r = cli({"user", "add", "bob", "--generate"});
    BOOST_TEST_REQUIRE(r.code == 0, r.err);
    const std::string pw = printed_password(r.out);
    BOOST_TEST(
        std::regex_match(pw, std::regex("([a-km-zA-HJ-NP-Z2-9]{5}-){3}[a-km-zA-HJ-NP-Z2-9]{5}")),
        pw);
    BOOST_TEST(r.count(pw) == 1u);
    auto hash = nt_hash_of(Password(pw));
    BOOST_TEST_REQUIRE(hash.has_value());
    BOOST_TEST(stored_hash(cli, "bob") == hex(hash->view()));
}

BOOST_AUTO_TEST_CASE(json_output_with_groups_addresses_attributes_and_the_generated_password) {
    Cli cli;
    BOOST_TEST(cli({"group", "add", "staff"}).code == 0);
    BOOST_TEST(cli({"group", "add", "ops"}).code == 0);
    auto r = cli({"--json", "user", "add", "carol", "--generate", "--group", "staff", "--group",
                  "ops", "--ipv4", "10.99.0.7", "--ipv6", "fd00:99::7", "--attr", "dept=eng",
                  "--attr", "note=a=b"});
    BOOST_TEST_REQUIRE(r.code == 0, r.err);
    auto j = r.json();
    BOOST_TEST(j["name"] == "carol");
    BOOST_TEST(j["enabled"] == true);
    BOOST_TEST(j["has_password"] == true);
    BOOST_TEST(j["ipv4"] == "10.99.0.7");
    BOOST_TEST(j["ipv6"] == "fd00:99::7");
    BOOST_TEST(j["groups"] == nlohmann::json({"ops", "staff"}));
    BOOST_TEST(j["attributes"]["dept"] == "eng");
    BOOST_TEST(j["attributes"]["note"] == "a=b");
    const std::string pw = j["password"];
    BOOST_TEST(r.count(pw) == 1u);
    auto hash = nt_hash_of(Password(pw));
    BOOST_TEST(stored_hash(cli, "carol") == hex(hash->view()));
}

BOOST_AUTO_TEST_CASE(duplicate_is_exit_4_and_asks_no_password) {
    Cli cli;
    BOOST_TEST(cli({"user", "add", "alice", "--generate"}).code == 0);
    auto r = cli({"user", "add", "alice", "--password-stdin"}, "clientPass\n");
    BOOST_TEST(r.code == kExists);
    BOOST_TEST(r.err == "postern: user \"alice\" already exists\n");
}

BOOST_AUTO_TEST_CASE(unknown_group_is_exit_3_and_leaves_no_user) {
    Cli cli;
    auto r = cli({"user", "add", "dave", "--generate", "--group", "nosuch"});
    BOOST_TEST(r.code == kNotFound);
    BOOST_TEST(r.err.find("no group \"nosuch\"") != std::string::npos, r.err);
    BOOST_TEST(!user_exists(cli, "dave"));
}

BOOST_AUTO_TEST_CASE(taken_static_address_is_exit_4_and_leaves_no_user) {
    Cli cli;
    BOOST_TEST(cli({"user", "add", "alice", "--generate", "--ipv4", "10.99.0.7"}).code == 0);
    auto r = cli({"user", "add", "bob", "--generate", "--ipv4", "10.99.0.7"});
    BOOST_TEST(r.code == kExists);
    BOOST_TEST(r.err.find("another user's static address") != std::string::npos, r.err);
    BOOST_TEST(!user_exists(cli, "bob"));
}

BOOST_AUTO_TEST_CASE(bad_arguments_are_exit_2) {
    Cli cli;
    struct Case {
        std::vector<std::string> args;
        std::string input, error;
    };
    const std::vector<Case> cases = {
        {{"user", "add", "bad name", "--generate"}, "", "only letters, digits"},
        {{"user", "add", "DOMAIN\\alice", "--generate"}, "", "only letters, digits"},
        {{"user", "add", "-x", "--generate"}, "", ""},  // CLI11: not a positional
        {{"user", "add", ".hidden", "--generate"}, "", "must start with a letter or a digit"},
        {{"user", "add", std::string(65, 'a'), "--generate"}, "", "longer than 64"},
        {{"user", "add", "alice", "--generate", "--ipv4", "10.0.0.300"}, "", "not an IP address"},
        {{"user", "add", "alice", "--generate", "--ipv4", "fd00::1"}, "", "is an IPv6 address"},
        {{"user", "add", "alice", "--generate", "--ipv6", "10.0.0.1"}, "", "is an IPv4 address"},
        {{"user", "add", "alice", "--generate", "--attr", "novalue"}, "", "is not key=value"},
        {{"user", "add", "alice", "--generate", "--attr", "=v"}, "", "is not key=value"},
        {{"user", "add", "alice", "--password-stdin"}, "", "no password on stdin"},
        {{"user", "add", "alice", "--password-stdin"}, "\n", "empty password"},
        {{"user", "add", "alice", "--password-stdin"}, std::string(257, 'x') + "\n", "refused"},
        {{"user", "add", "alice", "--password-stdin", "--generate"}, "", "excludes"},
        {{"user", "add"}, "", "name is required"},
        {{"user"}, "", "subcommand is required"},
        {{"user", "frobnicate"}, "", ""},
    };
    for (const auto& c : cases) {
        auto r = cli(c.args, c.input);
        BOOST_TEST(r.code == kUsage, c.args.back() << ": " << r.err);
        BOOST_TEST(r.err.find(c.error) != std::string::npos, r.err);
    }
    BOOST_TEST(!user_exists(cli, "alice"));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(cli_user_edit)

BOOST_AUTO_TEST_CASE(del_removes_and_unknown_is_exit_3) {
    Cli cli;
    BOOST_TEST(cli({"user", "add", "alice", "--generate"}).code == 0);
    auto r = cli({"--json", "user", "del", "alice"});
    BOOST_TEST(r.code == 0, r.err);
    BOOST_TEST(r.json()["deleted"] == "alice");
    BOOST_TEST(!user_exists(cli, "alice"));
    auto again = cli({"user", "del", "alice"});
    BOOST_TEST(again.code == kNotFound);
    BOOST_TEST(again.err == "postern: no user \"alice\"\n");
}

BOOST_AUTO_TEST_CASE(passwd_changes_the_hash_and_unknown_is_exit_3) {
    Cli cli;
    BOOST_TEST(cli({"user", "add", "alice", "--generate"}).code == 0);
    auto r = cli({"user", "passwd", "alice", "--password-stdin"}, "clientPass\n");
    BOOST_TEST(r.code == 0, r.err);
    BOOST_TEST(r.count("clientPass") == 0u);
    BOOST_TEST(stored_hash(cli, "alice") == "44EBBA8D5312B8D611474411F56989AE");
    auto gen = cli({"--json", "user", "passwd", "alice", "--generate"});
    BOOST_TEST_REQUIRE(gen.code == 0);
    auto hash = nt_hash_of(Password(gen.json()["password"].get<std::string>()));
    BOOST_TEST(stored_hash(cli, "alice") == hex(hash->view()));
    auto unknown = cli({"user", "passwd", "nobody", "--password-stdin"}, "x\n");
    BOOST_TEST(unknown.code == kNotFound);
}

BOOST_AUTO_TEST_CASE(disable_and_enable) {
    Cli cli;
    BOOST_TEST(cli({"user", "add", "alice", "--generate"}).code == 0);
    auto r = cli({"--json", "user", "disable", "alice"});
    BOOST_TEST(r.code == 0, r.err);
    BOOST_TEST(r.json()["enabled"] == false);
    {
        auto db = cli.open();
        BOOST_TEST(!db::UserStore(db).get("alice")->enabled);
    }
    BOOST_TEST(cli({"user", "enable", "alice"}).code == 0);
    {
        auto db = cli.open();
        BOOST_TEST(db::UserStore(db).get("alice")->enabled);
    }
    BOOST_TEST(cli({"user", "disable", "nobody"}).code == kNotFound);
    BOOST_TEST(cli({"user", "enable", "nobody"}).code == kNotFound);
}

BOOST_AUTO_TEST_CASE(set_addresses_and_attributes) {
    Cli cli;
    BOOST_TEST(cli({"user", "add", "alice", "--generate", "--attr", "a=1", "--attr", "b=2"}).code ==
               0);
    auto r = cli({"--json", "user", "set", "alice", "--ipv4", "10.99.0.9", "--ipv6", "fd00::9",
                  "--attr", "c=3", "--unset-attr", "a"});
    BOOST_TEST_REQUIRE(r.code == 0, r.err);
    auto j = r.json();
    BOOST_TEST(j["ipv4"] == "10.99.0.9");
    BOOST_TEST(j["ipv6"] == "fd00::9");
    BOOST_TEST(j["attributes"] == nlohmann::json({{"b", "2"}, {"c", "3"}}));
    auto cleared = cli({"--json", "user", "set", "alice", "--ipv4", "none"});
    BOOST_TEST(cleared.json()["ipv4"].is_null());
    BOOST_TEST(cleared.json()["ipv6"] == "fd00::9");

    BOOST_TEST(cli({"user", "set", "alice"}).code == kUsage);
    BOOST_TEST(cli({"user", "set", "alice", "--ipv4", "fd00::1"}).code == kUsage);
    BOOST_TEST(cli({"user", "set", "alice", "--attr", "x"}).code == kUsage);
    BOOST_TEST(cli({"user", "set", "nobody", "--ipv4", "10.0.0.1"}).code == kNotFound);
    BOOST_TEST(cli({"user", "add", "bob", "--generate", "--ipv6", "fd00::8"}).code == 0);
    BOOST_TEST(cli({"user", "set", "bob", "--ipv6", "fd00::9"}).code == kExists);
    // A refused change leaves the user as it was.
    auto db = cli.open();
    BOOST_TEST(!db::UserStore(db).get("bob")->static_ipv6->to_string().compare("fd00::8"));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(cli_user_read)

BOOST_AUTO_TEST_CASE(list_table_and_json) {
    Cli cli;
    auto empty = cli({"--json", "user", "list"});
    BOOST_TEST(empty.code == 0);
    BOOST_TEST(empty.json() == nlohmann::json::array());
    BOOST_TEST(cli({"group", "add", "staff"}).code == 0);
    BOOST_TEST(cli({"user", "add", "bob", "--generate", "--group", "staff"}).code == 0);
    BOOST_TEST(cli({"user", "add", "alice", "--generate", "--ipv4", "10.99.0.5"}).code == 0);
    BOOST_TEST(cli({"user", "disable", "bob"}).code == 0);
    auto t = cli({"user", "list"});
    BOOST_TEST(t.code == 0);
    BOOST_TEST(t.out.find("NAME") == 0u, t.out);
    BOOST_TEST(
        std::regex_search(t.out, std::regex("\nalice +yes +yes +10\\.99\\.0\\.5 +- +- +-\n")),
        t.out);
    BOOST_TEST(std::regex_search(t.out, std::regex("\nbob +no +yes +- +- +staff +-\n")), t.out);
    auto j = cli({"user", "list", "--json"}).json();  // --json after the subcommand works too
    BOOST_TEST_REQUIRE(j.size() == 2u);
    BOOST_TEST(j[0]["name"] == "alice");
    BOOST_TEST(j[1]["name"] == "bob");
    BOOST_TEST(j[1]["enabled"] == false);
    BOOST_TEST(j[1]["groups"] == nlohmann::json({"staff"}));
}

BOOST_AUTO_TEST_CASE(show_has_the_last_five_audit_rows) {
    Cli cli;
    BOOST_TEST(cli({"user", "add", "alice", "--generate", "--attr", "dept=eng"}).code == 0);
    {
        auto db = cli.open();
        db::AuditLog log(db);
        for (int i = 0; i < 7; ++i)
            log.append(i % 2 ? db::AuditEvent::login_failed : db::AuditEvent::login_ok, "alice",
                       "alice", "198.51.100." + std::to_string(i) + ":4500",
                       i % 2 ? "bad password" : "");
        log.append(db::AuditEvent::login_ok, "bob", "bob", "198.51.100.99:4500");
        db::UserStore(db).record_login("alice");
    }
    auto j = cli({"--json", "user", "show", "alice"}).json();
    BOOST_TEST(j["name"] == "alice");
    BOOST_TEST(j["attributes"]["dept"] == "eng");
    BOOST_TEST(j["last_login"].is_string());
    BOOST_TEST_REQUIRE(j["audit"].size() == 5u);
    BOOST_TEST(j["audit"][0]["peer"] == "198.51.100.6:4500");  // newest first
    BOOST_TEST(j["audit"][4]["peer"] == "198.51.100.2:4500");
    BOOST_TEST(j["audit"][1]["event"] == "login_failed");
    BOOST_TEST(j["audit"][1]["reason"] == "bad password");
    BOOST_TEST(std::regex_match(j["audit"][0]["time"].get<std::string>(),
                                std::regex("\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ")));
    auto t = cli({"user", "show", "alice"});
    BOOST_TEST(t.code == 0);
    BOOST_TEST(t.out.find("attributes  dept=eng\n") != std::string::npos, t.out);
    BOOST_TEST(t.out.find("Recent events:") != std::string::npos);
    BOOST_TEST(t.out.find("198.51.100.1:4500") == std::string::npos);  // sixth newest
    BOOST_TEST(t.out.find("198.51.100.99") == std::string::npos);      // bob's
    auto unknown = cli({"user", "show", "nobody"});
    BOOST_TEST(unknown.code == kNotFound);
    BOOST_TEST(unknown.out.empty());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(cli_user_rules)

BOOST_AUTO_TEST_CASE(name_rule) {
    for (const char* ok :
         {"a", "alice", "alice.smith", "alice@example.com", "bob+vpn", "x_y-z", "0day"})
        BOOST_TEST(!check_name(ok).has_value(), ok);
    for (const char* bad :
         {"", "a b", "DOMAIN\\user", "-x", "@x", "tab\there", "caf\xc3\xa9", "a/b", "a:b"})
        BOOST_TEST(check_name(bad).has_value(), bad);
    BOOST_TEST(!check_name(std::string(64, 'a')).has_value());
    BOOST_TEST(check_name(std::string(65, 'a')).has_value());
}

BOOST_AUTO_TEST_CASE(password_source) {
    BOOST_TEST(int(choose_password_source(true, false, true)) == int(PasswordSource::stdin_line));
    BOOST_TEST(int(choose_password_source(false, true, true)) == int(PasswordSource::generate));
    BOOST_TEST(int(choose_password_source(false, false, true)) == int(PasswordSource::prompt));
    BOOST_TEST(int(choose_password_source(false, false, false)) == int(PasswordSource::generate));
}

BOOST_AUTO_TEST_CASE(generated_passwords_differ_and_use_the_whole_alphabet_only) {
    std::set<std::string> seen;
    std::set<char> chars;
    for (int i = 0; i < 200; ++i) {
        auto p = generate_password();
        BOOST_TEST_REQUIRE(p.text().size() == 23u);
        seen.insert(p.text());
        for (char c : p.text())
            if (c != '-') chars.insert(c);
    }
    BOOST_TEST(seen.size() == 200u);
    for (char c : std::string("0O1lIo"))
        BOOST_TEST(!chars.count(c), c);
    BOOST_TEST(chars.size() == 56u);  // 4000 draws from 56 characters: every one appears
}

BOOST_AUTO_TEST_CASE(cli11_parse_errors_exit_2) {
    Cli cli;
    BOOST_TEST(cli({"nosuchcommand"}).code == kUsage);
    BOOST_TEST(cli({"--nosuchflag", "user", "list"}).code == kUsage);
    BOOST_TEST(cli({"audit", "--limit", "zero"}).code == kUsage);
    BOOST_TEST(cli({"audit", "--limit", "0"}).code == kUsage);
    auto help = cli({"user", "--help"});
    BOOST_TEST(help.code == 0);
    BOOST_TEST(help.out.find("passwd") != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(cli_user_end_sas)

// A "daemon" that answers anything with garbage: del/disable still succeed (exit 0, the
// database changed) and say on stderr that the SAs could not be ended.
BOOST_AUTO_TEST_CASE(del_and_disable_warn_when_the_daemon_cannot_end_the_sas) {
    Cli cli;
    BOOST_TEST(cli({"user", "add", "alice", "--generate"}).code == 0);
    BOOST_TEST(cli({"user", "add", "bob", "--generate"}).code == 0);
    const int ls = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    BOOST_TEST_REQUIRE(ls >= 0);
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    std::snprintf(sa.sun_path, sizeof sa.sun_path, "%s", cli.socket.c_str());
    BOOST_TEST_REQUIRE(::bind(ls, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0);
    BOOST_TEST_REQUIRE(::listen(ls, 4) == 0);
    std::thread server([ls] {
        for (int i = 0; i < 2; ++i) {
            const int c = ::accept(ls, nullptr, nullptr);
            if (c < 0) return;
            char buf[4096];
            (void)::read(c, buf, sizeof buf);
            const char reply[] = "not json\n";
            (void)::write(c, reply, sizeof reply - 1);
            ::close(c);
        }
    });
    auto d = cli({"user", "disable", "alice"});
    auto r = cli({"--json", "user", "del", "bob"});
    server.join();
    ::close(ls);
    BOOST_TEST(d.code == 0);
    BOOST_TEST(d.err.find("postern: warning: ") == 0u, d.err);
    BOOST_TEST(d.err.find("alice") != std::string::npos, d.err);
    BOOST_TEST(r.code == 0);
    BOOST_TEST(r.json()["sas_ended"] == false);
    BOOST_TEST(r.err.find("postern: warning: ") == 0u, r.err);
    BOOST_TEST(!user_exists(cli, "bob"));
    auto db = cli.open();
    BOOST_TEST(!db::UserStore(db).get("alice")->enabled);
}

BOOST_AUTO_TEST_CASE(no_daemon_no_warning) {
    Cli cli;
    BOOST_TEST(cli({"user", "add", "alice", "--generate"}).code == 0);
    auto r = cli({"--json", "user", "del", "alice"});
    BOOST_TEST(r.code == 0);
    BOOST_TEST(r.err.empty(), r.err);
    BOOST_TEST(r.json()["sas_ended"] == true);
}

BOOST_AUTO_TEST_SUITE_END()
