// esp/engine/gso: the Internet checksum, NEEDS_CSUM completion, segmentation of TSO4/TSO6/USO
// super-packets (every field of every segment, every malformed input rejected) and TCP
// coalescing (the rules table, and segment -> coalesce -> segment round trips). Checksums are
// verified with the independent naive_sum of gso_packets.hpp. Kernel cases: gso_kernel_test.cpp.
#include <algorithm>
#include <array>
#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>
#include <ctime>
#include <random>
#include <string>
#include <vector>

#include "esp/engine/gso.hpp"
#include "gso_packets.hpp"

namespace {

using namespace postern;
using namespace postern::esp;
using namespace postern::test::gso;
namespace bdata = boost::unit_test::data;

// Segments the packet; checks each segment's every field against the super-packet.
struct Checked {
    std::size_t segments = 0;
    Bytes payload;  // the segments' payloads concatenated
};

Checked segment_and_check(const Super& s, ByteView super, const VirtioNetHdr& hdr) {
    Checked out;
    GsoSegmenter seg(hdr, super);
    BOOST_TEST_REQUIRE(to_string(seg.error()) == to_string(GsoError::none));
    const std::size_t l3 = l3_size(super);
    const std::size_t header = seg.header_size();
    BOOST_TEST(header == hdr.hdr_len);
    const std::size_t expected = s.payload == 0 ? 1 : (s.payload + s.gso_size - 1) / s.gso_size;
    BOOST_TEST(seg.segment_count() == expected);
    Bytes buf(seg.max_segment_size() + 16, 0xee);
    std::size_t len = 0;
    for (std::size_t i = 0; std::fill(buf.begin(), buf.end(), 0xee), seg.next(buf, &len); ++i) {
        BOOST_TEST_CONTEXT("segment " << i) {
            const ByteView p(buf.data(), len);
            const bool last = i + 1 == expected;
            const std::size_t chunk = last ? s.payload - i * s.gso_size : s.gso_size;
            BOOST_TEST(len == header + chunk);
            std::string why;
            BOOST_TEST(checksums_ok(p, &why), why);
            if (s.version == 4) {
                BOOST_TEST(get16(&p[2]) == len);
                BOOST_TEST(get16(&p[4]) == static_cast<std::uint16_t>(s.id + i));
                // Everything else of the IPv4 header (options included) is copied.
                BOOST_TEST(std::memcmp(&p[6], &super[6], 4) == 0);
                BOOST_TEST(std::memcmp(&p[12], &super[12], l3 - 12) == 0);
                BOOST_TEST(p[1] == super[1]);
            } else {
                BOOST_TEST(get16(&p[4]) == len - 40);
                BOOST_TEST(std::memcmp(&p[0], &super[0], 4) == 0);
                BOOST_TEST(std::memcmp(&p[6], &super[6], 34) == 0);
            }
            const std::uint8_t* l4 = &p[l3];
            const std::uint8_t* sl4 = &super[l3];
            BOOST_TEST(std::memcmp(l4, sl4, 4) == 0);  // ports
            if (s.tcp) {
                BOOST_TEST(get32(l4 + 4) == static_cast<std::uint32_t>(s.seq + i * s.gso_size));
                std::uint8_t flags = s.flags;
                if (!last) flags &= static_cast<std::uint8_t>(~(kFin | kPsh));
                if (i != 0) flags &= static_cast<std::uint8_t>(~kCwr);
                BOOST_TEST(int(l4[13]) == int(flags));
                BOOST_TEST(std::memcmp(l4 + 8, sl4 + 8, 5) == 0);    // ACK, data offset
                BOOST_TEST(std::memcmp(l4 + 14, sl4 + 14, 2) == 0);  // window
                BOOST_TEST(std::memcmp(l4 + 18, sl4 + 18, header - l3 - 18) == 0);  // urg, opts
            } else {
                BOOST_TEST(get16(l4 + 4) == len - l3);
                BOOST_TEST(get16(l4 + 6) != 0);  // a UDP checksum is always sent
            }
            out.payload.insert(out.payload.end(), p.begin() + static_cast<long>(header), p.end());
            BOOST_TEST(buf[len] == 0xee);  // nothing written beyond the segment
            ++out.segments;
        }
    }
    BOOST_TEST(to_string(seg.error()) == to_string(GsoError::none));
    BOOST_TEST(seg.remaining() == 0u);
    BOOST_TEST(out.segments == expected);
    BOOST_TEST(out.payload.size() == s.payload);
    BOOST_TEST((std::equal(out.payload.begin(), out.payload.end(),
                           super.begin() + static_cast<long>(header))));
    return out;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(gso_checksum)

BOOST_AUTO_TEST_CASE(rfc1071_example) {
    // RFC 1071 §3: 00 01 f2 03 f4 f5 f6 f7 sums to ddf2.
    const Bytes data = {0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7};
    BOOST_TEST(ones_complement_sum(data) == 0xddf2);
    BOOST_TEST(internet_checksum(data) == 0x220d);
    BOOST_TEST(ones_complement_sum({}) == 0);
    BOOST_TEST(ones_complement_sum({}, 0x1234) == 0x1234);
    BOOST_TEST(ones_complement_add(0xffff, 0x0001) == 0x0001);
    BOOST_TEST(ones_complement_add(0x8000, 0x8000) == 0x0001);
}

BOOST_AUTO_TEST_CASE(matches_the_naive_sum_for_every_length_and_alignment) {
    std::mt19937 rng(7);
    Bytes buf(600);
    for (int round = 0; round < 4; ++round) {
        for (auto& b : buf)
            b = static_cast<std::uint8_t>(round == 3 ? 0xff : rng());  // 0xff: carries
        for (std::size_t off = 0; off < 8; ++off)
            for (std::size_t n = 0; off + n <= 300; ++n) {
                const ByteView d(buf.data() + off, n);
                const auto init = static_cast<std::uint16_t>(rng());
                if (ones_complement_sum(d, init) != naive_sum(d, init)) {
                    BOOST_ERROR("offset " << off << " length " << n << " round " << round);
                    return;
                }
            }
    }
}

BOOST_AUTO_TEST_CASE(sums_of_even_pieces_add_up) {
    Bytes data(1001);
    for (std::size_t i = 0; i < data.size(); ++i)
        data[i] = payload_byte(i);
    const ByteView all(data);
    for (std::size_t cut : {0u, 2u, 8u, 30u, 500u, 1000u})
        BOOST_TEST(ones_complement_add(ones_complement_sum(all.first(cut)),
                                       ones_complement_sum(all.subspan(cut))) == naive_sum(all));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(gso_complete_l4_checksum)

BOOST_AUTO_TEST_CASE(completes_tcp_and_udp_v4_v6) {
    for (int version : {4, 6})
        for (bool tcp : {true, false})
            for (std::size_t payload : {0u, 1u, 2u, 1399u, 1400u}) {
                BOOST_TEST_CONTEXT("IPv" << version << (tcp ? " TCP" : " UDP") << " payload "
                                         << payload) {
                    VirtioNetHdr hdr;
                    Bytes p = build({.version = version, .tcp = tcp, .payload = payload}, hdr);
                    std::string why;
                    BOOST_TEST(!checksums_ok(p));  // only the pseudo-header sum so far
                    BOOST_TEST(complete_l4_checksum(p, hdr));
                    BOOST_TEST(checksums_ok(p, &why), why);
                }
            }
}

BOOST_AUTO_TEST_CASE(without_needs_csum_nothing_changes) {
    VirtioNetHdr hdr;
    Bytes p = build({.payload = 100, .partial = false}, hdr);
    const Bytes before = p;
    hdr.csum_start = 9999;  // ignored without the flag
    BOOST_TEST(complete_l4_checksum(p, hdr));
    BOOST_TEST(p == before);
}

BOOST_AUTO_TEST_CASE(offsets_outside_the_packet_are_refused_unchanged) {
    VirtioNetHdr hdr;
    Bytes p = build({.tcp = false, .payload = 10}, hdr);  // 20 + 8 + 10 = 38 octets
    const Bytes before = p;
    struct Case {
        std::uint16_t start, offset;
        bool ok;
    };
    for (const Case c : {Case{20, 6, true}, Case{36, 0, true}, Case{37, 0, false},
                         Case{38, 0, false}, Case{20, 17, false}, Case{20, 7, false},
                         Case{0xffff, 6, false}, Case{20, 0xffff, false}}) {
        Bytes q = before;
        hdr.csum_start = c.start;
        hdr.csum_offset = c.offset;
        BOOST_TEST_CONTEXT("csum_start " << c.start << " csum_offset " << c.offset) {
            BOOST_TEST(complete_l4_checksum(q, hdr) == c.ok);
            if (!c.ok) BOOST_TEST(q == before);
        }
    }
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(gso_segmenter)

// name, spec
const std::vector<std::pair<const char*, Super>> kCases = {
    {"TSO4 64000 / 1360, timestamps", {}},
    {"TSO4 exact multiple", {.payload = 1360 * 5}},
    {"TSO4 one short segment", {.payload = 100}},
    {"TSO4 header only", {.payload = 0}},
    {"TSO4 one octet over", {.payload = 1361}},
    {"TSO4 IP options, no TCP options", {.tcp_options = 0, .ip_options = 8}},
    {"TSO4 FIN PSH CWR ECE", {.payload = 5000, .flags = kAck | kFin | kPsh | kCwr | kEce}},
    {"TSO4 sequence and ID wrap", {.payload = 9000, .seq = 0xfffffc00, .id = 0xfffe}},
    {"TSO4 largest", {.payload = 65535 - 20 - 32, .gso_size = 1448}},
    {"TSO4 not partial", {.payload = 3000, .partial = false}},
    {"TSO4 MSS 48 (Linux minimum)", {.payload = 48 * 1000 + 5, .gso_size = 48}},
    {"TSO6", {.version = 6, .payload = 60000, .gso_size = 1220}},
    {"TSO6 odd payload", {.version = 6, .payload = 2 * 1220 + 3, .gso_size = 1220}},
    {"USO4", {.tcp = false, .payload = 5 * 1200 + 301, .gso_size = 1200}},
    {"USO4 odd sizes", {.tcp = false, .payload = 3 * 1201, .gso_size = 1201}},
    {"USO6", {.version = 6, .tcp = false, .payload = 40000, .gso_size = 1232}},
};

BOOST_DATA_TEST_CASE(segments_every_field, bdata::xrange(kCases.size()), i) {
    const auto& [name, spec] = kCases[i];
    BOOST_TEST_MESSAGE(name);
    VirtioNetHdr hdr;
    const Bytes p = build(spec, hdr);
    segment_and_check(spec, p, hdr);
}

BOOST_AUTO_TEST_CASE(ecn_gso_flag_is_accepted_for_tcp) {
    const Super s{.payload = 4000};
    VirtioNetHdr hdr;
    const Bytes p = build(s, hdr);
    hdr.gso_type |= VirtioNetHdr::kGsoEcn;
    segment_and_check(s, p, hdr);
}

BOOST_AUTO_TEST_CASE(hdr_len_is_only_a_hint) {
    const Super s{.payload = 4000};
    VirtioNetHdr hdr;
    const Bytes p = build(s, hdr);
    hdr.hdr_len = 128;  // what the kernel reports is its linear length, not the header
    GsoSegmenter seg(hdr, p);
    BOOST_TEST(seg.error() == GsoError::none);
    BOOST_TEST(seg.header_size() == 52u);
}

BOOST_AUTO_TEST_CASE(a_short_output_buffer_stops_the_iteration) {
    VirtioNetHdr hdr;
    const Bytes p = build({.payload = 3000}, hdr);
    GsoSegmenter seg(hdr, p);
    BOOST_TEST(seg.max_segment_size() == 52u + 1360u);
    Bytes buf(seg.max_segment_size() - 1);
    std::size_t len = 12345;
    BOOST_TEST(!seg.next(buf, &len));
    BOOST_TEST(len == 12345u);
    BOOST_TEST(seg.error() == GsoError::buffer_too_small);
    Bytes big(2000);
    BOOST_TEST(!seg.next(big, &len));  // sticky
}

// One mutation of a valid packet or header per expected error.
struct Malformed {
    const char* what;
    Super spec;
    void (*mutate)(Bytes&, VirtioNetHdr&);
    GsoError expected;
};

const std::vector<Malformed> kMalformed = {
    {"GSO NONE", {}, [](Bytes&, VirtioNetHdr& h) { h.gso_type = 0; }, GsoError::not_gso},
    {"ECN bit alone",
     {},
     [](Bytes&, VirtioNetHdr& h) { h.gso_type = 0x80; },
     GsoError::unsupported_gso_type},
    {"UFO", {}, [](Bytes&, VirtioNetHdr& h) { h.gso_type = 3; }, GsoError::unsupported_gso_type},
    {"type 2", {}, [](Bytes&, VirtioNetHdr& h) { h.gso_type = 2; }, GsoError::unsupported_gso_type},
    {"USO with ECN",
     {.tcp = false},
     [](Bytes&, VirtioNetHdr& h) { h.gso_type = VirtioNetHdr::kGsoUdpL4 | VirtioNetHdr::kGsoEcn; },
     GsoError::unsupported_gso_type},
    {"gso_size 0", {}, [](Bytes&, VirtioNetHdr& h) { h.gso_size = 0; }, GsoError::gso_size_zero},
    {"empty", {}, [](Bytes& p, VirtioNetHdr&) { p.clear(); }, GsoError::truncated},
    {"version 5", {}, [](Bytes& p, VirtioNetHdr&) { p[0] = 0x55; }, GsoError::not_ip},
    {"TCPV6 type on IPv4",
     {},
     [](Bytes&, VirtioNetHdr& h) { h.gso_type = 4; },
     GsoError::protocol_mismatch},
    {"TCPV4 type on IPv6",
     {.version = 6},
     [](Bytes&, VirtioNetHdr& h) { h.gso_type = 1; },
     GsoError::protocol_mismatch},
    {"IPv4 shorter than 20",
     {},
     [](Bytes& p, VirtioNetHdr&) { p.resize(19); },
     GsoError::truncated},
    {"IHL 4", {}, [](Bytes& p, VirtioNetHdr&) { p[0] = 0x44; }, GsoError::bad_ip_header},
    {"IPv4 options beyond the packet",
     {.payload = 0, .gso_size = 100},
     [](Bytes& p, VirtioNetHdr&) {
         p[0] = 0x4f;  // 60 octets of header in a 52-octet packet
     },
     GsoError::truncated},
    {"IPv4 total length too small",
     {},
     [](Bytes& p, VirtioNetHdr&) { put16(&p[2], static_cast<std::uint16_t>(p.size() - 1)); },
     GsoError::ip_length_mismatch},
    {"IPv4 total length too large",
     {.payload = 100},
     [](Bytes& p, VirtioNetHdr&) { put16(&p[2], static_cast<std::uint16_t>(p.size() + 1)); },
     GsoError::ip_length_mismatch},
    {"IPv4 MF", {}, [](Bytes& p, VirtioNetHdr&) { p[6] |= 0x20; }, GsoError::ip_fragment},
    {"IPv4 fragment offset", {}, [](Bytes& p, VirtioNetHdr&) { p[7] = 1; }, GsoError::ip_fragment},
    {"IPv4 protocol ICMP",
     {},
     [](Bytes& p, VirtioNetHdr&) { p[9] = 1; },
     GsoError::protocol_mismatch},
    {"USO on a TCP packet",
     {},
     [](Bytes&, VirtioNetHdr& h) { h.gso_type = 5; },
     GsoError::protocol_mismatch},
    {"TSO on a UDP packet",
     {.tcp = false},
     [](Bytes&, VirtioNetHdr& h) { h.gso_type = 1; },
     GsoError::protocol_mismatch},
    {"IPv6 shorter than 40",
     {.version = 6},
     [](Bytes& p, VirtioNetHdr&) { p.resize(39); },
     GsoError::truncated},
    {"IPv6 payload length",
     {.version = 6},
     [](Bytes& p, VirtioNetHdr&) { put16(&p[4], static_cast<std::uint16_t>(get16(&p[4]) - 2)); },
     GsoError::ip_length_mismatch},
    {"IPv6 jumbo (payload length 0)",
     {.version = 6},
     [](Bytes& p, VirtioNetHdr&) { put16(&p[4], 0); },
     GsoError::ip_length_mismatch},
    {"IPv6 hop-by-hop",
     {.version = 6},
     [](Bytes& p, VirtioNetHdr&) { p[6] = 0; },
     GsoError::ipv6_extension_headers},
    {"IPv6 routing",
     {.version = 6},
     [](Bytes& p, VirtioNetHdr&) { p[6] = 43; },
     GsoError::ipv6_extension_headers},
    {"IPv6 fragment",
     {.version = 6},
     [](Bytes& p, VirtioNetHdr&) { p[6] = 44; },
     GsoError::ipv6_extension_headers},
    {"IPv6 destination options",
     {.version = 6},
     [](Bytes& p, VirtioNetHdr&) { p[6] = 60; },
     GsoError::ipv6_extension_headers},
    {"IPv6 no next header",
     {.version = 6},
     [](Bytes& p, VirtioNetHdr&) { p[6] = 59; },
     GsoError::protocol_mismatch},
    {"TCP header cut",
     {.payload = 0, .tcp_options = 0},
     [](Bytes& p, VirtioNetHdr&) {
         p.resize(39);
         put16(&p[2], 39);
     },
     GsoError::truncated},
    {"TCP data offset 4",
     {},
     [](Bytes& p, VirtioNetHdr&) { p[32] = 0x40; },
     GsoError::bad_l4_header},
    {"TCP options beyond the packet",
     {.payload = 10, .tcp_options = 0},
     [](Bytes& p, VirtioNetHdr&) { p[32] = 0xf0; },  // 60 octets in 30
     GsoError::truncated},
    {"TCP SYN",
     {},
     [](Bytes& p, VirtioNetHdr&) { p[20 + 13] |= kSyn; },
     GsoError::tcp_flags_unsupported},
    {"TCP RST",
     {},
     [](Bytes& p, VirtioNetHdr&) { p[20 + 13] |= kRst; },
     GsoError::tcp_flags_unsupported},
    {"TCP URG",
     {},
     [](Bytes& p, VirtioNetHdr&) { p[20 + 13] |= kUrg; },
     GsoError::tcp_flags_unsupported},
    {"UDP header cut",
     {.tcp = false, .payload = 0},
     [](Bytes& p, VirtioNetHdr&) {
         p.resize(27);
         put16(&p[2], 27);
     },
     GsoError::truncated},
    {"UDP length short",
     {.tcp = false, .payload = 3000},
     [](Bytes& p, VirtioNetHdr&) { put16(&p[24], 1000); },
     GsoError::udp_length_mismatch},
    {"UDP length 0",
     {.tcp = false, .payload = 3000},
     [](Bytes& p, VirtioNetHdr&) { put16(&p[24], 0); },
     GsoError::udp_length_mismatch},
    {"csum_start at the IP header",
     {},
     [](Bytes&, VirtioNetHdr& h) { h.csum_start = 0; },
     GsoError::csum_start_mismatch},
    {"csum_start inside TCP",
     {},
     [](Bytes&, VirtioNetHdr& h) { h.csum_start = 24; },
     GsoError::csum_start_mismatch},
    {"csum_offset 6 on TCP",
     {},
     [](Bytes&, VirtioNetHdr& h) { h.csum_offset = 6; },
     GsoError::csum_offset_mismatch},
    {"csum_offset 16 on UDP",
     {.tcp = false},
     [](Bytes&, VirtioNetHdr& h) { h.csum_offset = 16; },
     GsoError::csum_offset_mismatch},
    {"2049 segments",
     {.payload = 2049, .gso_size = 2},
     [](Bytes&, VirtioNetHdr& h) { h.gso_size = 1; },
     GsoError::too_many_segments},
};

BOOST_DATA_TEST_CASE(malformed_input_is_rejected, bdata::xrange(kMalformed.size()), i) {
    const Malformed& m = kMalformed[i];
    BOOST_TEST_MESSAGE(m.what);
    VirtioNetHdr hdr;
    Bytes p = build(m.spec, hdr);
    {
        GsoSegmenter valid(hdr, p);  // the mutation, not the base packet, is what is refused
        BOOST_TEST_REQUIRE(valid.error() == GsoError::none);
    }
    m.mutate(p, hdr);
    GsoSegmenter seg(hdr, p);
    BOOST_TEST(to_string(seg.error()) == to_string(m.expected));
    BOOST_TEST(seg.segment_count() == 0u);
    Bytes buf(70000);
    std::size_t len = 0;
    BOOST_TEST(!seg.next(buf, &len));
}

BOOST_AUTO_TEST_CASE(every_prefix_is_rejected) {
    for (const Super& s : {Super{.payload = 200}, Super{.version = 6, .payload = 200},
                           Super{.tcp = false, .payload = 200}}) {
        VirtioNetHdr hdr;
        const Bytes p = build(s, hdr);
        std::size_t rejected = 0;
        for (std::size_t n = 0; n < p.size(); ++n) {
            GsoSegmenter seg(hdr, ByteView(p).first(n));
            if (seg.error() == GsoError::none) BOOST_ERROR("prefix of " << n << " accepted");
            rejected += seg.error() != GsoError::none;
        }
        BOOST_TEST(rejected == p.size());
    }
}

BOOST_AUTO_TEST_CASE(kernel_limit_of_segments_is_accepted) {
    const Super s{.payload = 2048, .gso_size = 1};
    VirtioNetHdr hdr;
    const Bytes p = build(s, hdr);
    GsoSegmenter seg(hdr, p);
    BOOST_TEST(seg.error() == GsoError::none);
    BOOST_TEST(seg.segment_count() == kMaxGsoSegments);
}

// Not an assertion on time: prints ns per segment for the report (issue 4's hot path).
BOOST_AUTO_TEST_CASE(benchmark_tso4_64k_into_1360) {
    const Super s{.payload = 65535 - 20 - 32, .gso_size = 1360};
    VirtioNetHdr hdr;
    const Bytes p = build(s, hdr);
    Bytes out(2048);
    std::size_t segments = 0, len = 0, sink = 0;
    const int rounds = 2000;
    // Thread CPU time, so time spent descheduled on a busy machine is not counted.
    const auto cpu_ns = [] {
        timespec ts{};
        ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
        return static_cast<double>(ts.tv_sec) * 1e9 + static_cast<double>(ts.tv_nsec);
    };
    const double t0 = cpu_ns();
    for (int r = 0; r < rounds; ++r) {
        GsoSegmenter seg(hdr, p);
        while (seg.next(out, &len)) {
            sink += out[len - 1];
            ++segments;
        }
    }
    const double ns = cpu_ns() - t0;
    BOOST_TEST(segments == static_cast<std::size_t>(rounds) * 49);
    BOOST_TEST_MESSAGE("segmenting 64 KiB TSO4 into 1360-octet segments: "
                       << ns / static_cast<double>(segments) << " ns per segment (" << segments
                       << " segments, checksum " << sink % 7 << ")");
}

BOOST_AUTO_TEST_SUITE_END()
