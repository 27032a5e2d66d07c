// libFuzzer target: esp/engine/gso (segmentation, checksum completion, TCP coalescing) and
// esp/engine/udp_offload (GRO cmsg parsing, datagram splitting).
//
// The first input byte picks the mode (byte % 3):
//   0  segment: the next 10 bytes are a VirtioNetHdr (flags, gso_type, hdr_len, gso_size,
//      csum_start, csum_offset; 16-bit fields little-endian), the rest the packet read from
//      TUN. complete_l4_checksum runs on a copy too.
//   1  coalesce: the next byte picks IPv4/IPv6 and the base flags, then records of 6 bytes
//      describe segments of one flow (payload length, sequence step, a field to perturb, and
//      whether to keep checksums valid); the harness builds them and feeds TcpCoalescer,
//      flushing as the results say.
//   2  UDP GRO: 2 bytes of segment size and a control buffer for udp_gro_segment_size; the
//      rest is split with UdpGroSplitter.
//
// Invariants (a violation aborts):
//   - nothing reads or writes outside its buffers (ASan; the segment buffer is exactly
//     max_segment_size() long);
//   - an accepted super-packet gives segment_count() segments, each with valid IPv4 header and
//     L4 checksums (verified by a naive sum here), whose payloads concatenate to the
//     super-packet's payload;
//   - flush_first is followed by merged when the same packet is added again;
//   - a coalesced packet segments (with its own header) into as many segments as were
//     merged, carrying the same payload bytes in order, with valid checksums;
//   - the GRO splitter returns count() datagrams that tile the buffer.

#include <sys/socket.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "esp/engine/gso.hpp"
#include "esp/engine/udp_offload.hpp"

using namespace postern;
using namespace postern::esp;

namespace {

#define FUZZ_ASSERT(cond)     \
    do {                      \
        if (!(cond)) abort(); \
    } while (0)

std::uint16_t naive_sum(const std::uint8_t* p, std::size_t n, std::uint32_t sum = 0) {
    for (std::size_t i = 0; i < n; ++i)
        sum += i % 2 == 0 ? std::uint32_t{p[i]} << 8 : p[i];
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return static_cast<std::uint16_t>(sum);
}

void put16(std::uint8_t* p, std::uint16_t v) {
    p[0] = static_cast<std::uint8_t>(v >> 8);
    p[1] = static_cast<std::uint8_t>(v);
}

// IPv4 header and L4 checksums of a segment (IPv4 with options or IPv6 without extensions).
bool checksums_valid(const std::uint8_t* p, std::size_t n) {
    const bool v6 = p[0] >> 4 == 6;
    const std::size_t l3 = v6 ? 40 : std::size_t{p[0] & 0x0fu} * 4;
    if (!v6 && naive_sum(p, l3) != 0xffff) return false;
    const std::uint8_t proto = v6 ? p[6] : p[9];
    std::uint32_t pseudo = v6 ? naive_sum(p + 8, 32) : naive_sum(p + 12, 8);
    pseudo += proto + static_cast<std::uint32_t>(n - l3);
    return naive_sum(p + l3, n - l3, pseudo) == 0xffff;
}

// Segments and checks; returns the concatenated payloads through `payload` when asked.
std::size_t segment_checked(const VirtioNetHdr& hdr, ByteView packet, Bytes* payload) {
    GsoSegmenter seg(hdr, packet);
    if (seg.error() != GsoError::none) {
        FUZZ_ASSERT(seg.segment_count() == 0);
        return 0;
    }
    FUZZ_ASSERT(seg.segment_count() >= 1 && seg.segment_count() <= kMaxGsoSegments);
    FUZZ_ASSERT(seg.header_size() <= packet.size());
    std::vector<std::uint8_t> out(seg.max_segment_size());  // exact: ASan sees any overrun
    std::size_t len = 0, n = 0, payload_seen = 0;
    while (seg.next(out, &len)) {
        FUZZ_ASSERT(len >= seg.header_size() && len <= out.size());
        FUZZ_ASSERT(checksums_valid(out.data(), len));
        const std::size_t chunk = len - seg.header_size();
        FUZZ_ASSERT(std::memcmp(out.data() + seg.header_size(),
                                packet.data() + seg.header_size() + payload_seen, chunk) == 0);
        if (payload)
            payload->insert(payload->end(), out.begin() + seg.header_size(),
                            out.begin() + static_cast<long>(len));
        payload_seen += chunk;
        ++n;
    }
    FUZZ_ASSERT(seg.error() == GsoError::none);
    FUZZ_ASSERT(n == seg.segment_count());
    FUZZ_ASSERT(seg.header_size() + payload_seen == packet.size());
    return n;
}

void fuzz_segment(const std::uint8_t* data, std::size_t size) {
    if (size < 10) return;
    VirtioNetHdr hdr;
    hdr.flags = data[0];
    hdr.gso_type = data[1];
    hdr.hdr_len = static_cast<std::uint16_t>(data[2] | data[3] << 8);
    hdr.gso_size = static_cast<std::uint16_t>(data[4] | data[5] << 8);
    hdr.csum_start = static_cast<std::uint16_t>(data[6] | data[7] << 8);
    hdr.csum_offset = static_cast<std::uint16_t>(data[8] | data[9] << 8);
    const ByteView packet(data + 10, size - 10);
    segment_checked(hdr, packet, nullptr);

    std::vector<std::uint8_t> copy(packet.begin(), packet.end());
    const bool ok = complete_l4_checksum(copy, hdr);
    if (!ok) FUZZ_ASSERT(std::equal(copy.begin(), copy.end(), packet.begin()));
    if (ok && hdr.needs_csum())
        FUZZ_ASSERT(std::size_t{hdr.csum_start} + hdr.csum_offset + 2 <= copy.size());
}

// One TCP segment of the fuzzed flow.
Bytes build_segment(bool v6, std::uint8_t flags, std::uint32_t seq, std::size_t payload,
                    std::uint8_t perturb, std::uint8_t perturb_value, bool valid) {
    const std::size_t l3 = v6 ? 40 : 20, l4 = 32;  // TCP with 12 octets of options
    Bytes p(l3 + l4 + payload, 0);
    std::uint8_t* b = p.data();
    if (v6) {
        b[0] = 0x60;
        put16(b + 4, static_cast<std::uint16_t>(l4 + payload));
        b[6] = 6;
        b[7] = 64;
        b[23] = 1;
        b[39] = 2;
    } else {
        b[0] = 0x45;
        put16(b + 2, static_cast<std::uint16_t>(p.size()));
        b[6] = 0x40;
        b[8] = 64;
        b[9] = 6;
        b[12] = 10;
        b[15] = 1;
        b[16] = 10;
        b[19] = 2;
    }
    std::uint8_t* t = b + l3;
    put16(t, 40000);
    put16(t + 2, 443);
    put16(t + 4, static_cast<std::uint16_t>(seq >> 16));
    put16(t + 6, static_cast<std::uint16_t>(seq));
    t[11] = 1;  // ACK number 1
    t[12] = 8 << 4;
    t[13] = flags;
    put16(t + 14, 1000);
    t[20] = 1;
    t[21] = 1;
    t[22] = 8;
    t[23] = 10;
    for (std::size_t i = 0; i < payload; ++i)
        b[l3 + l4 + i] = static_cast<std::uint8_t>(seq + i);
    // A perturbed octet anywhere in the headers (0xff: none).
    if (perturb != 0xff) b[perturb % (l3 + l4)] ^= perturb_value;
    if (valid) {
        if (!v6 && b[0] == 0x45) {
            put16(b + 10, 0);
            put16(b + 10, static_cast<std::uint16_t>(~naive_sum(b, 20)));
        }
        put16(t + 16, 0);
        std::uint32_t pseudo = v6 ? naive_sum(b + 8, 32) : naive_sum(b + 12, 8);
        pseudo += 6 + static_cast<std::uint32_t>(l4 + payload);
        put16(t + 16, static_cast<std::uint16_t>(~naive_sum(t, l4 + payload, pseudo)));
    }
    return p;
}

void check_flushed(const CoalescedPacket& out, const Bytes& expected_payload) {
    if (out.segments == 0) return;
    FUZZ_ASSERT(!out.packet.empty());
    if (out.segments == 1) {
        FUZZ_ASSERT(out.hdr.gso_type == VirtioNetHdr::kGsoNone && out.hdr.flags == 0);
        return;
    }
    Bytes payload;
    FUZZ_ASSERT(segment_checked(out.hdr, out.packet, &payload) == out.segments);
    FUZZ_ASSERT(payload == expected_payload);
    Bytes copy(out.packet.begin(), out.packet.end());
    FUZZ_ASSERT(complete_l4_checksum(copy, out.hdr));
    FUZZ_ASSERT(checksums_valid(copy.data(), copy.size()));
}

void fuzz_coalesce(const std::uint8_t* data, std::size_t size) {
    if (size < 1) return;
    const bool v6 = data[0] & 1;
    const std::uint8_t base_flags = static_cast<std::uint8_t>(0x10 | (data[0] & 0xe8));
    data += 1;
    size -= 1;
    std::vector<Bytes> packets;  // alive until the end: add() keeps views of them
    std::vector<Bytes> payloads;
    std::uint32_t seq = 1000;
    for (; size >= 6 && packets.size() < 64; data += 6, size -= 6) {
        const std::size_t len = (data[0] | std::size_t{data[1]} << 8) % 2001;
        seq += static_cast<std::uint32_t>(static_cast<std::int8_t>(data[2]));
        const bool valid = !(data[5] & 0x80);
        const std::uint8_t flags = (data[5] & 0x40) ? data[3] : base_flags;
        packets.push_back(build_segment(v6, flags, seq, len, data[3], data[4], valid));
        // The payload as the coalescer will see it (a perturbed data offset moves it).
        const Bytes& b = packets.back();
        const std::size_t l3 = v6 ? 40 : std::size_t{b[0] & 0x0fu} * 4;
        const std::size_t hdr =
            l3 + 20 <= b.size() ? l3 + static_cast<std::size_t>(b[l3 + 12] >> 4) * 4 : 0;
        payloads.emplace_back(b.begin() + static_cast<long>(hdr < b.size() ? hdr : b.size()),
                              b.end());
        seq += static_cast<std::uint32_t>(len);
    }
    TcpCoalescer c;
    Bytes run_payload;
    for (std::size_t i = 0; i < packets.size(); ++i) {
        const Bytes& p = packets[i];
        const std::size_t before = c.segments();
        switch (c.add(p)) {
            case CoalesceResult::merged:
                FUZZ_ASSERT(c.segments() == before + 1);
                run_payload.insert(run_payload.end(), payloads[i].begin(), payloads[i].end());
                break;
            case CoalesceResult::flush_first:
                FUZZ_ASSERT(before >= 1 && c.segments() == before);
                check_flushed(c.flush(), run_payload);
                run_payload.assign(payloads[i].begin(), payloads[i].end());
                FUZZ_ASSERT(c.add(p) == CoalesceResult::merged);
                break;
            case CoalesceResult::not_eligible:
                FUZZ_ASSERT(c.segments() == before);
                check_flushed(c.flush(), run_payload);
                run_payload.clear();
                break;
        }
    }
    check_flushed(c.flush(), run_payload);
    FUZZ_ASSERT(c.empty());
}

void fuzz_gro(const std::uint8_t* data, std::size_t size) {
    if (size < 3) return;
    const auto segment = static_cast<std::uint16_t>(data[0] | data[1] << 8);
    const std::size_t control_len = data[2] % 97;
    data += 3;
    size -= 3;
    const std::size_t take = control_len < size ? control_len : size;
    alignas(cmsghdr) unsigned char control[128] = {};
    std::memcpy(control, data, take);
    msghdr msg{};
    msg.msg_control = control;
    msg.msg_controllen = take;
    const std::uint16_t parsed = udp_gro_segment_size(msg);
    (void)parsed;

    const ByteView buffer(data + take, size - take);
    UdpGroSplitter split(buffer, segment);
    const std::size_t count = split.count();
    std::size_t n = 0, offset = 0;
    for (ByteView d; split.next(d); ++n) {
        FUZZ_ASSERT(d.data() == buffer.data() + offset);
        FUZZ_ASSERT(segment == 0 || (d.size() >= 1 && d.size() <= segment));
        offset += d.size();
    }
    FUZZ_ASSERT(n == count && offset == buffer.size());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 1) return 0;
    switch (data[0] % 3) {
        case 0:
            fuzz_segment(data + 1, size - 1);
            break;
        case 1:
            fuzz_coalesce(data + 1, size - 1);
            break;
        default:
            fuzz_gro(data + 1, size - 1);
            break;
    }
    return 0;
}
