// ike_client: a tiny IKEv2 initiator for the posternd smoke test. It runs ike::Engine over a
// UDP socket on the loopback, authenticates with a PSK (or EAP-MSCHAPv2 against a server
// certificate), asks for a virtual IP, and reports:
//
//   ike_client --server 127.0.0.1 --port 15500 --psk-file f --local-id alice@postern.test
//              --remote-id vpn.postern.test [--timeout-ms 5000] [--term-pid PID]
//              [--wait-delete 1] [--natt 1]
//   ike_client ... --eap-id alice --eap-password-file f --ca root.pem   (instead of --psk-file)
//
// Exit 3 when authentication failed (the reason on stderr), 1 for any other failure.
//
// --natt talks to the given port as a NAT-T port from the start (RFC 7296 §2.23 allows
// initiating there): four zero octets in front of every IKE message, both ways.
// Exit 0 when the IKE SA and a CHILD_SA are established and a virtual IP was assigned. With
// --term-pid it then sends SIGTERM to that process (posternd) and waits for the server's
// Delete, which must arrive (exit 0) within the timeout; --wait-delete waits for the Delete
// without sending a signal.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <map>
#include <string>

#include "ike/engine.hpp"
#include "postern/sockaddr.hpp"

using namespace postern;
using Clock = std::chrono::steady_clock;

namespace {

int fail(const std::string& why) {
    std::fprintf(stderr, "ike_client: FAIL: %s\n", why.c_str());
    return 1;
}

}  // namespace

int main(int argc, char** argv) {
    std::map<std::string, std::string> opt{{"--server", "127.0.0.1"},
                                           {"--timeout-ms", "5000"},
                                           {"--local-id", "alice@postern.test"},
                                           {"--remote-id", "vpn.postern.test"}};
    for (int i = 1; i + 1 < argc; i += 2)
        opt[argv[i]] = argv[i + 1];
    const bool eap = opt.count("--eap-password-file") > 0;
    if (!opt.count("--port") || (!opt.count("--psk-file") && !eap))
        return fail(
            "usage: ike_client --port N (--psk-file F | --eap-id U --eap-password-file F --ca C) "
            "[--server A] [--term-pid P]");
    std::ifstream pf(opt[eap ? "--eap-password-file" : "--psk-file"]);
    std::string psk;
    std::getline(pf, psk);
    if (psk.empty()) return fail("no secret in " + opt[eap ? "--eap-password-file" : "--psk-file"]);

    auto server = IpAddress::parse(opt["--server"]);
    if (!server) return fail("--server must be an IP address");
    const Endpoint remote{*server, static_cast<std::uint16_t>(std::stoi(opt["--port"]))};

    ike::ConnectionConfig c;
    c.name = "smoke";
    c.ike_proposals = {
        *ike::crypto::parse_proposal("aes256gcm16-prfsha256-x25519", ike::ProtocolId::IKE, {})};
    c.esp_proposals = {*ike::crypto::parse_proposal("aes256gcm16", ike::ProtocolId::ESP, {})};
    auto local_id = ike::policy::parse_identity(opt["--local-id"]);
    auto remote_id = ike::policy::IdentityPattern::parse(opt["--remote-id"]);
    if (!local_id || !remote_id) return fail("bad identity");
    c.local_id = *local_id;
    c.remote_id = *remote_id;
    ike::EngineConfig ec;
    if (eap) {
        c.local_auth = ike::AuthClass::Eap;
        c.remote_auth = ike::AuthClass::PublicKey;
        c.eap_identity = opt["--eap-id"];
        c.eap_password = ike::crypto::Secret(as_bytes(psk));
        std::ifstream cf(opt["--ca"]);
        std::string pem((std::istreambuf_iterator<char>(cf)), std::istreambuf_iterator<char>());
        auto ca = ike::crypto::Certificate::from_pem(pem);
        if (!ca) return fail("--ca: " + ca.error());
        ec.trust_anchors.push_back(std::move(*ca));
    } else {
        c.local_auth = c.remote_auth = ike::AuthClass::Psk;
        c.psk = ike::crypto::Secret(as_bytes(psk));
    }
    c.remote_endpoint = remote;
    c.request_virtual_ip = true;
    ec.connections.push_back(std::move(c));
    ec.retransmit_timeout = std::chrono::milliseconds(500);
    ike::Engine engine(std::move(ec));

    // Bound to the loopback address of the server's family.
    const int fd = ::socket(server->is_v4() ? AF_INET : AF_INET6, SOCK_DGRAM, 0);
    sockaddr_storage bind_to;
    socklen_t len =
        to_sockaddr(Endpoint{*IpAddress::parse(server->is_v4() ? "127.0.0.1" : "::1"), 0}, bind_to);
    if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&bind_to), len) != 0)
        return fail(std::string("socket: ") + std::strerror(errno));
    len = sizeof bind_to;
    getsockname(fd, reinterpret_cast<sockaddr*>(&bind_to), &len);
    const Endpoint local = from_sockaddr(bind_to);

    bool established = false, child = false, deleted = false;
    std::string auth_failed;
    std::optional<Clock::time_point> term_sent;
    const bool natt = opt.count("--natt") > 0;
    auto apply = [&](ike::Actions& out) {
        for (const auto& d : out.send) {
            if (d.remote.port != remote.port)
                std::fprintf(stderr, "ike_client: engine sends to port %u (NAT-T?)\n",
                             d.remote.port);
            sockaddr_storage to;
            const socklen_t tlen = to_sockaddr(d.remote, to);
            Bytes wire;
            if (natt) wire.assign(4, 0);
            wire.insert(wire.end(), d.data.begin(), d.data.end());
            ::sendto(fd, wire.data(), wire.size(), 0, reinterpret_cast<sockaddr*>(&to), tlen);
        }
        child |= !out.install.empty();
        for (const auto& e : out.events) {
            std::fprintf(stderr, "ike_client: %s\n", e.text.c_str());
            established |= e.kind == ike::EventKind::IkeEstablished;
            deleted |= e.kind == ike::EventKind::IkeDeleted;
            if (e.kind == ike::EventKind::AuthFailed) {
                deleted = true;
                auth_failed = e.text;
            }
        }
        out.clear();
    };

    ike::Actions out;
    auto id = engine.initiate("smoke", local, Clock::now(), out);
    if (!id) return fail("initiate: " + id.error());
    apply(out);

    const auto timeout = std::chrono::milliseconds(std::stoi(opt["--timeout-ms"]));
    auto deadline = Clock::now() + timeout;
    const pid_t term_pid = opt.count("--term-pid") ? std::stoi(opt["--term-pid"]) : 0;
    const bool wait_delete = opt.count("--wait-delete") > 0;
    std::uint8_t buf[65536];
    while (Clock::now() < deadline) {
        if (established && child && !term_sent) {
            auto sas = engine.list();
            if (sas.size() != 1 || !sas[0].virtual_ip) return fail("no virtual IP assigned");
            std::printf("ESTABLISHED %s virtual IP %s, %zu CHILD_SA, %s\n",
                        sas[0].remote_identity.c_str(), sas[0].virtual_ip->to_string().c_str(),
                        sas[0].children, sas[0].algorithms.c_str());
            std::fflush(stdout);
            if (!term_pid && !wait_delete) return 0;
            if (term_pid) ::kill(term_pid, SIGTERM);
            term_sent = Clock::now();
            deadline = *term_sent + timeout;
        }
        if (deleted) break;
        auto wait = deadline - Clock::now();
        if (auto t = engine.next_timer()) wait = std::min(wait, *t - Clock::now());
        const int ms = static_cast<int>(std::max<std::int64_t>(
            0, std::chrono::duration_cast<std::chrono::milliseconds>(wait).count() + 1));
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, ms) > 0) {
            sockaddr_storage from{};
            socklen_t flen = sizeof from;
            ssize_t n =
                ::recvfrom(fd, buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&from), &flen);
            if (n > 0) {
                ike::Datagram d;
                d.local = local;
                d.remote = from_sockaddr(from);
                const std::size_t skip = natt ? 4 : 0;
                if (natt && (n < 4 || buf[0] || buf[1] || buf[2] || buf[3])) {
                    std::fprintf(stderr, "ike_client: datagram without the non-ESP marker\n");
                    continue;
                }
                d.data.assign(buf + skip, buf + n);
                engine.on_datagram(d, Clock::now(), out);
                apply(out);
            }
        }
        if (auto t = engine.next_timer(); t && *t <= Clock::now()) {
            engine.on_timer(Clock::now(), out);
            apply(out);
        }
    }
    if (!auth_failed.empty()) {
        std::printf("AUTH_FAILED %s\n", auth_failed.c_str());
        return 3;
    }
    if (!established || !child) return fail("not established before the timeout");
    if (!term_sent) return fail("IKE SA deleted before the checks");
    if (!deleted) return fail("no Delete from the server after SIGTERM");
    const auto ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - *term_sent);
    std::printf("DELETED by the server %lld ms after %s\n", static_cast<long long>(ms.count()),
                term_pid ? "SIGTERM" : "establishment");
    return 0;
}
