#include "ike/wire/header.hpp"

#include <string>

namespace postern::ike::wire {

Parsed<Header> parse_header(ByteView datagram) {
    Reader r(datagram);
    Header h;
    h.initiator_spi = IkeSpi(r.u64("IKE header initiator SPI"));
    h.responder_spi = IkeSpi(r.u64("IKE header responder SPI"));
    h.next_payload = static_cast<PayloadType>(r.u8("IKE header next payload"));
    std::uint8_t version = r.u8("IKE header version");
    h.exchange = static_cast<ExchangeType>(r.u8("IKE header exchange type"));
    std::uint8_t flags = r.u8("IKE header flags");
    h.message_id = MessageId(r.u32("IKE header message ID"));
    h.length = r.u32("IKE header length");
    if (!r.ok()) {
        return syntax_error(
            "IKE header truncated: datagram of " + std::to_string(datagram.size()) + " bytes < 28",
            datagram.size());
    }
    h.major_version = version >> 4;
    h.minor_version = version & 0x0f;
    h.initiator = flags & kFlagInitiator;
    h.version = flags & kFlagVersion;
    h.response = flags & kFlagResponse;

    // RFC 7296 §2.5: a major version we do not speak is answered with INVALID_MAJOR_VERSION.
    if (h.major_version != 2) {
        return tl::unexpected(ParseError{
            NotifyType::INVALID_MAJOR_VERSION, 0,
            "IKE header major version " + std::to_string(h.major_version) + " != 2", 17});
    }
    if (h.length < kHeaderSize) {
        return syntax_error("IKE header length " + std::to_string(h.length) + " < 28", 24);
    }
    if (h.length != datagram.size()) {
        return syntax_error("IKE header length " + std::to_string(h.length) +
                                " != datagram length " + std::to_string(datagram.size()),
                            24);
    }
    return h;
}

void serialize_header(Writer& w, const Header& h, PayloadType next_payload, std::uint32_t length) {
    w.u64(h.initiator_spi.value());
    w.u64(h.responder_spi.value());
    w.u8(static_cast<std::uint8_t>(next_payload));
    w.u8(static_cast<std::uint8_t>((h.major_version & 0x0f) << 4 | (h.minor_version & 0x0f)));
    w.u8(static_cast<std::uint8_t>(h.exchange));
    std::uint8_t flags = 0;
    if (h.initiator) flags |= kFlagInitiator;
    if (h.version) flags |= kFlagVersion;
    if (h.response) flags |= kFlagResponse;
    w.u8(flags);
    w.u32(h.message_id.value());
    w.u32(length);
}

}  // namespace postern::ike::wire
