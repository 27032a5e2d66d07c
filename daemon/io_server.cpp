#include "daemon/io_server.hpp"

#include <csignal>

#include "daemon/io_natt.hpp"
#include "daemon/logging.hpp"

namespace postern::daemon {

namespace asio = boost::asio;

Server::Server(const Config& config, ike::EngineConfig engine, MemoryPools pools, DataPlane& dp)
    : config_(config),
      pools_(std::move(pools)),
      engine_(std::move(engine), &pools_),
      dp_(dp),
      timer_(io_),
      shutdown_timer_(io_),
      signals_(io_, SIGINT, SIGTERM),
      tun_wait_(io_) {}

Server::~Server() {
    // The fd belongs to the TunDevice.
    if (tun_wait_.is_open()) (void)tun_wait_.release();
}

tl::expected<void, std::string> Server::open() {
    std::vector<std::string> listen = config_.listen;
    if (listen.empty()) listen = {"0.0.0.0", "::"};
    for (const auto& text : listen) {
        auto address = IpAddress::parse(text);
        if (!address) return tl::unexpected("server.listen: \"" + text + "\" is not an address");
        for (auto [port, natt] :
             {std::pair{config_.ike_port, false}, std::pair{config_.natt_port, true}}) {
            auto s = UdpSocket::open(io_, *address, port);
            if (!s) {
                // A host without IPv6 cannot open "::" at all; that is not worth failing over.
                if (address->is_v6() && address->is_unspecified() &&
                    s.error().find("cannot open") == 0) {
                    logger(Subsystem::Net).warn("{}; skipping IPv6", s.error());
                    break;
                }
                return tl::unexpected(s.error());
            }
            logger(Subsystem::Net)
                .info("listening on UDP {}{}", (*s)->bound().to_string(), natt ? " (NAT-T)" : "");
            sockets_.push_back(Sock{std::move(*s), natt});
        }
    }
    if (sockets_.empty()) return tl::unexpected(std::string("no socket could be opened"));
    for (auto& s : sockets_) {
        const Sock* sp = &s;
        s.socket->start([this, sp](UdpSocket&, const Received& r) { on_datagram(*sp, r); });
    }
    return {};
}

void Server::start_initiators() {
    for (const auto& conn : config_.connections) {
        if (!conn.start) continue;
        auto remote = IpAddress::parse(conn.remote_addrs.front());
        const Sock* sock = nullptr;
        for (const auto& s : sockets_)
            if (!s.natt && s.socket->bound().address.family() == remote->family()) {
                sock = &s;
                break;
            }
        if (!sock) {
            logger(Subsystem::Ike)
                .error("{}: no socket of the address family of {} to initiate from", conn.name,
                       remote->to_string());
            continue;
        }
        Endpoint local = sock->socket->bound();
        if (sock->socket->wildcard()) {
            auto src = source_address_for(*remote);
            if (!src) {
                logger(Subsystem::Ike).error("{}: no route to {}", conn.name, remote->to_string());
                continue;
            }
            local.address = *src;
        }
        ike::Actions out;
        auto id = engine_.initiate(conn.name, local, ike::Clock::now(), out);
        if (!id)
            logger(Subsystem::Ike).error("{}: cannot initiate: {}", conn.name, id.error());
        else
            logger(Subsystem::Ike)
                .info("{}: initiating to {} from {}", conn.name,
                      Endpoint{*remote, conn.remote_port}.to_string(), local.to_string());
        apply(out);
    }
}

void Server::run() {
    signals_.async_wait([this](boost::system::error_code ec, int sig) {
        if (ec) return;
        logger(Subsystem::Net)
            .info("{} received: deleting SAs and stopping", sig == SIGINT ? "SIGINT" : "SIGTERM");
        stop();
        // A second signal stops at once.
        signals_.async_wait([this](boost::system::error_code ec2, int) {
            if (!ec2) io_.stop();
        });
    });
    arm_timer();
    io_.run();
    for (auto& s : sockets_)
        s.socket->close();
    if (tun_wait_.is_open()) (void)tun_wait_.release();
    log_dataplane_stats();
}

void Server::attach_userspace(esp::UserspaceDataPlane& dp, esp::TunQueue queue) {
    userspace_ = &dp;
    tun_queue_ = queue;
    tun_wait_.assign(queue.fd());
    wait_tun();
}

void Server::wait_tun() {
    tun_wait_.async_wait(asio::posix::stream_descriptor::wait_read,
                         [this](boost::system::error_code ec) {
                             if (ec) return;  // released at shutdown
                             // A bounded number of batches, so the UDP sockets get their turn.
                             for (int i = 0; i < 8; ++i) {
                                 auto n = userspace_->run_tun_once(*tun_queue_);
                                 if (!n) {
                                     logger(Subsystem::Dp).warn("TUN read: {}", n.error());
                                     break;
                                 }
                                 if (*n == 0) break;
                             }
                             wait_tun();
                         });
}

void Server::log_dataplane_stats() {
    auto& log = logger(Subsystem::Dp);
    if (!userspace_) {
        if (stats_.esp_dropped)
            log.info("{} ESP-in-UDP packets dropped (no data plane)", stats_.esp_dropped);
        return;
    }
    const auto st = userspace_->stats();
    std::string drops;
    for (std::size_t i = 0; i < st.drops.size(); ++i)
        if (st.drops[i])
            drops += " " + std::string(esp::to_string(static_cast<esp::DropReason>(i))) + "=" +
                     std::to_string(st.drops[i]);
    log.info(
        "data plane counters: ESP out {} packets ({} inner bytes), ESP in {} packets ({} inner "
        "bytes); UDP: {} ESP datagrams received, {} sent, {} send errors; no SA {}, TUN write "
        "failures {}, drops:{}",
        st.outbound_packets, st.outbound_bytes, st.inbound_packets, st.inbound_bytes,
        stats_.esp_received, stats_.esp_sent, stats_.esp_send_errors, st.no_sa, st.tun_failed,
        drops.empty() ? " none" : drops);
}

bool Server::send_esp(ByteView esp_packet, const Endpoint& src, const Endpoint& dst,
                      bool udp_encap) {
    if (!udp_encap) {
        if (stats_.esp_send_errors++ == 0)
            logger(Subsystem::Dp)
                .error(
                    "plain ESP (IP protocol 50) to {} is not supported yet: only ESP-in-UDP "
                    "(NAT-T); further packets are counted silently",
                    dst.address.to_string());
        return false;
    }
    const Sock* sock = socket_for(src, true);
    if (!sock) {
        if (stats_.esp_send_errors++ == 0)
            logger(Subsystem::Dp)
                .error("no NAT-T socket for ESP {} -> {}", src.to_string(), dst.to_string());
        return false;
    }
    if (auto ok = sock->socket->send(src, dst, esp_packet); !ok) {
        if (stats_.esp_send_errors++ == 0) logger(Subsystem::Dp).warn("ESP: {}", ok.error());
        return false;
    }
    ++stats_.esp_sent;
    return true;
}

void Server::stop(std::chrono::milliseconds grace) {
    if (stopping_) return;
    stopping_ = true;
    const auto now = ike::Clock::now();
    shutdown_deadline_ = now + grace;
    ike::Actions out;
    std::size_t n = 0;
    for (const auto& sa : engine_.list())
        n += engine_.terminate(sa.id, now, out);
    if (n) logger(Subsystem::Ike).info("deleting {} IKE SA{}", n, n == 1 ? "" : "s");
    apply(out);
    on_shutdown_tick();
}

// Stops the loop once every SA is gone (the peers answered the Deletes) or the grace time is up.
void Server::on_shutdown_tick() {
    const auto now = ike::Clock::now();
    if (engine_.list().empty() || now >= shutdown_deadline_) {
        if (auto left = engine_.list().size())
            logger(Subsystem::Ike)
                .info("{} IKE SA{} did not confirm the delete; stopping anyway", left,
                      left == 1 ? "" : "s");
        logger(Subsystem::Net).info("posternd stopped");
        io_.stop();
        return;
    }
    shutdown_timer_.expires_after(std::chrono::milliseconds(20));
    shutdown_timer_.async_wait([this](boost::system::error_code ec) {
        if (!ec) on_shutdown_tick();
    });
}

void Server::on_datagram(const Sock& s, const Received& r) {
    ike::Datagram d{r.local, r.remote, {}};
    if (s.natt) {
        auto c = classify_natt(r.data);
        switch (c.kind) {
            case NattKind::Keepalive:
                ++stats_.keepalives;
                logger(Subsystem::Net).trace("NAT keepalive from {}", r.remote.to_string());
                return;
            case NattKind::Esp:
                if (userspace_) {
                    ++stats_.esp_received;
                    const auto why = userspace_->inbound(r.data, r.remote);
                    if (why != esp::DropReason::none)
                        logger(Subsystem::Dp)
                            .trace("ESP from {} dropped: {}", r.remote.to_string(),
                                   esp::to_string(why));
                    return;
                }
                if (stats_.esp_dropped++ == 0)
                    logger(Subsystem::Net)
                        .info(
                            "ESP-in-UDP from {} dropped: no data plane yet (issue 4); further ones "
                            "are counted silently",
                            r.remote.to_string());
                return;
            case NattKind::Malformed:
                ++stats_.malformed;
                logger(Subsystem::Net)
                    .debug("{}: {}-octet datagram on the NAT-T port dropped", r.remote.to_string(),
                           r.data.size());
                return;
            case NattKind::Ike:
                d.data.assign(c.ike.begin(), c.ike.end());
                break;
        }
    } else {
        d.data.assign(r.data.begin(), r.data.end());
    }
    logger(Subsystem::Net)
        .trace("{} octets from {} to {}", d.data.size(), r.remote.to_string(), r.local.to_string());
    ike::Actions out;
    engine_.on_datagram(d, ike::Clock::now(), out);
    apply(out);
}

void Server::send(const ike::Datagram& d) {
    // The socket is the one of the local port the engine chose; the engine floats to 4500
    // when it detects a NAT, which is our NAT-T socket whatever port that is configured on.
    const bool want_natt = d.local.port != config_.ike_port &&
                           (d.local.port == config_.natt_port || d.local.port == 4500);
    const Sock* best = socket_for(d.local, want_natt);
    if (!best) {
        ++stats_.send_errors;
        logger(Subsystem::Net)
            .warn("no socket for {} -> {}", d.local.to_string(), d.remote.to_string());
        return;
    }
    auto bytes = frame_ike(d.data, best->natt);
    if (auto ok = best->socket->send(d.local, d.remote, bytes); !ok) {
        ++stats_.send_errors;
        logger(Subsystem::Net).warn("{}", ok.error());
        return;
    }
    logger(Subsystem::Net)
        .trace("{} octets from {} to {}", bytes.size(), best->socket->bound().to_string(),
               d.remote.to_string());
}

const Server::Sock* Server::socket_for(const Endpoint& local, bool natt) const {
    const Sock* best = nullptr;
    for (const auto& s : sockets_) {
        const Endpoint& b = s.socket->bound();
        if (s.natt != natt || b.address.family() != local.address.family()) continue;
        if (b.address == local.address) return &s;
        if (s.socket->wildcard() && !best) best = &s;
    }
    return best;
}

void Server::apply(ike::Actions& out) {
    for (const auto& d : out.send)
        send(d);
    for (const auto& i : out.install) {
        for (const EspSaSpec* spec : {&i.in, &i.out}) {
            std::string err;
            if (!dp_.install(*spec, err)) {
                ++stats_.dataplane_errors;
                logger(Subsystem::Dp).error("IKE SA {}: install failed: {}", i.ike_sa, err);
            }
        }
    }
    for (const auto& r : out.remove) {
        for (auto [spi, inbound] : {std::pair{r.spi_in, true}, std::pair{r.spi_out, false}}) {
            std::string err;
            if (!dp_.remove(spi, inbound, err)) {
                ++stats_.dataplane_errors;
                logger(Subsystem::Dp).warn("IKE SA {}: remove failed: {}", r.ike_sa, err);
            }
        }
    }
    auto& log = logger(Subsystem::Ike);
    for (const auto& e : out.events) {
        switch (e.kind) {
            case ike::EventKind::IkeEstablished:
            case ike::EventKind::IkeDeleted:
            case ike::EventKind::ChildInstalled:
            case ike::EventKind::ChildDeleted:
                log.info("{}", e.text);
                break;
            case ike::EventKind::AuthFailed:
                log.warn("{}", e.text);
                break;
            case ike::EventKind::Dropped:
            case ike::EventKind::Log:
                log.debug("{}", e.text);
                break;
        }
    }
    out.clear();
    arm_timer();
}

void Server::arm_timer() {
    auto due = engine_.next_timer();
    if (!due) {
        timer_.cancel();
        return;
    }
    timer_.expires_at(*due);
    timer_.async_wait([this](boost::system::error_code ec) {
        if (ec) return;  // re-armed or cancelled
        ike::Actions out;
        engine_.on_timer(ike::Clock::now(), out);
        apply(out);
    });
}

}  // namespace postern::daemon
