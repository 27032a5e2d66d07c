// esp/engine/gso: TcpCoalescer. Round trips (a super-packet segmented, the segments coalesced:
// the original comes back, with the header the TUN driver takes), and a table of the rules that
// end a run or keep a packet out of coalescing.
#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>
#include <string>
#include <vector>

#include "esp/engine/gso.hpp"
#include "gso_packets.hpp"

namespace {

using namespace postern;
using namespace postern::esp;
using namespace postern::test::gso;
namespace bdata = boost::unit_test::data;

std::vector<Bytes> segments_of(const Super& s) {
    VirtioNetHdr hdr;
    const Bytes p = build(s, hdr);
    GsoSegmenter seg(hdr, p);
    BOOST_REQUIRE(seg.error() == GsoError::none);
    std::vector<Bytes> out;
    Bytes buf(seg.max_segment_size());
    std::size_t len = 0;
    while (seg.next(buf, &len))
        out.emplace_back(buf.begin(), buf.begin() + static_cast<long>(len));
    return out;
}

// A single full-size data segment (complete checksums), with a tweak applied and the
// checksums recomputed.
Bytes one_segment(Super s, void (*tweak)(Bytes&) = nullptr, bool fix_checksums = true) {
    s.partial = false;
    s.payload = s.gso_size;
    VirtioNetHdr hdr;
    Bytes p = build(s, hdr);
    if (tweak) tweak(p);
    if (fix_checksums) postern::test::gso::fix_checksums(p);
    return p;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(gso_tcp_coalescer)

const std::vector<std::pair<const char*, Super>> kRoundTrips = {
    {"IPv4 64000 / 1360 with timestamps", {}},
    {"IPv4 exact multiple, no PSH", {.payload = 1448 * 10, .gso_size = 1448, .flags = kAck}},
    {"IPv4 no options, ECE", {.payload = 30000, .tcp_options = 0, .flags = kAck | kEce | kPsh}},
    {"IPv4 largest", {.payload = 65535 - 52, .gso_size = 1448}},
    {"IPv6", {.version = 6, .payload = 50000, .gso_size = 1220}},
    {"IPv6 sequence wrap", {.version = 6, .payload = 5000, .gso_size = 1000, .seq = 0xfffff000}},
};

BOOST_DATA_TEST_CASE(segment_then_coalesce_gives_the_original, bdata::xrange(kRoundTrips.size()),
                     i) {
    const auto& [name, spec] = kRoundTrips[i];
    BOOST_TEST_MESSAGE(name);
    VirtioNetHdr orig_hdr;
    const Bytes original = build(spec, orig_hdr);
    const auto segs = segments_of(spec);
    TcpCoalescer c;
    for (const Bytes& s : segs)
        BOOST_TEST_REQUIRE(int(c.add(s)) == int(CoalesceResult::merged));
    BOOST_TEST(c.segments() == segs.size());
    const CoalescedPacket out = c.flush();
    BOOST_TEST(c.empty());
    BOOST_TEST(out.segments == segs.size());
    BOOST_TEST(int(out.hdr.gso_type) == int(orig_hdr.gso_type));
    BOOST_TEST(out.hdr.flags == VirtioNetHdr::kNeedsCsum);
    BOOST_TEST(out.hdr.gso_size == spec.gso_size);
    BOOST_TEST(out.hdr.hdr_len == orig_hdr.hdr_len);
    BOOST_TEST(out.hdr.csum_start == orig_hdr.csum_start);
    BOOST_TEST(out.hdr.csum_offset == 16);
    // Byte for byte the super-packet the kernel would have built: the same headers (ID of the
    // first segment, total length, PSH from the last), the pseudo-header sum in the field.
    BOOST_TEST(out.packet.size() == original.size());
    BOOST_TEST(
        (std::equal(out.packet.begin(), out.packet.end(), original.begin(), original.end())));
    // And it segments back into the same segments.
    GsoSegmenter again(out.hdr, out.packet);
    BOOST_TEST_REQUIRE(again.error() == GsoError::none);
    Bytes buf(again.max_segment_size());
    std::size_t len = 0, n = 0;
    while (again.next(buf, &len)) {
        BOOST_TEST((n < segs.size() &&
                    Bytes(buf.begin(), buf.begin() + static_cast<long>(len)) == segs[n]));
        ++n;
    }
    BOOST_TEST(n == segs.size());
}

BOOST_AUTO_TEST_CASE(a_single_segment_is_passed_through_uncopied) {
    const Bytes p = one_segment({});
    TcpCoalescer c;
    BOOST_TEST(int(c.add(p)) == int(CoalesceResult::merged));
    const CoalescedPacket out = c.flush();
    BOOST_TEST(out.segments == 1u);
    BOOST_TEST(out.packet.data() == p.data());
    BOOST_TEST(out.packet.size() == p.size());
    BOOST_TEST(out.hdr.flags == 0);
    BOOST_TEST(out.hdr.gso_type == 0);
    const CoalescedPacket none = c.flush();
    BOOST_TEST(none.segments == 0u);
    BOOST_TEST(none.packet.empty());
}

BOOST_AUTO_TEST_CASE(a_short_segment_closes_the_run) {
    auto segs = segments_of({.payload = 1360 * 2 + 100, .flags = kAck});
    Super next{.seq = 0x10000000 + 1360 * 2 + 100};
    const Bytes after = one_segment(next);
    TcpCoalescer c;
    for (const Bytes& s : segs)
        BOOST_TEST(int(c.add(s)) == int(CoalesceResult::merged));
    BOOST_TEST(int(c.add(after)) == int(CoalesceResult::flush_first));
    BOOST_TEST(c.flush().segments == 3u);
    BOOST_TEST(int(c.add(after)) == int(CoalesceResult::merged));
}

BOOST_AUTO_TEST_CASE(the_packet_of_a_flushed_run_is_not_touched_by_the_caller_s_buffer) {
    // The first packet is only copied when a second joins; changing the caller's buffer after
    // that must not change the coalesced packet.
    auto segs = segments_of({.payload = 1360 * 3, .flags = kAck});
    TcpCoalescer c;
    for (const Bytes& s : segs)
        c.add(s);
    const Bytes first = segs[0];
    segs[0].assign(segs[0].size(), 0);
    const CoalescedPacket out = c.flush();
    BOOST_TEST((std::equal(first.begin() + 52, first.end(), out.packet.begin() + 52)));
}

struct Rule {
    const char* what;
    Super spec;
    void (*tweak)(Bytes&);
    bool fix_checksums;
    CoalesceResult expected;  // for this packet following a full segment of the base flow
};

// The base flow's first segment: IPv4, seq 0x10000000, 1360 octets, ACK only. Each rule's
// packet (ACK|PSH unless it says otherwise) would otherwise be its direct successor.
constexpr std::uint32_t kNext = 0x10000000 + 1360;

const std::vector<Rule> kRules = {
    {"successor", {.seq = kNext}, nullptr, true, CoalesceResult::merged},
    {"successor with PSH",
     {.flags = kAck | kPsh, .seq = kNext},
     nullptr,
     true,
     CoalesceResult::merged},
    {"sequence gap", {.seq = kNext + 1}, nullptr, true, CoalesceResult::flush_first},
    {"retransmission", {.seq = 0x10000000}, nullptr, true, CoalesceResult::flush_first},
    {"other source port",
     {.seq = kNext, .sport = 40001},
     nullptr,
     true,
     CoalesceResult::flush_first},
    {"other destination port",
     {.seq = kNext, .dport = 444},
     nullptr,
     true,
     CoalesceResult::flush_first},
    {"other destination",
     {.seq = kNext},
     [](Bytes& p) { p[19] ^= 1; },
     true,
     CoalesceResult::flush_first},
    {"other ACK number",
     {.seq = kNext, .ack = 0x01020305},
     nullptr,
     true,
     CoalesceResult::flush_first},
    {"other window", {.seq = kNext, .window = 513}, nullptr, true, CoalesceResult::flush_first},
    {"ECE", {.flags = kAck | kEce, .seq = kNext}, nullptr, true, CoalesceResult::flush_first},
    {"other timestamp",
     {.seq = kNext},
     [](Bytes& p) { p[20 + 29] ^= 1; },
     true,
     CoalesceResult::flush_first},
    {"no options", {.tcp_options = 0, .seq = kNext}, nullptr, true, CoalesceResult::flush_first},
    {"other TTL", {.seq = kNext, .ttl = 63}, nullptr, true, CoalesceResult::flush_first},
    {"other TOS", {.seq = kNext, .tos = 0x10}, nullptr, true, CoalesceResult::flush_first},
    {"no DF", {.seq = kNext}, [](Bytes& p) { p[6] = 0; }, true, CoalesceResult::flush_first},
    {"other IP ID (allowed)", {.seq = kNext, .id = 7}, nullptr, true, CoalesceResult::merged},
    {"longer than the first",
     {.gso_size = 1361, .seq = kNext},
     nullptr,
     true,
     CoalesceResult::flush_first},
    {"IPv6", {.version = 6, .seq = kNext}, nullptr, true, CoalesceResult::flush_first},
    {"SYN", {.flags = kAck | kSyn, .seq = kNext}, nullptr, true, CoalesceResult::not_eligible},
    {"FIN", {.flags = kAck | kFin, .seq = kNext}, nullptr, true, CoalesceResult::not_eligible},
    {"RST", {.flags = kAck | kRst, .seq = kNext}, nullptr, true, CoalesceResult::not_eligible},
    {"URG", {.flags = kAck | kUrg, .seq = kNext}, nullptr, true, CoalesceResult::not_eligible},
    {"CWR", {.flags = kAck | kCwr, .seq = kNext}, nullptr, true, CoalesceResult::not_eligible},
    {"no ACK", {.flags = kPsh, .seq = kNext}, nullptr, true, CoalesceResult::not_eligible},
    {"no payload", {.gso_size = 0, .seq = kNext}, nullptr, true, CoalesceResult::not_eligible},
    {"bad TCP checksum",
     {.seq = kNext},
     [](Bytes& p) { p[100] ^= 0x40; },
     false,
     CoalesceResult::not_eligible},
    {"bad IPv4 header checksum",
     {.seq = kNext},
     [](Bytes& p) { p[10] ^= 1; },
     false,
     CoalesceResult::not_eligible},
    {"IPv4 options", {.ip_options = 4, .seq = kNext}, nullptr, true, CoalesceResult::not_eligible},
    {"IPv4 MF", {.seq = kNext}, [](Bytes& p) { p[6] |= 0x20; }, true, CoalesceResult::not_eligible},
    {"IPv4 total length short",
     {.seq = kNext},
     [](Bytes& p) { put16(&p[2], static_cast<std::uint16_t>(p.size() - 1)); },
     true,
     CoalesceResult::not_eligible},
    {"UDP", {.tcp = false}, nullptr, true, CoalesceResult::not_eligible},
    {"IPv6 hop-by-hop header",
     {.version = 6, .seq = kNext},
     [](Bytes& p) { p[6] = 0; },
     false,
     CoalesceResult::not_eligible},
    {"TCP data offset 4",
     {.seq = kNext},
     [](Bytes& p) { p[32] = 0x40; },
     true,
     CoalesceResult::not_eligible},
    {"truncated TCP header",
     {.seq = kNext},
     [](Bytes& p) {
         p.resize(30);
         put16(&p[2], 30);
     },
     true,
     CoalesceResult::not_eligible},
    {"version 5",
     {.seq = kNext},
     [](Bytes& p) { p[0] = 0x55; },
     false,
     CoalesceResult::not_eligible},
};

BOOST_DATA_TEST_CASE(run_rules, bdata::xrange(kRules.size()), i) {
    const Rule& r = kRules[i];
    BOOST_TEST_MESSAGE(r.what);
    const Bytes base = one_segment({.flags = kAck});
    const Bytes p = one_segment(r.spec, r.tweak, r.fix_checksums);
    TcpCoalescer c;
    BOOST_TEST_REQUIRE(int(c.add(base)) == int(CoalesceResult::merged));
    BOOST_TEST(int(c.add(p)) == int(r.expected));
    BOOST_TEST(c.segments() == (r.expected == CoalesceResult::merged ? 2u : 1u));
    if (r.expected == CoalesceResult::merged) {
        std::string why;
        const CoalescedPacket out = c.flush();
        BOOST_TEST(out.packet.size() == base.size() + 1360);
        // Completing the partial checksum gives a valid packet.
        Bytes merged(out.packet.begin(), out.packet.end());
        BOOST_TEST(complete_l4_checksum(merged, out.hdr));
        BOOST_TEST(checksums_ok(merged, &why), why);
        BOOST_TEST(int(merged[33] & kPsh) == int(r.spec.flags & kPsh));
    } else if (r.expected == CoalesceResult::flush_first) {
        BOOST_TEST(c.flush().segments == 1u);
        BOOST_TEST(int(c.add(p)) == int(CoalesceResult::merged));  // starts the next run
    }
}

BOOST_AUTO_TEST_CASE(a_psh_segment_closes_the_run) {
    const Bytes a = one_segment({.flags = kAck | kPsh});
    const Bytes b = one_segment({.seq = kNext});
    TcpCoalescer c;
    BOOST_TEST(int(c.add(a)) == int(CoalesceResult::merged));
    BOOST_TEST(int(c.add(b)) == int(CoalesceResult::flush_first));
}

BOOST_AUTO_TEST_CASE(the_run_stops_at_64k) {
    std::vector<Bytes> packets;  // alive until the flush, as add() requires
    for (std::uint32_t i = 0; i < 60; ++i)
        packets.push_back(one_segment({.flags = kAck, .seq = 0x10000000 + i * 1360}));
    TcpCoalescer c;
    std::size_t merged = 0;
    for (const Bytes& p : packets) {
        const auto r = c.add(p);
        if (r == CoalesceResult::flush_first) break;
        BOOST_TEST_REQUIRE(int(r) == int(CoalesceResult::merged));
        ++merged;
    }
    // 52 octets of headers + 48 * 1360 = 65332; one more would pass 65535.
    BOOST_TEST(merged == 48u);
    BOOST_TEST(c.flush().packet.size() == 52u + 48 * 1360);
}

BOOST_AUTO_TEST_SUITE_END()
