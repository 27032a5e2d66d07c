// Building and reading XFRM netlink messages (linux/xfrm.h) with libnl-3's nl_msg and nla_put:
// SAs (add, update, delete, get, SPI allocation), policies (add, update, delete) and the
// multicast events (expire, acquire, mapping, migrate).
//
// Why not libnl-xfrm-3's object API: its SA objects copy keys into buffers it frees without
// wiping, and 3.7's xfrmnl_sa_set_aead_params/_auth_params copy more than the key they are
// given; it has no SPI allocation either. The messages here are few and small, and each one is
// checked against the kernel in tests/unit/esp/xfrm (policies on any kernel, SAs where the
// kernel has ESP: the kernel tier's VM).
#pragma once

#include <linux/netlink.h>
#include <linux/xfrm.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <tl/expected.hpp>

#include "esp/xfrm/netlink_socket.hpp"
#include "postern/dataplane.hpp"

namespace postern::esp::xfrm {

// The kernel's names for the negotiated ESP transforms (crypto API names).
struct KernelAlgorithms {
    std::string encr;       // "rfc4106(gcm(aes))", "cbc(aes)", ...
    bool aead = false;
    unsigned icv_bits = 0;  // AEAD only
    std::string integ;      // "hmac(sha256)"; empty for AEAD
    unsigned trunc_bits = 0;
};
// From IKEv2 transform IDs (RFC 7296 §3.3.2, IANA); the error names what is not supported.
tl::expected<KernelAlgorithms, std::string> kernel_algorithms(std::uint16_t encr_id,
                                                              std::uint16_t integ_id);

// XFRM_INF: no limit.
inline constexpr std::uint64_t kNoLimit = ~std::uint64_t{0};

// XFRM_MSG_NEWSA (or UPDSA, to fill an SPI reserved by ALLOCSPI) for one direction: tunnel
// mode, ESP, `reqid`, the algorithms and keys, ESN and replay window, lifetimes, UDP
// encapsulation. The message holds keys: it is wiped when freed.
tl::expected<Message, std::string> build_sa(const EspSaSpec& sa, std::uint32_t reqid,
                                            bool update);
// XFRM_MSG_DELSA / XFRM_MSG_GETSA for (destination, SPI, ESP).
Message build_sa_id(int type, const IpAddress& dst, EspSpi spi);
// XFRM_MSG_ALLOCSPI: a larval SA src -> dst with an SPI in [min, max] chosen by the kernel.
Message build_allocspi(const IpAddress& src, const IpAddress& dst, std::uint32_t reqid,
                       std::uint32_t min, std::uint32_t max);
// XFRM_MSG_GETSA / GETPOLICY dumps.
Message build_dump(int type);

// One policy: `sel` in direction `dir` (XFRM_POLICY_IN/OUT/FWD), a tunnel-mode ESP template
// tmpl_src -> tmpl_dst with `reqid`.
struct PolicySpec {
    xfrm_selector sel{};
    std::uint8_t dir = XFRM_POLICY_OUT;
    std::uint32_t priority = 0;
    IpAddress tmpl_src, tmpl_dst;
    std::uint32_t reqid = 0;
};
// XFRM_MSG_NEWPOLICY or XFRM_MSG_UPDPOLICY.
Message build_policy(const PolicySpec& p, bool update);
// XFRM_MSG_DELPOLICY by selector and direction.
Message build_delete_policy(const xfrm_selector& sel, std::uint8_t dir);
// XFRM_MSG_DELPOLICY by index and direction (stale policies found by a dump).
Message build_delete_policy_index(std::uint32_t index, std::uint8_t dir);
// The priority of a policy for `sel`: more specific selectors win (lower value), within
// Postern's band.
std::uint32_t policy_priority(const xfrm_selector& sel);

// What a dump or an event says about an SA.
struct SaInfo {
    EspSpi spi{0};
    IpAddress src, dst;
    std::uint32_t reqid = 0;
    std::uint64_t bytes = 0, packets = 0, add_time = 0, use_time = 0;
    std::uint16_t encap_sport = 0, encap_dport = 0;  // 0 without UDP encapsulation
};
std::optional<SaInfo> parse_sa(const nlmsghdr* h);  // NEWSA/GETSA answers, UPDSA/DELSA events

// A policy from a dump: what deleting it takes, and its first template's reqid (0 without one).
struct PolicyInfo {
    xfrm_selector sel{};
    std::uint8_t dir = 0;
    std::uint32_t index = 0;
    std::uint32_t reqid = 0;
};
std::optional<PolicyInfo> parse_policy(const nlmsghdr* h);

// Events (XFRMNLGRP_EXPIRE, _ACQUIRE, _MAPPING, _MIGRATE).
struct ExpireEvent {
    SaInfo sa;
    bool hard = false;
};
struct AcquireEvent {
    xfrm_selector sel{};
    IpAddress src, dst;     // the template's tunnel end points
    std::uint32_t reqid = 0;
    std::uint8_t dir = 0;
};
struct MappingEvent {
    EspSpi spi{0};
    IpAddress dst;               // the SA's destination (ours)
    IpAddress old_addr, new_addr;
    std::uint16_t old_port = 0, new_port = 0;
    std::uint32_t reqid = 0;
};
std::optional<ExpireEvent> parse_expire(const nlmsghdr* h);
std::optional<AcquireEvent> parse_acquire(const nlmsghdr* h);
std::optional<MappingEvent> parse_mapping(const nlmsghdr* h);

}  // namespace postern::esp::xfrm
