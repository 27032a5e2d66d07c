// A payload of any type, and the generic payload header chain (RFC 7296 §3.2):
//   Next Payload | C:1 RESERVED:7 | Payload Length (2, including these 4 octets) | body
#pragma once

#include <cstddef>
#include <span>
#include <variant>
#include <vector>

#include "ike/wire/auth.hpp"
#include "ike/wire/cert.hpp"
#include "ike/wire/certreq.hpp"
#include "ike/wire/constants.hpp"
#include "ike/wire/cp.hpp"
#include "ike/wire/delete.hpp"
#include "ike/wire/eap.hpp"
#include "ike/wire/error.hpp"
#include "ike/wire/id.hpp"
#include "ike/wire/ke.hpp"
#include "ike/wire/nonce.hpp"
#include "ike/wire/notify.hpp"
#include "ike/wire/sa.hpp"
#include "ike/wire/sk.hpp"
#include "ike/wire/skf.hpp"
#include "ike/wire/ts.hpp"
#include "ike/wire/vendor_id.hpp"
#include "ike/wire/writer.hpp"
#include "postern/bytes.hpp"

namespace postern::ike::wire {

inline constexpr std::size_t kGenericHeaderSize = 4;
// Largest body a 16-bit Payload Length can describe.
inline constexpr std::size_t kMaxPayloadBody = 0xffff - kGenericHeaderSize;

// A payload type this codec does not parse, kept raw so re-serialization is byte-exact.
struct UnknownPayload {
    Bytes body;

    bool operator==(const UnknownPayload&) const = default;
};

using PayloadBody =
    std::variant<SaPayload, KePayload, IdPayload, CertPayload, CertReqPayload, AuthPayload,
                 NoncePayload, NotifyPayload, DeletePayload, VendorIdPayload, TsPayload,
                 EncryptedPayload, EncryptedFragmentPayload, CpPayload, EapPayload, UnknownPayload>;

struct Payload {
    // Authoritative for what is written: IDi/IDr share IdPayload, TSi/TSr share TsPayload,
    // and UnknownPayload carries any other type.
    PayloadType type = PayloadType::NONE;
    // C bit as received. §3.2: it MUST be ignored for payload types we understand; kept for
    // exact re-serialization. Set it only on payloads the peer must understand.
    bool critical = false;
    PayloadBody body;

    template <class T>
    const T* get() const {
        return std::get_if<T>(&body);
    }
    template <class T>
    T* get() {
        return std::get_if<T>(&body);
    }

    bool operator==(const Payload&) const = default;
};

// Convenience builders for the common cases.
Payload make_notify(NotifyType type, Bytes data = {}, ProtocolId protocol = ProtocolId::NONE,
                    Bytes spi = {});

// True for the payload types this codec parses into a struct (the rest become UnknownPayload).
bool is_supported(PayloadType type);

// Parses a chain of payloads starting with type `first` that must fill `data` exactly.
// `base_offset` is added to error offsets (the chain's position in the message, or in the
// decrypted SK plaintext). Used for the message body and for decrypted SK contents.
//  - Payload Length < 4 or running past `data`: INVALID_SYNTAX with the numbers.
//  - An unsupported type with the C bit: UNSUPPORTED_CRITICAL_PAYLOAD, unsupported_payload =
//    the type (§2.5, §3.2); without it: kept as UnknownPayload.
//  - SK and SKF must be the last payload (§3.14, RFC 7383 §2.5); their Next Payload field
//    becomes inner_first.
//  - Bytes left after the payload whose Next Payload is NONE: INVALID_SYNTAX.
Parsed<std::vector<Payload>> parse_payload_chain(PayloadType first, ByteView data,
                                                 std::size_t base_offset = 0);

// The Next Payload value that announces `payloads` (NONE if empty).
PayloadType first_type(std::span<const Payload> payloads);

// Writes one payload: generic header with `next` and the computed length, then the body.
// Precondition: the body fits in a 16-bit length (kMaxPayloadBody); asserted.
void serialize_payload(Writer& w, const Payload& p, PayloadType next);

// Writes the chain with Next Payload fields linking each payload to the following one; the
// last one's is NONE, or inner_first for SK/SKF. Also builds SK plaintext (before padding).
void serialize_payload_chain(Writer& w, std::span<const Payload> payloads);
Bytes serialize_payload_chain(std::span<const Payload> payloads);

// Serializes just the body of a payload (no generic header).
void serialize_body(Writer& w, const PayloadBody& body);

}  // namespace postern::ike::wire
