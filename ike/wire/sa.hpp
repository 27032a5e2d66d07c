// Security Association payload (RFC 7296 §3.3): proposals, transforms, transform attributes.
//
//   SA body      = Proposal+
//   Proposal     = Last(1: 0 last, 2 more) | RESERVED | Length(2) | Proposal Num | Protocol ID |
//                  SPI Size | Num Transforms | SPI | Transform+
//   Transform    = Last(1: 0 last, 3 more) | RESERVED | Length(2) | Type | RESERVED |
//                  Transform ID(2) | Attribute*
//   Attribute    = AF:1 Type:15 | (AF=1: Value(2)) or (AF=0: Length(2) Value)
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "ike/wire/constants.hpp"
#include "ike/wire/error.hpp"
#include "ike/wire/reader.hpp"
#include "ike/wire/writer.hpp"
#include "postern/bytes.hpp"

namespace postern::ike::wire {

struct TransformAttribute {
    std::uint16_t type = 0;   // 15 bits; kAttrKeyLength (14) is the only one defined
    bool tv = true;           // AF bit: TV (2-byte value) or TLV (variable data)
    std::uint16_t value = 0;  // TV format
    Bytes data;               // TLV format

    bool operator==(const TransformAttribute&) const = default;
};

struct Transform {
    TransformType type = TransformType::ENCR;
    std::uint16_t id = 0;  // EncrId / PrfId / IntegId / KeId / EsnId depending on type
    std::vector<TransformAttribute> attributes;

    // The KEY_LENGTH attribute in bits, if present.
    std::optional<std::uint16_t> key_length() const;

    static Transform encr(EncrId id, std::optional<std::uint16_t> key_bits = std::nullopt);
    static Transform prf(PrfId id) { return {TransformType::PRF, std::uint16_t(id), {}}; }
    static Transform integ(IntegId id) { return {TransformType::INTEG, std::uint16_t(id), {}}; }
    static Transform ke(KeId id) { return {TransformType::KE, std::uint16_t(id), {}}; }
    static Transform esn(EsnId id) { return {TransformType::ESN, std::uint16_t(id), {}}; }

    bool operator==(const Transform&) const = default;
};

struct Proposal {
    std::uint8_t number = 1;
    ProtocolId protocol = ProtocolId::IKE;
    Bytes spi;  // 0 or 8 octets for IKE, 4 for AH/ESP
    std::vector<Transform> transforms;

    bool operator==(const Proposal&) const = default;
};

struct SaPayload {
    std::vector<Proposal> proposals;

    bool operator==(const SaPayload&) const = default;
};

// Checks, with a reason naming the proposal/transform number and the numbers involved:
// at least one proposal; last-substructure values (0/2 and 0/3) consistent with position;
// proposal and transform lengths inside their parent; proposal numbers starting at >= 1 and
// increasing by one (§3.3.1; whether a request starts at 1 is the engine's concern, a
// response carries the one accepted number); SPI size per protocol (§3.3.1); the transform
// count; attributes inside their transform, KEY_LENGTH in TV format (§3.3.5).
// Unknown protocols are INVALID_SYNTAX; unknown transform types/IDs/attributes are kept.
Parsed<SaPayload> parse_sa(Reader& body);
void serialize_body(Writer& w, const SaPayload& sa);

}  // namespace postern::ike::wire
