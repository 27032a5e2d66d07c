// Whole-message protection: an IKE message with an Encrypted payload SK {...} (RFC 7296 §3.14)
// or split into Encrypted Fragment payloads SKF (RFC 7383 §2.5), sealed and opened with the
// SkCipher of one direction. The codec (ike/wire) knows the layout, the cipher (ike/crypto) the
// algorithms; this file is where they meet.
//
//   HDR, SK { IDi, AUTH, SA, TSi, TSr }  -->   one datagram
//   HDR, SKF(1/3) {...}, HDR, SKF(2/3) {...}, HDR, SKF(3/3) {...}  -->  three datagrams, each
//   fragment encrypted and authenticated on its own, reassembled before parsing (§2.6).
#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <vector>

#include <tl/expected.hpp>

#include "ike/crypto/sk.hpp"
#include "ike/wire/message.hpp"

namespace postern::ike::sa {

struct OpenError {
    enum class Kind {
        NotProtected,  // the message has no SK/SKF payload
        Integrity,     // ICV/tag failed or bad padding: drop silently and count (§2.21.2)
        Syntax,        // decrypted fine but the inner chain is malformed: answer INVALID_SYNTAX
    };
    Kind kind;
    std::string reason;
    wire::ParseError parse;  // for Syntax
};

// Decrypts the SK payload of `m` (parsed from `datagram`) and parses the inner payloads.
tl::expected<std::vector<wire::Payload>, OpenError> open_message(const wire::Message& m,
                                                                 ByteView datagram,
                                                                 const crypto::SkCipher& cipher);

// HDR, [outer payloads,] SK { inner } as one datagram. `header.length`/`next_payload` are
// computed.
tl::expected<Bytes, std::string> seal_message(const wire::Header& header,
                                              std::span<const wire::Payload> outer,
                                              std::span<const wire::Payload> inner,
                                              const crypto::SkCipher& cipher,
                                              const crypto::IvSource& iv = crypto::random_iv);

// RFC 7383: the same content split into SKF fragments so that no IKE message exceeds
// `max_message` octets (the IKE header included; the UDP/IP headers and the non-ESP marker are
// the caller's to subtract, e.g. 1280 - 20 - 8 - 4 for IPv4 on port 4500). Always SKF: the
// caller decided to fragment, so content that fits in one fragment is sent as 1/1.
tl::expected<std::vector<Bytes>, std::string> seal_fragments(
    const wire::Header& header, std::span<const wire::Payload> inner,
    const crypto::SkCipher& cipher, std::size_t max_message,
    const crypto::IvSource& iv = crypto::random_iv);

}  // namespace postern::ike::sa
