// libFuzzer target: ESP decapsulation of arbitrary bytes, and encap -> decap round trips.
//
// The first input byte picks the mode and the SA; fresh SAs are built for every input so runs
// are reproducible (the replay window starts empty).
//   bit 7 = 0: decap mode. (byte & 0x3f) % kConfigs picks the inbound SA: 0..5 are the
//              strongSwan captures' SAs (tests/data/strongswan, psk-gcm / cert-cbc /
//              modp-invalid-ke, moon->sun then sun->moon) so the seeds, the captured esp-*.hex
//              packets, reach decryption; 6..12 are fixed-key SAs of every transform. Bit 6
//              turns ESN on for those. The rest of the input is the ESP packet.
//   bit 7 = 1: round-trip mode with the fixed-key SA (byte & 0x3f) % 7 (ESN if bit 6). The
//              next 8 bytes set where the outbound sequence counter stands (the inbound window
//              is put just behind it), one byte picks IPv4/IPv6 and the protocol, the rest is
//              the inner packet's payload. It is encapsulated, then decapsulated.
//
// Invariants (a violation aborts):
//   - decap never reads or writes outside the buffer (ASan) and every drop has a reason;
//   - a delivered inner packet lies inside the buffer and parses as the Next Header says;
//   - decapsulating the same bytes twice: a drop before the ICV repeats with the same reason,
//     anything that passed the ICV is a replay the second time;
//   - round trip: encapsulation succeeds (or refuses with seq_exhausted at the end of the
//     sequence space) and decapsulation returns the exact inner packet.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>

#include "esp/engine/esp_packet.hpp"
#include "esp/engine/ip_packet.hpp"

using namespace postern;
using namespace postern::esp;

namespace {

#define FUZZ_ASSERT(cond)     \
    do {                      \
        if (!(cond)) abort(); \
    } while (0)

struct Config {
    std::uint32_t spi;
    std::uint16_t encr, bits, integ;
    const char* encr_key;  // hex; empty = fixed pattern of the right length
    const char* integ_key;
    std::size_t encr_len, integ_len;
};

// Keys and SPIs from tests/data/strongswan/*/keys.txt (public test material).
const Config kConfigs[] = {
    {0x3b5bd40e, 20, 256, 0,
     "d2f5bc63624211849ccd03429f1840e71ee907a27835a093379f8028552a42356ccc8b48", "", 36, 0},
    {0x6895fb08, 20, 256, 0,
     "6fe3567239727b9da6359486b31ff53cbcc3a0a7c1877ff05c70c30d624858968b248625", "", 36, 0},
    {0x096757b1, 12, 128, 12, "e7c7067e306ee1f39d956f86eb4ea477",
     "e697d29d4de5d6f514be233fbf36507458902464505921beccddec9015115b3a", 16, 32},
    {0x7f7cf097, 12, 128, 12, "889f94598a60d18177dc02f92a6e6b91",
     "3957a8ccc48dfa3372bdbd20085bde6ce4153354f2c947400249f12acfc55663", 16, 32},
    {0xa1efa59c, 12, 128, 12, "d849d8ac9197c4091e4d38ea79eae719",
     "c1085f662cc98badf9451ba784f1b4cc116ca360302b3dd25db874d4898dd24d", 16, 32},
    {0xdcf69832, 12, 128, 12, "c5568b929e528f6a4f131b487d3d75ba",
     "8416aaabd507d7c070111514e96d4fa1906ba30de277a27b975ee1d5d73ae888", 16, 32},
    // Fixed-key SAs, one per transform.
    {0xc0ffee01, 20, 128, 0, "", "", 20, 0},
    {0xc0ffee01, 20, 256, 0, "", "", 36, 0},
    {0xc0ffee01, 28, 0, 0, "", "", 36, 0},
    {0xc0ffee01, 12, 128, 12, "", "", 16, 32},
    {0xc0ffee01, 12, 256, 13, "", "", 32, 48},
    {0xc0ffee01, 12, 256, 14, "", "", 32, 64},
    {0xc0ffee01, 12, 128, 2, "", "", 16, 20},
};
constexpr std::size_t kConfigCount = sizeof kConfigs / sizeof kConfigs[0];
constexpr std::size_t kCaptured = 6;
constexpr std::size_t kMaxPacket = 4096;

Bytes key(const char* hex, std::size_t len, std::uint8_t seed) {
    if (*hex) return from_hex(hex);
    Bytes b(len);
    for (std::size_t i = 0; i < len; ++i)
        b[i] = static_cast<std::uint8_t>(seed + i * 7);
    return b;
}

struct Sa {
    std::unique_ptr<EspSa> sa;
    std::optional<EspCipher> cipher;
};

Sa make_sa(const Config& c, bool inbound, bool esn) {
    const Bytes ek = key(c.encr_key, c.encr_len, 1), ik = key(c.integ_key, c.integ_len, 2);
    EspSaSpec spec;
    spec.spi = EspSpi(c.spi);
    spec.inbound = inbound;
    spec.encr_id = c.encr;
    spec.encr_key_bits = c.bits;
    spec.integ_id = c.integ;
    spec.encr_key = ek;
    spec.integ_key = ik;
    spec.esn = esn;
    Selector any4, any6;
    any4.start = *IpAddress::parse("0.0.0.0");
    any4.end = *IpAddress::parse("255.255.255.255");
    any6.start = *IpAddress::parse("::");
    any6.end = *IpAddress::parse("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff");
    spec.local_ts = spec.remote_ts = {any4, any6};
    auto sa = EspSa::create(spec);
    FUZZ_ASSERT(sa.has_value());
    auto cipher = EspCipher::create(**sa);
    FUZZ_ASSERT(cipher.has_value());
    Sa out{std::move(*sa), {}};
    out.cipher.emplace(std::move(*cipher));
    return out;
}

bool before_icv(DropReason r) {
    return r == DropReason::too_short || r == DropReason::bad_length ||
           r == DropReason::unknown_spi || r == DropReason::replay || r == DropReason::bad_icv;
}

void check_delivered(const DecapResult& r, const std::uint8_t* lo, const std::uint8_t* hi) {
    if (!r.ok()) return;
    FUZZ_ASSERT(r.inner.data() >= lo && r.inner.data() + r.inner.size() <= hi);
    const auto info = parse_ip_packet(r.inner);
    FUZZ_ASSERT(info && info->total_length == r.inner.size());
    FUZZ_ASSERT(info->version == (r.next_header == kNextHeaderIpv4 ? 4 : 6));
}

void decap_mode(std::uint8_t mode, const std::uint8_t* data, std::size_t size) {
    const std::size_t index = (mode & 0x3f) % kConfigCount;
    const bool esn = index >= kCaptured && (mode & 0x40);
    Sa in = make_sa(kConfigs[index], true, esn);
    Bytes storage(data, data + size);
    PacketBuffer buf{storage, 0, size};
    const DecapResult first = decapsulate(*in.sa, *in.cipher, buf);
    check_delivered(first, storage.data(), storage.data() + storage.size());

    std::copy(data, data + size, storage.begin());
    PacketBuffer again{storage, 0, size};
    const DecapResult second = decapsulate(*in.sa, *in.cipher, again);
    FUZZ_ASSERT(before_icv(first.reason) ? second.reason == first.reason
                                         : second.reason == DropReason::replay);
    const auto c = in.sa->counters();
    std::uint64_t drops = 0;
    for (auto d : c.drops)
        drops += d;
    FUZZ_ASSERT(c.packets + drops == 2);
}

void round_trip_mode(std::uint8_t mode, const std::uint8_t* data, std::size_t size) {
    if (size < 9) return;
    const Config& config = kConfigs[kCaptured + (mode & 0x3f) % (kConfigCount - kCaptured)];
    const bool esn = mode & 0x40;
    Sa out = make_sa(config, false, esn);
    Sa in = make_sa(config, true, esn);
    std::uint64_t last = 0;
    for (int i = 0; i < 8; ++i)
        last = last << 8 | data[i];
    if (!esn) last &= 0xffffffffu;
    out.sa->set_last_sequence(last);
    if (last) FUZZ_ASSERT(in.sa->replay_window().accept(last));
    const std::uint8_t kind = data[8];
    data += 9, size -= 9;

    // Inner packet: IPv4 or IPv6 header, protocol from the input, payload = the rest.
    const bool v6 = kind & 1;
    const std::size_t header = v6 ? 40 : 20;
    const std::size_t total = header + size;
    if (total > 0xffff) return;
    Bytes inner(total, 0);
    if (v6) {
        inner[0] = 0x60;
        inner[4] = static_cast<std::uint8_t>(size >> 8);
        inner[5] = static_cast<std::uint8_t>(size);
        inner[6] = 59;          // no next header: payload is opaque, no extension headers to walk
        if (size == 0) return;  // Payload Length 0 means a jumbogram, refused
    } else {
        inner[0] = 0x45;
        inner[2] = static_cast<std::uint8_t>(total >> 8);
        inner[3] = static_cast<std::uint8_t>(total);
        inner[9] = static_cast<std::uint8_t>(kind >> 1);
    }
    std::memcpy(inner.data() + header, data, size);

    Bytes storage(kEncapHeadroom + total + kEncapTailroom);
    std::copy(inner.begin(), inner.end(), storage.begin() + kEncapHeadroom);
    PacketBuffer buf{storage, kEncapHeadroom, total};
    const DropReason sent = encapsulate(*out.sa, *out.cipher, buf);
    if (last == out.sa->max_sequence()) {
        FUZZ_ASSERT(sent == DropReason::seq_exhausted);
        return;
    }
    FUZZ_ASSERT(sent == DropReason::none);
    const DecapResult r = decapsulate(*in.sa, *in.cipher, buf);
    FUZZ_ASSERT(r.ok());
    FUZZ_ASSERT(r.seq == last + 1);
    FUZZ_ASSERT(r.inner.size() == total && std::memcmp(r.inner.data(), inner.data(), total) == 0);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 1 || size > kMaxPacket) return 0;
    const std::uint8_t mode = data[0];
    if (mode & 0x80)
        round_trip_mode(mode, data + 1, size - 1);
    else
        decap_mode(mode, data + 1, size - 1);
    return 0;
}
