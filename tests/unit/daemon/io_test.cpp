// The daemon's I/O pieces that need no socket: NAT-T framing, the log-only data plane, the
// in-memory pools.

#include <boost/test/unit_test.hpp>

#include "daemon/address_pools.hpp"
#include "daemon/config.hpp"
#include "daemon/dataplane_log.hpp"
#include "daemon/io_natt.hpp"
#include "ike/wire/constants.hpp"

using namespace postern;
using namespace postern::daemon;

BOOST_AUTO_TEST_SUITE(io)

BOOST_AUTO_TEST_CASE(natt_framing) {
    const Bytes ike{0, 0, 0, 0, 0x11, 0x22, 0x33};
    auto c = classify_natt(ike);
    BOOST_TEST((c.kind == NattKind::Ike));
    BOOST_TEST(c.ike.size() == 3u);
    BOOST_TEST(c.ike[0] == 0x11);
    BOOST_TEST((classify_natt(Bytes{0xff}).kind == NattKind::Keepalive));
    BOOST_TEST((classify_natt(Bytes{0, 0, 1}).kind == NattKind::Malformed));
    BOOST_TEST((classify_natt(Bytes{0, 0, 0, 1, 0, 0, 0, 1, 0xaa}).kind == NattKind::Esp));
    BOOST_TEST((classify_natt(Bytes{0, 0, 0, 1, 0}).kind == NattKind::Malformed));

    const Bytes msg{0x11, 0x22};
    BOOST_TEST(frame_ike(msg, true) == (Bytes{0, 0, 0, 0, 0x11, 0x22}));
    BOOST_TEST(frame_ike(msg, false) == msg);
    BOOST_TEST(frame_ike(Bytes{0xff}, true) == Bytes{0xff});  // keepalives carry no marker
    const Bytes framed = frame_ike(msg, true);
    auto round = classify_natt(framed);
    BOOST_TEST((Bytes(round.ike.begin(), round.ike.end()) == msg));
}

BOOST_AUTO_TEST_CASE(recording_dataplane_logs_without_keys) {
    RecordingDataPlane dp;
    const Bytes key(36, 0xab);
    EspSaSpec sa;
    sa.spi = EspSpi(0xc0ffee01);
    sa.inbound = true;
    sa.src = Endpoint{*IpAddress::parse("192.0.2.1"), 4500};
    sa.dst = Endpoint{*IpAddress::parse("192.0.2.2"), 4500};
    sa.udp_encap = true;
    sa.encr_id = static_cast<std::uint16_t>(ike::EncrId::ENCR_AES_GCM_16);
    sa.encr_key_bits = 256;
    sa.encr_key = key;
    sa.reqid = 7;
    sa.remote_ts.push_back(
        Selector{*IpAddress::parse("10.99.0.1"), *IpAddress::parse("10.99.0.1")});
    const std::string d = RecordingDataPlane::describe(sa);
    BOOST_TEST(d.find("c0ffee01") != std::string::npos, d);
    BOOST_TEST(d.find("AES_GCM_16/256") != std::string::npos, d);
    BOOST_TEST(d.find("10.99.0.1/32") != std::string::npos, d);
    BOOST_TEST(d.find("UDP 4500 -> 4500") != std::string::npos, d);
    BOOST_TEST(d.find("abab") == std::string::npos, d);

    std::string err;
    BOOST_TEST(dp.install(sa, err));
    BOOST_TEST(!dp.install(sa, err));
    BOOST_TEST(err.find("already installed") != std::string::npos, err);
    SaCounters counters;
    BOOST_TEST(dp.counters(sa.spi, true, counters));
    BOOST_TEST(dp.installed() == 1u);
    BOOST_TEST(dp.remove(sa.spi, true, err));
    BOOST_TEST(!dp.remove(sa.spi, true, err));
    BOOST_TEST(dp.installed() == 0u);
}

BOOST_AUTO_TEST_CASE(memory_pools_from_config) {
    auto c = parse_config("[pools.a]\nipv4 = \"10.0.0.0/30\"\nipv6 = \"fd00::/120\"\n", "t.toml");
    BOOST_REQUIRE(c);
    auto pools = MemoryPools::create(*c);
    BOOST_REQUIRE(pools);
    auto v4 = pools->acquire("a", "alice", IpAddress::Family::V4, std::nullopt);
    BOOST_REQUIRE(v4);
    BOOST_TEST(v4->to_string() == "10.0.0.1");
    auto v6 = pools->acquire("a", "alice", IpAddress::Family::V6, std::nullopt);
    BOOST_REQUIRE(v6);
    BOOST_TEST(v6->is_v6());
    BOOST_TEST(!pools->acquire("b", "alice", IpAddress::Family::V4, std::nullopt));
    BOOST_TEST(pools->in_use() == 2u);
    pools->release("a", *v4);
    BOOST_TEST(pools->in_use() == 1u);
}

BOOST_AUTO_TEST_SUITE_END()
