// Known answers from a real peer: the ESP packets strongSwan 5.9.8 (kernel-libipsec) exchanged
// in tests/data/strongswan/*/esp-NN-<sender>.hex, with the keys charon logged (keys.txt).
//
//   moon (initiator, 192.0.2.1)  ---- ESP SPI = ESP_SPI_r, keys ESP_*_i ---->  sun (192.0.2.2)
//        10.97.0.1 (psk-gcm: 10.99.0.1)  <--- ESP SPI = ESP_SPI_i, keys ESP_*_r ---- 10.98.0.1
//
// Each packet is decapsulated by an inbound SA built from those keys (the inner packet must be
// an ICMP echo request moon -> sun, or a reply sun -> moon), then its inner packet is encrypted
// again by an outbound SA with strongSwan's IV and sequence number: the bytes must be equal,
// which pins down the header, the AAD/ICV coverage and the 1, 2, 3, ... padding.
#include <boost/test/unit_test.hpp>

#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "esp/engine/esp_packet.hpp"
#include "esp/engine/ip_packet.hpp"

using namespace postern;
using namespace postern::esp;

namespace {

std::string read_text(const std::string& path) {
    std::ifstream in(path);
    BOOST_REQUIRE_MESSAGE(in, "cannot read " << path);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

std::map<std::string, std::string> read_keys(const std::string& dir) {
    std::map<std::string, std::string> keys;
    std::istringstream in(read_text(dir + "/keys.txt"));
    for (std::string line; std::getline(in, line);) {
        if (line.empty() || line[0] == '#') continue;
        const auto eq = line.find(" = ");
        if (eq != std::string::npos) keys[line.substr(0, eq)] = line.substr(eq + 3);
    }
    return keys;
}

Selector host(const char* address) {
    Selector s;
    s.start = s.end = *IpAddress::parse(address);
    return s;
}

struct Scenario {
    const char* folder;
    std::uint16_t encr_id, encr_key_bits, integ_id;
    const char* moon_inner;  // moon's inner address (its TS / virtual IP)
};

// esp_proposal in keys.txt: psk-gcm ESP:AES_GCM_16_256/NO_EXT_SEQ; the others
// ESP:AES_CBC_128/HMAC_SHA2_256_128/NO_EXT_SEQ.
const Scenario kScenarios[] = {
    {"psk-gcm", 20, 256, 0, "10.99.0.1"},
    {"cert-cbc", 12, 128, 12, "10.97.0.1"},
    {"modp-invalid-ke", 12, 128, 12, "10.97.0.1"},
};
constexpr const char* kSunInner = "10.98.0.1";

struct Direction {
    Bytes encr, integ;
    EspSpi spi;
    std::unique_ptr<EspSa> in, out;
    std::optional<EspCipher> in_cipher, out_cipher;
};

// One direction of the CHILD_SA, as the receiver (inbound) and as the sender (outbound) see it.
Direction make_direction(const Scenario& sc, const std::map<std::string, std::string>& keys,
                         bool from_moon) {
    Direction d;
    const std::string suffix = from_moon ? "_i" : "_r";
    d.encr = from_hex(keys.at("ESP_encr" + suffix));
    if (sc.integ_id) d.integ = from_hex(keys.at("ESP_integ" + suffix));
    const Bytes spi = from_hex(keys.at(from_moon ? "ESP_SPI_r" : "ESP_SPI_i"));
    BOOST_REQUIRE_EQUAL(spi.size(), 4u);
    d.spi = EspSpi(std::uint32_t{spi[0]} << 24 | std::uint32_t{spi[1]} << 16 |
                   std::uint32_t{spi[2]} << 8 | spi[3]);
    for (bool inbound : {true, false}) {
        EspSaSpec spec;
        spec.spi = d.spi;
        spec.inbound = inbound;
        spec.encr_id = sc.encr_id;
        spec.encr_key_bits = sc.encr_key_bits;
        spec.integ_id = sc.integ_id;
        spec.encr_key = d.encr;
        spec.integ_key = d.integ;
        spec.udp_encap = true;
        // From the receiver's point of view for the inbound SA, the sender's for the outbound.
        const bool local_is_sun = from_moon == inbound;
        spec.local_ts = {host(local_is_sun ? kSunInner : sc.moon_inner)};
        spec.remote_ts = {host(local_is_sun ? sc.moon_inner : kSunInner)};
        auto sa = EspSa::create(spec);
        BOOST_REQUIRE_MESSAGE(sa, (sa ? "" : sa.error()));
        auto cipher = EspCipher::create(**sa);
        BOOST_REQUIRE_MESSAGE(cipher, (cipher ? "" : cipher.error()));
        if (inbound) {
            d.in = std::move(*sa);
            d.in_cipher.emplace(std::move(*cipher));
        } else {
            d.out = std::move(*sa);
            d.out_cipher.emplace(std::move(*cipher));
        }
    }
    return d;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(strongswan_esp)

BOOST_AUTO_TEST_CASE(captured_packets_decrypt_and_reencrypt_to_the_same_bytes) {
    for (const Scenario& sc : kScenarios) {
        BOOST_TEST_CONTEXT("scenario " << sc.folder) {
            const std::string dir = std::string(POSTERN_TEST_DATA_DIR) + "/strongswan/" + sc.folder;
            const auto keys = read_keys(dir);
            Direction to_sun = make_direction(sc, keys, true);
            Direction to_moon = make_direction(sc, keys, false);
            const char* names[] = {"esp-00-moon", "esp-01-sun", "esp-02-moon", "esp-03-sun"};
            const std::uint64_t seqs[] = {1, 1, 2, 2};
            for (int i = 0; i < 4; ++i) {
                BOOST_TEST_CONTEXT("packet " << names[i]) {
                    const bool from_moon = i % 2 == 0;
                    Direction& d = from_moon ? to_sun : to_moon;
                    const Bytes captured = from_hex(read_text(dir + "/" + names[i] + ".hex"));
                    BOOST_REQUIRE(!captured.empty());

                    Bytes storage(kEncapHeadroom + captured.size() + kEncapTailroom);
                    std::copy(captured.begin(), captured.end(), storage.begin() + kEncapHeadroom);
                    PacketBuffer buf{storage, kEncapHeadroom, captured.size()};
                    const DecapResult r = decapsulate(*d.in, *d.in_cipher, buf);
                    BOOST_REQUIRE_MESSAGE(r.ok(), "dropped: " << to_string(r.reason));
                    BOOST_TEST(r.seq == seqs[i]);
                    BOOST_TEST(r.next_header == kNextHeaderIpv4);

                    // An ICMP echo between the two inner addresses: request from moon, reply
                    // from sun (Type 8 / 0, Code 0).
                    const auto info = parse_ip_packet(r.inner);
                    BOOST_REQUIRE(info);
                    BOOST_TEST(info->protocol == kIpProtoIcmp);
                    BOOST_TEST(info->src.to_string() == (from_moon ? sc.moon_inner : kSunInner));
                    BOOST_TEST(info->dst.to_string() == (from_moon ? kSunInner : sc.moon_inner));
                    BOOST_TEST(info->src_port == (from_moon ? 0x0800 : 0x0000));
                    BOOST_TEST(info->total_length == r.inner.size());

                    // The same inner packet, IV and sequence number through our encapsulation.
                    const Bytes inner(r.inner.begin(), r.inner.end());
                    const std::size_t iv_size = d.out->transform().iv_size;
                    const ByteView iv(captured.data() + kEspHeaderSize, iv_size);
                    Bytes out_storage(kEncapHeadroom + inner.size() + kEncapTailroom);
                    std::copy(inner.begin(), inner.end(), out_storage.begin() + kEncapHeadroom);
                    PacketBuffer out{out_storage, kEncapHeadroom, inner.size()};
                    BOOST_REQUIRE(encapsulate_with(*d.out, *d.out_cipher, out, seqs[i], iv,
                                                   kNextHeaderIpv4) == DropReason::none);
                    const Bytes ours(out.packet().begin(), out.packet().end());
                    BOOST_TEST(to_hex(ours) == to_hex(captured));

                    // A captured packet replayed is dropped before any cryptography.
                    std::copy(captured.begin(), captured.end(), storage.begin() + kEncapHeadroom);
                    PacketBuffer again{storage, kEncapHeadroom, captured.size()};
                    BOOST_TEST(decapsulate(*d.in, *d.in_cipher, again).reason ==
                               DropReason::replay);
                }
            }
            BOOST_TEST(to_sun.in->counters().packets == 2u);
            BOOST_TEST(to_sun.in->counters().dropped(DropReason::replay) == 2u);
            BOOST_TEST(to_moon.in->counters().packets == 2u);
        }
    }
}

BOOST_AUTO_TEST_CASE(keys_of_the_other_direction_fail_the_icv) {
    // moon -> sun packet opened with the sun -> moon keys but moon -> sun's SPI.
    const Scenario& sc = kScenarios[1];
    const std::string dir = std::string(POSTERN_TEST_DATA_DIR) + "/strongswan/" + sc.folder;
    auto keys = read_keys(dir);
    std::swap(keys["ESP_encr_i"], keys["ESP_encr_r"]);
    std::swap(keys["ESP_integ_i"], keys["ESP_integ_r"]);
    Direction d = make_direction(sc, keys, true);
    const Bytes captured = from_hex(read_text(dir + "/esp-00-moon.hex"));
    Bytes storage = captured;
    PacketBuffer buf{storage, 0, storage.size()};
    BOOST_TEST(decapsulate(*d.in, *d.in_cipher, buf).reason == DropReason::bad_icv);
    // The window did not move: the right keys would still accept sequence number 1.
    BOOST_TEST(d.in->replay_window().top() == 0u);
}

BOOST_AUTO_TEST_SUITE_END()
