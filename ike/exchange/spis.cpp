// SPIs: random ones of our own, and ESP SPIs to and from their 4-octet wire form.

#include "ike/exchange/context.hpp"
#include "ike/shard.hpp"

namespace postern::ike::exchange {

IkeSpi random_ike_spi(const Ctx& ctx) {
    std::uint64_t v = 0;
    while (v == 0) {  // §3.1: zero means "not yet known"
        Bytes b = ctx.random_bytes(8);
        for (auto x : b)
            v = v << 8 | x;
        // Sharded (ike/shard.hpp): the first octet names this engine's shard.
        v = label_ike_spi(v, ctx.config.shard_index, ctx.config.shard_count);
    }
    return IkeSpi(v);
}

EspSpi random_esp_spi(const Ctx& ctx) {
    // Unique among the daemon's CHILD_SAs, never 0-255 (ike/shard.hpp: EspSpiSequence).
    return ctx.sas.new_esp_spi();
}

Bytes spi_bytes(EspSpi spi) {
    std::uint32_t v = spi.value();
    return {static_cast<std::uint8_t>(v >> 24), static_cast<std::uint8_t>(v >> 16),
            static_cast<std::uint8_t>(v >> 8), static_cast<std::uint8_t>(v)};
}

Bytes spi_bytes(IkeSpi spi) {
    Bytes b(8);
    for (int i = 0; i < 8; ++i)
        b[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(spi.value() >> (56 - 8 * i));
    return b;
}

std::optional<EspSpi> esp_spi_from(ByteView b) {
    if (b.size() != 4) return std::nullopt;
    return EspSpi(std::uint32_t{b[0]} << 24 | std::uint32_t{b[1]} << 16 | std::uint32_t{b[2]} << 8 |
                  b[3]);
}

std::optional<IkeSpi> ike_spi_from(ByteView b) {
    if (b.size() != 8) return std::nullopt;
    std::uint64_t v = 0;
    for (auto x : b)
        v = v << 8 | x;
    if (v == 0) return std::nullopt;
    return IkeSpi(v);
}

}  // namespace postern::ike::exchange
