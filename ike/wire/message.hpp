// A whole IKE message: header + payload chain (RFC 7296 §3), and the hooks ike/crypto needs
// to protect SK/SKF payloads without the codec knowing any cipher.
//
// Round trip: serialize(*parse_message(d)) == d for every valid message. Reserved fields and
// reserved flag bits are not kept: they are written as zero, which is what a valid message
// carries (§3.1, §3.2 "MUST be sent as zero; MUST be ignored on receipt"). A message with
// non-zero reserved bits parses fine but re-serializes with them cleared. Kept as received:
// minor version, critical bits, Notify protocol IDs, unknown payload bodies, SKF Next Payload.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "ike/wire/error.hpp"
#include "ike/wire/header.hpp"
#include "ike/wire/payload.hpp"
#include "postern/bytes.hpp"

namespace postern::ike::wire {

struct Message {
    Header header;
    std::vector<Payload> payloads;

    // The last payload if it is SK or SKF, else nullptr.
    const Payload* encrypted() const;

    bool operator==(const Message&) const = default;
};

// Parses and checks the header (parse_header) and the payload chain (parse_payload_chain).
// Does not check which payloads the exchange allows: see rules.hpp.
Parsed<Message> parse_message(ByteView datagram);

// Recomputes the header length, every payload length and the Next Payload chaining
// (header.next_payload and header.length are ignored).
Bytes serialize(const Message& m);

// First payload of a type, or nullptr.
const Payload* find_payload(std::span<const Payload> payloads, PayloadType type);
// Number of payloads of a type.
std::size_t count_payloads(std::span<const Payload> payloads, PayloadType type);
// First notify of a type, or nullptr.
const NotifyPayload* find_notify(std::span<const Payload> payloads, NotifyType type);

// --- SK / SKF protection (RFC 7296 §3.14, RFC 7383 §2.5) -----------------------------------
//
// Receiving:
//   auto m = parse_message(datagram);
//   auto spans = protected_spans(*m, datagram);  // m->payloads.back() is SK or SKF
//   decrypt(spans->associated_data, spans->body) -> plaintext (padding removed)
//   parse_payload_chain(spans->inner_first, plaintext)
//
// The associated data is the datagram from the IKE header through the end of the SK generic
// header (for SKF also through Fragment Number and Total Fragments, RFC 7383 §2.5); the body
// is IV || ciphertext || ICV, the rest of the datagram.
struct ProtectedSpans {
    ByteView associated_data;
    ByteView body;
    PayloadType inner_first = PayloadType::NONE;
};

// `datagram` must be the buffer `m` was parsed from. nullopt if the last payload is not SK/SKF.
std::optional<ProtectedSpans> protected_spans(const Message& m, ByteView datagram);

// Sending: builds everything up to the end of the SK header (the associated data) with the
// length fields already counting a body of `body_length` octets (IV || ciphertext || ICV);
// the crypto layer computes the ICV over it and appends the body. The result equals
// serialize() of the message with header, `outer`, then SK{inner_first, body}.
// `header.next_payload`/`length` are ignored.
Bytes build_sk_prefix(const Header& header, std::span<const Payload> outer, PayloadType inner_first,
                      std::size_t body_length);
// Same for one fragment (RFC 7383 §2.5): ends after Fragment Number and Total Fragments.
// Per §2.5, pass inner_first only for fragment 1 and PayloadType::NONE for the others.
Bytes build_skf_prefix(const Header& header, std::span<const Payload> outer,
                       PayloadType inner_first, std::uint16_t fragment_number,
                       std::uint16_t total_fragments, std::size_t body_length);

}  // namespace postern::ike::wire
