// postern user add|del|list|show|passwd|enable|disable|set: users in the SQLite database,
// edited directly whether or not posternd runs (DESIGN.md, "Control"). A running posternd is
// told to end a deleted or disabled user's SAs (end_user_sas).
#include <unistd.h>
#include <CLI/CLI.hpp>

#include <iostream>
#include <memory>

#include "daemon/ctl/cli_util.hpp"
#include "daemon/ctl/commands.hpp"
#include "daemon/ctl/user_commands.hpp"
#include "daemon/ctl/user_password.hpp"
#include "db/audit_log.hpp"
#include "db/user_store.hpp"

namespace postern::ctl {

namespace {

using nlohmann::json;

struct PasswordFlags {
    bool from_stdin = false;
    bool generate = false;
};

void add_password_flags(CLI::App* sub, PasswordFlags& f) {
    auto* s =
        sub->add_flag("--password-stdin", f.from_stdin, "read the password from one line of stdin");
    auto* g = sub->add_flag("--generate", f.generate,
                            "generate a random password and print it once (the default when "
                            "stdin is not a terminal)");
    s->excludes(g);
}

// The password for `user`, or nullopt after printing why (opts.exit_code set). `generated` says
// whether to show it.
std::optional<Password> obtain_password(GlobalOptions& opts, const PasswordFlags& f,
                                        const std::string& user, bool& generated) {
    const auto source =
        choose_password_source(f.from_stdin, f.generate, ::isatty(STDIN_FILENO) == 1);
    generated = source == PasswordSource::generate;
    tl::expected<Password, std::string> pw = tl::unexpected(std::string());
    switch (source) {
        case PasswordSource::generate:
            pw = generate_password();
            break;
        case PasswordSource::stdin_line:
            pw = read_password_line(std::cin);
            break;
        case PasswordSource::prompt:
            pw = prompt_password(user);
            break;
    }
    if (!pw) {
        fail(opts, kUsage, "user " + user + ": " + pw.error());
        return std::nullopt;
    }
    return std::move(*pw);
}

// "none" clears the address; anything else must be an address of `family`.
tl::expected<std::optional<IpAddress>, std::string> parse_static_address(const std::string& text,
                                                                         IpAddress::Family family,
                                                                         bool allow_none) {
    const char* opt = family == IpAddress::Family::V4 ? "--ipv4" : "--ipv6";
    if (allow_none && text == "none") return std::optional<IpAddress>();
    auto a = IpAddress::parse(text);
    if (!a) return tl::unexpected(std::string(opt) + ": \"" + text + "\" is not an IP address");
    if (a->family() != family)
        return tl::unexpected(std::string(opt) + ": \"" + text + "\" is an IPv" +
                              (a->is_v4() ? "4" : "6") + " address");
    return std::optional<IpAddress>(*a);
}

// Applies --attr k=v (values are strings) and --unset-attr k to a JSON object.
tl::expected<json, std::string> apply_attributes(json attrs, const std::vector<std::string>& set,
                                                 const std::vector<std::string>& unset) {
    if (!attrs.is_object()) attrs = json::object();
    for (const auto& k : unset)
        attrs.erase(k);
    for (const auto& kv : set) {
        const auto eq = kv.find('=');
        if (eq == std::string::npos || eq == 0)
            return tl::unexpected("--attr: \"" + kv + "\" is not key=value");
        attrs[kv.substr(0, eq)] = kv.substr(eq + 1);
    }
    return attrs;
}

json parse_attributes(const std::string& text) {
    auto j = json::parse(text, nullptr, false);
    return j.is_discarded() ? json::object() : j;
}

json user_to_json(const db::User& u, const std::vector<std::string>& groups) {
    json j;
    j["name"] = u.name;
    j["enabled"] = u.enabled;
    j["has_password"] = u.has_password;
    j["created"] = iso8601_utc(u.created_at);
    j["last_login"] = u.last_login ? json(iso8601_utc(*u.last_login)) : json(nullptr);
    j["ipv4"] = u.static_ipv4 ? json(u.static_ipv4->to_string()) : json(nullptr);
    j["ipv6"] = u.static_ipv6 ? json(u.static_ipv6->to_string()) : json(nullptr);
    j["groups"] = groups;
    j["attributes"] = parse_attributes(u.attributes);
    return j;
}

std::string join(const std::vector<std::string>& v, const char* sep = ",") {
    std::string out;
    for (const auto& s : v)
        out += (out.empty() ? "" : sep) + s;
    return out;
}

std::string attributes_text(const json& attrs) {
    std::string out;
    for (const auto& [k, v] : attrs.items())
        out +=
            (out.empty() ? "" : " ") + k + "=" + (v.is_string() ? v.get<std::string>() : v.dump());
    return out;
}

void print_password(const GlobalOptions& opts, const std::string& user, const Password& pw) {
    if (opts.json) return;  // part of the JSON document
    std::cout << "Password for " << user << " (shown once, not stored): " << pw.text() << "\n";
}

// After the DB change: ask posternd to end the user's SAs; a failure is only a warning.
void end_sas(GlobalOptions& opts, const std::string& user, json* out) {
    auto err = end_user_sas(opts, user);
    // The message names the user and the socket; the database change stands either way.
    if (err) warn(*err + " (the database change is done)");
    if (out) (*out)["sas_ended"] = !err.has_value();
}

// ---- user add
void add_user_add(CLI::App* user, GlobalOptions& opts) {
    struct Args {
        std::string name, ipv4, ipv6;
        std::vector<std::string> groups, attrs;
        PasswordFlags pw;
    };
    auto a = std::make_shared<Args>();
    auto* sub = user->add_subcommand("add",
                                     "add a user (password prompted, from stdin, or "
                                     "generated)");
    sub->add_option("name", a->name, "user name (also the EAP identity)")->required();
    add_password_flags(sub, a->pw);
    sub->add_option("--group", a->groups, "add to this group (repeatable; it must exist)");
    sub->add_option("--ipv4", a->ipv4, "static IPv4 address");
    sub->add_option("--ipv6", a->ipv6, "static IPv6 address");
    sub->add_option("--attr", a->attrs, "attribute key=value (repeatable)");
    sub->callback([a, &opts] {
        if (auto why = check_name(a->name)) return fail(opts, kUsage, *why);
        std::optional<IpAddress> v4, v6;
        if (!a->ipv4.empty()) {
            auto r = parse_static_address(a->ipv4, IpAddress::Family::V4, false);
            if (!r) return fail(opts, kUsage, r.error());
            v4 = *r;
        }
        if (!a->ipv6.empty()) {
            auto r = parse_static_address(a->ipv6, IpAddress::Family::V6, false);
            if (!r) return fail(opts, kUsage, r.error());
            v6 = *r;
        }
        auto attrs = apply_attributes(json::object(), a->attrs, {});
        if (!attrs) return fail(opts, kUsage, attrs.error());
        for (const auto& g : a->groups)
            if (auto why = check_name(g, "group")) return fail(opts, kUsage, *why);

        auto db = open_database(opts);
        if (!db) return;
        db::UserStore users(*db);
        // Refuse a taken name before asking for a password.
        if (auto u = users.get(a->name); u)
            return fail(opts, kExists, "user \"" + a->name + "\" already exists");
        bool generated = false;
        auto pw = obtain_password(opts, a->pw, a->name, generated);
        if (!pw) return;
        auto hash = nt_hash_of(*pw);
        if (!hash) return fail(opts, kUsage, "user " + a->name + ": " + hash.error());

        // All or nothing: a taken address or an unknown group leaves no half-made user.
        auto tx = db->begin_write("add user");
        if (!tx) return fail(opts, tx.error());
        auto added = users.add(a->name, hash->view());
        if (!added) return fail(opts, added.error());
        if (v4)
            if (auto r = users.set_static_address(a->name, IpAddress::Family::V4, v4); !r)
                return fail(opts, r.error());
        if (v6)
            if (auto r = users.set_static_address(a->name, IpAddress::Family::V6, v6); !r)
                return fail(opts, r.error());
        if (!attrs->empty())
            if (auto r = users.set_attributes(a->name, attrs->dump()); !r)
                return fail(opts, r.error());
        for (const auto& g : a->groups)
            if (auto r = users.add_member(g, a->name); !r) return fail(opts, r.error());
        if (auto r = tx->commit(); !r) return fail(opts, r.error());

        auto u = users.get(a->name);
        auto groups = users.groups_of(a->name);
        if (!u || !groups) return fail(opts, !u ? u.error() : groups.error());
        if (opts.json) {
            json j = user_to_json(*u, *groups);
            if (generated) j["password"] = pw->text();
            print_json(j);
        } else {
            std::cout << "Added user " << a->name << "\n";
            if (generated) print_password(opts, a->name, *pw);
        }
    });
}

// ---- user del
void add_user_del(CLI::App* user, GlobalOptions& opts) {
    auto name = std::make_shared<std::string>();
    auto* sub = user->add_subcommand("del", "delete a user and end its IKE SAs");
    sub->add_option("name", *name, "user name")->required();
    sub->callback([name, &opts] {
        auto db = open_database(opts);
        if (!db) return;
        if (auto r = db::UserStore(*db).remove(*name); !r) return fail(opts, r.error());
        json j{{"deleted", *name}};
        end_sas(opts, *name, &j);
        if (opts.json)
            print_json(j);
        else
            std::cout << "Deleted user " << *name << "\n";
    });
}

// ---- user list
void add_user_list(CLI::App* user, GlobalOptions& opts) {
    auto* sub = user->add_subcommand("list", "list users");
    sub->callback([&opts] {
        auto db = open_database(opts);
        if (!db) return;
        db::UserStore users(*db);
        auto list = users.list();
        if (!list) return fail(opts, list.error());
        json arr = json::array();
        std::vector<std::vector<std::string>> rows;
        for (const auto& u : *list) {
            auto groups = users.groups_of(u.name);
            if (!groups) return fail(opts, groups.error());
            arr.push_back(user_to_json(u, *groups));
            rows.push_back({u.name, u.enabled ? "yes" : "no", u.has_password ? "yes" : "no",
                            u.static_ipv4 ? u.static_ipv4->to_string() : "",
                            u.static_ipv6 ? u.static_ipv6->to_string() : "", join(*groups),
                            u.last_login ? iso8601_utc(*u.last_login) : ""});
        }
        if (opts.json)
            print_json(arr);
        else
            print_table({"NAME", "ENABLED", "PASSWORD", "IPV4", "IPV6", "GROUPS", "LAST LOGIN"},
                        rows);
    });
}

// ---- user show
void add_user_show(CLI::App* user, GlobalOptions& opts) {
    auto name = std::make_shared<std::string>();
    auto* sub = user->add_subcommand("show", "show a user and its last 5 audit events");
    sub->add_option("name", *name, "user name")->required();
    sub->callback([name, &opts] {
        auto db = open_database(opts);
        if (!db) return;
        db::UserStore users(*db);
        auto u = users.get(*name);
        if (!u) return fail(opts, u.error());
        auto groups = users.groups_of(*name);
        if (!groups) return fail(opts, groups.error());
        auto audit = db::AuditLog(*db).by_user(*name, 5);
        if (!audit) return fail(opts, audit.error());
        json j = user_to_json(*u, *groups);
        if (opts.json) {
            j["audit"] = json::array();
            for (const auto& e : *audit)
                j["audit"].push_back(audit_to_json(e));
            return print_json(j);
        }
        auto line = [](const char* k, const std::string& v) {
            std::cout << k << std::string(12 - std::string_view(k).size(), ' ')
                      << (v.empty() ? "-" : v) << "\n";
        };
        line("name", u->name);
        line("enabled", u->enabled ? "yes" : "no");
        line("password", u->has_password ? "set" : "not set");
        line("groups", join(*groups, ", "));
        line("ipv4", u->static_ipv4 ? u->static_ipv4->to_string() : "");
        line("ipv6", u->static_ipv6 ? u->static_ipv6->to_string() : "");
        line("attributes", attributes_text(j["attributes"]));
        line("created", iso8601_utc(u->created_at));
        line("last login", u->last_login ? iso8601_utc(*u->last_login) : "never");
        std::cout << "\nRecent events:\n";
        if (audit->empty())
            std::cout << "  (none)\n";
        else
            print_audit_table(*audit);
    });
}

// ---- user passwd
void add_user_passwd(CLI::App* user, GlobalOptions& opts) {
    struct Args {
        std::string name;
        PasswordFlags pw;
    };
    auto a = std::make_shared<Args>();
    auto* sub = user->add_subcommand("passwd", "set a user's password");
    sub->add_option("name", a->name, "user name")->required();
    add_password_flags(sub, a->pw);
    sub->callback([a, &opts] {
        auto db = open_database(opts);
        if (!db) return;
        db::UserStore users(*db);
        if (auto u = users.get(a->name); !u) return fail(opts, u.error());
        bool generated = false;
        auto pw = obtain_password(opts, a->pw, a->name, generated);
        if (!pw) return;
        auto hash = nt_hash_of(*pw);
        if (!hash) return fail(opts, kUsage, "user " + a->name + ": " + hash.error());
        if (auto r = users.set_password_hash(a->name, hash->view()); !r)
            return fail(opts, r.error());
        if (opts.json) {
            json j{{"name", a->name}, {"password_changed", true}};
            if (generated) j["password"] = pw->text();
            print_json(j);
        } else {
            std::cout << "Password of " << a->name << " changed\n";
            if (generated) print_password(opts, a->name, *pw);
        }
    });
}

// ---- user enable / disable
void add_user_enable(CLI::App* user, GlobalOptions& opts, bool enable) {
    auto name = std::make_shared<std::string>();
    auto* sub = user->add_subcommand(
        enable ? "enable" : "disable",
        enable ? "let a user log in again" : "refuse a user's logins and end its IKE SAs");
    sub->add_option("name", *name, "user name")->required();
    sub->callback([name, enable, &opts] {
        auto db = open_database(opts);
        if (!db) return;
        if (auto r = db::UserStore(*db).set_enabled(*name, enable); !r)
            return fail(opts, r.error());
        json j{{"name", *name}, {"enabled", enable}};
        if (!enable) end_sas(opts, *name, &j);
        if (opts.json)
            print_json(j);
        else
            std::cout << (enable ? "Enabled" : "Disabled") << " user " << *name << "\n";
    });
}

// ---- user set
void add_user_set(CLI::App* user, GlobalOptions& opts) {
    struct Args {
        std::string name, ipv4, ipv6;
        std::vector<std::string> attrs, unset;
    };
    auto a = std::make_shared<Args>();
    auto* sub = user->add_subcommand("set", "change a user's static addresses or attributes");
    sub->add_option("name", a->name, "user name")->required();
    sub->add_option("--ipv4", a->ipv4, "static IPv4 address, or \"none\" to remove it");
    sub->add_option("--ipv6", a->ipv6, "static IPv6 address, or \"none\" to remove it");
    sub->add_option("--attr", a->attrs, "set attribute key=value (repeatable)");
    sub->add_option("--unset-attr", a->unset, "remove attribute key (repeatable)");
    sub->callback([a, &opts] {
        if (a->ipv4.empty() && a->ipv6.empty() && a->attrs.empty() && a->unset.empty())
            return fail(opts, kUsage,
                        "user set: nothing to change (--ipv4, --ipv6, --attr, --unset-attr)");
        std::optional<std::optional<IpAddress>> v4, v6;
        if (!a->ipv4.empty()) {
            auto r = parse_static_address(a->ipv4, IpAddress::Family::V4, true);
            if (!r) return fail(opts, kUsage, r.error());
            v4 = *r;
        }
        if (!a->ipv6.empty()) {
            auto r = parse_static_address(a->ipv6, IpAddress::Family::V6, true);
            if (!r) return fail(opts, kUsage, r.error());
            v6 = *r;
        }
        auto db = open_database(opts);
        if (!db) return;
        db::UserStore users(*db);
        auto tx = db->begin_write("set user");
        if (!tx) return fail(opts, tx.error());
        auto u = users.get(a->name);
        if (!u) return fail(opts, u.error());
        if (v4)
            if (auto r = users.set_static_address(a->name, IpAddress::Family::V4, *v4); !r)
                return fail(opts, r.error());
        if (v6)
            if (auto r = users.set_static_address(a->name, IpAddress::Family::V6, *v6); !r)
                return fail(opts, r.error());
        if (!a->attrs.empty() || !a->unset.empty()) {
            auto attrs = apply_attributes(parse_attributes(u->attributes), a->attrs, a->unset);
            if (!attrs) return fail(opts, kUsage, attrs.error());
            if (auto r = users.set_attributes(a->name, attrs->dump()); !r)
                return fail(opts, r.error());
        }
        if (auto r = tx->commit(); !r) return fail(opts, r.error());
        auto after = users.get(a->name);
        auto groups = users.groups_of(a->name);
        if (!after || !groups) return fail(opts, !after ? after.error() : groups.error());
        if (opts.json)
            print_json(user_to_json(*after, *groups));
        else
            std::cout << "Updated user " << a->name << "\n";
    });
}

}  // namespace

void add_user_commands(CLI::App& app, GlobalOptions& opts) {
    auto* user = app.add_subcommand("user", "manage users (EAP-MSCHAPv2 accounts)");
    user->require_subcommand(1);
    add_user_add(user, opts);
    add_user_del(user, opts);
    add_user_list(user, opts);
    add_user_show(user, opts);
    add_user_passwd(user, opts);
    add_user_enable(user, opts, true);
    add_user_enable(user, opts, false);
    add_user_set(user, opts);
    add_group_commands(app, opts);
    add_audit_command(app, opts);
}

}  // namespace postern::ctl
