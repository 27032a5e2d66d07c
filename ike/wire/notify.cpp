#include "ike/wire/notify.hpp"

#include <string>

namespace postern::ike::wire {

Parsed<NotifyPayload> parse_notify(Reader& r) {
    NotifyPayload n;
    n.protocol = static_cast<ProtocolId>(r.u8("N protocol ID"));
    std::uint8_t spi_size = r.u8("N SPI size");
    n.type = static_cast<NotifyType>(r.u16("N message type"));
    if (!r.ok()) return reader_error(r, "N");
    std::string ctx = "N(" + to_string(n.type) + ")";
    if (spi_size > r.remaining()) {
        return syntax_error(ctx + ": SPI size " + std::to_string(spi_size) + " > " +
                                std::to_string(r.remaining()) + " bytes left",
                            r.offset() - 3);
    }
    auto spi = r.bytes(spi_size, "N SPI");
    auto data = r.rest();
    if (!r.ok()) return reader_error(r, ctx);
    n.spi.assign(spi.begin(), spi.end());
    n.data.assign(data.begin(), data.end());
    return n;
}

void serialize_body(Writer& w, const NotifyPayload& n) {
    w.u8(static_cast<std::uint8_t>(n.protocol));
    w.u8(static_cast<std::uint8_t>(n.spi.size()));
    w.u16(static_cast<std::uint16_t>(n.type));
    w.bytes(n.spi);
    w.bytes(n.data);
}

}  // namespace postern::ike::wire
