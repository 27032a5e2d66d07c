// Traffic selectors in XFRM terms. IKEv2 selectors are address and port *ranges* (RFC 7296
// §3.13.1); an XFRM selector is one prefix per side and one port/mask pair per side. A range is
// cut into the fewest aligned prefixes (and port blocks) covering exactly it, and a pair of
// selector lists becomes the cross product of those pieces, one XFRM policy each:
//   10.0.0.0-10.0.0.255  -> 10.0.0.0/24
//   10.0.0.1-10.0.0.6    -> 10.0.0.1/32 10.0.0.2/31 10.0.0.4/31 10.0.0.6/32
//   ports 1000-1003      -> 1000/0xfffc
#pragma once

#include <linux/xfrm.h>

#include <cstdint>
#include <string>
#include <vector>

#include "postern/dataplane.hpp"

namespace postern::esp::xfrm {

struct Prefix {
    IpAddress address;
    std::uint8_t length = 0;
    std::string to_string() const;
    bool contains(const IpAddress& a) const;
    bool operator==(const Prefix&) const = default;
};

struct PortBlock {
    std::uint16_t port = 0, mask = 0;  // host order; mask 0 = any port
    bool operator==(const PortBlock&) const = default;
};

// The aligned prefixes covering [start, end] exactly (same family; empty when start > end).
std::vector<Prefix> range_to_prefixes(const IpAddress& start, const IpAddress& end);
// The port blocks covering [start, end] exactly; {0, 0} for 0-65535; empty when start > end
// (RFC 4301's OPAQUE ports, which no XFRM selector expresses).
std::vector<PortBlock> port_blocks(std::uint16_t start, std::uint16_t end);

// One XFRM selector per combination of a source and a destination piece (same family and, when
// both name one, the same IP protocol). More than `limit` is an error (nullopt): a range that
// splits into that many policies is a configuration to reconsider, not one to install.
struct SelectorList {
    std::vector<xfrm_selector> selectors;
    std::string error;  // set when the list could not be made
};
SelectorList make_selectors(const std::vector<Selector>& src, const std::vector<Selector>& dst,
                            std::size_t limit = 1024);

// "10.0.0.0/24[tcp/80] -> 10.1.0.5/32" for logs and errors.
std::string to_string(const xfrm_selector& sel);

// xfrm_address_t <-> IpAddress.
xfrm_address_t to_xfrm(const IpAddress& a);
IpAddress from_xfrm(const xfrm_address_t& a, int family);
int af(const IpAddress& a);

}  // namespace postern::esp::xfrm
