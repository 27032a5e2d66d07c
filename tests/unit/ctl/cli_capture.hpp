// Runs `postern` commands in-process for the tests: a fresh CLI::App with the global options and
// the user and pki groups, argv as a vector, stdin from a string, stdout/stderr captured, the
// exit code main() would return. A temporary folder holds the database (--db) and a control
// socket path where no daemon listens (--socket), so end_user_sas finds nothing to end.
#pragma once

#include <stdlib.h>
#include <CLI/CLI.hpp>

#include <filesystem>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include <boost/test/unit_test.hpp>
#include <nlohmann/json.hpp>

#include "daemon/ctl/cli_util.hpp"
#include "daemon/ctl/commands.hpp"
#include "db/database.hpp"

namespace postern::ctl::test {

struct CliResult {
    int code = -1;
    std::string out, err;
    nlohmann::json json() const {
        auto j = nlohmann::json::parse(out, nullptr, false);
        BOOST_TEST_REQUIRE(!j.is_discarded(), "stdout is not JSON: " << out);
        return j;
    }
    // How often `s` occurs in stdout + stderr.
    std::size_t count(const std::string& s) const {
        std::size_t n = 0;
        for (const std::string* t : {&out, &err})
            for (auto p = t->find(s); p != std::string::npos; p = t->find(s, p + 1))
                ++n;
        return n;
    }
};

// Redirects std::cin/cout/cerr for its lifetime.
class StreamSwap {
  public:
    explicit StreamSwap(const std::string& input) : in_(input) {
        old_in_ = std::cin.rdbuf(in_.rdbuf());
        old_out_ = std::cout.rdbuf(out_.rdbuf());
        old_err_ = std::cerr.rdbuf(err_.rdbuf());
    }
    ~StreamSwap() {
        std::cin.rdbuf(old_in_);
        std::cout.rdbuf(old_out_);
        std::cerr.rdbuf(old_err_);
    }
    std::string out() const { return out_.str(); }
    std::string err() const { return err_.str(); }

  private:
    std::istringstream in_;
    std::ostringstream out_, err_;
    std::streambuf *old_in_, *old_out_, *old_err_;
};

inline CliResult run_cli(std::vector<std::string> args, const std::string& input = "") {
    CLI::App app{"postern"};
    GlobalOptions opts;
    add_global_options(app, opts);
    add_user_commands(app, opts);
    add_pki_commands(app, opts);
    CliResult r;
    {
        StreamSwap s(input);
        r.code = run(app, opts, std::move(args));
        r.out = s.out();
        r.err = s.err();
    }
    return r;
}

struct TempDir {
    std::filesystem::path dir;
    TempDir() {
        char tmpl[] = "/tmp/postern-ctl-XXXXXX";
        dir = ::mkdtemp(tmpl);
    }
    ~TempDir() { std::filesystem::remove_all(dir); }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
};

// A temporary database and a `postern --db ... --socket ...` runner for it.
struct Cli : TempDir {
    std::string db = (dir / "postern.db").string();
    std::string socket = (dir / "no-daemon.sock").string();

    CliResult operator()(std::vector<std::string> args, const std::string& input = "") const {
        args.insert(args.begin(), {"--db", db, "--socket", socket});
        return run_cli(std::move(args), input);
    }
    db::Database open() const {
        auto d = db::Database::open(db);
        BOOST_TEST_REQUIRE(d.has_value(), (d ? "" : d.error().message));
        return std::move(*d);
    }
};

}  // namespace postern::ctl::test
