// An example of a Postern plugin built outside Postern's tree: an event sink that appends one
// JSON line per connect, disconnect and failed login to a file.
//
//   [plugins]
//   path = ["/usr/local/lib/postern/plugins"]
//   load = ["x509", "psk", "eap-mschapv2", "eap-tls", "sqlite-users", "jsonlog"]
//
//   [plugins.jsonlog]
//   path = "/var/log/postern/events.jsonl"   # required
//
// It uses nothing but the headers `cmake --install` puts under <prefix>/include/postern and the
// C++ standard library (docs/plugins.md walks through it).
#include <cstdio>
#include <fstream>
#include <string>

#include <postern/plugin/plugin.hpp>

namespace {

using namespace postern;

// A JSON string literal (RFC 8259: quote, backslash and control characters escaped).
std::string quoted(const std::string& s) {
    std::string out = "\"";
    for (unsigned char c : s) {
        switch (c) {
            case '"': out += "\\\""; break;
            case '\\': out += "\\\\"; break;
            case '\n': out += "\\n"; break;
            case '\r': out += "\\r"; break;
            case '\t': out += "\\t"; break;
            default:
                if (c < 0x20) {
                    char buf[8];
                    std::snprintf(buf, sizeof buf, "\\u%04x", c);
                    out += buf;
                } else {
                    out += static_cast<char>(c);
                }
        }
    }
    return out + "\"";
}

class JsonLines final : public plugin::EventSink {
  public:
    JsonLines(plugin::Host& host, std::string path) : host_(host), path_(std::move(path)) {}

    void on_connect(const plugin::ConnectEvent& e) override {
        std::string ips = "[";
        for (const auto& ip : e.virtual_ips)
            ips += (ips.size() > 1 ? "," : "") + quoted(ip);
        write("{\"event\":\"connect\",\"time\":" + std::to_string(e.time) +
              ",\"ike_sa\":" + std::to_string(e.ike_sa) + ",\"connection\":" + quoted(e.connection) +
              ",\"user\":" + quoted(e.user) + ",\"method\":" + quoted(e.auth_method) +
              ",\"peer\":" + quoted(e.peer) + ",\"virtual_ips\":" + ips + "]}");
    }
    void on_disconnect(const plugin::DisconnectEvent& e) override {
        write("{\"event\":\"disconnect\",\"time\":" + std::to_string(e.time) +
              ",\"ike_sa\":" + std::to_string(e.ike_sa) + ",\"user\":" + quoted(e.user) +
              ",\"peer\":" + quoted(e.peer) + ",\"reason\":" + quoted(e.reason) + "}");
    }
    void on_auth_failure(const plugin::AuthFailureEvent& e) override {
        write("{\"event\":\"auth_failure\",\"time\":" + std::to_string(e.time) +
              ",\"identity\":" + quoted(e.identity) + ",\"peer\":" + quoted(e.peer) +
              ",\"reason\":" + quoted(e.reason) + "}");
    }

  private:
    void write(const std::string& line) {
        std::ofstream out(path_, std::ios::app);
        out << line << '\n';
        if (!out) host_.log(plugin::LogLevel::error, "cannot write " + path_);
    }
    plugin::Host& host_;
    std::string path_;
};

class JsonLogPlugin final : public plugin::Plugin {};

std::unique_ptr<plugin::Plugin> create(plugin::Host& host, const plugin::Settings& settings,
                                       plugin::Registry& registry, std::string& error) {
    for (const auto& key : settings.keys())
        if (key != "path") {
            error = settings.error(key, "unknown key (path)");
            return nullptr;
        }
    auto path = settings.path("path");
    if (!path) {
        error = settings.error("path", "missing: the file to append events to");
        return nullptr;
    }
    if (!host.check_only()) {
        std::ofstream probe(*path, std::ios::app);
        if (!probe) {
            error = settings.error("path", "cannot open " + *path + " for appending");
            return nullptr;
        }
    }
    registry.add_event_sink(std::make_shared<JsonLines>(host, *path));
    host.log(plugin::LogLevel::info, "events to " + *path);
    return std::make_unique<JsonLogPlugin>();
}

}  // namespace

POSTERN_PLUGIN("jsonlog", "connection events as JSON lines (an out-of-tree example)", &create)
