// Encrypted and Authenticated Fragment payload SKF (RFC 7383 §2.5):
//   generic header | Fragment Number (2) | Total Fragments (2) | IV || ciphertext || ICV
// The generic header's Next Payload is the first inner payload type in fragment 1 and 0 in
// the others; it is kept as received.
#pragma once

#include <cstddef>
#include <cstdint>

#include "ike/wire/constants.hpp"
#include "ike/wire/error.hpp"
#include "ike/wire/reader.hpp"
#include "ike/wire/writer.hpp"
#include "postern/bytes.hpp"

namespace postern::ike::wire {

// Fragment Number and Total Fragments, which RFC 7383 §2.5 puts in the associated data.
inline constexpr std::size_t kSkfFixedSize = 4;

struct EncryptedFragmentPayload {
    PayloadType inner_first = PayloadType::NONE;
    std::uint16_t fragment_number = 1;
    std::uint16_t total_fragments = 1;
    Bytes body;  // IV || ciphertext || ICV

    bool operator==(const EncryptedFragmentPayload&) const = default;
};

// RFC 7383 §2.5: Fragment Number starts at 1 and MUST NOT exceed Total Fragments; a fragment
// with number 0 (or total 0) is invalid.
Parsed<EncryptedFragmentPayload> parse_skf(Reader& body, PayloadType inner_first);
void serialize_body(Writer& w, const EncryptedFragmentPayload& skf);

}  // namespace postern::ike::wire
