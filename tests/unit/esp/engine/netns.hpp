// Running a test body in a fresh network namespace, for the tests that need the real kernel
// (TUN devices, routes): a forked child unshares CLONE_NEWNET (namespaces are per thread, and
// the host's network is never touched), reports through a pipe one line per event
// ("F <failed check>" or "I <information>"), and the parent turns them into Boost.Test errors
// and messages. Without root or /dev/net/tun, suites using `needs_root_and_tun` are skipped
// with a message on stderr.
#pragma once

#include <fcntl.h>
#include <sched.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <cerrno>
#include <cstring>
#include <functional>
#include <iostream>
#include <string>

#if defined(__SANITIZE_ADDRESS__)
#define POSTERN_TEST_LSAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define POSTERN_TEST_LSAN 1
#endif
#endif
#ifdef POSTERN_TEST_LSAN
#include <sanitizer/lsan_interface.h>
#endif

namespace postern::test {

struct Report {
    int fd;
    void line(char kind, const std::string& text) const {
        std::string s = std::string(1, kind) + " " + text + "\n";
        for (std::size_t off = 0; off < s.size();) {
            ssize_t n = ::write(fd, s.data() + off, s.size() - off);
            if (n <= 0) return;
            off += static_cast<std::size_t>(n);
        }
    }
    void fail(const std::string& text) const { line('F', text); }
    void info(const std::string& text) const { line('I', text); }
};

// A check in the child: records the line and the text, and evaluates to the condition.
#define NS_CHECK(report, cond, text)                                                  \
    ((cond) ? true                                                                    \
            : ((report).fail(std::string("line ") + std::to_string(__LINE__) + ": " + \
                             std::string(text)),                                      \
               false))

inline void run_in_netns(const std::function<void(const Report&)>& body) {
    int p[2];
    BOOST_REQUIRE(::pipe2(p, O_CLOEXEC) == 0);
    pid_t pid = ::fork();
    BOOST_REQUIRE(pid >= 0);
    if (pid == 0) {
        ::close(p[0]);
        Report r{p[1]};
        if (::unshare(CLONE_NEWNET) != 0) {
            r.fail(std::string("unshare(CLONE_NEWNET): ") + std::strerror(errno));
        } else {
            try {
                body(r);
            } catch (const std::exception& e) {
                r.fail(std::string("exception: ") + e.what());
            }
        }
#ifdef POSTERN_TEST_LSAN
        // _exit skips LeakSanitizer's exit check; the child's leaks are checked here instead.
        if (__lsan_do_recoverable_leak_check() != 0) r.fail("LeakSanitizer found leaks");
#endif
        ::_exit(0);  // never run the parent's atexit handlers or Boost.Test's teardown
    }
    ::close(p[1]);
    std::string out;
    char buf[4096];
    for (ssize_t n; (n = ::read(p[0], buf, sizeof buf)) != 0;) {
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) break;
        out.append(buf, static_cast<std::size_t>(n));
    }
    ::close(p[0]);
    int status = 0;
    ::waitpid(pid, &status, 0);
    BOOST_TEST((WIFEXITED(status) && WEXITSTATUS(status) == 0), "child exited abnormally");
    for (std::size_t pos = 0; pos < out.size();) {
        auto end = out.find('\n', pos);
        std::string l = out.substr(pos, end - pos);
        pos = end == std::string::npos ? out.size() : end + 1;
        if (l.rfind("F ", 0) == 0) BOOST_ERROR(l.substr(2));
        if (l.rfind("I ", 0) == 0) BOOST_TEST_MESSAGE(l.substr(2));
    }
}

// Precondition for suites that need the kernel side: root and /dev/net/tun. Boost.Test logs a
// failed precondition only at --log_level=test_suite or finer, so the reason also goes to
// stderr: a run that skipped these cases never reads as a silent pass.
inline boost::test_tools::assertion_result needs_root_and_tun(boost::unit_test::test_unit_id id) {
    boost::test_tools::assertion_result r(false);
    if (::geteuid() != 0)
        r.message() << "SKIPPED: needs root (TUN devices and network namespaces)";
    else if (::access("/dev/net/tun", R_OK | W_OK) != 0)
        r.message() << "SKIPPED: needs /dev/net/tun";
    else
        return true;
    std::cerr << boost::unit_test::framework::get(id, boost::unit_test::TUT_ANY).p_name.get()
              << ": " << r.message().str() << "\n";
    return r;
}

}  // namespace postern::test
