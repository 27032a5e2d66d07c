// Parse errors as values. Every failure says which notify the responder should answer with
// (RFC 7296 §2.21.1 and §3.10.1), and a specific human-readable reason with the numbers involved.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <tl/expected.hpp>

#include "ike/wire/constants.hpp"
#include "ike/wire/reader.hpp"

namespace postern::ike::wire {

struct ParseError {
    // What to answer: INVALID_SYNTAX, UNSUPPORTED_CRITICAL_PAYLOAD, INVALID_MAJOR_VERSION, ...
    NotifyType notify = NotifyType::INVALID_SYNTAX;
    // For UNSUPPORTED_CRITICAL_PAYLOAD: the notification data (the offending payload type).
    std::uint8_t unsupported_payload = 0;
    // Specific and human readable, e.g. "SA proposal 2: transform length 6 < 8".
    std::string reason;
    // Offset from the start of the message (or of the buffer given to the parser).
    std::size_t offset = 0;
};

template <class T>
using Parsed = tl::expected<T, ParseError>;

inline tl::unexpected<ParseError> syntax_error(std::string reason, std::size_t offset) {
    return tl::unexpected(ParseError{NotifyType::INVALID_SYNTAX, 0, std::move(reason), offset});
}

// Turns the reader's sticky failure into an INVALID_SYNTAX error, prefixed with the context
// ("Nonce: ...").
inline tl::unexpected<ParseError> reader_error(const Reader& r, std::string_view context) {
    return syntax_error(std::string(context) + ": " + r.error(), r.offset());
}

}  // namespace postern::ike::wire
