// EspSa: which specs are accepted, the outbound sequence counter (never cycles, RFC 4303
// §3.3.3), lifetime events and counters.
#include <boost/test/unit_test.hpp>

#include <thread>
#include <vector>

#include "esp/engine/esp_packet.hpp"

using namespace postern;
using namespace postern::esp;

namespace {

const Bytes kKey36(36, 0x11), kKey32(32, 0x22), kKey20(20, 0x33), kKey16(16, 0x44),
    kKey48(48, 0x55), kKey64(64, 0x66);

EspSaSpec spec(std::uint16_t encr, std::uint16_t bits, std::uint16_t integ, ByteView ek,
               ByteView ik, bool inbound = false) {
    EspSaSpec s;
    s.spi = EspSpi(0x12345678);
    s.inbound = inbound;
    s.encr_id = encr;
    s.encr_key_bits = bits;
    s.integ_id = integ;
    s.encr_key = ek;
    s.integ_key = ik;
    return s;
}

Bytes ipv4_packet(std::size_t total) {
    Bytes p(total, 0);
    p[0] = 0x45;
    p[2] = static_cast<std::uint8_t>(total >> 8);
    p[3] = static_cast<std::uint8_t>(total);
    p[9] = 17;
    return p;
}

DropReason send(EspSa& sa, EspCipher& c, std::size_t total = 100) {
    const Bytes inner = ipv4_packet(total);
    Bytes storage(kEncapHeadroom + inner.size() + kEncapTailroom);
    std::copy(inner.begin(), inner.end(), storage.begin() + kEncapHeadroom);
    PacketBuffer buf{storage, kEncapHeadroom, inner.size()};
    return encapsulate(sa, c, buf);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(esp_sa)

BOOST_AUTO_TEST_CASE(transforms_and_key_lengths) {
    struct Row {
        std::uint16_t encr, bits, integ;
        ByteView ek, ik;
        bool ok;
    };
    const Row rows[] = {
        {20, 128, 0, kKey20, {}, true},
        {20, 256, 0, kKey36, {}, true},
        {20, 192, 0, Bytes(28, 1), {}, false},  // AES-GCM-192 not offered
        {20, 256, 0, kKey32, {}, false},        // salt missing
        {20, 256, 12, kKey36, kKey32, false},   // AEAD with integrity
        {28, 0, 0, kKey36, {}, true},
        {28, 256, 0, kKey36, {}, true},
        {28, 128, 0, kKey20, {}, false},
        {12, 128, 12, kKey16, kKey32, true},
        {12, 256, 13, kKey32, kKey48, true},
        {12, 256, 14, kKey32, kKey64, true},
        {12, 128, 2, kKey16, kKey20, true},
        {12, 128, 0, kKey16, {}, false},            // no integrity
        {12, 128, 12, kKey16, kKey20, false},       // HMAC key too short
        {12, 128, 5, kKey16, kKey16, false},        // AES-XCBC not supported
        {3, 192, 12, Bytes(24, 1), kKey32, false},  // 3DES
        {11, 0, 12, {}, kKey32, false},             // ENCR_NULL
    };
    int i = 0;
    for (const Row& r : rows) {
        BOOST_TEST_CONTEXT("row " << i++) {
            auto sa = EspSa::create(spec(r.encr, r.bits, r.integ, r.ek, r.ik));
            BOOST_TEST(sa.has_value() == r.ok);
            if (!sa) BOOST_TEST(sa.error().find("ESP SA 12345678") == 0u, sa.error());
            if (sa) BOOST_TEST(EspCipher::create(**sa).has_value());
        }
    }
    auto reserved = spec(20, 128, 0, kKey20, {});
    reserved.spi = EspSpi(255);
    BOOST_TEST(!EspSa::create(reserved));
}

BOOST_AUTO_TEST_CASE(transform_parameters) {
    auto gcm = find_esp_transform(20, 256, 0);
    BOOST_REQUIRE(gcm);
    BOOST_TEST(gcm->iv_size == 8u);
    BOOST_TEST(gcm->icv_size == 16u);
    BOOST_TEST(gcm->salt_size == 4u);
    BOOST_TEST(gcm->block_size == 4u);
    auto sha384 = find_esp_transform(12, 256, 13);
    BOOST_REQUIRE(sha384);
    BOOST_TEST(sha384->iv_size == 16u);
    BOOST_TEST(sha384->icv_size == 24u);  // RFC 4868: half the digest
    BOOST_TEST(find_esp_transform(12, 128, 2)->icv_size == 12u);
    BOOST_TEST(find_esp_transform(12, 128, 14)->icv_size == 32u);
}

BOOST_AUTO_TEST_CASE(sequence_numbers_never_cycle) {
    for (bool esn : {false, true}) {
        BOOST_TEST_CONTEXT("esn " << esn) {
            auto s = spec(20, 128, 0, kKey20, {});
            s.esn = esn;
            auto sa = std::move(*EspSa::create(s));
            auto c = std::move(*EspCipher::create(*sa));
            const std::uint64_t max = esn ? ~std::uint64_t{0} : 0xffffffffu;
            BOOST_TEST(sa->max_sequence() == max);
            sa->set_last_sequence(max - 2);
            BOOST_TEST(send(*sa, c) == DropReason::none);
            BOOST_TEST(send(*sa, c) == DropReason::none);  // max itself is still sent
            BOOST_TEST(sa->last_sequence() == max);
            BOOST_TEST((sa->take_events() & kEventSoft) != 0);  // 7/8 of the space used
            BOOST_TEST(send(*sa, c) == DropReason::seq_exhausted);
            BOOST_TEST(send(*sa, c) == DropReason::seq_exhausted);
            BOOST_TEST(sa->last_sequence() == max);
            BOOST_TEST(sa->take_events() == kEventSeqExhausted);  // reported once
            BOOST_TEST(sa->take_events() == 0);
            BOOST_TEST(sa->counters().dropped(DropReason::seq_exhausted) == 2u);
            BOOST_TEST(sa->counters().packets == 2u);
        }
    }
}

BOOST_AUTO_TEST_CASE(sequence_numbers_are_unique_across_threads) {
    auto sa = std::move(*EspSa::create(spec(20, 128, 0, kKey20, {})));
    constexpr int kThreads = 4, kEach = 20000;
    std::vector<std::vector<std::uint64_t>> got(kThreads);
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t)
        threads.emplace_back([&, t] {
            for (int i = 0; i < kEach; ++i)
                got[t].push_back(sa->next_sequence());
        });
    for (auto& t : threads)
        t.join();
    std::vector<bool> seen(kThreads * kEach + 1, false);
    for (const auto& v : got)
        for (std::uint64_t s : v) {
            BOOST_REQUIRE(s >= 1 && s <= kThreads * kEach);
            BOOST_REQUIRE(!seen[s]);
            seen[s] = true;
        }
}

BOOST_AUTO_TEST_CASE(byte_and_packet_lifetimes_raise_events) {
    auto s = spec(12, 128, 12, kKey16, kKey32);
    s.soft_bytes = 250;
    s.hard_bytes = 1000;
    auto sa = std::move(*EspSa::create(s));
    auto c = std::move(*EspCipher::create(*sa));
    BOOST_TEST(send(*sa, c) == DropReason::none);  // 100 bytes
    BOOST_TEST(sa->take_events() == 0);
    BOOST_TEST(send(*sa, c) == DropReason::none);
    BOOST_TEST(send(*sa, c) == DropReason::none);  // 300 >= soft
    BOOST_TEST(sa->take_events() == kEventSoft);
    for (int i = 0; i < 7; ++i)
        BOOST_TEST(send(*sa, c) == DropReason::none);
    BOOST_TEST(sa->take_events() == kEventHard);  // 1000 >= hard; soft already reported
    BOOST_TEST(sa->hard_expired());
    BOOST_TEST(send(*sa, c) == DropReason::hard_expired);
    BOOST_TEST(sa->counters().packets == 10u);
    BOOST_TEST(sa->counters().bytes == 1000u);
    BOOST_TEST(sa->events() == (kEventSoft | kEventHard));

    auto p = spec(20, 128, 0, kKey20, {});
    auto by_packets = std::move(*EspSa::create(p, EspPacketLimits{2, 3}));
    auto pc = std::move(*EspCipher::create(*by_packets));
    BOOST_TEST(send(*by_packets, pc) == DropReason::none);
    BOOST_TEST(by_packets->take_events() == 0);
    BOOST_TEST(send(*by_packets, pc) == DropReason::none);
    BOOST_TEST(by_packets->take_events() == kEventSoft);
    BOOST_TEST(send(*by_packets, pc) == DropReason::none);
    BOOST_TEST(by_packets->take_events() == kEventHard);
    BOOST_TEST(send(*by_packets, pc) == DropReason::hard_expired);
}

BOOST_AUTO_TEST_CASE(inbound_hard_expiry_drops) {
    auto in_spec = spec(20, 128, 0, kKey20, {}, true);
    Selector any;
    any.start = *IpAddress::parse("0.0.0.0");
    any.end = *IpAddress::parse("255.255.255.255");
    in_spec.local_ts = in_spec.remote_ts = {any};
    auto in = std::move(*EspSa::create(in_spec, EspPacketLimits{0, 1}));
    auto out = std::move(*EspSa::create(spec(20, 128, 0, kKey20, {})));
    auto ic = std::move(*EspCipher::create(*in));
    auto oc = std::move(*EspCipher::create(*out));
    const DropReason expect[] = {DropReason::none, DropReason::hard_expired};
    for (DropReason e : expect) {
        const Bytes inner = ipv4_packet(60);
        Bytes storage(kEncapHeadroom + inner.size() + kEncapTailroom);
        std::copy(inner.begin(), inner.end(), storage.begin() + kEncapHeadroom);
        PacketBuffer buf{storage, kEncapHeadroom, inner.size()};
        BOOST_REQUIRE(encapsulate(*out, oc, buf) == DropReason::none);
        BOOST_TEST(decapsulate(*in, ic, buf).reason == e);
    }
    BOOST_TEST(in->take_events() == (kEventSoft | kEventHard));
    BOOST_TEST(in->counters().dropped(DropReason::hard_expired) == 1u);
    BOOST_TEST(to_string(DropReason::selector_mismatch) == "selector_mismatch");
}

BOOST_AUTO_TEST_SUITE_END()
