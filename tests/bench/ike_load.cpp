// ike_load: an IKEv2 load generator built on Postern's own initiator engine (ike::Engine). It
// opens --count IKE SAs, each with one CHILD_SA, against a responder (posternd or strongSwan's
// charon), keeping at most --concurrency handshakes in flight, and reports what a rush of
// clients would see:
//
//   ike_load --target 192.0.2.1 --local 192.0.2.2 --count 20000 --concurrency 200
//            [--auth psk --psk SECRET | --auth cert --cert EE.pem --key EE.key --ca CA.pem]
//            [--id load@postern.test] [--remote-id %any] [--vip]
//            [--ike-proposal aes256gcm16-prfsha256-x25519] [--esp-proposal aes256gcm16]
//            [--target-pid PID] [--hold SECONDS] [--disconnect] [--timeout SECONDS]
//
// Every SA is a real client's: it answers COOKIE and INVALID_KE_PAYLOAD and retransmits (the
// engine does all of that), requests a virtual IP with --vip, and ignores the CHILD_SA's keys
// (no data plane here: the CHILD_SA is negotiated, not used). It sends no INITIAL_CONTACT (many
// SAs share one identity) and no liveness checks of its own, but answers the responder's.
//
// It prints progress to stderr and, at the end, "key value" lines to stdout:
//   established, failed, child_sas, seconds, rate (SAs/s), latency_ms_p50/p90/p99/max,
//   failure <reason> <count> (one line each), retransmits, cookies, invalid_ke, send_errors,
//   target_rss_kib_before/after (VmRSS of --target-pid), target_hwm_kib,
//   hold_target_cpu_percent (over --hold, of one core), hold_requests_received (the responder's
//   liveness checks and rekeys meanwhile), disconnect_seconds, disconnect_left.
// IKE_LOAD_TRACE=1 in the environment prints every log line of the engine to stderr.
// It exits 0 when every SA was established (and, with --disconnect, deleted), 1 otherwise,
// 2 on a usage error.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "ike/crypto/ke_pool.hpp"
#include "ike/engine.hpp"
#include "postern/sockaddr.hpp"

namespace {

namespace ike = postern::ike;
using postern::Bytes;
using postern::Endpoint;
using postern::IpAddress;
using Clock = ike::Clock;
using TimePoint = ike::TimePoint;

struct Options {
    std::string target, local;
    std::uint16_t port = 500;
    std::uint64_t count = 1000;
    std::uint64_t concurrency = 100;
    std::string auth = "psk";
    std::string psk = "postern-bench-psk-NOT-A-SECRET-0123456789";
    std::string cert, key, ca;
    std::string id = "load@postern.test";
    std::string remote_id = "%any";
    std::string ike_proposal = "aes256gcm16-prfsha256-x25519";
    std::string esp_proposal = "aes256gcm16";
    bool vip = false;
    long target_pid = 0;
    double hold = 0;
    bool disconnect = false;
    double timeout = 600;
};

[[noreturn]] void usage(const std::string& why) {
    std::fprintf(stderr,
                 "ike_load: %s\n"
                 "usage: ike_load --target ADDR --local ADDR [--port 500] [--count N] "
                 "[--concurrency C]\n"
                 "       [--auth psk --psk SECRET | --auth cert --cert PEM --key PEM --ca PEM]\n"
                 "       [--id ID] [--remote-id PATTERN] [--vip] [--ike-proposal P] "
                 "[--esp-proposal P]\n"
                 "       [--target-pid PID] [--hold S] [--disconnect] [--timeout S]\n",
                 why.c_str());
    std::exit(2);
}

Options parse(int argc, char** argv) {
    Options o;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        auto value = [&]() -> std::string {
            if (i + 1 >= argc) usage("missing value for " + a);
            return argv[++i];
        };
        if (a == "--target") o.target = value();
        else if (a == "--local") o.local = value();
        else if (a == "--port") o.port = static_cast<std::uint16_t>(std::stoul(value()));
        else if (a == "--count") o.count = std::stoull(value());
        else if (a == "--concurrency") o.concurrency = std::stoull(value());
        else if (a == "--auth") o.auth = value();
        else if (a == "--psk") o.psk = value();
        else if (a == "--cert") o.cert = value();
        else if (a == "--key") o.key = value();
        else if (a == "--ca") o.ca = value();
        else if (a == "--id") o.id = value();
        else if (a == "--remote-id") o.remote_id = value();
        else if (a == "--ike-proposal") o.ike_proposal = value();
        else if (a == "--esp-proposal") o.esp_proposal = value();
        else if (a == "--vip") o.vip = true;
        else if (a == "--target-pid") o.target_pid = std::stol(value());
        else if (a == "--hold") o.hold = std::stod(value());
        else if (a == "--disconnect") o.disconnect = true;
        else if (a == "--timeout") o.timeout = std::stod(value());
        else usage("unknown option " + a);
    }
    if (o.target.empty() || o.local.empty()) usage("--target and --local are required");
    if (o.auth != "psk" && o.auth != "cert") usage("--auth is psk or cert");
    if (o.auth == "cert" && (o.cert.empty() || o.key.empty() || o.ca.empty()))
        usage("--auth cert needs --cert, --key and --ca");
    if (o.concurrency == 0) usage("--concurrency must be at least 1");
    return o;
}

std::string read_file(const std::string& path) {
    std::ifstream f(path);
    if (!f) usage("cannot read " + path);
    std::stringstream s;
    s << f.rdbuf();
    return s.str();
}

template <class T>
T must(tl::expected<T, std::string> v, const std::string& what) {
    if (!v) usage(what + ": " + v.error());
    return std::move(*v);
}

ike::EngineConfig engine_config(const Options& o) {
    ike::EngineConfig cfg;
    ike::ConnectionConfig c;
    c.name = "load";
    const ike::crypto::AlgorithmPolicy policy;
    c.ike_proposals.push_back(must(
        ike::crypto::parse_proposal(o.ike_proposal, ike::ProtocolId::IKE, policy), "--ike-proposal"));
    c.esp_proposals.push_back(must(
        ike::crypto::parse_proposal(o.esp_proposal, ike::ProtocolId::ESP, policy), "--esp-proposal"));
    c.local_id = must(ike::policy::parse_identity(o.id), "--id");
    c.remote_id = must(ike::policy::IdentityPattern::parse(o.remote_id), "--remote-id");
    if (o.auth == "psk") {
        c.local_auth = c.remote_auth = ike::AuthClass::Psk;
        c.psk = ike::crypto::Secret(postern::ByteView(
            reinterpret_cast<const std::uint8_t*>(o.psk.data()), o.psk.size()));
    } else {
        c.local_auth = c.remote_auth = ike::AuthClass::PublicKey;
        c.local_chain = must(ike::crypto::load_pem_chain(read_file(o.cert)), o.cert);
        c.local_key = std::make_shared<const ike::crypto::PrivateKey>(
            must(ike::crypto::PrivateKey::from_pem(read_file(o.key)), o.key));
        cfg.trust_anchors = must(ike::crypto::load_pem_chain(read_file(o.ca)), o.ca);
    }
    const auto target = IpAddress::parse(o.target);
    if (!target) usage("--target: not an address");
    c.remote_endpoint = Endpoint{*target, o.port};
    c.request_virtual_ip = o.vip;
    c.initial_contact = false;  // many SAs, one identity: none may end the others
    c.mobike = false;
    cfg.connections.push_back(std::move(c));
    cfg.dpd_delay = std::chrono::seconds(0);  // the responder checks liveness, we answer
    return cfg;
}

// One UDP socket of the generator (port 500, and 4500 once the engine floats there).
struct Socket {
    int fd = -1;
    Endpoint bound;
};

Socket open_socket(const IpAddress& address, std::uint16_t port) {
    Socket s;
    s.bound = Endpoint{address, port};
    const int family = address.is_v6() ? AF_INET6 : AF_INET;
    s.fd = ::socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (s.fd < 0) usage("socket: " + std::string(std::strerror(errno)));
    const int size = 8 << 20;
    if (::setsockopt(s.fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size) != 0)
        ::setsockopt(s.fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
    if (::setsockopt(s.fd, SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof size) != 0)
        ::setsockopt(s.fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
    sockaddr_storage ss{};
    socklen_t len = postern::to_sockaddr(s.bound, ss);
    if (::bind(s.fd, reinterpret_cast<sockaddr*>(&ss), len) != 0)
        usage("bind " + s.bound.to_string() + ": " + std::strerror(errno));
    return s;
}

long proc_status_kib(long pid, const char* field) {
    std::ifstream f("/proc/" + std::to_string(pid) + "/status");
    std::string line;
    const std::size_t n = std::strlen(field);
    while (std::getline(f, line))
        if (line.compare(0, n, field) == 0 && line.size() > n && line[n] == ':')
            return std::atol(line.c_str() + n + 1);
    return -1;
}

// utime + stime of a process, in clock ticks.
long long proc_cpu_ticks(long pid) {
    std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
    std::string all((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    const auto close = all.rfind(')');
    if (close == std::string::npos) return -1;
    std::istringstream rest(all.substr(close + 2));
    std::string field;
    long long utime = 0, stime = 0;
    for (int i = 3; rest >> field; ++i) {
        if (i == 14) utime = std::atoll(field.c_str());
        if (i == 15) {
            stime = std::atoll(field.c_str());
            break;
        }
    }
    return utime + stime;
}

// "...: IKE SA deleted (retransmission timeout)" -> "retransmission timeout"; numbers and
// addresses stay in, so reasons group only when they are the same text.
std::string reason_of(const ike::Event& e) {
    if (!e.reason.empty()) return e.reason;
    const auto open = e.text.rfind(" (");
    if (open != std::string::npos && e.text.back() == ')')
        return e.text.substr(open + 2, e.text.size() - open - 3);
    return e.text;
}

class Generator {
  public:
    explicit Generator(const Options& o)
        : o_(o), engine_(engine_config(o)) {
        auto local = IpAddress::parse(o.local);
        if (!local) usage("--local: not an address");
        local_ = *local;
        sockets_.push_back(open_socket(local_, 500));
        sockets_.push_back(open_socket(local_, 4500));
    }

    int run() {
        const long rss_before = o_.target_pid ? proc_status_kib(o_.target_pid, "VmRSS") : -1;
        const auto t0 = Clock::now();
        const auto deadline = t0 + seconds(o_.timeout);
        auto last_report = t0;
        state_.assign(o_.count + 1, 0);
        started_at_.assign(o_.count + 1, TimePoint{});
        while (done() < o_.count && Clock::now() < deadline) {
            start_more();
            pump(std::chrono::milliseconds(50));
            if (Clock::now() - last_report > std::chrono::seconds(2)) {
                last_report = Clock::now();
                std::fprintf(stderr, "ike_load: %.1f s: %llu established, %llu failed, %zu in flight\n",
                             secs(last_report - t0), ull(latencies_.size()), ull(failed_),
                             static_cast<std::size_t>(started_ - done()));
            }
        }
        const double elapsed = secs((last_established_ > t0 ? last_established_ : Clock::now()) - t0);
        // Anything still in flight at the deadline is a failure, by its own reason.
        for (std::uint64_t id = 1; id <= started_; ++id)
            if (state_[id] == 0) {
                state_[id] = 2;
                ++failed_;
                ++failures_["unfinished at --timeout"];
            }
        const long rss_after = o_.target_pid ? proc_status_kib(o_.target_pid, "VmRSS") : -1;

        std::sort(latencies_.begin(), latencies_.end());
        auto pct = [&](double p) {
            if (latencies_.empty()) return 0.0;
            auto i = static_cast<std::size_t>(p * static_cast<double>(latencies_.size() - 1) + 0.5);
            return latencies_[std::min(i, latencies_.size() - 1)];
        };
        const auto& st = engine_.stats();
        std::printf("established %zu\nfailed %llu\nchild_sas %llu\nseconds %.3f\nrate %.1f\n",
                    latencies_.size(), ull(failed_), ull(children_), elapsed,
                    elapsed > 0 ? static_cast<double>(latencies_.size()) / elapsed : 0.0);
        std::printf("latency_ms_p50 %.2f\nlatency_ms_p90 %.2f\nlatency_ms_p99 %.2f\nlatency_ms_max %.2f\n",
                    pct(0.50), pct(0.90), pct(0.99), latencies_.empty() ? 0.0 : latencies_.back());
        for (const auto& [why, n] : failures_)
            std::printf("failure %s %llu\n", why.c_str(), ull(n));
        std::printf("retransmits %llu\ncookies %llu\ninvalid_ke %llu\nsend_errors %llu\n",
                    ull(st.retransmitted), ull(cookies_), ull(invalid_ke_), ull(send_errors_));
        if (o_.target_pid) {
            std::printf("target_rss_kib_before %ld\ntarget_rss_kib_after %ld\n", rss_before,
                        rss_after);
            std::printf("target_hwm_kib %ld\n", proc_status_kib(o_.target_pid, "VmHWM"));
        }
        std::printf("generator_rss_kib %ld\n", proc_status_kib(getpid(), "VmRSS"));
        std::fflush(stdout);
        bool ok = failed_ == 0 && latencies_.size() == o_.count;

        if (o_.hold > 0) hold();
        if (o_.disconnect) ok = disconnect() && ok;
        return ok ? 0 : 1;
    }

  private:
    static unsigned long long ull(std::uint64_t v) { return v; }
    static double secs(Clock::duration d) { return std::chrono::duration<double>(d).count(); }
    static Clock::duration seconds(double s) {
        return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(s));
    }
    std::uint64_t done() const { return latencies_.size() + failed_; }

    void start_more() {
        ike::Actions out;
        while (started_ < o_.count && started_ - done() < o_.concurrency) {
            const auto now = Clock::now();
            auto id = engine_.initiate("load", sockets_[0].bound, now, out);
            if (!id) usage("initiate: " + id.error());
            if (*id >= state_.size()) {  // ids are ours alone, 1, 2, ...; grow if not
                state_.resize(*id + 1, 0);
                started_at_.resize(*id + 1);
            }
            started_at_[*id] = now;
            ++started_;
        }
        apply(out);
    }

    // Serves the sockets and the engine's timers for at most `wait`.
    void pump(std::chrono::milliseconds wait) {
        auto timeout = wait;
        if (auto due = engine_.next_timer()) {
            auto until = std::chrono::duration_cast<std::chrono::milliseconds>(*due - Clock::now());
            timeout = std::clamp(until, std::chrono::milliseconds(0), wait);
        }
        pollfd fds[2];
        for (std::size_t i = 0; i < 2; ++i)
            fds[i] = pollfd{sockets_[i].fd, POLLIN, 0};
        ::poll(fds, 2, static_cast<int>(timeout.count()));
        ike::Actions out;
        for (std::size_t i = 0; i < 2; ++i)
            if (fds[i].revents & POLLIN) receive(sockets_[i], out);
        if (auto due = engine_.next_timer(); due && *due <= Clock::now())
            engine_.on_timer(Clock::now(), out);
        apply(out);
    }

    void receive(const Socket& s, ike::Actions& out) {
        constexpr unsigned kBatch = 64;
        static std::vector<std::uint8_t> buffers(kBatch * 65536);
        mmsghdr msgs[kBatch];
        iovec iov[kBatch];
        sockaddr_storage from[kBatch];
        for (;;) {
            for (unsigned i = 0; i < kBatch; ++i) {
                iov[i] = {buffers.data() + i * 65536, 65536};
                msgs[i] = {};
                msgs[i].msg_hdr.msg_iov = &iov[i];
                msgs[i].msg_hdr.msg_iovlen = 1;
                msgs[i].msg_hdr.msg_name = &from[i];
                msgs[i].msg_hdr.msg_namelen = sizeof from[i];
            }
            const int n = ::recvmmsg(s.fd, msgs, kBatch, MSG_DONTWAIT, nullptr);
            if (n <= 0) return;
            const auto now = Clock::now();
            for (int i = 0; i < n; ++i) {
                const Endpoint remote = postern::from_sockaddr(from[i]);
                const std::uint8_t* p = buffers.data() + static_cast<std::size_t>(i) * 65536;
                std::size_t len = msgs[i].msg_len;
                if (s.bound.port == 4500) {  // non-ESP marker; ESP itself is not for us
                    if (len < 4 || p[0] || p[1] || p[2] || p[3]) continue;
                    p += 4;
                    len -= 4;
                }
                ike::Datagram d{s.bound, remote, Bytes(p, p + len)};
                engine_.on_datagram(d, now, out);
            }
            if (static_cast<unsigned>(n) < kBatch) return;
        }
    }

    void apply(ike::Actions& out) {
        send_all(out.send);
        const auto now = Clock::now();
        for (const auto& e : out.events)
            on_event(e, now);
        out.clear();
    }

    void send_all(const std::vector<ike::Datagram>& send) {
        for (const auto& d : send) {
            const bool natt = d.local.port == 4500;
            const Socket& s = sockets_[natt ? 1 : 0];
            Bytes framed;
            const Bytes* data = &d.data;
            if (natt) {
                framed.assign(4, 0);
                framed.insert(framed.end(), d.data.begin(), d.data.end());
                data = &framed;
            }
            sockaddr_storage ss{};
            socklen_t len = postern::to_sockaddr(d.remote, ss);
            for (int tries = 0; tries < 100; ++tries) {
                if (::sendto(s.fd, data->data(), data->size(), 0,
                             reinterpret_cast<sockaddr*>(&ss), len) >= 0)
                    break;
                if (errno != EAGAIN && errno != ENOBUFS) {
                    ++send_errors_;
                    break;
                }
                std::this_thread::sleep_for(std::chrono::microseconds(100));
            }
        }
    }

    void on_event(const ike::Event& e, TimePoint now) {
        const std::uint64_t id = e.ike_sa;
        switch (e.kind) {
            case ike::EventKind::IkeEstablished:
                if (id < state_.size() && state_[id] == 0) {
                    state_[id] = 1;
                    latencies_.push_back(
                        std::chrono::duration<double, std::milli>(now - started_at_[id]).count());
                    last_established_ = now;
                    established_ids_.push_back(id);
                }
                break;
            case ike::EventKind::ChildInstalled:
                ++children_;
                break;
            case ike::EventKind::AuthFailed:
            case ike::EventKind::IkeDeleted:
                if (id < state_.size() && state_[id] == 0) {
                    state_[id] = 2;
                    ++failed_;
                    ++failures_[reason_of(e)];
                } else if (id < state_.size() && state_[id] == 1) {
                    state_[id] = 3;  // gone after it was up: by us (disconnect) or the peer
                    ++deleted_;
                }
                break;
            case ike::EventKind::Log:
                if (trace_) std::fprintf(stderr, "ike_load: %s\n", e.text.c_str());
                if (e.text.find("received") != std::string::npos &&
                    e.text.find("N(COOKIE)") != std::string::npos)
                    ++cookies_;
                if (e.text.find("received") != std::string::npos &&
                    e.text.find("N(INVALID_KE_PAYLOAD)") != std::string::npos)
                    ++invalid_ke_;
                break;
            case ike::EventKind::ChildDeleted:
            case ike::EventKind::Dropped:
                break;
        }
    }

    // Keeps every SA up for --hold seconds, answering the responder, and measures its CPU.
    void hold() {
        const long long ticks0 = proc_cpu_ticks(o_.target_pid);
        const auto received0 = engine_.stats().received;
        const auto t0 = Clock::now();
        const auto end = t0 + seconds(o_.hold);
        while (Clock::now() < end)
            pump(std::chrono::milliseconds(100));
        if (o_.target_pid) {
            const long long ticks = proc_cpu_ticks(o_.target_pid) - ticks0;
            const double cpu = static_cast<double>(ticks) / static_cast<double>(sysconf(_SC_CLK_TCK));
            std::printf("hold_seconds %.1f\nhold_target_cpu_percent %.2f\n", secs(Clock::now() - t0),
                        100.0 * cpu / secs(Clock::now() - t0));
            std::printf("hold_target_rss_kib %ld\n", proc_status_kib(o_.target_pid, "VmRSS"));
        }
        std::printf("hold_deleted_by_peer %llu\n", ull(deleted_));
        // The responder's requests over the hold: its liveness checks (DPD), rekeys.
        std::printf("hold_requests_received %llu\n", ull(engine_.stats().received - received0));
        std::fflush(stdout);
    }

    // Deletes every established SA (INFORMATIONAL Delete, answered), --concurrency at a time
    // as it built them up, and waits until the engine holds none.
    bool disconnect() {
        const auto t0 = Clock::now();
        std::vector<std::uint64_t> ids;
        for (auto id : established_ids_)
            if (state_[id] == 1) ids.push_back(id);
        const std::size_t untouched = engine_.ike_sa_count() - ids.size();  // failed ones, gone
        std::size_t next = 0, asked = 0;
        const auto deadline = t0 + seconds(std::max(60.0, o_.timeout));
        while (Clock::now() < deadline) {
            // SAs not asked yet plus deletes in flight = what the engine still holds.
            // (Unfinished handshakes may still end meanwhile: never below zero.)
            const auto count = static_cast<long long>(engine_.ike_sa_count());
            const long long held = count - static_cast<long long>(untouched);
            const auto in_flight = static_cast<std::size_t>(
                std::max(0LL, held - static_cast<long long>(ids.size() - next)));
            ike::Actions out;
            for (std::size_t n = in_flight; n < o_.concurrency && next < ids.size(); ++n)
                asked += engine_.terminate(ids[next++], Clock::now(), out);
            apply(out);
            if (engine_.ike_sa_count() <= untouched && next == ids.size()) break;
            pump(std::chrono::milliseconds(50));
        }
        const double s = secs(Clock::now() - t0);
        const std::size_t left =
            engine_.ike_sa_count() > untouched ? engine_.ike_sa_count() - untouched : 0;
        std::printf("disconnect_asked %zu\ndisconnect_seconds %.3f\ndisconnect_left %zu\n", asked, s,
                    left);
        if (o_.target_pid)
            std::printf("target_rss_kib_after_disconnect %ld\n",
                        proc_status_kib(o_.target_pid, "VmRSS"));
        std::fflush(stdout);
        return engine_.ike_sa_count() <= untouched;
    }

    const Options& o_;
    const bool trace_ = std::getenv("IKE_LOAD_TRACE") != nullptr;  // every engine log line
    ike::Engine engine_;
    IpAddress local_;
    std::vector<Socket> sockets_;
    std::uint64_t started_ = 0, failed_ = 0, children_ = 0, deleted_ = 0;
    std::uint64_t cookies_ = 0, invalid_ke_ = 0, send_errors_ = 0;
    std::vector<std::uint8_t> state_;  // by SA id: 0 in flight, 1 up, 2 failed, 3 gone
    std::vector<TimePoint> started_at_;
    std::vector<double> latencies_;
    std::vector<std::uint64_t> established_ids_;
    std::map<std::string, std::uint64_t> failures_;
    TimePoint last_established_{};
};

}  // namespace

int main(int argc, char** argv) {
    const Options o = parse(argc, argv);
    // Key shares made ahead, as posternd does (ike/crypto/ke_pool.hpp).
    ike::crypto::KeySharePool key_shares;
    ike::crypto::KeySharePool::install(&key_shares);
    Generator g(o);
    const int rc = g.run();
    ike::crypto::KeySharePool::install(nullptr);
    return rc;
}
