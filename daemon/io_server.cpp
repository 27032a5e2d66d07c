#include "daemon/io_server.hpp"

#include <csignal>

#include <boost/asio/post.hpp>

#include "daemon/io_natt.hpp"
#include "daemon/logging.hpp"

namespace postern::daemon {

namespace asio = boost::asio;

namespace {

// " w0 in 5 out 7" (the IKE thread's extra path, when there is one: " ike in 5").
std::string fmt_worker(unsigned index, bool ike_thread, const esp::DataPlaneStats& w) {
    std::string s = ike_thread ? " ike" : " w" + std::to_string(index);
    s += " in " + std::to_string(w.inbound_packets) + " out " + std::to_string(w.outbound_packets);
    if (const auto d = w.total_dropped()) s += " dropped " + std::to_string(d);
    return s;
}

// " w0 gso 3/135 udp_gso 4 gro 2/90 coalesced 2/88": GSO super-packets from TUN / segments made,
// UDP_SEGMENT sends, UDP_GRO buffers / datagrams split, coalesced TUN writes / segments merged.
std::string fmt_offloads(unsigned index, bool ike_thread, const esp::DataPlaneStats& w) {
    std::string s = ike_thread ? " ike" : " w" + std::to_string(index);
    auto pair = [](std::uint64_t a, std::uint64_t b) {
        return std::to_string(a) + "/" + std::to_string(b);
    };
    s += " gso " + pair(w.gso_packets, w.gso_segments) + " udp_gso " +
         std::to_string(w.udp_gso_sends) + " gro " + pair(w.gro_buffers, w.gro_datagrams) +
         " coalesced " + pair(w.coalesced_writes, w.coalesced_segments);
    return s;
}

// DPD counts ESP that arrived (the data plane's last use of the inbound SA) as a sign of life.
ike::EngineConfig with_inbound_idle(ike::EngineConfig e, DataPlane& dp) {
    e.inbound_idle = [&dp](EspSpi spi) -> std::optional<std::chrono::seconds> {
        SaCounters c;
        if (!dp.counters(spi, true, c)) return std::nullopt;
        return std::chrono::seconds(static_cast<std::int64_t>(c.last_used_seconds_ago));
    };
    return e;
}

}  // namespace

Server::Server(const Config& config, ike::EngineConfig engine,
               std::shared_ptr<ike::AddressPools> pools, DataPlane& dp)
    : config_(config),
      pools_(std::move(pools)),
      dp_(dp),
      shutdown_timer_(io_),
      signals_(io_, SIGINT, SIGTERM) {
    const unsigned threads = config_.ike_threads ? config_.ike_threads : default_ike_threads();
    shards_ = std::make_unique<IkeShards>(io_, with_inbound_idle(std::move(engine), dp_), &pools_,
                                          threads, [this](ike::Actions& out) { apply(out); });
    logger(Subsystem::Ike)
        .info("IKE on {} thread{} (server.ike_threads{})", shards_->count(),
              shards_->count() == 1 ? "" : "s", config_.ike_threads ? "" : " = 0: one per core");
}

Server::~Server() = default;

tl::expected<void, std::string> Server::open() {
    std::vector<std::string> listen = config_.listen;
    if (listen.empty()) listen = {"0.0.0.0", "::"};
    for (const auto& text : listen) {
        auto address = IpAddress::parse(text);
        if (!address) return tl::unexpected("server.listen: \"" + text + "\" is not an address");
        for (auto [port, natt] :
             {std::pair{config_.ike_port, false}, std::pair{config_.natt_port, true}}) {
            auto s = UdpSocket::open(io_, *address, port, natt && natt_reuseport_);
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
                .info("listening on UDP {}{}", (*s)->bound().to_string(),
                      natt ? (natt_reuseport_ ? " (NAT-T, SO_REUSEPORT group with the data-plane "
                                                "workers)"
                                              : " (NAT-T)")
                           : "");
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
        auto id = shards_->initiate(conn.name, local);
        if (!id)
            logger(Subsystem::Ike).error("{}: cannot initiate: {}", conn.name, id.error());
        else
            logger(Subsystem::Ike)
                .info("{}: initiating to {} from {}", conn.name,
                      Endpoint{*remote, conn.remote_port}.to_string(), local.to_string());
        if (!address_watch_) {
            address_watch_ =
                std::make_unique<AddressWatch>(io_, [this] { on_addresses_changed(); });
            if (auto ok = address_watch_->start(); !ok) {
                logger(Subsystem::Net)
                    .warn("not watching local addresses (MOBIKE as initiator): {}", ok.error());
                address_watch_.reset();
            }
        }
    }
}

void Server::on_addresses_changed() {
    for (const auto& sa : shards_->list()) {
        if (sa.role != ike::sa::Role::Initiator || !sa.mobike ||
            sa.state != ike::sa::IkeSaState::Established)
            continue;
        auto src = source_address_for(sa.remote.address);
        if (!src || *src == sa.local.address) continue;
        logger(Subsystem::Net)
            .info("IKE SA {}: the route to {} now leaves from {} (was {}): MOBIKE update", sa.id,
                  sa.remote.address.to_string(), src->to_string(), sa.local.address.to_string());
        shards_->local_address_changed(sa.id, Endpoint{*src, 0});
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
    io_.run();
    shards_->stop();
    if (event_flush_) event_flush_();  // a flush io_.stop() left queued
    if (control_) control_->close();  // the socket file goes with the loop that served it
    for (auto& s : sockets_)
        s.socket->close();
}

std::vector<esp::NattBinding> Server::natt_bindings() {
    std::vector<esp::NattBinding> out;
    for (auto& s : sockets_)
        if (s.natt) out.push_back({s.socket->bound(), s.socket->native_handle()});
    return out;
}

void Server::attach_userspace(esp::UserspaceDataPlane& dp, esp::TunQueue queue) {
    userspace_ = &dp;
    if (!dp.options().udp_on_ike_thread) return;
    ike_tun_writer_ = std::make_unique<esp::TunQueueWriter>(queue);
    ike_path_ = std::make_unique<esp::PacketPath>(dp, dp.workers(), no_sender_, *ike_tun_writer_);
}

void Server::on_worker_ike(const esp::IkeDatagram& d) {
    // Copied: the worker's buffer is reused as soon as this returns.
    Received r;
    r.local = d.local;
    r.remote = d.remote;
    auto bytes = std::make_shared<Bytes>(d.data.begin(), d.data.end());
    asio::post(io_, [this, r, bytes]() mutable {
        ++stats_.from_workers;
        const Sock* s = natt_socket_for(r.local);
        if (!s) return;
        r.data = *bytes;
        on_datagram(*s, r);
    });
}

void Server::on_lifetime_event(const esp::SaLifetimeEvent& e) {
    asio::post(io_, [this, e] {
        ++stats_.lifetime_events;
        const bool hard = e.events & (esp::kEventHard | esp::kEventSeqExhausted);
        logger(Subsystem::Dp)
            .info("{} ESP SA {:08x} (reqid {}): {} lifetime reached{}",
                  e.inbound ? "inbound" : "outbound", e.spi.value(), e.reqid,
                  hard ? "hard" : "soft",
                  e.events & esp::kEventSeqExhausted ? " (sequence numbers exhausted)" : "");
        shards_->expire_child(e.spi, e.inbound, hard, [spi = e.spi] {
            logger(Subsystem::Dp)
                .debug("ESP SA {:08x}: no CHILD_SA any more (deleted meanwhile)", spi.value());
        });
    });
}

const Server::Sock* Server::natt_socket_for(const Endpoint& local) const {
    for (const auto& s : sockets_)
        if (s.natt && s.socket->bound().port == local.port &&
            s.socket->bound().address.family() == local.address.family() &&
            (s.socket->wildcard() || s.socket->bound().address == local.address))
            return &s;
    return nullptr;
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
    for (auto [name, n] : {std::pair{"no_sa", st.no_sa}, {"misrouted", st.misrouted},
                           {"encap_mismatch", st.encap_mismatch}, {"send_failed", st.send_failed},
                           {"tun_failed", st.tun_failed}, {"gso_malformed", st.gso_dropped}})
        if (n) drops += " " + std::string(name) + "=" + std::to_string(n);
    std::string workers, offloads;
    for (unsigned p = 0; p < userspace_->paths(); ++p) {
        const auto w = userspace_->path_stats(p);
        workers += fmt_worker(p, p == userspace_->workers(), w);
        offloads += fmt_offloads(p, p == userspace_->workers(), w);
    }
    log.info(
        "data plane counters: ESP out {} packets ({} inner bytes), ESP in {} packets ({} inner "
        "bytes); {} ESP datagrams received, {} send errors, {} IKE datagrams handed over by "
        "workers, {} ESP datagrams at the IKE socket misrouted; drops:{}; per worker:{}; "
        "offloads (gso super-packets/segments, udp_gso sends, gro buffers/datagrams, coalesced "
        "writes/segments):{}",
        st.outbound_packets, st.outbound_bytes, st.inbound_packets, st.inbound_bytes,
        st.esp_received + stats_.esp_received, st.send_errors, stats_.from_workers,
        stats_.esp_misrouted, drops.empty() ? " none" : drops, workers, offloads);
}

void Server::stop(std::chrono::milliseconds grace) {
    if (stopping_) return;
    stopping_ = true;
    const std::size_t n = shards_->terminate_all();
    if (n) logger(Subsystem::Ike).info("deleting {} IKE SA{}", n, n == 1 ? "" : "s");
    // The grace starts once every Delete is sent: the shards queued them on this loop before
    // terminate_all returned, so a handler posted now runs after them. With 100,000 SAs making
    // the Deletes takes 1.2 s and sending them about as long, longer than the grace itself,
    // which counted from before left no peer time to answer.
    const auto wait = grace + std::min<std::chrono::microseconds>(
                                  kGracePerSa * static_cast<std::int64_t>(n), kMaxExtraGrace);
    asio::post(io_, [this, wait] {
        shutdown_deadline_ = ike::Clock::now() + wait;
        on_shutdown_tick();
    });
}

// Stops the loop once every SA is gone (the peers answered the Deletes) or the grace time is up.
void Server::on_shutdown_tick() {
    const auto now = ike::Clock::now();
    // connection_count, not list(): with many SAs this runs every 20 ms, and list() copies
    // them all.
    const std::size_t left = shards_->connection_count();
    if (left == 0 || now >= shutdown_deadline_) {
        if (left) {
            logger(Subsystem::Ike)
                .info("{} IKE SA{} did not confirm the delete; stopping anyway", left,
                      left == 1 ? "" : "s");
            // Forget them the same way (data plane, leases, audit rows), without the answer.
            shards_->abandon_all();
        }
        logger(Subsystem::Net).info("posternd stopped");
        // After what the shards have answered so far (queued on this loop before their
        // answer to connection_count or abandon_all): data plane removals, audit rows.
        asio::post(io_, [this] { io_.stop(); });
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
                if (ike_path_) {
                    ++stats_.esp_received;
                    const auto why = ike_path_->inbound(r.data, r.remote, true);
                    if (why != esp::DropReason::none)
                        logger(Subsystem::Dp)
                            .trace("ESP from {} dropped: {}", r.remote.to_string(),
                                   esp::to_string(why));
                    return;
                }
                if (userspace_) {
                    // A worker owns it (steering.hpp); this only happens while a reuseport
                    // group is incomplete. Decapsulating here would race the owner's replay
                    // window.
                    if (stats_.esp_misrouted++ == 0)
                        logger(Subsystem::Dp)
                            .warn(
                                "ESP-in-UDP from {} reached the IKE socket instead of a "
                                "data-plane worker; dropped (further ones are counted)",
                                r.remote.to_string());
                    return;
                }
                if (stats_.esp_dropped++ == 0)
                    logger(Subsystem::Net)
                        .info(
                            "ESP-in-UDP from {} dropped: no data plane; further ones are "
                            "counted silently",
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
    shards_->dispatch(std::move(d));
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
            if (!(spec == &i.in ? i.install_in : i.install_out)) continue;
            std::string err;
            if (!dp_.install(*spec, err)) {
                ++stats_.dataplane_errors;
                logger(Subsystem::Dp).error("IKE SA {}: install failed: {}", i.ike_sa, err);
            }
        }
    }
    for (const auto& r : out.remove) {
        for (auto [spi, inbound] : {std::pair{r.spi_in, true}, std::pair{r.spi_out, false}}) {
            if (!inbound && !r.remove_out) continue;
            std::string err;
            if (!dp_.remove(spi, inbound, err)) {
                ++stats_.dataplane_errors;
                logger(Subsystem::Dp).warn("IKE SA {}: remove failed: {}", r.ike_sa, err);
            }
        }
    }
    // MOBIKE: inbound remote -> local, outbound local -> remote. A CHILD_SA the data plane
    // cannot move (the kernel data plane) is rekeyed instead, as strongSwan does: its
    // successor is installed between the new addresses.
    std::vector<EspSpi> unmoved;
    for (const auto& m : out.move) {
        for (bool inbound : {true, false}) {
            if (!inbound && !m.move_out) continue;
            std::string err;
            const Endpoint& src = inbound ? m.remote : m.local;
            const Endpoint& dst = inbound ? m.local : m.remote;
            EspSpi spi = inbound ? m.spi_in : m.spi_out;
            if (!dp_.move(spi, inbound, src, dst, m.udp_encap, err)) {
                ++stats_.dataplane_errors;
                logger(Subsystem::Dp).warn("IKE SA {}: move failed: {}", m.ike_sa, err);
                if (unmoved.empty() || unmoved.back() != m.spi_in) unmoved.push_back(m.spi_in);
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
        if (event_sink_ &&
            (e.kind == ike::EventKind::IkeEstablished || e.kind == ike::EventKind::IkeDeleted ||
             e.kind == ike::EventKind::AuthFailed))
        {
            event_sink_(e);
            // After every datagram the socket had now (UdpSocket::drain): one flush for them.
            if (event_flush_ && !flush_posted_) {
                flush_posted_ = true;
                asio::post(io_, [this] {
                    flush_posted_ = false;
                    event_flush_();
                });
            }
        }
    }
    out.clear();
    for (EspSpi spi : unmoved) {
        logger(Subsystem::Dp)
            .info("CHILD_SA with inbound SPI {:08x} not moved by the {} data plane: rekeying it",
                  spi.value(), dp_.name());
        shards_->expire_child(spi, /*inbound=*/true, /*hard=*/false);
    }
}

// --- control socket (daemon/control_server.hpp) ---

tl::expected<void, std::string> Server::open_control(
    const std::string& path, control::ControlTarget::Prepare prepare,
    control::ControlTarget::ReloadPlugins reload_plugins) {
    control::ControlTarget t;
    t.ike = shards_.get();
    t.dataplane = &dp_;
    t.prepare_engine = std::move(prepare);
    t.reload_plugins = std::move(reload_plugins);
    t.server_stats = [this] {
        const ServerStats& s = stats_;
        return nlohmann::json{{"esp_dropped", s.esp_dropped},
                              {"esp_received", s.esp_received},
                              {"esp_misrouted", s.esp_misrouted},
                              {"from_workers", s.from_workers},
                              {"lifetime_events", s.lifetime_events},
                              {"keepalives", s.keepalives},
                              {"malformed", s.malformed},
                              {"send_errors", s.send_errors},
                              {"dataplane_errors", s.dataplane_errors}};
    };
    control_service_ = std::make_unique<control::ControlService>(std::move(t), config_);
    auto server = control::ControlServer::open(io_, path, *control_service_);
    if (!server) {
        control_service_.reset();
        return tl::unexpected(server.error());
    }
    control_ = std::move(*server);
    return {};
}

}  // namespace postern::daemon
