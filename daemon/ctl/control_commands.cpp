// postern status | sa list | sa kill | reload: the commands that talk to a running posternd over
// its control socket (daemon/ctl/control_client.hpp; protocol in docs/control.md).
//
//   postern status                 version, uptime, SAs by state, counters, data plane
//   postern sa list [--user U]     one line per IKE SA (--json: every detail)
//   postern sa kill ID...          Delete for these IKE SAs
//   postern sa kill --user U       Delete for every IKE SA of U
//   postern reload                 re-read postern.toml; unaffected SAs stay
//
// posternd not reachable: "postern: cannot reach posternd at PATH: <why> (is it running?)",
// exit kNoDaemon.

#include <CLI/CLI.hpp>

#include <cstdio>
#include <iostream>
#include <memory>

#include "daemon/ctl/cli_util.hpp"
#include "daemon/ctl/commands.hpp"
#include "daemon/ctl/control_client.hpp"

namespace postern::ctl {

namespace {

namespace control = daemon::control;
using nlohmann::json;

// The daemon's reply to `request`, or nullopt after printing why there is none (exit code set).
std::optional<json> ask(GlobalOptions& opts, const control::Request& request) {
    auto path = resolve_socket_path(opts);
    if (!path) {
        fail(opts, kFailure, path.error());
        return std::nullopt;
    }
    auto reply = control_request(*path, request);
    if (reply) return std::move(*reply);
    const auto& e = reply.error();
    switch (e.kind) {
        case ControlError::Kind::NotRunning:
        case ControlError::Kind::Unreachable:
            fail(opts, kNoDaemon,
                 "cannot reach posternd at " + *path + ": " + e.message + " (is it running?)");
            break;
        case ControlError::Kind::Io:
            fail(opts, kFailure, "posternd at " + *path + ": " + e.message);
            break;
        case ControlError::Kind::Daemon:
            fail(opts, kFailure,
                 "posternd refused " + std::string(control::to_string(request.command)) + ": " +
                     e.message);
            break;
    }
    return std::nullopt;
}

// Members of a reply, tolerant of an older or newer posternd (a missing field reads as empty).
std::string str(const json& j, const char* key) {
    auto it = j.find(key);
    return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}
std::uint64_t num(const json& j, const char* key) {
    auto it = j.find(key);
    return it != j.end() && it->is_number_unsigned() ? it->get<std::uint64_t>() : 0;
}
std::vector<std::string> strings(const json& j, const char* key) {
    std::vector<std::string> out;
    auto it = j.find(key);
    if (it == j.end() || !it->is_array()) return out;
    for (const auto& v : *it)
        if (v.is_string()) out.push_back(v.get<std::string>());
    return out;
}
std::string join(const std::vector<std::string>& v, const char* sep = ", ") {
    std::string s;
    for (const auto& e : v)
        s += (s.empty() ? "" : sep) + e;
    return s;
}

// 1536 -> "1.5 KiB"; below 1 KiB the exact count.
std::string human_bytes(std::uint64_t n) {
    if (n < 1024) return std::to_string(n) + " B";
    const char* units[] = {"KiB", "MiB", "GiB", "TiB", "PiB"};
    double v = static_cast<double>(n) / 1024;
    std::size_t u = 0;
    while (v >= 1024 && u + 1 < std::size(units)) {
        v /= 1024;
        ++u;
    }
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1f %s", v, units[u]);
    return buf;
}

// 3725 -> "1h 2m 5s"; at most the two largest units.
std::string human_duration(std::uint64_t s) {
    const std::uint64_t d = s / 86400, h = s % 86400 / 3600, m = s % 3600 / 60, sec = s % 60;
    if (d) return std::to_string(d) + "d " + std::to_string(h) + "h";
    if (h) return std::to_string(h) + "h " + std::to_string(m) + "m";
    if (m) return std::to_string(m) + "m " + std::to_string(sec) + "s";
    return std::to_string(sec) + "s";
}

std::string ids_text(const json& ids) {
    std::string s;
    for (const auto& id : ids)
        s += (s.empty() ? "" : ", ") + id.dump();
    return s;
}

void print_status(const json& r) {
    std::cout << "posternd " << str(r, "version") << " (pid " << num(r, "pid") << "), up "
              << human_duration(num(r, "uptime_s")) << " since "
              << iso8601_utc(static_cast<std::int64_t>(num(r, "started"))) << "\n";
    std::cout << "config      " << str(r, "config") << "\n";
    std::cout << "data plane  " << str(r, "dataplane") << "\n";
    const json ike = r.value("ike_sas", json::object());
    std::string states;
    const json by_state = ike.value("by_state", json::object());
    for (const auto& [state, n] : by_state.items())
        states += (states.empty() ? "" : ", ") + n.dump() + " " + state;
    std::cout << "IKE SAs     " << num(ike, "total") << (states.empty() ? "" : ": " + states)
              << "\n";
    std::cout << "CHILD_SAs   " << num(r, "child_sas") << "\n";
    for (const auto& [title, key] :
         {std::pair{"engine      ", "engine"}, {"I/O         ", "server"}}) {
        auto it = r.find(key);
        if (it == r.end() || !it->is_object()) continue;
        std::string line;
        for (const auto& [name, v] : it->items())
            line += (line.empty() ? "" : ", ") + name + " " + v.dump();
        std::cout << title << line << "\n";
    }
}

void print_sas(const json& sas) {
    std::vector<std::vector<std::string>> rows;
    for (const auto& sa : sas) {
        std::vector<std::string> child_algs;
        for (const auto& c : sa.value("child_sas", json::array()))
            child_algs.push_back(str(c, "algorithms"));
        rows.push_back(
            {std::to_string(num(sa, "id")), str(sa, "user"), str(sa, "connection"), str(sa, "peer"),
             join(strings(sa, "virtual_ips"), ","), str(sa, "ike_algorithms"),
             join(child_algs, ","),
             human_bytes(num(sa, "bytes_in")) + " / " + human_bytes(num(sa, "bytes_out")),
             std::to_string(num(sa, "packets_in")) + " / " + std::to_string(num(sa, "packets_out")),
             sa.value("established", false) ? human_duration(num(sa, "uptime_s"))
                                            : str(sa, "state")});
    }
    print_table({"ID", "USER", "CONNECTION", "PEER", "VIRTUAL IP", "IKE", "CHILD", "BYTES IN/OUT",
                 "PACKETS IN/OUT", "UPTIME"},
                rows);
}

void print_reload(const json& r) {
    const auto kept = num(r, "kept"), deleted = num(r, "deleted");
    std::cout << "reloaded " << str(r, "file") << ": " << kept << " IKE SA"
              << (kept == 1 ? "" : "s") << " kept, " << deleted
              << " deleted (connection removed)\n";
    if (auto added = strings(r, "added"); !added.empty())
        std::cout << "connections added: " << join(added) << "\n";
    if (auto removed = strings(r, "removed"); !removed.empty())
        std::cout << "connections removed: " << join(removed) << "\n";
    for (const auto& n : strings(r, "needs_restart"))
        std::cout << "not applied, " << n << "\n";
    for (const auto& w : strings(r, "warnings"))
        warn(w);
}

struct SaOptions {
    std::string user;
    std::vector<std::uint64_t> ids;
};

void sa_kill(GlobalOptions& opts, const SaOptions& o) {
    if (o.user.empty() == o.ids.empty()) {
        fail(opts, kUsage, "sa kill takes IKE SA ids or --user, one of the two");
        return;
    }
    control::Request request{control::Command::SaKill, std::nullopt, o.ids};
    if (!o.user.empty()) request.user = o.user;
    auto r = ask(opts, request);
    if (!r) return;
    if (opts.json) print_json(*r);
    const json killed = r->value("killed", json::array());
    const json missing = r->value("not_found", json::array());
    if (!opts.json && !killed.empty())
        std::cout << (o.user.empty() ? "" : o.user + ": ") << "deleting IKE SA " << ids_text(killed)
                  << "\n";
    if (!o.user.empty() && killed.empty())
        fail(opts, kNotFound, "no IKE SA of user " + o.user);
    else if (!missing.empty())
        fail(opts, kNotFound, "no IKE SA " + ids_text(missing));
}

}  // namespace

void add_control_commands(CLI::App& app, GlobalOptions& opts) {
    auto* status = app.add_subcommand(
        "status", "the running posternd: version, uptime, SAs by state, counters, data plane");
    status->callback([&opts] {
        if (auto r = ask(opts, control::Request{control::Command::Status, {}, {}}))
            opts.json ? print_json(*r) : print_status(*r);
    });

    auto* sa = app.add_subcommand("sa", "security associations of the running posternd");
    sa->require_subcommand(1);
    auto list_opts = std::make_shared<SaOptions>();
    auto* list = sa->add_subcommand(
        "list", "IKE SAs: user, peer, virtual IPs, algorithms, bytes, packets, uptime");
    list->add_option("--user", list_opts->user, "only this user's SAs");
    list->callback([&opts, list_opts] {
        control::Request request{control::Command::SaList, std::nullopt, {}};
        if (!list_opts->user.empty()) request.user = list_opts->user;
        auto r = ask(opts, request);
        if (!r) return;
        if (opts.json)
            print_json(*r);
        else
            print_sas(r->value("sas", json::array()));
    });

    auto kill_opts = std::make_shared<SaOptions>();
    auto* kill = sa->add_subcommand("kill", "delete IKE SAs (with their CHILD_SAs) by id or user");
    kill->add_option("ids", kill_opts->ids, "IKE SA ids (from sa list)");
    kill->add_option("--user", kill_opts->user, "every IKE SA of this user");
    kill->callback([&opts, kill_opts] { sa_kill(opts, *kill_opts); });

    auto* reload = app.add_subcommand(
        "reload",
        "make posternd re-read its configuration; SAs of unchanged connections stay (users need "
        "no reload: they are read at each login)");
    reload->callback([&opts] {
        auto r = ask(opts, control::Request{control::Command::Reload, {}, {}});
        if (!r) return;
        opts.json ? print_json(*r) : print_reload(*r);
    });
}

std::optional<std::string> end_user_sas(const GlobalOptions& opts, const std::string& user) {
    auto path = resolve_socket_path(opts);
    if (!path) return path.error();
    auto reply = control_request(*path, control::Request{control::Command::SaKill, user, {}});
    if (reply) return std::nullopt;
    const auto& e = reply.error();
    if (e.kind == ControlError::Kind::NotRunning) return std::nullopt;  // nothing to end
    return "cannot end the SAs of " + user + " in posternd at " + *path + ": " + e.message;
}

}  // namespace postern::ctl
