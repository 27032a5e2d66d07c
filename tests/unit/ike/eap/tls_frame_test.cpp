// EAP-TLS framing (RFC 5216 §3.1) and fragmentation (§2.1.5).
#include <boost/test/unit_test.hpp>

#include "ike/eap/tls_frame.hpp"

using namespace postern;
using namespace postern::ike::eap;

namespace {

Bytes seq(std::size_t n, std::uint8_t start = 0) {
    Bytes b(n);
    for (std::size_t i = 0; i < n; ++i)
        b[i] = static_cast<std::uint8_t>(start + i);
    return b;
}

TlsFrame frame(ByteView b) {
    auto f = parse_tls_frame(b);
    BOOST_REQUIRE_MESSAGE(f, f.error().reason);
    return *f;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(tls_frame)

BOOST_AUTO_TEST_CASE(flags_length_and_data) {
    struct Case {
        const char* hex;
        std::uint8_t flags;
        std::optional<std::uint32_t> length;
        std::size_t data;
    };
    for (const Case& k : {
             Case{"20", kTlsFlagStart, std::nullopt, 0},               // Start
             Case{"00", 0, std::nullopt, 0},                           // acknowledgement
             Case{"c0000004d20102", 0xc0, 1234, 2},                    // L+M, 2 octets
             Case{"800000000301", 0x80, 3, 1},                         // L, unfragmented
             Case{"0001020304", 0, std::nullopt, 4},                   // no L
             Case{"1f0a", 0, std::nullopt, 1},                         // reserved bits ignored
         }) {
        BOOST_TEST_CONTEXT(k.hex) {
            const Bytes b = from_hex(k.hex);
            TlsFrame f = frame(b);
            BOOST_TEST(f.flags == k.flags);
            BOOST_TEST((f.tls_length == k.length));
            BOOST_TEST(f.data.size() == k.data);
            if ((b[0] & 0x1f) == 0) BOOST_TEST(to_hex(build_tls_frame(f)) == k.hex);
        }
    }
    BOOST_TEST(frame(tls_ack_frame()).is_ack());
    BOOST_TEST(frame(tls_start_frame()).start());
    BOOST_TEST(!frame(tls_start_frame()).is_ack());
}

BOOST_AUTO_TEST_CASE(malformed_frames) {
    BOOST_TEST(!parse_tls_frame({}));
    for (const char* hex : {"80", "8000", "80000000"}) {
        BOOST_TEST_CONTEXT(hex) {
            auto f = parse_tls_frame(from_hex(hex));
            BOOST_REQUIRE(!f);
            BOOST_TEST(f.error().reason.find("EAP-TLS Message Length") != std::string::npos,
                       f.error().reason);
        }
    }
}

BOOST_AUTO_TEST_CASE(fragmenter_and_reassembler_round_trip) {
    for (std::size_t size : {1u, 1023u, 1024u, 1025u, 3000u, 4096u}) {
        BOOST_TEST_CONTEXT(size) {
            const Bytes flight = seq(size, 7);
            TlsFragmenter out(1024);
            out.load(flight);
            TlsReassembler in;
            std::size_t frames = 0;
            bool done = false;
            while (out.pending()) {
                TlsFrame f = frame(out.next());
                ++frames;
                BOOST_TEST(f.data.size() <= 1024u);
                BOOST_TEST((f.tls_length.has_value() == (frames == 1)));
                if (frames == 1) BOOST_TEST(*f.tls_length == size);
                BOOST_TEST(f.more() == out.pending());
                auto r = in.add(f);
                BOOST_REQUIRE_MESSAGE(r, r.error());
                done = *r;
                BOOST_TEST(done == !out.pending());
            }
            BOOST_TEST(done);
            BOOST_TEST(frames == (size + 1023) / 1024);
            BOOST_TEST((in.take() == flight));
            BOOST_TEST(!in.in_progress());
        }
    }
}

BOOST_AUTO_TEST_CASE(reassembly_refuses_bad_lengths) {
    auto with = [](std::uint8_t flags, std::optional<std::uint32_t> len, std::size_t n) {
        return TlsFrame{flags, len, seq(n)};
    };
    {
        TlsReassembler r;  // announced more than the limit
        auto e = r.add(with(0xc0, kMaxTlsFlight + 1, 10));
        BOOST_REQUIRE(!e);
        BOOST_TEST(e.error().find("at most 65536") != std::string::npos, e.error());
    }
    {
        TlsReassembler r;  // more data than announced
        BOOST_TEST(*r.add(with(0xc0, 10, 8)) == false);
        auto e = r.add(with(0x00, std::nullopt, 3));
        BOOST_REQUIRE(!e);
        BOOST_TEST(e.error().find("more than the announced 10") != std::string::npos, e.error());
    }
    {
        TlsReassembler r;  // the last fragment leaves it short
        BOOST_TEST(*r.add(with(0xc0, 10, 4)) == false);
        auto e = r.add(with(0x00, std::nullopt, 3));
        BOOST_REQUIRE(!e);
        BOOST_TEST(e.error() == "EAP-TLS flight ends after 7 of the announced 10 octets");
    }
    {
        TlsReassembler r;  // the announced length changes
        BOOST_TEST(*r.add(with(0xc0, 10, 4)) == false);
        auto e = r.add(with(0xc0, 11, 4));
        BOOST_REQUIRE(!e);
        BOOST_TEST(e.error() == "EAP-TLS message length changed from 10 to 11");
    }
    {
        TlsReassembler r;  // no length at all: bounded by the limit
        Bytes big(60000);
        BOOST_TEST(*r.add({kTlsFlagMore, std::nullopt, big}) == false);
        auto e = r.add({kTlsFlagMore, std::nullopt, Bytes(6000)});
        BOOST_REQUIRE(!e);
        BOOST_TEST(e.error().find("more than the limit of 65536") != std::string::npos, e.error());
    }
    {
        TlsReassembler r;  // L on every fragment, consistently, is fine (some peers do that)
        BOOST_TEST(*r.add(with(0xc0, 6, 3)) == false);
        BOOST_TEST(*r.add(with(0x80, 6, 3)) == true);
        BOOST_TEST(r.take().size() == 6u);
    }
}

BOOST_AUTO_TEST_SUITE_END()
