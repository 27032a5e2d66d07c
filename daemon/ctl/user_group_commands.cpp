// postern group add|del|list, group member add|del|list, and postern audit.
#include <CLI/CLI.hpp>

#include <iostream>
#include <memory>

#include "daemon/ctl/cli_util.hpp"
#include "daemon/ctl/user_commands.hpp"
#include "daemon/ctl/user_password.hpp"
#include "db/user_store.hpp"

namespace postern::ctl {

using nlohmann::json;

json audit_to_json(const db::AuditEntry& e) {
    return json{{"id", e.id},
                {"time", iso8601_utc(e.at)},
                {"event", std::string(db::to_string(e.event))},
                {"identity", e.identity},
                {"user", e.user ? json(*e.user) : json(nullptr)},
                {"peer", e.peer},
                {"reason", e.reason}};
}

void print_audit_table(const std::vector<db::AuditEntry>& rows) {
    std::vector<std::vector<std::string>> cells;
    for (const auto& e : rows)
        cells.push_back({iso8601_utc(e.at), std::string(db::to_string(e.event)), e.identity,
                         e.user.value_or(""), e.peer, e.reason});
    print_table({"TIME", "EVENT", "IDENTITY", "USER", "PEER", "REASON"}, cells);
}

namespace {

void add_group_add_del(CLI::App* group, GlobalOptions& opts, bool add) {
    auto name = std::make_shared<std::string>();
    auto* sub = group->add_subcommand(add ? "add" : "del",
                                      add ? "add a group" : "delete a group (members stay users)");
    sub->add_option("name", *name, "group name")->required();
    sub->callback([name, add, &opts] {
        if (add)
            if (auto why = check_name(*name, "group")) return fail(opts, kUsage, *why);
        auto db = open_database(opts);
        if (!db) return;
        db::UserStore users(*db);
        if (add) {
            if (auto r = users.add_group(*name); !r) return fail(opts, r.error());
        } else {
            if (auto r = users.remove_group(*name); !r) return fail(opts, r.error());
        }
        if (opts.json)
            print_json(json{{add ? "added" : "deleted", *name}});
        else
            std::cout << (add ? "Added" : "Deleted") << " group " << *name << "\n";
    });
}

void add_group_list(CLI::App* group, GlobalOptions& opts) {
    auto* sub = group->add_subcommand("list", "list groups with their members");
    sub->callback([&opts] {
        auto db = open_database(opts);
        if (!db) return;
        db::UserStore users(*db);
        auto groups = users.list_groups();
        if (!groups) return fail(opts, groups.error());
        json arr = json::array();
        std::vector<std::vector<std::string>> rows;
        for (const auto& g : *groups) {
            auto members = users.members_of(g.name);
            if (!members) return fail(opts, members.error());
            arr.push_back(
                {{"name", g.name}, {"created", iso8601_utc(g.created_at)}, {"members", *members}});
            std::string m;
            for (const auto& s : *members)
                m += (m.empty() ? "" : ",") + s;
            rows.push_back({g.name, std::to_string(members->size()), m});
        }
        if (opts.json)
            print_json(arr);
        else
            print_table({"GROUP", "COUNT", "MEMBERS"}, rows);
    });
}

void add_member_commands(CLI::App* group, GlobalOptions& opts) {
    auto* member = group->add_subcommand("member", "group membership");
    member->require_subcommand(1);
    for (bool add : {true, false}) {
        struct Args {
            std::string group, user;
        };
        auto a = std::make_shared<Args>();
        auto* sub = member->add_subcommand(add ? "add" : "del", add ? "add a user to a group"
                                                                    : "remove a user from a "
                                                                      "group");
        sub->add_option("group", a->group, "group name")->required();
        sub->add_option("user", a->user, "user name")->required();
        sub->callback([a, add, &opts] {
            auto db = open_database(opts);
            if (!db) return;
            db::UserStore users(*db);
            auto r =
                add ? users.add_member(a->group, a->user) : users.remove_member(a->group, a->user);
            if (!r) return fail(opts, r.error());
            if (opts.json)
                print_json(json{{"group", a->group}, {"user", a->user}, {"member", add}});
            else
                std::cout << (add ? "Added " : "Removed ") << a->user << (add ? " to" : " from")
                          << " group " << a->group << "\n";
        });
    }
    auto name = std::make_shared<std::string>();
    auto* list = member->add_subcommand("list", "list a group's members");
    list->add_option("group", *name, "group name")->required();
    list->callback([name, &opts] {
        auto db = open_database(opts);
        if (!db) return;
        auto members = db::UserStore(*db).members_of(*name);
        if (!members) return fail(opts, members.error());
        if (opts.json) return print_json(*members);
        for (const auto& m : *members)
            std::cout << m << "\n";
    });
}

}  // namespace

void add_group_commands(CLI::App& app, GlobalOptions& opts) {
    auto* group = app.add_subcommand("group", "manage groups of users");
    group->require_subcommand(1);
    add_group_add_del(group, opts, true);
    add_group_add_del(group, opts, false);
    add_group_list(group, opts);
    add_member_commands(group, opts);
}

void add_audit_command(CLI::App& app, GlobalOptions& opts) {
    struct Args {
        std::string user;
        std::size_t limit = 50;
    };
    auto a = std::make_shared<Args>();
    auto* sub = app.add_subcommand("audit", "recent logins, failed logins and disconnects");
    sub->add_option("--user", a->user, "only this user's events");
    sub->add_option("--limit", a->limit, "at most this many rows, newest first")
        ->capture_default_str()
        ->check(CLI::Range(1, 1000000));
    sub->callback([a, &opts] {
        auto db = open_database(opts);
        if (!db) return;
        db::AuditLog log(*db);
        auto rows = a->user.empty() ? log.recent(a->limit) : log.by_user(a->user, a->limit);
        if (!rows) return fail(opts, rows.error());
        if (opts.json) {
            json arr = json::array();
            for (const auto& e : *rows)
                arr.push_back(audit_to_json(e));
            return print_json(arr);
        }
        print_audit_table(*rows);
    });
}

}  // namespace postern::ctl
