#include "daemon/dataplane_log.hpp"

#include <cstdio>

#include "daemon/logging.hpp"
#include "ike/policy/traffic_selector.hpp"
#include "ike/wire/constants.hpp"

namespace postern::daemon {

namespace {

std::string spi_hex(EspSpi spi) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "%08x", spi.value());
    return buf;
}

std::string selectors(const std::vector<Selector>& list) {
    std::vector<ike::policy::TrafficSelector> ts;
    for (const auto& sel : list) {
        ike::policy::TrafficSelector t;
        t.type =
            sel.start.is_v4() ? ike::TsType::TS_IPV4_ADDR_RANGE : ike::TsType::TS_IPV6_ADDR_RANGE;
        t.ip_protocol = sel.ip_protocol;
        t.start_port = sel.start_port;
        t.end_port = sel.end_port;
        t.start = sel.start;
        t.end = sel.end;
        ts.push_back(t);
    }
    return ts.empty() ? "-" : ike::policy::to_string(ts);
}

}  // namespace

std::string RecordingDataPlane::describe(const EspSaSpec& sa) {
    std::string s = std::string(sa.inbound ? "inbound" : "outbound") + " ESP SA " +
                    spi_hex(sa.spi) + " " + sa.src.address.to_string() + " -> " +
                    sa.dst.address.to_string();
    if (sa.udp_encap)
        s += " (UDP " + std::to_string(sa.src.port) + " -> " + std::to_string(sa.dst.port) + ")";
    s += ", " + ike::to_string(static_cast<ike::EncrId>(sa.encr_id));
    if (sa.encr_key_bits) s += "/" + std::to_string(sa.encr_key_bits);
    if (sa.integ_id) s += " " + ike::to_string(static_cast<ike::IntegId>(sa.integ_id));
    if (sa.esn) s += " ESN";
    s += ", reqid " + std::to_string(sa.reqid) + ", local " + selectors(sa.local_ts) + ", remote " +
         selectors(sa.remote_ts);
    if (sa.hard_seconds) s += ", lifetime " + std::to_string(sa.hard_seconds) + " s";
    return s;
}

bool RecordingDataPlane::install(const EspSaSpec& sa, std::string& error) {
    auto key = std::pair{sa.spi.value(), sa.inbound};
    if (sas_.count(key)) {
        error = (sa.inbound ? "inbound" : "outbound") + std::string(" SA ") + spi_hex(sa.spi) +
                " is already installed";
        return false;
    }
    auto text = describe(sa);
    logger(Subsystem::Dp).info("install {} (not forwarded: no data plane yet)", text);
    sas_.emplace(key, std::move(text));
    return true;
}

bool RecordingDataPlane::remove(EspSpi spi, bool inbound, std::string& error) {
    auto it = sas_.find({spi.value(), inbound});
    if (it == sas_.end()) {
        error = (inbound ? "inbound" : "outbound") + std::string(" SA ") + spi_hex(spi) +
                " is not installed";
        return false;
    }
    logger(Subsystem::Dp).info("remove {}", it->second);
    sas_.erase(it);
    return true;
}

bool RecordingDataPlane::counters(EspSpi spi, bool inbound, SaCounters& out) {
    out = {};
    return sas_.count({spi.value(), inbound}) > 0;
}

namespace {
std::string move_text(EspSpi spi, bool inbound, const Endpoint& src, const Endpoint& dst,
                      bool udp_encap) {
    return std::string(inbound ? "inbound" : "outbound") + " ESP SA " + spi_hex(spi) + " to " +
           src.to_string() + " -> " + dst.to_string() + (udp_encap ? " (ESP in UDP)" : "");
}
}  // namespace

bool RecordingDataPlane::move(EspSpi spi, bool inbound, const Endpoint& src, const Endpoint& dst,
                              bool udp_encap, std::string& error) {
    if (!sas_.count({spi.value(), inbound})) {
        error = (inbound ? "inbound" : "outbound") + std::string(" SA ") + spi_hex(spi) +
                " is not installed";
        return false;
    }
    logger(Subsystem::Dp).info("move {}", move_text(spi, inbound, src, dst, udp_encap));
    return true;
}

bool LoggedDataPlane::move(EspSpi spi, bool inbound, const Endpoint& src, const Endpoint& dst,
                           bool udp_encap, std::string& error) {
    if (!inner_.move(spi, inbound, src, dst, udp_encap, error)) return false;
    logger(Subsystem::Dp).info("move {} ({})", move_text(spi, inbound, src, dst, udp_encap),
                               inner_.name());
    return true;
}

bool LoggedDataPlane::install(const EspSaSpec& sa, std::string& error) {
    if (!inner_.install(sa, error)) return false;
    logger(Subsystem::Dp).info("install {} ({})", RecordingDataPlane::describe(sa), inner_.name());
    return true;
}

bool LoggedDataPlane::remove(EspSpi spi, bool inbound, std::string& error) {
    SaCounters c;
    const bool counted = inner_.counters(spi, inbound, c);
    if (!inner_.remove(spi, inbound, error)) return false;
    logger(Subsystem::Dp)
        .info("remove {} ESP SA {} ({}){}", inbound ? "inbound" : "outbound", spi_hex(spi),
              inner_.name(),
              counted ? ": " + std::to_string(c.packets) + " packets, " + std::to_string(c.bytes) +
                            " bytes"
                      : std::string());
    return true;
}

}  // namespace postern::daemon
