// A fresh database file in a temporary directory, removed with the fixture.
#pragma once

#include <filesystem>
#include <ostream>
#include <string>

#include <boost/test/unit_test.hpp>

#include "db/database.hpp"

namespace postern::db {
inline std::ostream& operator<<(std::ostream& os, ErrorKind k) { return os << to_string(k); }
}  // namespace postern::db

namespace postern::db::test {

struct TempDb {
    std::filesystem::path dir;
    std::string path;
    std::int64_t now = 1'700'000'000;

    TempDb() {
        char tmpl[] = "/tmp/postern-db-XXXXXX";
        dir = ::mkdtemp(tmpl);
        path = (dir / "postern.db").string();
    }
    ~TempDb() { std::filesystem::remove_all(dir); }

    Options options() {
        Options o;
        o.clock = [this] { return now; };
        return o;
    }
    Database open() {
        auto db = Database::open(path, options());
        BOOST_TEST_REQUIRE(db.has_value(), (db ? "" : db.error().message));
        return std::move(*db);
    }
};

}  // namespace postern::db::test
