// postern group ..., postern audit, and where the commands find the database.
#include <fstream>
#include <regex>

#include <boost/test/unit_test.hpp>

#include "cli_capture.hpp"
#include "db/audit_log.hpp"
#include "db/user_store.hpp"

using namespace postern;
using namespace postern::ctl;
using namespace postern::ctl::test;

BOOST_AUTO_TEST_SUITE(cli_user_groups)

BOOST_AUTO_TEST_CASE(group_add_del_list_and_errors) {
    Cli cli;
    BOOST_TEST(cli({"group", "add", "staff"}).code == 0);
    auto dup = cli({"group", "add", "staff"});
    BOOST_TEST(dup.code == kExists);
    BOOST_TEST(dup.err.find("already exists") != std::string::npos, dup.err);
    BOOST_TEST(cli({"group", "add", "bad name"}).code == kUsage);
    BOOST_TEST(cli({"group", "add", "ops"}).code == 0);
    BOOST_TEST(cli({"user", "add", "alice", "--generate", "--group", "staff"}).code == 0);

    auto j = cli({"--json", "group", "list"}).json();
    BOOST_TEST_REQUIRE(j.size() == 2u);
    BOOST_TEST(j[0]["name"] == "ops");
    BOOST_TEST(j[0]["members"] == nlohmann::json::array());
    BOOST_TEST(j[1]["name"] == "staff");
    BOOST_TEST(j[1]["members"] == nlohmann::json({"alice"}));
    auto t = cli({"group", "list"});
    BOOST_TEST(std::regex_search(t.out, std::regex("\nstaff +1 +alice\n")), t.out);

    BOOST_TEST(cli({"group", "del", "staff"}).code == 0);
    BOOST_TEST(cli({"group", "del", "staff"}).code == kNotFound);
    // The members stay users.
    auto u = cli({"--json", "user", "show", "alice"});
    BOOST_TEST(u.code == 0);
    BOOST_TEST(u.json()["groups"] == nlohmann::json::array());
}

BOOST_AUTO_TEST_CASE(members) {
    Cli cli;
    BOOST_TEST(cli({"group", "add", "staff"}).code == 0);
    BOOST_TEST(cli({"user", "add", "bob", "--generate"}).code == 0);
    BOOST_TEST(cli({"user", "add", "alice", "--generate"}).code == 0);
    BOOST_TEST(cli({"group", "member", "add", "staff", "bob"}).code == 0);
    BOOST_TEST(cli({"group", "member", "add", "staff", "alice"}).code == 0);
    BOOST_TEST(cli({"group", "member", "add", "staff", "alice"}).code == 0);  // no-op
    auto list = cli({"group", "member", "list", "staff"});
    BOOST_TEST(list.out == "alice\nbob\n");
    BOOST_TEST(cli({"--json", "group", "member", "list", "staff"}).json() ==
               nlohmann::json({"alice", "bob"}));

    BOOST_TEST(cli({"group", "member", "add", "staff", "nobody"}).code == kNotFound);
    BOOST_TEST(cli({"group", "member", "add", "nogroup", "bob"}).code == kNotFound);
    BOOST_TEST(cli({"group", "member", "list", "nogroup"}).code == kNotFound);
    BOOST_TEST(cli({"group", "member", "del", "staff", "bob"}).code == 0);
    auto again = cli({"group", "member", "del", "staff", "bob"});
    BOOST_TEST(again.code == kNotFound);
    BOOST_TEST(cli({"group", "member", "list", "staff"}).out == "alice\n");
    // Deleting a user drops its memberships.
    BOOST_TEST(cli({"user", "del", "alice"}).code == 0);
    BOOST_TEST(cli({"group", "member", "list", "staff"}).out.empty());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(cli_user_audit)

BOOST_AUTO_TEST_CASE(recent_rows_filter_and_limit) {
    Cli cli;
    {
        auto db = cli.open();
        db::AuditLog log(db);
        log.append(db::AuditEvent::login_failed, "mallory", std::nullopt, "203.0.113.9:4500",
                   "unknown user");
        log.append(db::AuditEvent::login_ok, "alice", "alice", "198.51.100.7:4500");
        log.append(db::AuditEvent::disconnect, "alice", "alice", "198.51.100.7:4500",
                   "deleted by peer");
        log.append(db::AuditEvent::login_ok, "bob", "bob", "198.51.100.8:4500");
    }
    auto j = cli({"--json", "audit"}).json();
    BOOST_TEST_REQUIRE(j.size() == 4u);
    BOOST_TEST(j[0]["identity"] == "bob");
    BOOST_TEST(j[3]["event"] == "login_failed");
    BOOST_TEST(j[3]["user"].is_null());
    BOOST_TEST(j[3]["reason"] == "unknown user");
    BOOST_TEST(j[1]["event"] == "disconnect");

    auto alice = cli({"--json", "audit", "--user", "alice"}).json();
    BOOST_TEST_REQUIRE(alice.size() == 2u);
    BOOST_TEST(alice[0]["event"] == "disconnect");
    BOOST_TEST(alice[1]["event"] == "login_ok");
    BOOST_TEST(cli({"--json", "audit", "--limit", "1"}).json().size() == 1u);

    auto t = cli({"audit"});
    BOOST_TEST(t.code == 0);
    BOOST_TEST(t.out.find("TIME") == 0u);
    BOOST_TEST(std::regex_search(
                   t.out, std::regex("\n\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ +login_failed +"
                                     "mallory +- +203\\.0\\.113\\.9:4500 +unknown user\n")),
               t.out);
    BOOST_TEST(cli({"--json", "audit", "--user", "nobody"}).json() == nlohmann::json::array());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(cli_user_db_path)

BOOST_AUTO_TEST_CASE(db_from_config_relative_to_its_folder_and_db_flag_wins) {
    TempDir t;
    const auto cfg = t.dir / "postern.toml";
    std::ofstream(cfg) << "[server]\nuser_db = \"state/users.db\"\n";
    std::filesystem::create_directories(t.dir / "state");
    GlobalOptions o;
    o.config = cfg.string();
    BOOST_TEST(*resolve_db_path(o) == (t.dir / "state/users.db").string());
    auto r = run_cli({"-c", cfg.string(), "user", "add", "alice", "--generate"});
    BOOST_TEST(r.code == 0, r.err);
    BOOST_TEST(std::filesystem::exists(t.dir / "state/users.db"));
    o.db = "/elsewhere.db";
    BOOST_TEST(*resolve_db_path(o) == "/elsewhere.db");

    GlobalOptions missing;
    missing.config = (t.dir / "none.toml").string();
    BOOST_TEST(!resolve_db_path(missing).has_value());
    auto m = run_cli({"-c", missing.config, "user", "list"});
    BOOST_TEST(m.code == kFailure);
    BOOST_TEST(m.err.find("none.toml: no such file") != std::string::npos, m.err);

    std::ofstream(t.dir / "bad.toml") << "[server]\nuser_dbx = 1\n";
    GlobalOptions bad;
    bad.config = (t.dir / "bad.toml").string();
    auto b = resolve_db_path(bad);
    BOOST_TEST_REQUIRE(!b.has_value());
    BOOST_TEST(b.error().find("bad.toml:2") != std::string::npos, b.error());
}

BOOST_AUTO_TEST_CASE(unopenable_database_is_exit_1) {
    TempDir t;
    auto r = run_cli({"--db", (t.dir / "no/such/dir/x.db").string(), "user", "list"});
    BOOST_TEST(r.code == kFailure);
    BOOST_TEST(r.err.find("postern: open ") == 0u, r.err);
}

BOOST_AUTO_TEST_SUITE_END()
