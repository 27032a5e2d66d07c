// Native IKEv2 clients as far as stock strongSwan cannot imitate them (native-clients.md §4):
// our own initiator, through ConnectionConfig::emulate, sends what Windows, iOS/macOS and
// Android's built-in client send, against a responder configured like posternd's default
// EAP-MSCHAPv2 connection (its default proposals, certificate, pool with IPv4 + IPv6, DNS).
// Everything else about these clients (proposals, identities, IDr, CERTREQ, RFC 7427, MOBIKE,
// the KE guess) is covered with real strongSwan in tests/interop/interop_native.sh.
//
// Not tested: macOS 14's IKE rekey proposal numbered 3 instead of 1 (§1.4, checklist item 5):
// the engine does not rekey IKE SAs yet (issue 8); a scenario belongs here once it does.

#include <boost/test/unit_test.hpp>

#include <algorithm>

#include "configs.hpp"
#include "ike/eap/mschapv2.hpp"
#include "ike/wire/message.hpp"

using namespace postern;
using namespace postern::scenario;
using ike::CfgAttribute;
using ike::EventKind;
using ike::NotifyType;

namespace {

const std::string kPassword = "correct horse";

// CP attribute types as the clients send them (RFC 7296 §3.15.1; 23456/23457: Microsoft's
// INTERNAL_IP4/6_SERVER).
constexpr std::uint16_t ADDR = 1, MASK = 2, DNS = 3, NBNS = 4, DHCP = 6, VER = 7, ADDR6 = 8,
                        DNS6 = 10, DHCP6 = 12, DOMAIN = 25, SRV = 23456, SRV6 = 23457;

Bytes hex(const std::string& h) {
    Bytes b;
    for (std::size_t i = 0; i + 1 < h.size(); i += 2)
        b.push_back(static_cast<std::uint8_t>(std::stoi(h.substr(i, 2), nullptr, 16)));
    return b;
}

// posternd's default EAP-MSCHAPv2 connection (daemon/engine_setup.cpp's default proposals),
// the server certificate of tests/data/pki, pool "clients" with both families, DNS v4 + v6.
ike::EngineConfig posternd_eap_responder(Network& net) {
    auto cr = psk_responder({"aes256gcm16-prfsha256-x25519", "aes256gcm16-prfsha384-ecp384",
                             "aes256gcm16-prfsha256-ecp256", "aes256-sha256-ecp256",
                             "aes256-sha256-modp2048"});
    auto& r = cr.connections[0];
    r.esp_proposals.clear();
    for (const auto* p :
         {"aes256gcm16", "aes128gcm16", "chacha20poly1305", "aes256-sha256", "aes128-sha256"})
        r.esp_proposals.push_back(proposal(p, ike::ProtocolId::ESP));
    r.name = "users";
    r.local_auth = ike::AuthClass::PublicKey;
    r.remote_auth = ike::AuthClass::Eap;
    r.local_chain = {cert("server-rsa.pem"), cert("intermediate-ca.pem")};
    r.local_key = key("server-rsa.key");
    r.psk = {};
    r.local_ts.clear();  // 0.0.0.0/0 and ::/0
    r.dns = {*IpAddress::parse("10.99.0.53"), *IpAddress::parse("fd00:99::53")};
    r.dns_domains = {"corp.postern.test"};
    cr.trust_anchors = {cert("root-ca.pem")};
    cr.eap_users = [](std::string_view name) {
        if (name != "alice") return ike::eap::UserRecord::unknown_user();
        return ike::eap::UserRecord::found(*ike::eap::nt_password_hash(kPassword));
    };
    net.b.pools.add("clients", "10.99.0.0/24");
    net.b.pools.add("clients", "fd00:99::/112");
    return cr;
}

// An EAP-MSCHAPv2 initiator "home" with the given proposals; the caller adds the client's
// particulars.
ike::EngineConfig eap_initiator(Network& net, const std::vector<std::string>& ike_props,
                                const std::vector<std::string>& esp_props) {
    auto ci = psk_initiator(net);
    auto& c = ci.connections[0];
    c.ike_proposals.clear();
    for (const auto& p : ike_props)
        c.ike_proposals.push_back(proposal(p, ike::ProtocolId::IKE));
    c.esp_proposals.clear();
    for (const auto& p : esp_props)
        c.esp_proposals.push_back(proposal(p, ike::ProtocolId::ESP));
    c.local_auth = ike::AuthClass::Eap;
    c.remote_auth = ike::AuthClass::PublicKey;
    c.psk = {};
    c.eap_identity = "alice";
    c.eap_password = secret(kPassword);
    c.request_virtual_ip = true;
    ci.trust_anchors = {cert("root-ca.pem")};
    return ci;
}


// The payload list of the CP in the first log line of `n` containing `prefix` ("CPRQ(" or
// "CPRP("), e.g. "ADDR DNS NBNS 23456".
std::string logged_cp(const Node& n, const std::string& prefix) {
    for (const auto& e : n.events) {
        auto at = e.text.find(prefix);
        if (at == std::string::npos) continue;
        at += prefix.size();
        return e.text.substr(at, e.text.find(')', at) - at);
    }
    return "<none>";
}

bool has_word(const std::string& list, const std::string& word) {
    return (" " + list + " ").find(" " + word + " ") != std::string::npos;
}

// The initiator's IKE_SA_INIT requests as they went on the wire (plain text).
std::vector<ike::wire::Message> init_requests(const Network& net) {
    std::vector<ike::wire::Message> out;
    for (const auto& d : net.wire) {
        if (d.local.address != net.a.address.address || d.local.port != 500) continue;
        auto m = ike::wire::parse_message(d.data);
        if (m && m->header.exchange == ike::ExchangeType::IKE_SA_INIT && !m->header.response)
            out.push_back(*m);
    }
    return out;
}

std::size_t count_payloads(const ike::wire::Message& m, ike::PayloadType t) {
    return static_cast<std::size_t>(std::count_if(m.payloads.begin(), m.payloads.end(),
                                                  [&](const auto& p) { return p.type == t; }));
}

// What every client must get: both sides established, one CHILD_SA installed each, the
// virtual IPv4 and IPv6 and both DNS servers in the CP reply, the account "alice".
void expect_logged_in(const Network& net) {
    BOOST_TEST_INFO(net.a.log() + net.b.log());
    BOOST_TEST_REQUIRE(net.a.count(EventKind::IkeEstablished) == 1u);
    BOOST_TEST_REQUIRE(net.b.count(EventKind::IkeEstablished) == 1u);
    BOOST_TEST(net.b.count(EventKind::AuthFailed) == 0u);
    BOOST_TEST(net.a.installed.size() == 1u);
    BOOST_TEST(net.b.installed.size() == 1u);
    auto r = net.sas(net.b);
    BOOST_TEST_REQUIRE(r.size() == 1u);
    BOOST_TEST(r[0].user == "alice");
    BOOST_TEST(r[0].virtual_ips.size() == 2u);
    // what the initiator received
    BOOST_TEST(logged(net.a, "peer assigned us 10.99.0.1"));
    BOOST_TEST(logged(net.a, "peer assigned us fd00:99::1"));
    BOOST_TEST(logged(net.a, "peer's DNS server 10.99.0.53"));
    BOOST_TEST(logged(net.a, "peer's DNS server fd00:99::53"));
    const auto reply = logged_cp(net.a, "CPRP(");
    for (const auto* w : {"ADDR", "ADDR6", "DNS", "DNS6"})
        BOOST_TEST(has_word(reply, w), "CFG_REPLY (" << reply << ") lacks " << w);
    // what the responder cannot serve is left out, never an error
    for (const auto* w : {"NBNS", "DHCP", "DHCP6", "VER", "23456", "23457"})
        BOOST_TEST(!has_word(reply, w), "CFG_REPLY (" << reply << ") has " << w);
    // the initiator's selectors narrowed to its addresses
    auto a = net.sas(net.a);
    BOOST_TEST_REQUIRE(a.size() == 1u);
    BOOST_TEST_REQUIRE(a[0].child_sas.size() == 1u);
    BOOST_TEST(
        a[0].child_sas[0].local_ts == (std::vector<std::string>{"10.99.0.1/32", "fd00:99::1/128"}),
        boost::test_tools::per_element());
}

}  // namespace

BOOST_AUTO_TEST_SUITE(native_clients)

BOOST_AUTO_TEST_CASE(windows_vendor_ids_ip_identity_big_certreq_and_its_cp_request) {
    // Windows 10/11 with EAP-MSCHAPv2 (§1.1, §1.2): Microsoft's vendor IDs and no RFC 7427 in
    // IKE_SA_INIT; IDi = its IPv4 address, no IDr, a CERTREQ naming every trusted root (38 in
    // one log), N(MOBIKE_SUPPORTED), CFG_REQUEST ADDR DNS NBNS SRV ADDR6 DNS6 SRV6. Proposals:
    // the one set of Set-VpnConnectionIPsecConfiguration (unmodified Windows' MODP-1024 needs
    // the server's legacy switch; interop_native_windows_legacy covers that).
    Network net;
    auto ci = eap_initiator(net, {"aes256-sha256-ecp256"}, {"aes256gcm16"});
    ci.signature_hash_algorithms = false;
    auto& c = ci.connections[0];
    c.local_id = identity("192.0.2.1");
    c.remote_id = pattern("%any");                                            // no IDr
    c.emulate.vendor_ids = {hex("1e2b516905991c7d7c96fcbfb587e46100000009"),  // MS NT5 v9
                            hex("fb1de3cdf341b7ea16b7e5be0855f120"),  // MS-Negotiation Discovery
                            hex("26244d38eddb61b3172a36e3d0cfb819"),  // Vid-Initial-Contact
                            hex("01528bbbc00696121849ab9a1c5b2a5100000002")};
    c.emulate.auth_notifies = {NotifyType::MOBIKE_SUPPORTED};
    c.initial_contact = false;  // its Vid-Initial-Contact Vendor ID says it instead
    c.emulate.cp_attributes = {ADDR, DNS, NBNS, SRV, ADDR6, DNS6, SRV6};
    for (int i = 0; i < 37 * 20; ++i)  // 37 roots the server never heard of, and ours
        c.emulate.certreq_extra.push_back(static_cast<std::uint8_t>(i * 7 + 3));
    net.start(std::move(ci), posternd_eap_responder(net));
    net.initiate("home");
    net.run();

    expect_logged_in(net);
    auto inits = init_requests(net);
    BOOST_TEST_REQUIRE(inits.size() == 1u);
    BOOST_TEST(count_payloads(inits[0], ike::PayloadType::V) == 4u);
    BOOST_TEST(!ike::wire::find_notify(inits[0].payloads, NotifyType::SIGNATURE_HASH_ALGORITHMS));
    BOOST_TEST(logged(net.b, "N(FRAG_SUP) V V V V ]"));
    // the responder saw Windows' IKE_AUTH as it is: IDi (an address), CERTREQ, no IDr
    BOOST_TEST(logged_cp(net.b, "CPRQ(") == "ADDR DNS NBNS 23456 ADDR6 DNS6 23457");
    BOOST_TEST(logged(net.b, "[ IDi CERTREQ N(MOBIKE_SUP) CPRQ("));
    BOOST_TEST(net.sas(net.b)[0].remote_identity == "192.0.2.1");
    // no RFC 7427 from the client: the responder signed with a classic method, and says so
    BOOST_TEST(logged(net.a, "its certificate"));
}

BOOST_AUTO_TEST_CASE(apple_notifies_and_its_cp_request) {
    // iOS/macOS with EAP (§1.2): IDi = the user name, IDr = the server, N(INITIAL_CONTACT),
    // N(ESP_TFC_PADDING_NOT_SUPPORTED), N(NON_FIRST_FRAGMENTS_ALSO), N(MOBIKE_SUPPORTED),
    // N(EAP_ONLY_AUTHENTICATION), CFG_REQUEST ADDR MASK DHCP DNS ADDR6 DHCP6 DNS6 DOMAIN, no
    // CERTREQ, no RFC 7427; N(REDIRECT_SUPPORTED) in IKE_SA_INIT. Proposals: macOS 14's.
    Network net;
    auto ci = eap_initiator(net,
                            {"aes256gcm16-prfsha256-ecp256", "aes256gcm16-prfsha256-modp2048",
                             "aes256-sha256-ecp256", "aes256-sha256-modp2048"},
                            {"aes256gcm16"});
    ci.signature_hash_algorithms = false;
    auto& c = ci.connections[0];
    c.local_id = identity("alice");
    c.remote_id = pattern("vpn.postern.test");
    c.eap_only = true;  // N(EAP_ONLY_AUTHENTICATION); a server that signs anyway is fine
    c.emulate.init_notifies = {NotifyType::REDIRECT_SUPPORTED};
    c.emulate.auth_notifies = {NotifyType::INITIAL_CONTACT,
                               NotifyType::ESP_TFC_PADDING_NOT_SUPPORTED,
                               NotifyType::NON_FIRST_FRAGMENTS_ALSO, NotifyType::MOBIKE_SUPPORTED};
    c.emulate.cp_attributes = {ADDR, MASK, DHCP, DNS, ADDR6, DHCP6, DNS6, DOMAIN};
    c.emulate.send_certreq = false;
    net.start(std::move(ci), posternd_eap_responder(net));
    net.initiate("home");
    net.run();

    expect_logged_in(net);
    auto inits = init_requests(net);
    BOOST_TEST_REQUIRE(inits.size() == 1u);
    BOOST_TEST(ike::wire::find_notify(inits[0].payloads, NotifyType::REDIRECT_SUPPORTED));
    BOOST_TEST(!ike::wire::find_notify(inits[0].payloads, NotifyType::SIGNATURE_HASH_ALGORITHMS));
    BOOST_TEST(logged_cp(net.b, "CPRQ(") == "ADDR MASK DHCP DNS ADDR6 DHCP6 DNS6 DOMAIN");
    BOOST_TEST(logged(net.b,
                      "[ IDi IDr N(INIT_CONTACT) N(ESP_TFC_PAD_N) N(NON_FIRST_FRAG) "
                      "N(MOBIKE_SUP) N(EAP_ONLY) CPRQ("));
    // MASK and DOMAIN are served (the netmask of a /32, the connection's DNS domain)
    const auto reply = logged_cp(net.a, "CPRP(");
    BOOST_TEST(has_word(reply, "MASK"), reply);
    BOOST_TEST(has_word(reply, "DOMAIN"), reply);
    // posternd's default connection is not EAP-only: it signs although the client offered it
    BOOST_TEST(logged(net.a, "its certificate"));
    BOOST_TEST(net.sas(net.b)[0].remote_identity == "alice");
}

BOOST_AUTO_TEST_CASE(android_modp4096_guess_empty_eap_identity_and_its_cp_request) {
    // Android 11+'s built-in client (§1.1-1.3): KE guess MODP-4096 (answered with
    // INVALID_KE_PAYLOAD, then the group the responder wants), RFC 7427, IDi = its "IPSec
    // identifier", IDr = the server as typed, no CERTREQ, no INITIAL_CONTACT, no MOBIKE,
    // CFG_REQUEST ADDR ADDR6 DNS DNS6 MASK VER, and an empty EAP-Identity response: the
    // account is the IDi.
    Network net;
    const std::string ke = "modp4096-x25519-modp3072-modp2048";
    const std::string prf = "prfsha512-prfsha384-prfsha256";
    auto ci = eap_initiator(
        net,
        {"aes256-aes192-aes128-sha512-sha384-sha256-" + prf + "-" + ke,
         "chacha20poly1305-aes256gcm16-aes192gcm16-aes128gcm16-" + prf + "-" + ke},
        {"aes256-aes192-aes128-sha256-sha384-sha512", "aes256gcm16-aes192gcm16-aes128gcm16"});
    auto& c = ci.connections[0];
    c.local_id = identity("alice");
    c.remote_id = pattern("vpn.postern.test");
    c.eap_identity = "";  // Android answers the Identity request with nothing
    c.mobike = false;     // Android 11 sends no MOBIKE_SUPPORTED
    c.emulate.cp_attributes = {ADDR, ADDR6, DNS, DNS6, MASK, VER};
    c.emulate.send_certreq = false;
    c.initial_contact = false;
    net.start(std::move(ci), posternd_eap_responder(net));
    net.initiate("home");
    net.run();

    expect_logged_in(net);
    BOOST_TEST(net.b.engine->stats().invalid_ke_sent == 1u);
    BOOST_TEST(logged(net.b, "IKE_SA_INIT answered with INVALID_KE_PAYLOAD"));
    auto inits = init_requests(net);
    BOOST_TEST_REQUIRE(inits.size() == 2u);
    auto group = [](const ike::wire::Message& m) {
        return ike::wire::find_payload(m.payloads, ike::PayloadType::KE)
            ->get<ike::wire::KePayload>()
            ->group;
    };
    BOOST_TEST((group(inits[0]) == ike::KeId::MODP_4096));
    // posternd's first proposal the client shares: AES-GCM-256, PRF-SHA256, Curve25519
    BOOST_TEST((group(inits[1]) == ike::KeId::CURVE25519));
    BOOST_TEST(ike::wire::find_notify(inits[0].payloads, NotifyType::SIGNATURE_HASH_ALGORITHMS));
    BOOST_TEST(logged_cp(net.b, "CPRQ(") == "ADDR ADDR6 DNS DNS6 MASK VER");
    BOOST_TEST(logged(net.b, "[ IDi IDr CPRQ("));
    // the empty EAP identity fell back to IDi, which names the account
    BOOST_TEST(net.sas(net.b)[0].user == "alice");
    const auto* ok = &net.b.events.front();
    for (const auto& e : net.b.events)
        if (e.kind == EventKind::IkeEstablished) ok = &e;
    BOOST_TEST(ok->user == "alice");
}

BOOST_AUTO_TEST_CASE(server_named_by_an_identity_of_its_certificate_answers_with_it) {
    // Android sends IDr = the server address as the user typed it, and accepts only that
    // identity back (checklist item 11). The certificate (tests/data/pki/server-rsa.pem) holds
    // DNS:vpn.postern.test and IP:192.0.2.1; local_id is vpn.postern.test. Naming the server
    // by its address works, and the responder answers and signs as that address; a name the
    // certificate does not hold is refused.
    for (const std::string idr : {"192.0.2.1", "vpn.postern.test", "other.postern.test"}) {
        BOOST_TEST_CONTEXT("IDr " << idr) {
            Network net;
            auto ci = eap_initiator(net, {"aes256gcm16-prfsha256-x25519"}, {"aes256gcm16"});
            ci.connections[0].local_id = identity("alice");
            ci.connections[0].remote_id = pattern(idr);
            ci.connections[0].emulate.cp_attributes = {ADDR, ADDR6, DNS, DNS6};
            net.start(std::move(ci), posternd_eap_responder(net));
            net.initiate("home");
            net.run();
            BOOST_TEST_INFO(net.a.log() + net.b.log());
            if (idr == "other.postern.test") {
                BOOST_TEST(net.b.count(EventKind::IkeEstablished) == 0u);
                BOOST_TEST(logged(net.b, "no connection for alice -> other.postern.test"));
                continue;
            }
            expect_logged_in(net);
            // the initiator checked IDr against exactly what it asked for, and the signature
            BOOST_TEST(net.sas(net.a)[0].remote_identity == idr);
            BOOST_TEST(logged(net.a, "its certificate"));
        }
    }
}

BOOST_AUTO_TEST_CASE(client_that_abandons_after_the_mschapv2_failure_request_is_audited) {
    // strongSwan does not answer the MSCHAPv2 Failure Request (it sends INFORMATIONAL
    // AUTHENTICATION_FAILED); a client may also just go away. The responder reports the failed
    // login (the audit log's login_failed) when it sends the Failure Request, once.
    Network net;
    auto ci = eap_initiator(net, {"aes256gcm16-prfsha256-x25519"}, {"aes256gcm16"});
    ci.connections[0].local_id = identity("alice");
    ci.connections[0].eap_password = secret("wrong");
    net.start(std::move(ci), posternd_eap_responder(net));
    // IKE_SA_INIT, IKE_AUTH (IDi), Identity, Challenge response: after those the initiator is
    // silent (its answer to the Failure Request is lost, every copy of it).
    int from_initiator = 0;
    net.filter = [&](ike::Datagram&, const Node& from) {
        return from.name != "initiator" || ++from_initiator <= 4;
    };
    net.initiate("home");
    net.run();
    BOOST_TEST_INFO(net.a.log() + net.b.log());
    BOOST_TEST_REQUIRE(net.b.count(EventKind::AuthFailed) == 1u);
    const ike::Event* f = nullptr;
    for (const auto& e : net.b.events)
        if (e.kind == EventKind::AuthFailed) f = &e;
    BOOST_TEST(f->reason == "bad_password");
    BOOST_TEST(f->user == "alice");
    BOOST_TEST(f->identity == "alice");
    // the half-open SA times out later without a second report
    net.advance(std::chrono::seconds(40));
    BOOST_TEST(net.b.count(EventKind::AuthFailed) == 1u);
    BOOST_TEST(net.b.count(EventKind::IkeEstablished) == 0u);
    BOOST_TEST(net.sas(net.b).empty());
}

BOOST_AUTO_TEST_SUITE_END()
