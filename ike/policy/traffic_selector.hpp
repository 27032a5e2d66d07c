// Traffic selectors as values (RFC 7296 §3.13.1) and the responder's narrowing (§2.9).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <tl/expected.hpp>

#include "ike/wire/constants.hpp"
#include "ike/wire/ts.hpp"
#include "postern/net.hpp"

namespace postern::ike::policy {

// An address prefix: "10.0.0.0/24", "fd00::/64"; a bare address is a host prefix.
struct Cidr {
    IpAddress network;
    std::uint8_t prefix = 0;

    bool operator==(const Cidr&) const = default;
    std::string to_string() const { return network.to_string() + "/" + std::to_string(prefix); }
};

// Refuses host bits set under the mask ("10.0.0.1/24"), naming the network meant.
tl::expected<Cidr, std::string> parse_cidr(std::string_view text);

struct TrafficSelector {
    TsType type = TsType::TS_IPV4_ADDR_RANGE;
    std::uint8_t ip_protocol = 0;  // 0 = any
    // For ICMP these carry type and code (§3.13.1); 65535..0 is the OPAQUE port selector.
    std::uint16_t start_port = 0;
    std::uint16_t end_port = 65535;
    IpAddress start;
    IpAddress end;

    bool operator==(const TrafficSelector&) const = default;

    // Whole family, any protocol, any port.
    static TrafficSelector any_v4();
    static TrafficSelector any_v6();
    static TrafficSelector host(const IpAddress& address);
    static TrafficSelector from_cidr(const Cidr& cidr);
    static tl::expected<TrafficSelector, std::string> from_cidr(std::string_view text);

    // IPv4/IPv6 range selectors only; other types (TS_FC_ADDR_RANGE) and start > end are errors.
    static tl::expected<TrafficSelector, std::string> from_wire(const wire::TrafficSelector& ts);
    wire::TrafficSelector to_wire() const;

    bool is_v4() const { return type == TsType::TS_IPV4_ADDR_RANGE; }
    bool any_port() const { return start_port == 0 && end_port == 65535; }
    bool opaque_port() const { return start_port == 65535 && end_port == 0; }
    // Every packet this one matches is matched by `other` too.
    bool within(const TrafficSelector& other) const;

    // "10.0.0.0/24" when the range is a prefix, else "10.0.0.1-10.0.0.9"; then "[tcp]",
    // "[tcp/80]", "[udp/1000-2000]", "[icmp/OPAQUE]" when protocol or ports narrow it.
    std::string to_string() const;
};

// Readable selectors of a TS payload; entries of other types are skipped (nothing we could
// install), malformed ones (start > end) are an error naming the entry.
tl::expected<std::vector<TrafficSelector>, std::string> from_wire(const wire::TsPayload& payload);
wire::TsPayload to_wire(std::span<const TrafficSelector> selectors);

// "10.0.0.0/24, 192.168.1.0/24[tcp/80]"
std::string to_string(std::span<const TrafficSelector> selectors);

// What both selectors match, if anything: same family, protocol 0 meets any, ports and
// addresses as range intersections.
std::optional<TrafficSelector> intersect(const TrafficSelector& a, const TrafficSelector& b);

// RFC 7296 §2.9: the responder answers with the part of the proposed selectors its policy
// allows. Every proposed selector is intersected with every configured one; empty results
// are dropped, and so are results contained in another one (the initiator's first "specific
// packet" selector, if it sent one, is then covered by the wider result). An empty result
// means TS_UNACCEPTABLE.
std::vector<TrafficSelector> narrow(std::span<const TrafficSelector> proposed,
                                    std::span<const TrafficSelector> configured);

// The virtual-IP case (§2.9, native-clients §2 item 17): the responder assigned `addresses`
// (one per family at most) and narrows TSi to exactly them, keeping the protocol and ports the
// initiator proposed. Proposed selectors that do not contain an address yield nothing.
std::vector<TrafficSelector> narrow_to_address(std::span<const TrafficSelector> proposed,
                                               std::span<const IpAddress> addresses);
std::vector<TrafficSelector> narrow_to_address(std::span<const TrafficSelector> proposed,
                                               const IpAddress& address);

// `from` without the addresses in `removed` (protocol and ports of `removed` are ignored: the
// whole address range goes). A selector split by the hole becomes two; results keep their
// protocol and ports and their order. Used for client isolation (ConnectionConfig::isolated).
std::vector<TrafficSelector> subtract(std::span<const TrafficSelector> from,
                                      const TrafficSelector& removed);
std::vector<TrafficSelector> subtract(std::span<const TrafficSelector> from,
                                      std::span<const TrafficSelector> removed);

}  // namespace postern::ike::policy
