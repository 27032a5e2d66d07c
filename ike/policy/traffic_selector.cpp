#include "ike/policy/traffic_selector.hpp"

#include <algorithm>
#include <bit>
#include <optional>

namespace postern::ike::policy {

namespace {

// The address with every bit after the first `prefix` cleared (or set, for the last address).
IpAddress masked(const IpAddress& a, unsigned prefix, bool set_host_bits) {
    IpAddress out = a;
    std::uint8_t* b = out.data();
    const unsigned bits = static_cast<unsigned>(a.size()) * 8;
    for (unsigned i = prefix; i < bits; ++i) {
        const auto bit = static_cast<std::uint8_t>(0x80u >> (i % 8));
        if (set_host_bits)
            b[i / 8] = static_cast<std::uint8_t>(b[i / 8] | bit);
        else
            b[i / 8] = static_cast<std::uint8_t>(b[i / 8] & ~bit);
    }
    return out;
}

// The prefix length when start..end is exactly one prefix: equal leading bits, then start's
// all 0 and end's all 1. One pass over the octets (every CHILD_SA install formats its
// selectors for the log).
std::optional<unsigned> prefix_of(const IpAddress& start, const IpAddress& end) {
    if (start.family() != end.family()) return std::nullopt;
    const auto s = start.bytes(), e = end.bytes();
    std::size_t i = 0;
    while (i < s.size() && s[i] == e[i])
        ++i;
    if (i == s.size()) return static_cast<unsigned>(i * 8);  // one address
    const auto lead = static_cast<unsigned>(std::countl_zero(static_cast<std::uint8_t>(s[i] ^ e[i])));
    const auto host = static_cast<std::uint8_t>(0xffu >> lead);
    if ((s[i] & host) != 0 || (e[i] & host) != host) return std::nullopt;
    for (std::size_t j = i + 1; j < s.size(); ++j)
        if (s[j] != 0 || e[j] != 0xff) return std::nullopt;
    return static_cast<unsigned>(i * 8 + lead);
}

std::string protocol_name(std::uint8_t proto) {
    switch (proto) {
        case 1:
            return "icmp";
        case 6:
            return "tcp";
        case 17:
            return "udp";
        case 58:
            return "ipv6-icmp";
        case 132:
            return "sctp";
        default:
            return std::to_string(proto);
    }
}

// Drops results contained in another one (keeping the first of equal ones), so the answer
// has no redundant selectors.
std::vector<TrafficSelector> reduce(std::vector<TrafficSelector> in) {
    std::vector<TrafficSelector> out;
    for (std::size_t i = 0; i < in.size(); ++i) {
        bool redundant = false;
        for (std::size_t j = 0; j < in.size() && !redundant; ++j) {
            if (i == j || !in[i].within(in[j])) continue;
            redundant = !in[j].within(in[i]) || j < i;
        }
        if (!redundant) out.push_back(in[i]);
    }
    return out;
}

}  // namespace

tl::expected<Cidr, std::string> parse_cidr(std::string_view text) {
    const auto slash = text.find('/');
    const std::string_view addr_text = text.substr(0, slash);
    const auto addr = IpAddress::parse(addr_text);
    if (!addr) return tl::make_unexpected("'" + std::string(text) + "': not an IP address");
    const unsigned bits = static_cast<unsigned>(addr->size()) * 8;
    unsigned prefix = bits;
    if (slash != std::string_view::npos) {
        const std::string_view p = text.substr(slash + 1);
        if (p.empty() || p.size() > 3 ||
            !std::all_of(p.begin(), p.end(), [](char c) { return c >= '0' && c <= '9'; })) {
            return tl::make_unexpected("'" + std::string(text) + "': bad prefix length");
        }
        prefix = static_cast<unsigned>(std::stoul(std::string(p)));
        if (prefix > bits) {
            return tl::make_unexpected("'" + std::string(text) + "': prefix length " +
                                       std::to_string(prefix) + " > " + std::to_string(bits));
        }
    }
    const IpAddress network = masked(*addr, prefix, false);
    if (network != *addr) {
        return tl::make_unexpected("'" + std::string(text) + "': host bits set (the network is " +
                                   network.to_string() + "/" + std::to_string(prefix) + ")");
    }
    return Cidr{network, static_cast<std::uint8_t>(prefix)};
}

TrafficSelector TrafficSelector::any_v4() {
    return from_cidr(Cidr{IpAddress{}, 0});
}

TrafficSelector TrafficSelector::any_v6() {
    return from_cidr(Cidr{*IpAddress::parse("::"), 0});
}

TrafficSelector TrafficSelector::host(const IpAddress& address) {
    return from_cidr(Cidr{address, static_cast<std::uint8_t>(address.size() * 8)});
}

TrafficSelector TrafficSelector::from_cidr(const Cidr& cidr) {
    TrafficSelector ts;
    ts.type = cidr.network.is_v4() ? TsType::TS_IPV4_ADDR_RANGE : TsType::TS_IPV6_ADDR_RANGE;
    ts.start = masked(cidr.network, cidr.prefix, false);
    ts.end = masked(cidr.network, cidr.prefix, true);
    return ts;
}

tl::expected<TrafficSelector, std::string> TrafficSelector::from_cidr(std::string_view text) {
    return parse_cidr(text).map([](const Cidr& c) { return from_cidr(c); });
}

tl::expected<TrafficSelector, std::string> TrafficSelector::from_wire(
    const wire::TrafficSelector& w) {
    if (w.type != TsType::TS_IPV4_ADDR_RANGE && w.type != TsType::TS_IPV6_ADDR_RANGE)
        return tl::make_unexpected("traffic selector type " + ike::to_string(w.type) +
                                   " is not supported");
    const std::size_t size = w.type == TsType::TS_IPV4_ADDR_RANGE ? 4 : 16;
    const auto start = IpAddress::from_bytes(w.start_address);
    const auto end = IpAddress::from_bytes(w.end_address);
    if (!start || !end || start->size() != size || end->size() != size)
        return tl::make_unexpected("traffic selector addresses do not match its type");
    TrafficSelector ts{w.type, w.ip_protocol, w.start_port, w.end_port, *start, *end};
    if (*end < *start) {
        return tl::make_unexpected("traffic selector " + start->to_string() + "-" +
                                   end->to_string() + ": start address after end address");
    }
    // Ports with start > end are empty, except OPAQUE (65535..0, §3.13.1).
    if (ts.start_port > ts.end_port && !ts.opaque_port()) {
        return tl::make_unexpected("traffic selector " + ts.to_string() + ": start port " +
                                   std::to_string(ts.start_port) + " > end port " +
                                   std::to_string(ts.end_port));
    }
    return ts;
}

wire::TrafficSelector TrafficSelector::to_wire() const {
    wire::TrafficSelector w;
    w.type = type;
    w.ip_protocol = ip_protocol;
    w.start_port = start_port;
    w.end_port = end_port;
    w.start_address.assign(start.bytes().begin(), start.bytes().end());
    w.end_address.assign(end.bytes().begin(), end.bytes().end());
    return w;
}

bool TrafficSelector::within(const TrafficSelector& other) const {
    const auto x = intersect(*this, other);
    return x && *x == *this;
}

std::string TrafficSelector::to_string() const {
    std::string s;
    if (auto p = prefix_of(start, end))
        s = start.to_string() + "/" + std::to_string(*p);
    else
        s = start.to_string() + "-" + end.to_string();
    if (ip_protocol == 0 && any_port()) return s;
    s += "[" + protocol_name(ip_protocol);
    if (opaque_port())
        s += "/OPAQUE";
    else if (start_port == end_port)
        s += "/" + std::to_string(start_port);
    else if (!any_port())
        s += "/" + std::to_string(start_port) + "-" + std::to_string(end_port);
    return s + "]";
}

tl::expected<std::vector<TrafficSelector>, std::string> from_wire(const wire::TsPayload& payload) {
    std::vector<TrafficSelector> out;
    for (std::size_t i = 0; i < payload.selectors.size(); ++i) {
        const auto& w = payload.selectors[i];
        if (w.type != TsType::TS_IPV4_ADDR_RANGE && w.type != TsType::TS_IPV6_ADDR_RANGE) continue;
        auto ts = TrafficSelector::from_wire(w);
        if (!ts) return tl::make_unexpected("TS " + std::to_string(i + 1) + ": " + ts.error());
        out.push_back(*ts);
    }
    return out;
}

wire::TsPayload to_wire(std::span<const TrafficSelector> selectors) {
    wire::TsPayload p;
    for (const auto& ts : selectors)
        p.selectors.push_back(ts.to_wire());
    return p;
}

std::string to_string(std::span<const TrafficSelector> selectors) {
    std::string out;
    for (const auto& ts : selectors) {
        if (!out.empty()) out += ", ";
        out += ts.to_string();
    }
    return out;
}

std::optional<TrafficSelector> intersect(const TrafficSelector& a, const TrafficSelector& b) {
    // IPv4 and IPv6 ranges never meet (§3.13.1: one type per selector).
    if (a.type != b.type) return std::nullopt;
    TrafficSelector r = a;
    if (a.ip_protocol == 0)
        r.ip_protocol = b.ip_protocol;
    else if (b.ip_protocol != 0 && b.ip_protocol != a.ip_protocol)
        return std::nullopt;
    // OPAQUE matches packets whose ports are not available (fragments); only "any port"
    // covers them too.
    if (a.opaque_port() || b.opaque_port()) {
        const auto& other = a.opaque_port() ? b : a;
        if (!other.opaque_port() && !other.any_port()) return std::nullopt;
        r.start_port = 65535;
        r.end_port = 0;
    } else {
        r.start_port = std::max(a.start_port, b.start_port);
        r.end_port = std::min(a.end_port, b.end_port);
        if (r.start_port > r.end_port) return std::nullopt;
    }
    r.start = std::max(a.start, b.start);
    r.end = std::min(a.end, b.end);
    if (r.end < r.start) return std::nullopt;
    return r;
}

std::vector<TrafficSelector> narrow(std::span<const TrafficSelector> proposed,
                                    std::span<const TrafficSelector> configured) {
    std::vector<TrafficSelector> all;
    for (const auto& p : proposed)
        for (const auto& c : configured)
            if (auto x = intersect(p, c)) all.push_back(*x);
    return reduce(std::move(all));
}

std::vector<TrafficSelector> narrow_to_address(std::span<const TrafficSelector> proposed,
                                               std::span<const IpAddress> addresses) {
    std::vector<TrafficSelector> hosts;
    for (const auto& a : addresses)
        hosts.push_back(TrafficSelector::host(a));
    return narrow(proposed, hosts);
}

std::vector<TrafficSelector> narrow_to_address(std::span<const TrafficSelector> proposed,
                                               const IpAddress& address) {
    return narrow_to_address(proposed, std::span<const IpAddress>(&address, 1));
}

namespace {

// a + 1 / a - 1 over the address's own width; the caller makes sure it does not wrap.
IpAddress step(IpAddress a, int delta) {
    std::uint8_t* b = a.data();
    for (std::size_t i = a.size(); i-- > 0;) {
        if (delta > 0) {
            if (++b[i] != 0) break;
        } else {
            if (b[i]-- != 0) break;
        }
    }
    return a;
}

}  // namespace

std::vector<TrafficSelector> subtract(std::span<const TrafficSelector> from,
                                      const TrafficSelector& removed) {
    std::vector<TrafficSelector> out;
    for (const auto& ts : from) {
        // Same type, so same family: IpAddress's ordering compares the octets.
        const bool disjoint =
            ts.type != removed.type || ts.end < removed.start || removed.end < ts.start;
        if (disjoint) {
            out.push_back(ts);
            continue;
        }
        if (ts.start < removed.start) {  // the part below the hole
            TrafficSelector low = ts;
            low.end = step(removed.start, -1);
            out.push_back(low);
        }
        if (removed.end < ts.end) {  // the part above it
            TrafficSelector high = ts;
            high.start = step(removed.end, +1);
            out.push_back(high);
        }
    }
    return out;
}

std::vector<TrafficSelector> subtract(std::span<const TrafficSelector> from,
                                      std::span<const TrafficSelector> removed) {
    std::vector<TrafficSelector> out(from.begin(), from.end());
    for (const auto& r : removed)
        out = subtract(out, r);
    return out;
}

}  // namespace postern::ike::policy
