// ControlServer (daemon/control_server.hpp) on a real UNIX socket in a temporary folder: the
// file it makes (folder 0750, socket 0660, removed on close), stale and foreign files, a second
// server on the same path, and the line protocol over the wire (pipelined requests, malformed
// and over-long lines, the client cap). The io_context runs on a thread of its own, as the IKE
// thread does in posternd; the test is the client, with blocking sockets.

#include <boost/test/unit_test.hpp>

#include <grp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <thread>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include "daemon/control_server.hpp"
#include "daemon/dataplane_log.hpp"

using namespace postern;
using namespace postern::daemon;
using namespace postern::daemon::control;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

int connect_to(const std::string& path) {
    const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    std::strncpy(sa.sun_path, path.c_str(), sizeof sa.sun_path - 1);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
        ::close(fd);
        return -1;
    }
    timeval tv{5, 0};  // no test waits forever
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    return fd;
}

void send_all(int fd, const std::string& s) {
    std::size_t done = 0;
    while (done < s.size()) {
        const ssize_t n = ::send(fd, s.data() + done, s.size() - done, MSG_NOSIGNAL);
        if (n <= 0) return;  // the server may close first (over-long lines)
        done += static_cast<std::size_t>(n);
    }
}

// Reads up to and without the next '\n'; "<EOF>" when the server closed first.
struct LineReader {
    int fd;
    std::string buf;
    std::string next() {
        for (;;) {
            if (auto nl = buf.find('\n'); nl != std::string::npos) {
                std::string line = buf.substr(0, nl);
                buf.erase(0, nl + 1);
                return line;
            }
            char tmp[4096];
            const ssize_t n = ::recv(fd, tmp, sizeof tmp, 0);
            if (n <= 0) return "<EOF>";
            buf.append(tmp, static_cast<std::size_t>(n));
        }
    }
    // The server closed: EOF, or a reset when it left part of our data unread.
    bool closed() {
        char c;
        errno = 0;
        const ssize_t n = ::recv(fd, &c, 1, 0);
        return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
    }
};

std::string error_code_of(const std::string& line) {
    auto r = parse_reply(line);
    return r ? std::string("ok") : std::string(to_string(r.error().code));
}

struct Rig {
    fs::path dir;
    std::string path;
    boost::asio::io_context io;
    boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work{
        io.get_executor()};
    ike::Engine engine{ike::EngineConfig{}};
    RecordingDataPlane dp;
    std::unique_ptr<ControlService> service;
    std::thread thread;
    std::unique_ptr<ControlServer> server;

    Rig() {
        char tmpl[] = "/tmp/postern-ctlsock-XXXXXX";
        dir = mkdtemp(tmpl);
        path = (dir / "run" / "postern" / "control.sock").string();
        ControlTarget t;
        t.engine = &engine;
        t.dataplane = &dp;
        t.apply = [](ike::Actions&) {};
        Config c;
        c.file = (dir / "postern.toml").string();
        service = std::make_unique<ControlService>(std::move(t), c);
    }
    // The loop stops before the server goes, as in posternd (everything on one thread).
    ~Rig() {
        stop();
        server.reset();
        fs::remove_all(dir);
    }
    ControlServer* open() {
        auto s = ControlServer::open(io, path, *service);
        BOOST_REQUIRE_MESSAGE(s, (s ? "" : s.error()));
        server = std::move(*s);
        return server.get();
    }
    void run() {
        thread = std::thread([this] { io.run(); });
    }
    void stop() {
        work.reset();
        io.stop();
        if (thread.joinable()) thread.join();
    }
};

mode_t mode_of(const std::string& p) {
    struct stat st {};
    ::lstat(p.c_str(), &st);
    return st.st_mode & 07777;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(control_server)

BOOST_AUTO_TEST_CASE(creates_folder_and_socket_with_modes_and_removes_it) {
    Rig rig;
    auto server = rig.open();
    BOOST_TEST(fs::is_socket(rig.path));
    BOOST_TEST(mode_of(rig.path) == 0660u);
    BOOST_TEST(mode_of((rig.dir / "run" / "postern").string()) == 0750u);
    BOOST_TEST(mode_of((rig.dir / "run").string()) == 0750u);
    server->close();
    BOOST_TEST(!fs::exists(rig.path));
}

BOOST_AUTO_TEST_CASE(answers_requests_in_order) {
    Rig rig;
    rig.open();
    rig.run();
    const int fd = connect_to(rig.path);
    BOOST_REQUIRE(fd >= 0);
    LineReader in{fd, {}};
    // Two requests in one write, a blank line, a malformed one: one reply each, in order,
    // and the connection stays.
    send_all(fd, "{\"cmd\":\"status\"}\n{\"cmd\":\"sa.list\"}\r\n\n{oops\n{\"cmd\":\"x\"}\n");
    const auto status = parse_reply(in.next());
    BOOST_REQUIRE(status);
    BOOST_TEST((*status)["ike_sas"]["total"] == 0);
    const auto list = parse_reply(in.next());
    BOOST_REQUIRE(list);
    BOOST_TEST((*list)["sas"].empty());
    BOOST_TEST(error_code_of(in.next()) == "malformed");
    BOOST_TEST(error_code_of(in.next()) == "unknown_command");
    send_all(fd, "{\"cmd\":\"sa.kill\",\"ids\":[9]}\n");
    const auto kill = parse_reply(in.next());
    BOOST_REQUIRE(kill);
    BOOST_TEST((*kill)["not_found"] == json::parse("[9]"));
    ::close(fd);
}

BOOST_AUTO_TEST_CASE(over_long_line_gets_an_error_and_the_connection_closes) {
    Rig rig;
    rig.open();
    rig.run();
    const int fd = connect_to(rig.path);
    BOOST_REQUIRE(fd >= 0);
    LineReader in{fd, {}};
    send_all(fd, std::string(kMaxLine + 100, 'x'));
    BOOST_TEST(error_code_of(in.next()) == "line_too_long");
    BOOST_TEST(in.closed());
    ::close(fd);

    // A line of exactly kMaxLine octets is read and answered.
    const int fd2 = connect_to(rig.path);
    LineReader in2{fd2, {}};
    std::string line = R"({"cmd":"status"})";
    line += std::string(kMaxLine - line.size(), ' ') + "\n";
    send_all(fd2, line);
    BOOST_TEST(error_code_of(in2.next()) == "ok");
    ::close(fd2);
}

BOOST_AUTO_TEST_CASE(client_cap) {
    Rig rig;
    rig.open();
    rig.run();
    std::vector<int> fds;
    for (std::size_t i = 0; i < kMaxClients; ++i) {
        fds.push_back(connect_to(rig.path));
        // One round trip each, so the server has registered it.
        send_all(fds.back(), "{\"cmd\":\"status\"}\n");
        LineReader in{fds.back(), {}};
        BOOST_TEST(error_code_of(in.next()) == "ok");
    }
    const int extra = connect_to(rig.path);
    LineReader in{extra, {}};
    BOOST_TEST(error_code_of(in.next()) == "busy");
    BOOST_TEST(in.closed());
    ::close(extra);
    // One leaves; a new one is served (once the server has seen the first one go).
    ::close(fds.back());
    fds.pop_back();
    std::string answer;
    for (int attempt = 0; attempt < 100 && answer != "ok"; ++attempt) {
        const int again = connect_to(rig.path);
        send_all(again, "{\"cmd\":\"status\"}\n");
        LineReader in2{again, {}};
        answer = error_code_of(in2.next());
        ::close(again);
        if (answer != "ok") std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    BOOST_TEST(answer == "ok");
    for (int fd : fds)
        ::close(fd);
}

BOOST_AUTO_TEST_CASE(a_second_server_on_the_same_path_is_refused) {
    Rig rig;
    rig.open();
    rig.run();
    boost::asio::io_context io2;
    auto second = ControlServer::open(io2, rig.path, *rig.service);
    BOOST_REQUIRE(!second);
    BOOST_TEST(second.error().find("another posternd is serving it") != std::string::npos,
               second.error());
    BOOST_TEST(fs::is_socket(rig.path));  // the first one's file is untouched
    const int fd = connect_to(rig.path);
    BOOST_TEST(fd >= 0);
    ::close(fd);
}

BOOST_AUTO_TEST_CASE(a_stale_socket_is_replaced) {
    Rig rig;
    fs::create_directories(fs::path(rig.path).parent_path());
    // A socket file nobody listens on: what a killed posternd leaves.
    const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    std::strncpy(sa.sun_path, rig.path.c_str(), sizeof sa.sun_path - 1);
    BOOST_REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0);
    ::close(fd);
    BOOST_REQUIRE(fs::is_socket(rig.path));
    rig.open();
    rig.run();
    const int c = connect_to(rig.path);
    BOOST_TEST(c >= 0);
    ::close(c);
}

BOOST_AUTO_TEST_CASE(something_else_at_the_path_is_left_alone) {
    Rig rig;
    fs::create_directories(fs::path(rig.path).parent_path());
    std::ofstream(rig.path) << "not a socket\n";
    auto s = ControlServer::open(rig.io, rig.path, *rig.service);
    BOOST_REQUIRE(!s);
    BOOST_TEST(s.error().find("something else than a socket is there") != std::string::npos,
               s.error());
    BOOST_TEST(fs::is_regular_file(rig.path));

    auto long_path = ControlServer::open(rig.io, "/tmp/" + std::string(200, 'p'), *rig.service);
    BOOST_REQUIRE(!long_path);
    BOOST_TEST(long_path.error().find("path longer than") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(close_leaves_a_replaced_file_alone) {
    Rig rig;
    auto server = rig.open();
    // Someone else's file now (a second posternd after ours was removed by hand).
    fs::remove(rig.path);
    std::ofstream(rig.path) << "x";
    server->close();
    BOOST_TEST(fs::exists(rig.path));
}

// SO_PEERCRED in use: with the file mode widened by hand, a stranger still gets denied.
BOOST_AUTO_TEST_CASE(a_stranger_is_denied) {
    if (::geteuid() != 0) {
        BOOST_TEST_MESSAGE("skipped: needs root to become someone else");
        return;
    }
    Rig rig;
    rig.open();
    ::chmod((rig.dir / "run").c_str(), 0755);
    ::chmod((rig.dir / "run" / "postern").c_str(), 0755);
    ::chmod(rig.dir.c_str(), 0755);
    ::chmod(rig.path.c_str(), 0666);
    // Forked before the loop's thread starts; the child waits for the go on a pipe.
    int go[2];
    BOOST_REQUIRE(::pipe(go) == 0);
    const pid_t child = ::fork();
    if (child == 0) {
        char c;
        ::close(go[1]);
        if (::read(go[0], &c, 1) != 1) ::_exit(9);
        // nobody:nogroup, in no group of the socket's.
        if (::setgroups(0, nullptr) != 0 || ::setgid(65534) != 0 || ::setuid(65534) != 0)
            ::_exit(10);
        const int fd = connect_to(rig.path);
        if (fd < 0) ::_exit(11);
        send_all(fd, "{\"cmd\":\"sa.kill\",\"user\":\"alice\"}\n");
        LineReader in{fd, {}};
        ::_exit(error_code_of(in.next()) == "denied" && in.closed() ? 0 : 12);
    }
    ::close(go[0]);
    rig.run();
    BOOST_REQUIRE(::write(go[1], "g", 1) == 1);
    ::close(go[1]);
    int status = 0;
    ::waitpid(child, &status, 0);
    BOOST_TEST(WIFEXITED(status));
    BOOST_TEST(WEXITSTATUS(status) == 0);
}

BOOST_AUTO_TEST_CASE(peer_permissions) {
    const uid_t daemon_uid = 998;
    const gid_t group = 997;
    BOOST_TEST(peer_allowed(Peer{1, 0, 0}, daemon_uid, group, {}));               // root
    BOOST_TEST(peer_allowed(Peer{1, 998, 5}, daemon_uid, group, {}));             // posternd's user
    BOOST_TEST(peer_allowed(Peer{1, 1000, 997}, daemon_uid, group, {}));          // primary group
    BOOST_TEST(peer_allowed(Peer{1, 1000, 100}, daemon_uid, group, {100, 997}));  // member
    BOOST_TEST(!peer_allowed(Peer{1, 1000, 100}, daemon_uid, group, {100, 27}));
    BOOST_TEST(!peer_allowed(Peer{1, 65534, 65534}, daemon_uid, group, {}));
}

BOOST_AUTO_TEST_SUITE_END()
