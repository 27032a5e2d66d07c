#include "daemon/control_service.hpp"

#include <unistd.h>

#include <algorithm>
#include <map>

#include "daemon/engine_setup.hpp"
#include "daemon/load.hpp"
#include "daemon/logging.hpp"

namespace postern::daemon::control {

using nlohmann::json;

namespace {

std::int64_t seconds_between(ike::TimePoint from, ike::TimePoint to) {
    if (to <= from) return 0;
    return std::chrono::duration_cast<std::chrono::seconds>(to - from).count();
}

std::string hex(std::uint64_t v, int width) {
    char buf[17];
    std::snprintf(buf, sizeof buf, "%0*llx", width, static_cast<unsigned long long>(v));
    return buf;
}

std::string join(const std::vector<std::string>& v) {
    std::string s;
    for (const auto& e : v)
        s += (s.empty() ? "" : ", ") + e;
    return s.empty() ? "none" : s;
}

std::string join_ids(const std::vector<std::uint64_t>& v) {
    std::string s;
    for (auto id : v)
        s += (s.empty() ? "" : ", ") + std::to_string(id);
    return s;
}

// The per-subsystem levels of [log] and server.log_level, set on the running loggers (the
// loggers are not re-created: the data-plane workers log through them at any moment).
void apply_log_levels(const Config& c) {
    auto pick = [&](const std::string& s) { return s.empty() ? c.log_level : s; };
    const std::pair<Subsystem, std::string> levels[] = {{Subsystem::Ike, pick(c.log.ike)},
                                                        {Subsystem::Net, pick(c.log.net)},
                                                        {Subsystem::Cfg, pick(c.log.cfg)},
                                                        {Subsystem::Dp, pick(c.log.dp)}};
    for (const auto& [s, level] : levels)
        logger(s).set_level(spdlog::level::from_str(level));
}

spdlog::logger& log() {
    return logger(Subsystem::Net);
}

}  // namespace

std::string Peer::to_string() const {
    return "uid " + std::to_string(uid) + " gid " + std::to_string(gid) + " pid " +
           std::to_string(pid);
}

json ReloadReport::to_json() const {
    return json{{"file", file},        {"kept", kept},       {"deleted", deleted},
                {"added", added},      {"removed", removed}, {"needs_restart", needs_restart},
                {"warnings", warnings}};
}

namespace {

// One engine (the tests'), its answers applied by the target's `apply`.
class EngineAccess final : public IkeAccess {
  public:
    explicit EngineAccess(const ControlTarget& t) : t_(t) {}
    std::vector<ike::IkeSaInfo> list() override { return t_.engine->list(); }
    std::vector<std::uint64_t> sas_of_user(std::string_view user) override {
        return t_.engine->sas_of_user(user);
    }
    bool terminate(std::uint64_t id) override {
        ike::Actions out;
        const bool ok = t_.engine->terminate(id, t_.now(), out);
        if (t_.apply) t_.apply(out);
        return ok;
    }
    ike::EngineStats stats() override { return t_.engine->stats(); }
    std::size_t reload(const ike::EngineConfig& config) override {
        ike::Actions out;
        const std::size_t n = t_.engine->reload(config, t_.now(), out);
        if (t_.apply) t_.apply(out);
        return n;
    }

  private:
    const ControlTarget& t_;
};

}  // namespace

ControlService::ControlService(ControlTarget target, Config running)
    : t_(std::move(target)), running_(std::move(running)) {
    if (!t_.now) t_.now = [] { return ike::Clock::now(); };
    if (t_.ike) {
        ike_ = t_.ike;
    } else {
        own_ = std::make_unique<EngineAccess>(t_);
        ike_ = own_.get();
    }
    started_wall_ = std::chrono::system_clock::now();
    started_ = t_.now();
}

ike::TimePoint ControlService::now() const {
    return t_.now();
}

std::string ControlService::handle_line(std::string_view line, const Peer& peer) {
    auto request = parse_request(line);
    if (!request) {
        log().info("control: {}: request refused: {}: {}", peer.to_string(),
                   to_string(request.error().code), request.error().message);
        return encode(error_reply(request.error()));
    }
    return encode(handle(*request, peer));
}

json ControlService::handle(const Request& r, const Peer& peer) {
    switch (r.command) {
        case Command::Status:
            log().debug("control: {}: status", peer.to_string());
            return ok_reply(status_json(now()));
        case Command::SaList: {
            log().debug("control: {}: sa.list{}", peer.to_string(),
                        r.user ? " user " + *r.user : std::string());
            const auto t = now();
            auto list = ike_->list();
            std::sort(list.begin(), list.end(),
                      [](const ike::IkeSaInfo& a, const ike::IkeSaInfo& b) { return a.id < b.id; });
            json sas = json::array();
            for (const auto& sa : list)
                if (!r.user || sa.user == *r.user) sas.push_back(sa_json(sa, t));
            return ok_reply(json{{"sas", std::move(sas)}});
        }
        case Command::SaKill:
            return kill(r, peer);
        case Command::Reload: {
            log().info("control: {}: reload of {}", peer.to_string(), running_.file);
            auto report = reload();
            if (!report)
                return error_reply(Error{ErrorCode::ReloadFailed, report.error().to_string()});
            return ok_reply(report->to_json());
        }
    }
    return error_reply(Error{ErrorCode::Internal, "unhandled command"});
}

json ControlService::kill(const Request& r, const Peer& peer) {
    const std::vector<std::uint64_t> ids = r.user ? ike_->sas_of_user(*r.user) : r.ids;
    std::vector<std::uint64_t> killed, not_found;
    for (auto id : ids)
        (ike_->terminate(id) ? killed : not_found).push_back(id);
    const std::string what = r.user ? "user " + *r.user : "IKE SA " + join_ids(r.ids);
    if (killed.empty())
        log().info("control: {}: sa.kill {}: nothing to delete", peer.to_string(), what);
    else
        log().info("control: {}: sa.kill {}: deleting IKE SA {}", peer.to_string(), what,
                   join_ids(killed));
    json result{{"killed", killed}, {"not_found", not_found}};
    if (r.user) result["user"] = *r.user;
    return ok_reply(std::move(result));
}

json ControlService::sa_json(const ike::IkeSaInfo& sa, ike::TimePoint now) const {
    std::vector<std::string> vips;
    for (const auto& a : sa.virtual_ips)
        vips.push_back(a.to_string());
    std::uint64_t bytes_in = 0, bytes_out = 0, packets_in = 0, packets_out = 0;
    json children = json::array();
    for (const auto& c : sa.child_sas) {
        SaCounters in, out;
        if (c.installed && t_.dataplane) {
            t_.dataplane->counters(c.spi_in, true, in);
            t_.dataplane->counters(c.spi_out, false, out);
        }
        bytes_in += in.bytes;
        packets_in += in.packets;
        bytes_out += out.bytes;
        packets_out += out.packets;
        children.push_back(json{{"reqid", c.reqid},
                                {"spi_in", hex(c.spi_in.value(), 8)},
                                {"spi_out", hex(c.spi_out.value(), 8)},
                                {"algorithms", c.algorithms},
                                {"local_ts", c.local_ts},
                                {"remote_ts", c.remote_ts},
                                {"installed", c.installed},
                                {"bytes_in", in.bytes},
                                {"bytes_out", out.bytes},
                                {"packets_in", in.packets},
                                {"packets_out", out.packets}});
    }
    const bool established = sa.established_at.has_value();
    return json{
        {"id", sa.id},
        {"connection", sa.connection},
        {"state", std::string(ike::sa::to_string(sa.state))},
        {"role", sa.role == ike::sa::Role::Initiator ? "initiator" : "responder"},
        {"user", sa.user},
        {"remote_identity", sa.remote_identity},
        {"local", sa.local.to_string()},
        {"peer", sa.remote.to_string()},
        {"nat", {{"local", sa.nat_local}, {"remote", sa.nat_remote}}},
        {"mobike", sa.mobike},
        {"spi_i", hex(sa.spi_i.value(), 16)},
        {"spi_r", hex(sa.spi_r.value(), 16)},
        {"virtual_ips", vips},
        {"ike_algorithms", sa.algorithms},
        {"established", established},
        // Since IKE_AUTH completed, or since IKE_SA_INIT while it has not.
        {"uptime_s", seconds_between(established ? *sa.established_at : sa.created, now)},
        {"age_s", seconds_between(sa.created, now)},
        {"bytes_in", bytes_in},
        {"bytes_out", bytes_out},
        {"packets_in", packets_in},
        {"packets_out", packets_out},
        {"child_sas", std::move(children)},
    };
}

json ControlService::status_json(ike::TimePoint now) const {
    std::map<std::string, std::size_t> by_state;
    std::size_t children = 0;
    const auto sas = ike_->list();
    for (const auto& sa : sas) {
        ++by_state[std::string(ike::sa::to_string(sa.state))];
        children += sa.child_sas.size();
    }
    const ike::EngineStats s = ike_->stats();
    json engine{{"received", s.received},
                {"sent", s.sent},
                {"retransmitted", s.retransmitted},
                {"dropped_malformed", s.dropped_malformed},
                {"dropped_unknown_spi", s.dropped_unknown_spi},
                {"dropped_window", s.dropped_window},
                {"dropped_integrity", s.dropped_integrity},
                {"cookies_sent", s.cookies_sent},
                {"invalid_ke_sent", s.invalid_ke_sent},
                {"no_proposal_chosen", s.no_proposal_chosen},
                {"auth_failed", s.auth_failed},
                {"established", s.established},
                {"deleted", s.deleted},
                {"half_open_expired", s.half_open_expired},
                {"dropped_garbage", s.dropped_garbage},
                {"dropped_init_rate", s.dropped_init_rate},
                {"dropped_half_open_address", s.dropped_half_open_address},
                {"dropped_half_open_total", s.dropped_half_open_total},
                {"refused_sa_limit", s.refused_sa_limit},
                {"refused_cert_chain", s.refused_cert_chain}};
    json j{{"version", kVersion},
           {"pid", static_cast<std::int64_t>(::getpid())},
           {"started",
            std::chrono::duration_cast<std::chrono::seconds>(started_wall_.time_since_epoch())
                .count()},
           {"uptime_s", seconds_between(started_, now)},
           {"config", running_.file},
           {"dataplane", t_.dataplane ? t_.dataplane->name() : std::string("none")},
           {"ike_sas", {{"total", sas.size()}, {"by_state", by_state}}},
           {"child_sas", children},
           {"engine", std::move(engine)}};
    if (t_.server_stats) j["server"] = t_.server_stats();
    return j;
}

tl::expected<ReloadReport, ConfigError> ControlService::reload() {
    // The same checks as start-up: the file, the files it names, the pools.
    auto loaded = load_and_check(running_.file);
    if (!loaded) {
        log().warn("control: reload of {} refused, nothing changed: {}", running_.file,
                   loaded.error().to_string());
        return tl::unexpected(loaded.error());
    }
    ReloadReport rep;
    rep.file = running_.file;
    rep.warnings = std::move(loaded->warnings);
    Config next = std::move(loaded->config);
    ike::EngineConfig engine = std::move(loaded->engine);
    rep.needs_restart = keep_restart_only(running_, next);
    if (!rep.needs_restart.empty()) {
        // Pools may have been set back to their running prefixes, which the engine's
        // configuration (isolation selectors) is made from.
        auto rebuilt = build_engine_config(next, nullptr);
        if (!rebuilt) return tl::unexpected(rebuilt.error());
        engine = std::move(*rebuilt);
    }
    // What start-up added beyond the file carries over: the plugins' user stores, EAP methods,
    // PSK sources, authorizers (their set is fixed until a restart; a new server.user_db needs
    // one too).
    if (t_.prepare_engine)
        if (auto ok = t_.prepare_engine(engine, next); !ok) {
            log().warn("control: reload of {} refused, nothing changed: {}", running_.file,
                       ok.error().to_string());
            return tl::unexpected(ok.error());
        }
    if (t_.reload_plugins)
        for (auto& note : t_.reload_plugins(next))
            rep.warnings.push_back(std::move(note));

    auto has = [](const Config& c, const std::string& name) {
        return std::any_of(c.connections.begin(), c.connections.end(),
                           [&](const Connection& k) { return k.name == name; });
    };
    for (const auto& k : next.connections)
        if (!has(running_, k.name)) rep.added.push_back(k.name);
    for (const auto& k : running_.connections)
        if (!has(next, k.name)) rep.removed.push_back(k.name);

    const std::size_t before = ike_->list().size();
    rep.deleted = ike_->reload(engine);
    rep.kept = before >= rep.deleted ? before - rep.deleted : 0;
    apply_log_levels(next);
    running_ = std::move(next);

    for (const auto& w : rep.warnings)
        logger(Subsystem::Cfg).warn("{}", w);
    for (const auto& n : rep.needs_restart)
        logger(Subsystem::Cfg).warn("{}", n);
    logger(Subsystem::Cfg)
        .info("reloaded {}: {} IKE SA{} kept, {} deleted; connections added: {}; removed: {}",
              rep.file, rep.kept, rep.kept == 1 ? "" : "s", rep.deleted, join(rep.added),
              join(rep.removed));
    return rep;
}

std::vector<std::string> keep_restart_only(const Config& running, Config& next) {
    std::vector<std::string> notes;
    auto note = [&](const std::string& key, const std::string& now, const std::string& file) {
        notes.push_back(key + ": needs a restart (running: " + now + "; in the file: " + file +
                        ")");
    };
    auto list = [](const std::vector<std::string>& v) {
        std::string s = "[";
        for (const auto& e : v)
            if (!e.empty()) s += (s.size() > 1 ? ", " : "") + e;
        return s + "]";
    };
    if (next.listen != running.listen) {
        note("server.listen", list(running.listen), list(next.listen));
        next.listen = running.listen;
    }
    if (next.ike_port != running.ike_port) {
        note("server.port", std::to_string(running.ike_port), std::to_string(next.ike_port));
        next.ike_port = running.ike_port;
    }
    if (next.natt_port != running.natt_port) {
        note("server.natt_port", std::to_string(running.natt_port), std::to_string(next.natt_port));
        next.natt_port = running.natt_port;
    }
    if (next.ike_threads != running.ike_threads) {
        note("server.ike_threads", std::to_string(running.ike_threads),
             std::to_string(next.ike_threads));
        next.ike_threads = running.ike_threads;
    }
    if (next.dataplane != running.dataplane) {
        note("server.dataplane", to_string(running.dataplane), to_string(next.dataplane));
        next.dataplane = running.dataplane;
    }
    if (next.user_db != running.user_db) {
        note("server.user_db", running.user_db, next.user_db);
        next.user_db = running.user_db;
    }
    if (socket_path(next) != socket_path(running)) {
        note("server.control_socket", socket_path(running), socket_path(next));
        next.control_socket = running.control_socket;
    }
    for (auto& p : next.pools) {
        auto it = std::find_if(running.pools.begin(), running.pools.end(),
                               [&](const Pool& r) { return r.name == p.name; });
        if (it == running.pools.end()) {
            notes.push_back("pools." + p.name +
                            ": a new pool needs a restart; until then connections get no "
                            "address from it");
            continue;
        }
        if (p.ipv4 != it->ipv4 || p.ipv6 != it->ipv6) {
            note("pools." + p.name, list({it->ipv4, it->ipv6}), list({p.ipv4, p.ipv6}));
            p.ipv4 = it->ipv4;
            p.ipv6 = it->ipv6;
        }
    }
    for (const auto& r : running.pools)
        if (std::none_of(next.pools.begin(), next.pools.end(),
                         [&](const Pool& p) { return p.name == r.name; })) {
            notes.push_back("pools." + r.name +
                            ": removed from the file; it stays until a restart");
            next.pools.push_back(r);
        }
    return notes;
}

}  // namespace postern::daemon::control
