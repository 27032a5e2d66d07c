// Proposal selection (RFC 7296 §2.7, §3.3) against what native clients send
// (shared notes native-clients.md §1.3, §2 items 3-7 and 20).
#include <boost/test/unit_test.hpp>

#include <initializer_list>
#include <string>
#include <vector>

#include "ike/policy/proposal_select.hpp"
#include "ike/wire/reader.hpp"
#include "ike/wire/writer.hpp"

using namespace postern;
using namespace postern::ike;
using policy::KeDecision;
using wire::Transform;

namespace {

const crypto::AlgorithmPolicy kModern{};
const crypto::AlgorithmPolicy kLegacy{true};

std::vector<crypto::Proposal> config(std::initializer_list<const char*> texts, ProtocolId protocol,
                                     const crypto::AlgorithmPolicy& policy = kModern) {
    std::vector<crypto::Proposal> out;
    for (const char* t : texts) {
        auto p = crypto::parse_proposal(t, protocol, policy);
        if (!p) throw std::invalid_argument(p.error());
        out.push_back(*p);
    }
    return out;
}

// The responder list of native-clients.md §2 item 6.
std::vector<crypto::Proposal> server_ike() {
    return config(
        {"aes256gcm16-prfsha256-ecp256", "aes256-sha256-ecp256", "aes256-sha256-modp2048",
         "aes256gcm16-prfsha256-x25519-modp2048", "aes256-sha256-x25519-modp3072-modp4096"},
        ProtocolId::IKE);
}

// ... plus the compatibility switch for unmodified Windows.
std::vector<crypto::Proposal> server_ike_legacy() {
    auto c = server_ike();
    for (auto& p : config(
             {"aes256-sha256-modp1024", "aes256-sha1-modp1024", "aes256gcm16-prfsha256-modp1024"},
             ProtocolId::IKE, kLegacy))
        c.push_back(p);
    return c;
}

// native-clients.md §2 item 7 (SHA-1 only with legacy allowed).
std::vector<crypto::Proposal> server_esp() {
    return config({"aes256gcm16", "aes128gcm16", "chacha20poly1305", "aes256-sha256"},
                  ProtocolId::ESP);
}

// A client's SA payload written as strongSwan-syntax proposals, numbered from 1.
wire::SaPayload offer(std::initializer_list<const char*> texts, ProtocolId protocol) {
    const auto c = config(texts, protocol, kLegacy);
    return policy::build_sa_payload(
        c, protocol, protocol == ProtocolId::ESP ? Bytes{0xc1, 0x1e, 0x47, 0x01} : Bytes{});
}

wire::Proposal raw(std::uint8_t number, ProtocolId protocol, std::vector<Transform> transforms) {
    wire::Proposal p;
    p.number = number;
    p.protocol = protocol;
    if (protocol == ProtocolId::ESP) p.spi = {0xc1, 0x1e, 0x47, 0x01};
    p.transforms = std::move(transforms);
    return p;
}

Transform unknown_type(std::uint8_t type, std::uint16_t id) {
    return Transform{static_cast<TransformType>(type), id, {}};
}

// Parse(serialize(sa)): what the other side really sees.
wire::SaPayload over_the_wire(const wire::SaPayload& sa) {
    Bytes buf;
    wire::Writer w(buf);
    wire::serialize_body(w, sa);
    wire::Reader r(buf);
    auto parsed = wire::parse_sa(r);
    if (!parsed) throw std::runtime_error(parsed.error().reason);
    return *parsed;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(proposal_select)

BOOST_AUTO_TEST_CASE(windows_eighteen_modp1024_proposals) {
    // Windows 11 defaults: 3DES/AES-CBC x SHA1/256/384 and AES-GCM x PRF, all with MODP_1024,
    // one proposal per combination.
    std::vector<std::string> texts;
    for (const char* e : {"3des", "aes128", "aes192", "aes256"})
        for (const char* h : {"sha1", "sha256", "sha384"})
            texts.push_back(std::string(e) + "-" + h + "-modp1024");
    for (const char* e : {"aes128gcm16", "aes256gcm16"})
        for (const char* h : {"prfsha1", "prfsha256", "prfsha384"})
            texts.push_back(std::string(e) + "-" + h + "-modp1024");
    std::vector<crypto::Proposal> win;
    for (const auto& t : texts)
        win.push_back(*crypto::parse_proposal(t, ProtocolId::IKE, kLegacy));
    const auto sa = over_the_wire(policy::build_sa_payload(win, ProtocolId::IKE, {}));
    BOOST_TEST(sa.proposals.size() == 18u);

    // Without the compatibility switch: refused, and the log line says what Windows sent.
    auto refused = policy::select_proposal(server_ike(), sa, ProtocolId::IKE, kModern);
    BOOST_REQUIRE(!refused);
    BOOST_TEST(refused.error().find("no proposal chosen; offered: "
                                    "IKE:3DES/HMAC_SHA1_96/PRF_HMAC_SHA1/MODP_1024, "
                                    "IKE:3DES/HMAC_SHA2_256_128/PRF_HMAC_SHA2_256/MODP_1024, ") ==
               0u);
    BOOST_TEST(refused.error().find("IKE:AES_GCM_16_256/PRF_HMAC_SHA2_384/MODP_1024; configured: "
                                    "aes256gcm16-prfsha256-ecp256, ") != std::string::npos);
    BOOST_TEST(refused.error().find('\n') == std::string::npos);

    // Legacy proposals configured but the policy forbids them: still refused.
    BOOST_TEST(!policy::select_proposal(server_ike_legacy(), sa, ProtocolId::IKE, kModern));

    // With it: our first acceptable proposal, AES-CBC-256/SHA-256 (Windows' proposal 11).
    auto s = policy::select_proposal(server_ike_legacy(), sa, ProtocolId::IKE, kLegacy);
    BOOST_REQUIRE(s);
    BOOST_TEST(s->to_string() == "IKE:AES_CBC_256/HMAC_SHA2_256_128/PRF_HMAC_SHA2_256/MODP_1024");
    BOOST_TEST(s->proposal.number == 11);
    BOOST_TEST(s->proposal.transforms.size() == 4u);
    BOOST_TEST(s->proposal.spi.empty());
    BOOST_TEST((s->ke == KeId::MODP_1024));
    auto ke = policy::match_ke(*s, KeId::MODP_1024);
    BOOST_TEST((ke.action == KeDecision::Action::use));

    // The client's order instead: Windows lists 3DES first, which we do not configure; its
    // first acceptable proposal is AES-CBC-256/SHA-1 (number 10).
    auto c = policy::select_proposal(server_ike_legacy(), sa, ProtocolId::IKE, kLegacy, false);
    BOOST_REQUIRE(c);
    BOOST_TEST(c->to_string() == "IKE:AES_CBC_256/HMAC_SHA1_96/PRF_HMAC_SHA1/MODP_1024");
    BOOST_TEST(c->proposal.number == 10);
}

BOOST_AUTO_TEST_CASE(ios_16_picks_our_preference_then_invalid_ke) {
    // iOS <= 16.5 (MODP_1536 is not implemented here: skipped as an unknown ID).
    auto sa = offer({"aes256-sha256-modp2048", "aes256-sha256-ecp256"}, ProtocolId::IKE);
    sa.proposals.push_back(
        raw(3, ProtocolId::IKE,
            {Transform::encr(EncrId::ENCR_AES_CBC, 256),
             Transform::integ(IntegId::AUTH_HMAC_SHA2_256_128),
             Transform::prf(PrfId::PRF_HMAC_SHA2_256), Transform::ke(KeId::MODP_1536)}));
    for (auto& p :
         offer({"aes128-sha1-modp1024", "3des-sha1-modp1024"}, ProtocolId::IKE).proposals) {
        p.number = static_cast<std::uint8_t>(sa.proposals.size() + 1);
        sa.proposals.push_back(p);
    }
    sa = over_the_wire(sa);

    auto s = policy::select_proposal(server_ike(), sa, ProtocolId::IKE, kModern);
    BOOST_REQUIRE(s);
    BOOST_TEST(s->to_string() == "IKE:AES_CBC_256/HMAC_SHA2_256_128/PRF_HMAC_SHA2_256/ECP_256");
    BOOST_TEST(s->proposal.number == 2);
    // iOS guessed MODP_2048 (its first proposal): the responder selected first, so it asks for
    // the chosen proposal's group (RFC 7296 §1.2).
    auto ke = policy::match_ke(*s, KeId::MODP_2048);
    BOOST_TEST((ke.action == KeDecision::Action::invalid_ke));
    BOOST_TEST((ke.group == KeId::ECP_256));
    // The retry with ECP_256 goes through.
    BOOST_TEST((policy::match_ke(*s, KeId::ECP_256).action == KeDecision::Action::use));
}

BOOST_AUTO_TEST_CASE(apple_recent_gets_aead) {
    // iOS/macOS 2023-2025 (strongswan#2861, libreswan#1450).
    const auto sa =
        over_the_wire(offer({"aes256gcm16-prfsha256-ecp256", "aes256gcm16-prfsha256-modp2048",
                             "aes256-sha256-ecp256", "aes256-sha256-modp2048"},
                            ProtocolId::IKE));
    auto s = policy::select_proposal(server_ike(), sa, ProtocolId::IKE, kModern);
    BOOST_REQUIRE(s);
    BOOST_TEST(s->to_string() == "IKE:AES_GCM_16_256/PRF_HMAC_SHA2_256/ECP_256");
    BOOST_TEST(s->proposal.number == 1);
    BOOST_TEST(!s->integ.has_value());
    BOOST_TEST(s->proposal.transforms.size() == 3u);  // no INTEG: the peer sent none
    BOOST_TEST((policy::match_ke(*s, KeId::ECP_256).action == KeDecision::Action::use));

    // Server order vs client order decides between CBC and GCM.
    const auto cbc_first =
        config({"aes256-sha256-ecp256", "aes256gcm16-prfsha256-ecp256"}, ProtocolId::IKE);
    BOOST_TEST(
        policy::select_proposal(cbc_first, sa, ProtocolId::IKE, kModern, true)->to_string() ==
        "IKE:AES_CBC_256/HMAC_SHA2_256_128/PRF_HMAC_SHA2_256/ECP_256");
    BOOST_TEST(
        policy::select_proposal(cbc_first, sa, ProtocolId::IKE, kModern, false)->to_string() ==
        "IKE:AES_GCM_16_256/PRF_HMAC_SHA2_256/ECP_256");
}

// Android native (AOSP VpnIkev2Utils): AES-CTR, XCBC and CMAC are not implemented here and must
// simply be skipped.
wire::SaPayload android_native() {
    std::vector<Transform> common_tail = {
        Transform::prf(PrfId::PRF_HMAC_SHA2_512), Transform::prf(PrfId::PRF_HMAC_SHA2_384),
        Transform::prf(PrfId::PRF_HMAC_SHA2_256), Transform::prf(PrfId::PRF_AES128_XCBC),
        Transform::prf(PrfId::PRF_AES128_CMAC),   Transform::prf(PrfId::PRF_HMAC_SHA1),
        Transform::ke(KeId::MODP_4096),           Transform::ke(KeId::CURVE25519),
        Transform::ke(KeId::MODP_3072),           Transform::ke(KeId::MODP_2048)};
    std::vector<Transform> p1;
    for (std::uint16_t bits : {256, 192, 128}) {
        p1.push_back(Transform::encr(EncrId::ENCR_AES_CTR, bits));
        p1.push_back(Transform::encr(EncrId::ENCR_AES_CBC, bits));
    }
    for (auto i :
         {IntegId::AUTH_HMAC_SHA2_512_256, IntegId::AUTH_HMAC_SHA2_384_192,
          IntegId::AUTH_HMAC_SHA2_256_128, IntegId::AUTH_AES_XCBC_96, IntegId::AUTH_AES_CMAC_96})
        p1.push_back(Transform::integ(i));
    p1.insert(p1.end(), common_tail.begin(), common_tail.end());
    std::vector<Transform> p2 = {Transform::encr(EncrId::ENCR_CHACHA20_POLY1305)};
    for (auto e : {EncrId::ENCR_AES_GCM_16, EncrId::ENCR_AES_GCM_12, EncrId::ENCR_AES_GCM_8})
        for (std::uint16_t bits : {256, 192, 128})
            p2.push_back(Transform::encr(e, bits));
    p2.insert(p2.end(), common_tail.begin(), common_tail.end());
    return over_the_wire(
        wire::SaPayload{{raw(1, ProtocolId::IKE, p1), raw(2, ProtocolId::IKE, p2)}});
}

BOOST_AUTO_TEST_CASE(android_native_and_its_modp4096_guess) {
    const auto sa = android_native();
    auto s = policy::select_proposal(server_ike(), sa, ProtocolId::IKE, kModern);
    BOOST_REQUIRE(s);
    // Our third proposal is the first Android matches.
    BOOST_TEST(s->to_string() == "IKE:AES_CBC_256/HMAC_SHA2_256_128/PRF_HMAC_SHA2_256/MODP_2048");
    BOOST_TEST(s->proposal.number == 1);
    // Android guessed MODP_4096, which the chosen proposal does not allow.
    auto ke = policy::match_ke(*s, KeId::MODP_4096);
    BOOST_TEST((ke.action == KeDecision::Action::invalid_ke));
    BOOST_TEST((ke.group == KeId::MODP_2048));

    // AEAD first in our list: GCM with x25519 then modp2048 as we order them.
    const auto aead = config({"aes256gcm16-prfsha256-x25519-modp2048"}, ProtocolId::IKE);
    auto g = policy::select_proposal(aead, sa, ProtocolId::IKE, kModern);
    BOOST_REQUIRE(g);
    BOOST_TEST(g->to_string() == "IKE:AES_GCM_16_256/PRF_HMAC_SHA2_256/CURVE25519");
    BOOST_TEST(g->proposal.number == 2);
    BOOST_TEST(g->ke_candidates.size() == 2u);
    BOOST_TEST((policy::match_ke(*g, KeId::MODP_4096).group == KeId::CURVE25519));
    // In Android's order: it lists x25519 before modp2048 too, so the same answer.
    auto gc = policy::select_proposal(aead, sa, ProtocolId::IKE, kModern, false);
    BOOST_REQUIRE(gc);
    BOOST_TEST(gc->to_string() == "IKE:AES_GCM_16_256/PRF_HMAC_SHA2_256/CURVE25519");

    // A server that accepts MODP_4096 in the chosen proposal takes the guess as it is (§1.2)
    // and rewrites the answer's KE transform.
    const auto accepts_4096 = config({"aes256-sha256-modp2048-modp4096"}, ProtocolId::IKE);
    auto t = policy::select_proposal(accepts_4096, sa, ProtocolId::IKE, kModern);
    BOOST_REQUIRE(t);
    BOOST_TEST((t->ke == KeId::MODP_2048));
    auto use = policy::match_ke(*t, KeId::MODP_4096);
    BOOST_TEST((use.action == KeDecision::Action::use));
    BOOST_TEST((t->ke == KeId::MODP_4096));
    BOOST_TEST(t->to_string() == "IKE:AES_CBC_256/HMAC_SHA2_256_128/PRF_HMAC_SHA2_256/MODP_4096");
}

BOOST_AUTO_TEST_CASE(strongswan_default_proposals) {
    // strongSwan's default IKE proposal (classic ciphers, then AEAD), KE list ECC first.
    const auto sa = over_the_wire(offer(
        {"aes128-aes192-aes256-sha256-sha384-sha512-sha1-ecp256-ecp384-ecp521-x25519-x448-"
         "modp3072-modp4096-modp6144-modp8192-modp2048",
         "aes128gcm16-aes192gcm16-aes256gcm16-chacha20poly1305-prfsha256-prfsha384-prfsha512-"
         "prfsha1-ecp256-ecp384-ecp521-x25519-x448-modp3072-modp4096-modp6144-modp8192-modp2048"},
        ProtocolId::IKE));
    auto s = policy::select_proposal(server_ike(), sa, ProtocolId::IKE, kModern);
    BOOST_REQUIRE(s);
    BOOST_TEST(s->to_string() == "IKE:AES_GCM_16_256/PRF_HMAC_SHA2_256/ECP_256");
    BOOST_TEST(s->proposal.number == 2);
    BOOST_TEST((policy::match_ke(*s, KeId::ECP_256).action == KeDecision::Action::use));
    // Peer preference: its first proposal, its first transform of each type we accept.
    auto c = policy::select_proposal(server_ike(), sa, ProtocolId::IKE, kModern, false);
    BOOST_REQUIRE(c);
    BOOST_TEST(c->to_string() == "IKE:AES_CBC_256/HMAC_SHA2_256_128/PRF_HMAC_SHA2_256/ECP_256");
    BOOST_TEST(c->proposal.number == 1);
}

BOOST_AUTO_TEST_CASE(aead_with_and_without_integ_none) {
    const auto ours = config({"aes256gcm16-prfsha256-x25519"}, ProtocolId::IKE);
    const auto gcm = Transform::encr(EncrId::ENCR_AES_GCM_16, 256);
    const auto prf = Transform::prf(PrfId::PRF_HMAC_SHA2_256);
    const auto ke = Transform::ke(KeId::CURVE25519);

    auto without = policy::select_proposal(
        ours, wire::SaPayload{{raw(1, ProtocolId::IKE, {gcm, prf, ke})}}, ProtocolId::IKE, kModern);
    BOOST_REQUIRE(without);
    BOOST_TEST(without->proposal.transforms.size() == 3u);

    auto with_none = policy::select_proposal(
        ours,
        wire::SaPayload{
            {raw(1, ProtocolId::IKE, {gcm, Transform::integ(IntegId::AUTH_NONE), prf, ke})}},
        ProtocolId::IKE, kModern);
    BOOST_REQUIRE(with_none);
    // One transform per type the peer had: INTEG NONE is echoed.
    BOOST_TEST(with_none->proposal.transforms.size() == 4u);
    BOOST_TEST((with_none->proposal.transforms[2] == Transform::integ(IntegId::AUTH_NONE)));
    BOOST_TEST(!with_none->integ.has_value());

    // AEAD next to a real integrity algorithm only: not a valid combination (§3.3).
    auto with_integ = policy::select_proposal(
        ours,
        wire::SaPayload{{raw(1, ProtocolId::IKE,
                             {gcm, Transform::integ(IntegId::AUTH_HMAC_SHA2_256_128), prf, ke})}},
        ProtocolId::IKE, kModern);
    BOOST_TEST(!with_integ);

    // A classic cipher cannot take INTEG NONE.
    auto cbc_none = policy::select_proposal(
        config({"aes256-sha256-x25519"}, ProtocolId::IKE),
        wire::SaPayload{{raw(1, ProtocolId::IKE,
                             {Transform::encr(EncrId::ENCR_AES_CBC, 256),
                              Transform::integ(IntegId::AUTH_NONE), prf, ke})}},
        ProtocolId::IKE, kModern);
    BOOST_TEST(!cbc_none);
}

BOOST_AUTO_TEST_CASE(esp_with_and_without_ke) {
    // iOS rekey (hwdsl2#1486): GCM-256 with ECP_256, and GCM-256 without KE.
    const auto sa = over_the_wire(offer({"aes256gcm16-ecp256", "aes256gcm16"}, ProtocolId::ESP));

    // No PFS configured: the proposal without KE.
    auto s = policy::select_proposal(server_esp(), sa, ProtocolId::ESP, kModern);
    BOOST_REQUIRE(s);
    BOOST_TEST(s->to_string() == "ESP:AES_GCM_16_256/NO_ESN");
    BOOST_TEST(s->proposal.number == 2);
    BOOST_TEST(!s->ke.has_value());
    BOOST_TEST((s->peer_spi == Bytes{0xc1, 0x1e, 0x47, 0x01}));
    BOOST_TEST(s->proposal.spi.empty());
    // iOS sent KEi for its first proposal; with no PFS selected it is not used.
    BOOST_TEST((policy::match_ke(*s, KeId::ECP_256).action == KeDecision::Action::ignore));
    BOOST_TEST((policy::match_ke(*s, std::nullopt).action == KeDecision::Action::none));

    // PFS configured: the proposal with KE.
    const auto pfs = config({"aes256gcm16-ecp256"}, ProtocolId::ESP);
    auto p = policy::select_proposal(pfs, sa, ProtocolId::ESP, kModern);
    BOOST_REQUIRE(p);
    BOOST_TEST(p->to_string() == "ESP:AES_GCM_16_256/ECP_256/NO_ESN");
    BOOST_TEST(p->proposal.number == 1);
    BOOST_TEST((policy::match_ke(*p, KeId::ECP_256).action == KeDecision::Action::use));
    // No KE payload although the chosen proposal needs one.
    auto missing = policy::match_ke(*p, std::nullopt);
    BOOST_TEST((missing.action == KeDecision::Action::invalid_ke));
    BOOST_TEST((missing.group == KeId::ECP_256));

    // PFS required, the peer (macOS, Android native) offers none: refused.
    const auto no_ke = over_the_wire(offer({"aes256gcm16"}, ProtocolId::ESP));
    BOOST_TEST(!policy::select_proposal(pfs, no_ke, ProtocolId::ESP, kModern));
    // ... unless this is the IKE_AUTH CHILD_SA, which never has a key exchange (§1.2).
    auto a = policy::select_proposal(pfs, no_ke, ProtocolId::ESP, kModern, true, true);
    BOOST_REQUIRE(a);
    BOOST_TEST(!a->ke.has_value());

    // IKE_AUTH with rekey groups in the peer's proposal (strongSwan app, iOS): KE ignored and
    // left out of the answer.
    auto b = policy::select_proposal(server_esp(),
                                     over_the_wire(offer({"aes256gcm16-ecp256"}, ProtocolId::ESP)),
                                     ProtocolId::ESP, kModern, true, true);
    BOOST_REQUIRE(b);
    BOOST_TEST(b->to_string() == "ESP:AES_GCM_16_256/NO_ESN");
}

BOOST_AUTO_TEST_CASE(esp_ke_none_means_pfs_optional) {
    // A proposal offering "MODP_2048 or no KE": a server without PFS answers KE NONE.
    const auto sa = over_the_wire(wire::SaPayload{
        {raw(1, ProtocolId::ESP,
             {Transform::encr(EncrId::ENCR_AES_GCM_16, 128), Transform::ke(KeId::MODP_2048),
              Transform::ke(KeId::NONE), Transform::esn(EsnId::NO_ESN)})}});
    auto s = policy::select_proposal(server_esp(), sa, ProtocolId::ESP, kModern);
    BOOST_REQUIRE(s);
    BOOST_TEST(!s->ke.has_value());
    BOOST_TEST(s->to_string() == "ESP:AES_GCM_16_128/NONE/NO_ESN");
    // A server with PFS takes MODP_2048.
    auto p = policy::select_proposal(config({"aes128gcm16-modp2048"}, ProtocolId::ESP), sa,
                                     ProtocolId::ESP, kModern);
    BOOST_REQUIRE(p);
    BOOST_TEST((p->ke == KeId::MODP_2048));

    // strongSwan app: 4 proposals, the last two without KE; no-PFS server picks the third.
    const auto app =
        over_the_wire(offer({"aes256gcm16-aes128gcm16-chacha20poly1305-ecp256-x25519",
                             "aes256-aes192-aes128-sha384-sha256-sha512-sha1-ecp256-x25519",
                             "aes256gcm16-aes128gcm16-chacha20poly1305",
                             "aes256-aes192-aes128-sha384-sha256-sha512-sha1"},
                            ProtocolId::ESP));
    auto q = policy::select_proposal(server_esp(), app, ProtocolId::ESP, kModern);
    BOOST_REQUIRE(q);
    BOOST_TEST(q->proposal.number == 3);
    BOOST_TEST(q->to_string() == "ESP:AES_GCM_16_256/NO_ESN");
}

BOOST_AUTO_TEST_CASE(windows_esp_sha1_needs_legacy) {
    // Windows' rekey (hwdsl2#913): AES-CBC-256/HMAC-SHA1-96 and 3DES/HMAC-SHA1-96.
    const auto sa = over_the_wire(offer({"aes256-sha1", "3des-sha1"}, ProtocolId::ESP));
    BOOST_TEST(!policy::select_proposal(server_esp(), sa, ProtocolId::ESP, kModern));
    auto legacy = server_esp();
    legacy.push_back(config({"aes256-sha1"}, ProtocolId::ESP, kLegacy).front());
    BOOST_TEST(!policy::select_proposal(legacy, sa, ProtocolId::ESP, kModern));
    auto s = policy::select_proposal(legacy, sa, ProtocolId::ESP, kLegacy);
    BOOST_REQUIRE(s);
    BOOST_TEST(s->to_string() == "ESP:AES_CBC_256/HMAC_SHA1_96/NO_ESN");
}

BOOST_AUTO_TEST_CASE(proposal_number_three_echoed) {
    // macOS 14 numbers its IKE rekey proposal 3 (libreswan#1450).
    auto sa = offer({"aes256gcm16-prfsha256-ecp256"}, ProtocolId::IKE);
    sa.proposals[0].number = 3;
    sa.proposals[0].spi = Bytes(8, 0x5a);
    sa = over_the_wire(sa);
    auto s = policy::select_proposal(server_ike(), sa, ProtocolId::IKE, kModern);
    BOOST_REQUIRE(s);
    BOOST_TEST(s->proposal.number == 3);
    BOOST_TEST((s->peer_spi == Bytes(8, 0x5a)));
}

BOOST_AUTO_TEST_CASE(unknown_transform_type_and_ids) {
    const auto good = offer({"aes256gcm16-prfsha256-ecp256"}, ProtocolId::IKE).proposals[0];
    // Proposal 1 has a transform of type 200: not acceptable (§3.3.6), even though the rest
    // would match; proposal 2 is the same without it.
    auto p1 = good;
    p1.transforms.push_back(unknown_type(200, 1));
    auto p2 = good;
    p2.number = 2;
    const auto sa = over_the_wire(wire::SaPayload{{p1, p2}});
    auto s = policy::select_proposal(server_ike(), sa, ProtocolId::IKE, kModern);
    BOOST_REQUIRE(s);
    BOOST_TEST(s->proposal.number == 2);
    auto only_bad =
        policy::select_proposal(server_ike(), wire::SaPayload{{p1}}, ProtocolId::IKE, kModern);
    BOOST_REQUIRE(!only_bad);
    BOOST_TEST(only_bad.error().find("TRANSFORM_TYPE_200=1") != std::string::npos);

    // Unknown IDs of known types are just skipped.
    auto p3 = good;
    p3.transforms.insert(p3.transforms.begin(), Transform{TransformType::ENCR, 1024, {}});
    p3.transforms.push_back(Transform::ke(static_cast<KeId>(999)));
    auto t = policy::select_proposal(server_ike(), wire::SaPayload{{p3}}, ProtocolId::IKE, kModern);
    BOOST_REQUIRE(t);
    BOOST_TEST(t->to_string() == "IKE:AES_GCM_16_256/PRF_HMAC_SHA2_256/ECP_256");

    // ESN in an IKE proposal or a PRF in an ESP proposal: a type we cannot pick for it.
    auto p4 = good;
    p4.transforms.push_back(Transform::esn(EsnId::NO_ESN));
    BOOST_TEST(
        !policy::select_proposal(server_ike(), wire::SaPayload{{p4}}, ProtocolId::IKE, kModern));
    auto esp = offer({"aes256gcm16"}, ProtocolId::ESP);
    esp.proposals[0].transforms.push_back(Transform::prf(PrfId::PRF_HMAC_SHA2_256));
    BOOST_TEST(!policy::select_proposal(server_esp(), esp, ProtocolId::ESP, kModern));
    // The wrong protocol altogether.
    BOOST_TEST(!policy::select_proposal(server_ike(), offer({"aes256gcm16"}, ProtocolId::ESP),
                                        ProtocolId::IKE, kModern));
}

BOOST_AUTO_TEST_CASE(key_length_attribute) {
    const auto ours = config({"aes256-sha256-ecp256"}, ProtocolId::IKE);
    const std::vector<Transform> rest = {Transform::integ(IntegId::AUTH_HMAC_SHA2_256_128),
                                         Transform::prf(PrfId::PRF_HMAC_SHA2_256),
                                         Transform::ke(KeId::ECP_256)};
    const auto with = [&](std::vector<Transform> encr) {
        encr.insert(encr.end(), rest.begin(), rest.end());
        return wire::SaPayload{{raw(1, ProtocolId::IKE, encr)}};
    };
    // AES without KEY_LENGTH, or with one we do not implement: skipped.
    BOOST_TEST(!policy::select_proposal(ours, with({Transform::encr(EncrId::ENCR_AES_CBC)}),
                                        ProtocolId::IKE, kModern));
    BOOST_TEST(!policy::select_proposal(ours, with({Transform::encr(EncrId::ENCR_AES_CBC, 512)}),
                                        ProtocolId::IKE, kModern));
    BOOST_TEST(!policy::select_proposal(ours, with({Transform::encr(EncrId::ENCR_AES_CBC, 128)}),
                                        ProtocolId::IKE, kModern));
    auto s = policy::select_proposal(
        ours,
        with({Transform::encr(EncrId::ENCR_AES_CBC), Transform::encr(EncrId::ENCR_AES_CBC, 512),
              Transform::encr(EncrId::ENCR_AES_CBC, 256)}),
        ProtocolId::IKE, kModern);
    BOOST_REQUIRE(s);
    BOOST_TEST((s->proposal.transforms[0] == Transform::encr(EncrId::ENCR_AES_CBC, 256)));
    // ChaCha20-Poly1305 has a fixed key: a KEY_LENGTH attribute makes it unusable (§3.3.5).
    const auto chacha = config({"chacha20poly1305"}, ProtocolId::ESP);
    BOOST_TEST(!policy::select_proposal(
        chacha,
        wire::SaPayload{
            {raw(1, ProtocolId::ESP, {Transform::encr(EncrId::ENCR_CHACHA20_POLY1305, 256)})}},
        ProtocolId::ESP, kModern));
    auto c = policy::select_proposal(
        chacha,
        wire::SaPayload{
            {raw(1, ProtocolId::ESP, {Transform::encr(EncrId::ENCR_CHACHA20_POLY1305)})}},
        ProtocolId::ESP, kModern);
    BOOST_REQUIRE(c);
    BOOST_TEST(c->proposal.transforms.size() == 1u);  // no ESN sent, none answered
    BOOST_TEST(c->to_string() == "ESP:CHACHA20_POLY1305");
}

BOOST_AUTO_TEST_CASE(round_trip_initiator_responder_initiator) {
    // We as initiator (strongSwan-like offer) against a Postern responder.
    const auto offered = config({"aes128gcm16-aes256gcm16-prfsha384-prfsha256-x25519-ecp256",
                                 "aes256-sha384-sha256-modp3072-modp2048"},
                                ProtocolId::IKE);
    const auto sa = over_the_wire(policy::build_sa_payload(offered, ProtocolId::IKE, {}));
    BOOST_TEST(sa.proposals[0].number == 1);
    BOOST_TEST(sa.proposals[1].number == 2);
    BOOST_TEST(sa.proposals[0].transforms.size() == 6u);
    BOOST_TEST(*sa.proposals[0].transforms[0].key_length() == 128);

    auto chosen = policy::select_proposal(server_ike(), sa, ProtocolId::IKE, kModern);
    BOOST_REQUIRE(chosen);
    BOOST_TEST(chosen->to_string() == "IKE:AES_GCM_16_256/PRF_HMAC_SHA2_256/ECP_256");
    const auto response = over_the_wire(wire::SaPayload{{chosen->proposal}});

    auto checked = policy::check_response(response, offered);
    BOOST_REQUIRE(checked);
    BOOST_TEST(checked->to_string() == chosen->to_string());
    BOOST_TEST((checked->ke == KeId::ECP_256));
    BOOST_TEST((checked->prf == PrfId::PRF_HMAC_SHA2_256));
    BOOST_TEST(checked->encr.key_bits == 256);

    // ESP with our SPI filled in by the responder.
    const auto esp_offer = config({"aes256gcm16-ecp256", "aes256-sha256"}, ProtocolId::ESP);
    const auto esp_sa =
        over_the_wire(policy::build_sa_payload(esp_offer, ProtocolId::ESP, {1, 2, 3, 4}));
    auto esp = policy::select_proposal(server_esp(), esp_sa, ProtocolId::ESP, kModern);
    BOOST_REQUIRE(esp);
    BOOST_TEST(esp->proposal.number == 2);
    esp->proposal.spi = {9, 8, 7, 6};
    auto esp_checked = policy::check_response(over_the_wire({{esp->proposal}}), esp_offer);
    BOOST_REQUIRE(esp_checked);
    BOOST_TEST((esp_checked->peer_spi == Bytes{9, 8, 7, 6}));
    BOOST_TEST((esp_checked->integ == IntegId::AUTH_HMAC_SHA2_256_128));
    BOOST_TEST(!esp_checked->ke.has_value());

    // without_ke for the IKE_AUTH offer.
    const auto no_ke = policy::without_ke(esp_offer);
    BOOST_TEST(no_ke.size() == 2u);
    BOOST_TEST(no_ke[0].ke.empty());
}

BOOST_AUTO_TEST_CASE(check_response_refusals) {
    const auto offered =
        config({"aes256gcm16-prfsha256-x25519", "aes256-sha256-modp2048"}, ProtocolId::IKE);
    const auto good =
        raw(1, ProtocolId::IKE,
            {Transform::encr(EncrId::ENCR_AES_GCM_16, 256),
             Transform::prf(PrfId::PRF_HMAC_SHA2_256), Transform::ke(KeId::CURVE25519)});
    BOOST_TEST(policy::check_response(wire::SaPayload{{good}}, offered).has_value());

    const auto error = [&](const wire::SaPayload& sa) {
        auto r = policy::check_response(sa, offered);
        return r ? std::string("accepted") : r.error();
    };
    auto p2 = good;
    p2.number = 2;
    BOOST_TEST(error({{good, p2}}).find("2 proposals, expected exactly one") != std::string::npos);
    auto p3 = good;
    p3.number = 3;
    BOOST_TEST(error({{p3}}).find("proposal number 3 was not offered") != std::string::npos);
    // Number 2 is the CBC proposal: GCM was not offered there.
    BOOST_TEST(error({{p2}}).find("encryption transform not offered") != std::string::npos);
    auto two_ke = good;
    two_ke.transforms.push_back(Transform::ke(KeId::MODP_2048));
    BOOST_TEST(error({{two_ke}}).find("2 KE transforms") != std::string::npos);
    auto other_ke = good;
    other_ke.transforms[2] = Transform::ke(KeId::ECP_256);
    BOOST_TEST(error({{other_ke}}).find("key exchange method not offered") != std::string::npos);
    auto no_ke = good;
    no_ke.transforms.pop_back();
    BOOST_TEST(error({{no_ke}}).find("no key exchange transform") != std::string::npos);
    auto integ = good;
    integ.transforms.push_back(Transform::integ(IntegId::AUTH_HMAC_SHA2_256_128));
    BOOST_TEST(error({{integ}}).find("integrity transform with AEAD") != std::string::npos);
    auto unknown = good;
    unknown.transforms.push_back(unknown_type(9, 1));
    BOOST_TEST(error({{unknown}}).find("transform type we did not offer") != std::string::npos);
    auto esp = good;
    esp.protocol = ProtocolId::ESP;
    BOOST_TEST(error({{esp}}).find("protocol ESP, we offered IKE") != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()
