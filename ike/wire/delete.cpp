#include "ike/wire/delete.hpp"

#include <string>

namespace postern::ike::wire {

using std::to_string;

Parsed<DeletePayload> parse_delete(Reader& r) {
    DeletePayload d;
    std::size_t at = r.offset();
    d.protocol = static_cast<ProtocolId>(r.u8("D protocol ID"));
    d.spi_size = r.u8("D SPI size");
    std::uint16_t num = r.u16("D number of SPIs");
    if (!r.ok()) return reader_error(r, "D");
    switch (d.protocol) {
        case ProtocolId::IKE:
            if (d.spi_size != 0 || num != 0) {
                return syntax_error("D(IKE): SPI size " + to_string(d.spi_size) + " and " +
                                        to_string(num) + " SPIs (both must be 0)",
                                    at + 1);
            }
            break;
        case ProtocolId::AH:
        case ProtocolId::ESP:
            if (d.spi_size != 4) {
                return syntax_error(
                    "D(" + to_string(d.protocol) + "): SPI size " + to_string(d.spi_size) + " != 4",
                    at + 1);
            }
            break;
        default:
            return syntax_error("D: unknown protocol ID " + to_string(int(d.protocol)), at);
    }
    std::size_t need = std::size_t{num} * d.spi_size;
    if (r.remaining() != need) {
        return syntax_error("D(" + to_string(d.protocol) + "): " + to_string(num) + " SPIs of " +
                                to_string(d.spi_size) + " bytes need " + to_string(need) +
                                ", body has " + to_string(r.remaining()),
                            r.offset());
    }
    for (std::uint16_t i = 0; i < num; ++i) {
        auto spi = r.bytes(d.spi_size, "D SPI");
        d.spis.emplace_back(spi.begin(), spi.end());
    }
    if (!r.ok()) return reader_error(r, "D");
    return d;
}

void serialize_body(Writer& w, const DeletePayload& d) {
    w.u8(static_cast<std::uint8_t>(d.protocol));
    w.u8(d.spi_size);
    w.u16(static_cast<std::uint16_t>(d.spis.size()));
    for (const auto& spi : d.spis)
        w.bytes(spi);
}

}  // namespace postern::ike::wire
