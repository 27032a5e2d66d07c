// Configuration payload CP (RFC 7296 §3.15):
//   CFG Type | RESERVED (3) | Configuration Attribute*
//   Attribute = R:1 Attribute Type:15 | Length (2) | Value
#pragma once

#include <cstdint>
#include <vector>

#include "ike/wire/constants.hpp"
#include "ike/wire/error.hpp"
#include "ike/wire/reader.hpp"
#include "ike/wire/writer.hpp"
#include "postern/bytes.hpp"

namespace postern::ike::wire {

struct CfgAttributeValue {
    CfgAttribute type = CfgAttribute::INTERNAL_IP4_ADDRESS;  // 15 bits; R bit not kept
    Bytes value;  // empty in a request means "please assign one"

    bool operator==(const CfgAttributeValue&) const = default;
};

struct CpPayload {
    CfgType type = CfgType::CFG_REQUEST;
    std::vector<CfgAttributeValue> attributes;

    bool operator==(const CpPayload&) const = default;
};

// Checks each attribute fits, and the lengths of the table in §3.15.1 (e.g. INTERNAL_IP4_ADDRESS
// 0 or 4, INTERNAL_IP6_ADDRESS 0 or 17, INTERNAL_IP4_SUBNET 0 or 8, SUPPORTED_ATTRIBUTES a
// multiple of 2). Unknown attributes may have any length. The R bit MUST be ignored (§3.15.1)
// and is written as zero.
Parsed<CpPayload> parse_cp(Reader& body);
void serialize_body(Writer& w, const CpPayload& cp);

}  // namespace postern::ike::wire
