// XFRM messages as built, read back attribute by attribute (no kernel needed).
#include <boost/test/unit_test.hpp>

#include <linux/udp.h>
#include <netinet/in.h>
#include <netlink/attr.h>
#include <netlink/msg.h>

#include <cstring>

#include "esp/xfrm/selectors.hpp"
#include "esp/xfrm/xfrm_messages.hpp"

using namespace postern;
using namespace postern::esp::xfrm;

namespace {

IpAddress ip(const char* s) { return *IpAddress::parse(s); }
std::string from_xfrm_address(const xfrm_address_t& a) { return from_xfrm(a, AF_INET).to_string(); }

struct Parsed {
    xfrm_usersa_info info{};
    nlattr* tb[XFRMA_MAX + 1] = {};
};

Parsed parse(const Message& m) {
    Parsed p;
    std::memcpy(&p.info, nlmsg_data(m.header()), sizeof p.info);
    BOOST_REQUIRE(nlmsg_parse(m.header(), sizeof p.info, p.tb, XFRMA_MAX, nullptr) == 0);
    return p;
}

EspSaSpec spec() {
    static const std::uint8_t key[36] = {1, 2, 3};
    EspSaSpec s;
    s.spi = EspSpi(0xc0ffee01);
    s.inbound = true;
    s.src = {ip("192.0.2.2"), 4500};
    s.dst = {ip("192.0.2.1"), 4500};
    s.encr_id = 20;  // AES_GCM_16
    s.encr_key_bits = 256;
    s.encr_key = ByteView(key, 36);
    s.replay_window = 32;
    s.soft_seconds = 3240;
    s.hard_seconds = 3600;
    return s;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(messages)

BOOST_AUTO_TEST_CASE(ike_transforms_map_to_kernel_algorithms) {
    auto gcm = kernel_algorithms(20, 0);
    BOOST_REQUIRE(gcm.has_value());
    BOOST_TEST(gcm->encr == "rfc4106(gcm(aes))");
    BOOST_TEST(gcm->aead);
    BOOST_TEST(gcm->icv_bits == 128u);
    auto cha = kernel_algorithms(28, 0);
    BOOST_TEST(cha->encr == "rfc7539esp(chacha20,poly1305)");
    auto cbc = kernel_algorithms(12, 12);
    BOOST_TEST(cbc->encr == "cbc(aes)");
    BOOST_TEST(cbc->integ == "hmac(sha256)");
    BOOST_TEST(cbc->trunc_bits == 128u);
    BOOST_TEST(kernel_algorithms(12, 14)->trunc_bits == 256u);
    BOOST_TEST(kernel_algorithms(12, 2)->integ == "hmac(sha1)");
    BOOST_TEST(kernel_algorithms(12, 0).error().find("without integrity") != std::string::npos);
    BOOST_TEST(kernel_algorithms(20, 12).has_value() == false);
    BOOST_TEST(kernel_algorithms(23, 12).error().find("transform 23") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(an_aead_sa_with_nat_t) {
    auto s = spec();
    s.udp_encap = true;
    s.src.port = 31000;
    auto m = build_sa(s, 0x50000007, false);
    BOOST_REQUIRE(m.has_value());
    BOOST_TEST(m->header()->nlmsg_type == XFRM_MSG_NEWSA);
    auto p = parse(*m);
    BOOST_TEST(ntohl(p.info.id.spi) == 0xc0ffee01u);
    BOOST_TEST(p.info.id.proto == IPPROTO_ESP);
    BOOST_TEST(p.info.family == AF_INET);
    BOOST_TEST(p.info.mode == XFRM_MODE_TUNNEL);
    BOOST_TEST(p.info.reqid == 0x50000007u);
    BOOST_TEST(p.info.replay_window == 32);
    BOOST_TEST((p.info.flags & XFRM_STATE_AF_UNSPEC) != 0);  // inner IPv6 in an IPv4 tunnel
    BOOST_TEST(p.info.sel.family == 0);
    BOOST_TEST(p.info.lft.soft_add_expires_seconds == 3240u);
    BOOST_TEST(p.info.lft.hard_add_expires_seconds == 3600u);
    BOOST_TEST(p.info.lft.hard_byte_limit == kNoLimit);   // 0 in the spec: no limit, not "expire now"
    BOOST_TEST(p.info.lft.soft_packet_limit == kNoLimit);
    BOOST_TEST(from_xfrm_address(p.info.saddr) == "192.0.2.2");
    BOOST_REQUIRE(p.tb[XFRMA_ALG_AEAD]);
    xfrm_algo_aead a;
    std::memcpy(&a, nla_data(p.tb[XFRMA_ALG_AEAD]), sizeof a);
    BOOST_TEST(std::string(a.alg_name) == "rfc4106(gcm(aes))");
    BOOST_TEST(a.alg_key_len == 288u);  // 256-bit key + 32-bit salt
    BOOST_TEST(a.alg_icv_len == 128u);
    BOOST_TEST(nla_len(p.tb[XFRMA_ALG_AEAD]) == int(sizeof a + 36));
    BOOST_TEST(!p.tb[XFRMA_ALG_CRYPT]);
    BOOST_TEST(!p.tb[XFRMA_REPLAY_ESN_VAL]);
    BOOST_REQUIRE(p.tb[XFRMA_ENCAP]);
    xfrm_encap_tmpl e;
    std::memcpy(&e, nla_data(p.tb[XFRMA_ENCAP]), sizeof e);
    BOOST_TEST(e.encap_type == UDP_ENCAP_ESPINUDP);
    BOOST_TEST(ntohs(e.encap_sport) == 31000);
    BOOST_TEST(ntohs(e.encap_dport) == 4500);
}

BOOST_AUTO_TEST_CASE(a_cbc_hmac_sa_with_esn_and_a_large_window) {
    static const std::uint8_t ek[32] = {}, ik[32] = {};
    auto s = spec();
    s.encr_id = 12;
    s.integ_id = 12;
    s.encr_key = ByteView(ek, 32);
    s.integ_key = ByteView(ik, 32);
    s.esn = true;
    s.replay_window = 128;
    s.soft_bytes = 1000;
    s.hard_bytes = 2000;
    s.soft_packets = 30;
    s.hard_packets = 40;
    auto m = build_sa(s, 0x50000001, true);
    BOOST_REQUIRE(m.has_value());
    BOOST_TEST(m->header()->nlmsg_type == XFRM_MSG_UPDSA);
    auto p = parse(*m);
    BOOST_TEST((p.info.flags & XFRM_STATE_ESN) != 0);
    BOOST_TEST(p.info.replay_window == 0);  // the kernel wants it 0 beside XFRMA_REPLAY_ESN_VAL
    BOOST_TEST(p.info.lft.soft_byte_limit == 1000u);
    BOOST_TEST(p.info.lft.hard_byte_limit == 2000u);
    BOOST_TEST(p.info.lft.soft_packet_limit == 30u);
    BOOST_TEST(p.info.lft.hard_packet_limit == 40u);
    BOOST_REQUIRE(p.tb[XFRMA_REPLAY_ESN_VAL]);
    xfrm_replay_state_esn r;
    std::memcpy(&r, nla_data(p.tb[XFRMA_REPLAY_ESN_VAL]), sizeof r);
    BOOST_TEST(r.replay_window == 128u);
    BOOST_TEST(r.bmp_len == 4u);
    BOOST_TEST(nla_len(p.tb[XFRMA_REPLAY_ESN_VAL]) == int(sizeof r + 16));
    BOOST_REQUIRE(p.tb[XFRMA_ALG_CRYPT]);
    BOOST_REQUIRE(p.tb[XFRMA_ALG_AUTH_TRUNC]);
    xfrm_algo_auth i;
    std::memcpy(&i, nla_data(p.tb[XFRMA_ALG_AUTH_TRUNC]), sizeof i);
    BOOST_TEST(std::string(i.alg_name) == "hmac(sha256)");
    BOOST_TEST(i.alg_key_len == 256u);
    BOOST_TEST(i.alg_trunc_len == 128u);
    BOOST_TEST(!p.tb[XFRMA_ENCAP]);
}

BOOST_AUTO_TEST_CASE(unsupported_sas_are_refused_before_the_kernel) {
    auto s = spec();
    s.encr_id = 23;  // Camellia
    BOOST_TEST(build_sa(s, 1, false).error().find("transform 23") != std::string::npos);
    s = spec();
    s.replay_window = 5000;
    BOOST_TEST(build_sa(s, 1, false).error().find("4096") != std::string::npos);
    s = spec();
    s.dst.address = ip("2001:db8::1");
    BOOST_TEST(build_sa(s, 1, false).error().find("families") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(policies_carry_a_tunnel_template_with_the_reqid) {
    PolicySpec p;
    p.sel.family = AF_INET;
    p.sel.prefixlen_d = 32;
    p.dir = XFRM_POLICY_FWD;
    p.priority = 1234;
    p.tmpl_src = ip("192.0.2.2");
    p.tmpl_dst = ip("192.0.2.1");
    p.reqid = 0x50000003;
    auto m = build_policy(p, false);
    BOOST_TEST(m.header()->nlmsg_type == XFRM_MSG_NEWPOLICY);
    xfrm_userpolicy_info info;
    std::memcpy(&info, nlmsg_data(m.header()), sizeof info);
    BOOST_TEST(info.dir == XFRM_POLICY_FWD);
    BOOST_TEST(info.priority == 1234u);
    BOOST_TEST(info.action == XFRM_POLICY_ALLOW);
    nlattr* tb[XFRMA_MAX + 1] = {};
    BOOST_REQUIRE(nlmsg_parse(m.header(), sizeof info, tb, XFRMA_MAX, nullptr) == 0);
    BOOST_REQUIRE(tb[XFRMA_TMPL]);
    xfrm_user_tmpl t;
    std::memcpy(&t, nla_data(tb[XFRMA_TMPL]), sizeof t);
    BOOST_TEST(t.reqid == 0x50000003u);
    BOOST_TEST(t.mode == XFRM_MODE_TUNNEL);
    BOOST_TEST(t.id.proto == IPPROTO_ESP);
    BOOST_TEST(from_xfrm_address(t.saddr) == "192.0.2.2");
    // The policy dump parser reads back what a dump of this policy holds.
    auto parsed = parse_policy(m.header());
    BOOST_REQUIRE(parsed.has_value());
    BOOST_TEST(parsed->reqid == 0x50000003u);
    BOOST_TEST(parsed->dir == XFRM_POLICY_FWD);
}

BOOST_AUTO_TEST_CASE(more_specific_selectors_get_lower_priority_values) {
    xfrm_selector wide{}, host{}, host_tcp{};
    wide.family = host.family = host_tcp.family = AF_INET;
    host.prefixlen_d = host_tcp.prefixlen_d = 32;
    host_tcp.proto = 6;
    BOOST_TEST(policy_priority(host) < policy_priority(wide));
    BOOST_TEST(policy_priority(host_tcp) < policy_priority(host));
}

BOOST_AUTO_TEST_SUITE_END()
