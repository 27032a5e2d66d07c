#include <sys/stat.h>

#include <boost/test/unit_test.hpp>

#include "db/audit_log.hpp"
#include "db/migrations.hpp"
#include "db/psk_store.hpp"
#include "db/user_store.hpp"
#include "temp_db.hpp"

using namespace postern;
using namespace postern::db;

BOOST_AUTO_TEST_SUITE(migrations_and_open)

BOOST_AUTO_TEST_CASE(empty_file_gets_latest_schema_mode_0600_and_wal) {
    test::TempDb t;
    auto db = t.open();
    BOOST_TEST(*db.schema_version() == latest_schema_version());
    struct stat st {};
    BOOST_TEST_REQUIRE(::stat(t.path.c_str(), &st) == 0);
    BOOST_TEST((st.st_mode & 0777) == 0600u);
    auto mode = db.prepare("PRAGMA journal_mode", "t");
    BOOST_TEST_REQUIRE(*mode->step());
    BOOST_TEST(mode->text(0) == "wal");
}

BOOST_AUTO_TEST_CASE(newer_schema_is_refused) {
    test::TempDb t;
    {
        auto db = t.open();
        BOOST_TEST_REQUIRE(db.exec("PRAGMA user_version = 99", "t").has_value());
    }
    auto db = Database::open(t.path, t.options());
    BOOST_TEST_REQUIRE(!db.has_value());
    BOOST_TEST(db.error().kind == ErrorKind::schema_too_new);
    BOOST_TEST(db.error().message.find("schema version 99, newer than") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(later_migration_applies_on_top) {
    test::TempDb t;
    auto db = t.open();
    std::vector<Migration> list(migrations().begin(), migrations().end());
    const int next = latest_schema_version() + 1;
    list.push_back({next, "test", "CREATE TABLE extra (x INTEGER) STRICT;"});
    BOOST_TEST_REQUIRE(apply_migrations(db, list).has_value());
    BOOST_TEST(*db.schema_version() == next);
    BOOST_TEST(db.exec("INSERT INTO extra VALUES (1)", "t").has_value());
    // A failing migration leaves the version where it was.
    list.push_back({next + 1, "broken", "CREATE TABLE extra (y INTEGER);"});
    auto r = apply_migrations(db, list);
    BOOST_TEST_REQUIRE(!r.has_value());
    BOOST_TEST(r.error().message.find("migrate schema to version") != std::string::npos);
    BOOST_TEST(*db.schema_version() == next);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(users)

const Bytes kHash(16, 0xab);

BOOST_AUTO_TEST_CASE(add_get_list_remove_and_errors) {
    test::TempDb t;
    auto db = t.open();
    UserStore users(db);
    auto alice = users.add("alice", ByteView(kHash));
    BOOST_TEST_REQUIRE(alice.has_value());
    BOOST_TEST(alice->has_password);
    BOOST_TEST(alice->enabled);
    BOOST_TEST(alice->created_at == t.now);
    BOOST_TEST(users.add("bob").has_value());

    auto dup = users.add("alice");
    BOOST_TEST_REQUIRE(!dup.has_value());
    BOOST_TEST(dup.error().kind == ErrorKind::already_exists);
    BOOST_TEST(dup.error().message.find("user \"alice\" already exists") == 0u);

    Bytes short_hash(15, 1);
    auto bad = users.add("carol", ByteView(short_hash));
    BOOST_TEST_REQUIRE(!bad.has_value());
    BOOST_TEST(bad.error().kind == ErrorKind::invalid_argument);
    BOOST_TEST(bad.error().message.find("16 bytes, got 15") != std::string::npos);
    BOOST_TEST(!users.set_password_hash("alice", ByteView(short_hash)).has_value());
    BOOST_TEST(users.add("").error().kind == ErrorKind::invalid_argument);

    BOOST_TEST(users.get("nobody").error().kind == ErrorKind::not_found);
    BOOST_TEST(users.remove("nobody").error().kind == ErrorKind::not_found);
    BOOST_TEST(users.set_enabled("nobody", false).error().kind == ErrorKind::not_found);

    auto list = users.list();
    BOOST_TEST_REQUIRE(list->size() == 2u);
    BOOST_TEST((*list)[0].name == "alice");
    BOOST_TEST(!(*list)[1].has_password);
    BOOST_TEST(users.remove("bob").has_value());
    BOOST_TEST(users.list()->size() == 1u);
}

BOOST_AUTO_TEST_CASE(credentials_flags_attributes_addresses_login) {
    test::TempDb t;
    auto db = t.open();
    UserStore users(db);
    BOOST_TEST_REQUIRE(users.add("alice").has_value());
    BOOST_TEST(users.credentials("alice")->nt_hash.empty());
    BOOST_TEST(users.set_password_hash("alice", ByteView(kHash)).has_value());
    auto c = users.credentials("alice");
    BOOST_TEST(c->nt_hash.view().size() == 16u);
    BOOST_TEST(c->nt_hash.data()[0] == 0xab);
    BOOST_TEST(users.set_enabled("alice", false).has_value());
    BOOST_TEST(!users.credentials("alice")->enabled);
    BOOST_TEST(users.clear_password("alice").has_value());
    BOOST_TEST(!users.get("alice")->has_password);

    BOOST_TEST(users.set_attributes("alice", R"({"dns":"10.0.0.1"})").has_value());
    BOOST_TEST(users.get("alice")->attributes == R"({"dns":"10.0.0.1"})");
    auto bad = users.set_attributes("alice", "[1,2");
    BOOST_TEST_REQUIRE(!bad.has_value());
    BOOST_TEST(bad.error().kind == ErrorKind::invalid_argument);
    BOOST_TEST(users.set_attributes("alice", "[1]").error().kind == ErrorKind::invalid_argument);

    auto v4 = IpAddress::parse("10.0.0.7");
    BOOST_TEST(users.set_static_address("alice", IpAddress::Family::V4, v4).has_value());
    BOOST_TEST((users.get("alice")->static_ipv4 == v4));
    BOOST_TEST(users.set_static_address("alice", IpAddress::Family::V6, v4).error().kind ==
               ErrorKind::invalid_argument);
    BOOST_TEST_REQUIRE(users.add("bob").has_value());
    auto taken = users.set_static_address("bob", IpAddress::Family::V4, v4);
    BOOST_TEST(taken.error().kind == ErrorKind::already_exists);
    BOOST_TEST(users.set_static_address("alice", IpAddress::Family::V4, std::nullopt).has_value());
    BOOST_TEST(!users.get("alice")->static_ipv4.has_value());

    t.now += 60;
    BOOST_TEST(users.record_login("alice").has_value());
    BOOST_TEST(*users.get("alice")->last_login == t.now);
}

BOOST_AUTO_TEST_CASE(groups_and_membership) {
    test::TempDb t;
    auto db = t.open();
    UserStore users(db);
    BOOST_TEST_REQUIRE(users.add("alice").has_value());
    BOOST_TEST_REQUIRE(users.add("bob").has_value());
    BOOST_TEST_REQUIRE(users.add_group("staff").has_value());
    BOOST_TEST_REQUIRE(users.add_group("admins").has_value());
    BOOST_TEST(users.add_group("staff").error().kind == ErrorKind::already_exists);
    BOOST_TEST(users.add_member("staff", "alice").has_value());
    BOOST_TEST(users.add_member("staff", "alice").has_value());  // idempotent
    BOOST_TEST(users.add_member("admins", "alice").has_value());
    BOOST_TEST(users.add_member("staff", "bob").has_value());
    BOOST_TEST(users.add_member("nogroup", "bob").error().kind == ErrorKind::not_found);
    BOOST_TEST(users.add_member("staff", "nobody").error().message == "no user \"nobody\"");
    BOOST_TEST((*users.groups_of("alice") == std::vector<std::string>{"admins", "staff"}));
    BOOST_TEST((*users.members_of("staff") == std::vector<std::string>{"alice", "bob"}));
    BOOST_TEST(users.remove_member("admins", "bob").error().kind == ErrorKind::not_found);
    BOOST_TEST(users.remove_member("staff", "bob").has_value());
    BOOST_TEST(users.remove("alice").has_value());  // memberships go with the user
    BOOST_TEST(users.members_of("staff")->empty());
    BOOST_TEST(users.remove_group("admins").has_value());
    BOOST_TEST(users.remove_group("admins").error().kind == ErrorKind::not_found);
    BOOST_TEST(users.groups_of("nobody").error().kind == ErrorKind::not_found);
}

BOOST_AUTO_TEST_CASE(psk_store) {
    test::TempDb t;
    auto db = t.open();
    PskStore psks(db);
    const Bytes s1{'s', 'e', 'c'}, s2{'n', 'e', 'w'};
    BOOST_TEST(psks.get("gw.example.com").error().kind == ErrorKind::not_found);
    BOOST_TEST(psks.set("gw.example.com", ByteView(s1)).has_value());
    BOOST_TEST(psks.set("gw.example.com", ByteView(s2)).has_value());
    auto got = psks.get("gw.example.com");
    BOOST_TEST((Bytes(got->view().begin(), got->view().end()) == s2));
    BOOST_TEST(psks.set("x", ByteView{}).error().kind == ErrorKind::invalid_argument);
    BOOST_TEST((*psks.identities() == std::vector<std::string>{"gw.example.com"}));
    BOOST_TEST(psks.remove("gw.example.com").has_value());
    BOOST_TEST(psks.remove("gw.example.com").error().kind == ErrorKind::not_found);
}

BOOST_AUTO_TEST_CASE(audit_log_append_query_prune) {
    test::TempDb t;
    auto db = t.open();
    AuditLog log(db);
    BOOST_TEST(log.append(AuditEvent::login_ok, "alice", "alice", "198.51.100.7:4500").has_value());
    t.now += 100;
    BOOST_TEST(log.append(AuditEvent::login_failed, "mallory", std::nullopt, "203.0.113.9:500",
                          "unknown user")
                   .has_value());
    BOOST_TEST(log.append(AuditEvent::disconnect, "alice", "alice", "198.51.100.7:4500")
                   .has_value());
    auto recent = log.recent(10);
    BOOST_TEST_REQUIRE(recent->size() == 3u);
    BOOST_TEST(((*recent)[0].event == AuditEvent::disconnect));
    BOOST_TEST((*recent)[1].reason == "unknown user");
    BOOST_TEST(!(*recent)[1].user.has_value());
    BOOST_TEST(log.recent(1)->size() == 1u);
    BOOST_TEST(log.by_user("alice", 10)->size() == 2u);
    BOOST_TEST(*log.prune(t.now) == 1);
    BOOST_TEST(log.recent(10)->size() == 2u);
}

BOOST_AUTO_TEST_SUITE_END()
