// EAP-TLS: EapServer with EapTlsServer against EapTlsClient, TLS 1.2 and 1.3, the checks on the
// client's certificate and account, alerts, and method choice by Nak.
#include <boost/test/unit_test.hpp>

#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "ike/eap/eap_server.hpp"
#include "ike/eap/mschapv2_client.hpp"
#include "ike/eap/mschapv2_server.hpp"
#include "ike/eap/tls_client.hpp"
#include "ike/eap/tls_server.hpp"

using namespace postern;
using namespace postern::ike;
using namespace postern::ike::eap;

namespace {

constexpr std::time_t kNow = 1893456000;  // 2030-01-01, inside the test PKI's validity

std::string file(const std::string& name) {
    std::ifstream in(std::string(POSTERN_TEST_DATA_DIR) + "/pki/" + name, std::ios::binary);
    BOOST_REQUIRE_MESSAGE(in, name);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

std::vector<crypto::Certificate> chain(std::initializer_list<const char*> names) {
    std::vector<crypto::Certificate> out;
    for (const char* n : names) {
        auto c = crypto::load_pem_chain(file(n));
        BOOST_REQUIRE_MESSAGE(c, c.error());
        out.insert(out.end(), c->begin(), c->end());
    }
    return out;
}

std::shared_ptr<const crypto::PrivateKey> key(const char* name) {
    auto k = crypto::PrivateKey::from_pem(file(name));
    BOOST_REQUIRE_MESSAGE(k, k.error());
    return std::make_shared<const crypto::PrivateKey>(std::move(*k));
}

PeerCheck trusting(const char* anchor) {
    crypto::CertificateValidator v(chain({anchor}));
    return [v](std::span<const crypto::Certificate> c) -> tl::expected<void, std::string> {
        return v.validate(c.front(), c.subspan(1), kNow);
    };
}

struct Users {
    std::map<std::string, bool> db{{"alice@postern.test", true}, {"alice", true}, {"bob", false}};
    std::vector<std::string> asked;
    UserLookup lookup() {
        return [this](std::string_view id) {
            asked.emplace_back(id);
            auto it = db.find(std::string(id));
            if (it == db.end()) return UserRecord::unknown_user();
            if (!it->second) return UserRecord::disabled_user();
            return UserRecord::found(crypto::Secret(Bytes(16, 0x11)));
        };
    }
};

EapTlsServer::Config server_config(std::uint16_t max_version) {
    EapTlsServer::Config c;
    c.tls.chain = chain({"server-rsa-chain.pem"});
    c.tls.key = key("server-rsa.key");
    c.tls.client_cas = chain({"root-ca.pem"});
    c.tls.max_version = max_version;
    c.chain_check = trusting("root-ca.pem");
    return c;
}

struct ClientOptions {
    std::string identity = "alice@postern.test";
    std::vector<std::string> chain = {"client.pem", "intermediate-ca.pem"};
    const char* key = "client.key";
    const char* anchor = "root-ca.pem";
    std::uint16_t max_version = kTls13;
};

EapTlsClient tls_client(const ClientOptions& o) {
    EapTlsClient::Config c;
    c.identity = o.identity;
    for (const auto& n : o.chain) {
        auto part = chain({n.c_str()});
        c.tls.chain.insert(c.tls.chain.end(), part.begin(), part.end());
    }
    if (!o.chain.empty()) c.tls.key = key(o.key);
    c.tls.max_version = o.max_version;
    c.tls.check_peer = trusting(o.anchor);
    return EapTlsClient(std::move(c));
}

struct Run {
    std::size_t round_trips = 0;  // Responses the server processed
    std::vector<Bytes> from_server;
};

// Plays the conversation to its end; the server's last message reaches the client too.
Run play(EapServer& s, PeerMethod& c, std::size_t limit = 64) {
    Run r;
    Bytes msg = s.start();
    while (!msg.empty() && r.round_trips < limit) {
        r.from_server.push_back(msg);
        EapStep cs = c.process(msg);
        if (cs.reply.empty() || s.status() != EapStatus::in_progress) break;
        ++r.round_trips;
        msg = s.process(cs.reply).reply;
    }
    return r;
}

EapServer tls_server(Users& users, std::uint16_t max_version = kTls12,
                     std::string ike_identity = "192.0.2.10") {
    return EapServer({std::move(ike_identity)},
                     {{EapType::TLS, eap_tls_server_method(server_config(max_version),
                                                           users.lookup())}});
}

const EapTlsServer& tls_method(const EapServer& s) {
    const auto* m = dynamic_cast<const EapTlsServer*>(s.method());
    BOOST_REQUIRE(m);
    return *m;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(eap_tls)

BOOST_AUTO_TEST_CASE(login_with_tls_12_and_13) {
    struct Case {
        std::uint16_t server_max, client_max, expected;
    };
    for (const Case& k : {Case{kTls12, kTls13, kTls12}, Case{kTls13, kTls13, kTls13},
                          Case{kTls13, kTls12, kTls12}}) {
        BOOST_TEST_CONTEXT(std::hex << k.server_max << "/" << k.client_max) {
            Users users;
            EapServer s = tls_server(users, k.server_max);
            ClientOptions o;
            o.max_version = k.client_max;
            EapTlsClient c = tls_client(o);
            Run r = play(s, c);
            BOOST_TEST((s.status() == EapStatus::succeeded), s.failure_detail());
            BOOST_TEST((c.status() == EapStatus::succeeded), c.failure_detail());
            BOOST_TEST(c.tls_version() == k.expected);
            BOOST_TEST(s.msk().size() == kMskSize);
            BOOST_TEST(to_hex(s.msk()) == to_hex(c.msk().view()));
            BOOST_TEST(s.identity() == "alice@postern.test");
            BOOST_TEST(s.method_name() == "EAP-TLS");
            BOOST_TEST((users.asked == std::vector<std::string>{"alice@postern.test"}));
            BOOST_TEST(tls_method(s).description().find("client C=CH, O=Postern Test, CN=alice") !=
                           std::string::npos,
                       tls_method(s).description());
            // Fragments of at most 1024 octets; the whole conversation well inside the
            // engine's bound of 32 round trips.
            for (const Bytes& m : r.from_server)
                BOOST_TEST(m.size() <= 5u + 1u + 4u + kTlsFragmentSize);
            BOOST_TEST(r.round_trips >= 5u);
            BOOST_TEST(r.round_trips <= 16u);
            BOOST_TEST((parse_eap_packet(r.from_server.back())->code == EapCode::SUCCESS));
        }
    }
}

BOOST_AUTO_TEST_CASE(msks_differ_per_session_and_by_version) {
    std::set<std::string> seen;
    for (std::uint16_t v : {kTls12, kTls12, kTls13, kTls13}) {
        Users users;
        EapServer s = tls_server(users, v);
        EapTlsClient c = tls_client({});
        play(s, c);
        BOOST_REQUIRE((s.status() == EapStatus::succeeded));
        seen.insert(to_hex(s.msk()));
    }
    BOOST_TEST(seen.size() == 4u);
}

BOOST_AUTO_TEST_CASE(the_common_name_names_the_account_too) {
    Users users;
    EapServer s = tls_server(users);
    ClientOptions o;
    o.identity = "ALICE";  // CN=alice, ASCII case ignored
    users.db["ALICE"] = true;
    EapTlsClient c = tls_client(o);
    play(s, c);
    BOOST_TEST((s.status() == EapStatus::succeeded), s.failure_detail());
}

BOOST_AUTO_TEST_CASE(refusals_give_an_alert_then_failure) {
    struct Case {
        const char* what;
        ClientOptions client;
        EapFailureReason reason;
        const char* detail;
    };
    ClientOptions other_name;
    other_name.identity = "bob";  // exists, but the certificate is alice's
    ClientOptions disabled;
    disabled.identity = "bob";
    ClientOptions unknown;
    unknown.identity = "carol@postern.test";
    ClientOptions untrusted;
    untrusted.chain = {"other-server.pem"};
    untrusted.key = "other-server.key";
    untrusted.identity = "vpn.postern.test";
    ClientOptions no_chain;  // the intermediate missing: cannot be built to the root
    no_chain.chain = {"client.pem"};
    ClientOptions expired;
    expired.chain = {"expired.pem", "intermediate-ca.pem"};
    expired.key = "expired.key";
    expired.identity = "vpn.postern.test";
    for (const Case& k : {
             Case{"certificate of another account", other_name, EapFailureReason::bad_certificate,
                  "does not name \"bob\""},
             Case{"unknown account", unknown, EapFailureReason::bad_certificate,
                  "does not name \"carol@postern.test\""},
             Case{"untrusted CA", untrusted, EapFailureReason::bad_certificate,
                  "client certificate \"C=CH, O=Somebody Else, CN=vpn.postern.test\""},
             Case{"incomplete chain", no_chain, EapFailureReason::bad_certificate,
                  "client certificate \"C=CH, O=Postern Test, CN=alice\""},
             Case{"expired", expired, EapFailureReason::bad_certificate, "expired"},
         }) {
        for (std::uint16_t v : {kTls12, kTls13}) {
            BOOST_TEST_CONTEXT(k.what << " TLS " << std::hex << v) {
                Users users;
                users.db["vpn.postern.test"] = true;
                EapServer s = tls_server(users, v);
                ClientOptions o = k.client;
                o.max_version = v;
                EapTlsClient c = tls_client(o);
                Run r = play(s, c);
                BOOST_TEST((s.status() == EapStatus::failed));
                BOOST_TEST((c.status() == EapStatus::failed));
                BOOST_TEST((s.failure_reason() == k.reason));
                BOOST_TEST(s.failure_detail().find(k.detail) != std::string::npos,
                           s.failure_detail());
                BOOST_TEST(s.msk().empty());
                BOOST_TEST(c.msk().empty());
            }
        }
    }
}

BOOST_AUTO_TEST_CASE(unknown_and_disabled_accounts_with_a_good_certificate) {
    for (bool disabled : {false, true}) {
        Users users;
        if (disabled) users.db["alice@postern.test"] = false;
        else users.db.erase("alice@postern.test");
        EapServer s = tls_server(users);
        EapTlsClient c = tls_client({});
        play(s, c);
        BOOST_TEST((s.status() == EapStatus::failed));
        BOOST_TEST((s.failure_reason() ==
                    (disabled ? EapFailureReason::disabled : EapFailureReason::unknown_user)));
        BOOST_TEST((c.status() == EapStatus::failed));
    }
}

BOOST_AUTO_TEST_CASE(a_client_without_a_certificate_is_refused) {
    for (std::uint16_t v : {kTls12, kTls13}) {
        Users users;
        EapServer s = tls_server(users, v);
        ClientOptions o;
        o.chain.clear();
        o.max_version = v;
        EapTlsClient c = tls_client(o);
        play(s, c);
        BOOST_TEST((s.status() == EapStatus::failed));
        BOOST_TEST((s.failure_reason() == EapFailureReason::bad_certificate));
        BOOST_TEST(s.failure_detail() == "the client sent no certificate");
        BOOST_TEST(users.asked.empty());
    }
}

BOOST_AUTO_TEST_CASE(a_client_that_distrusts_the_server_ends_it) {
    Users users;
    EapServer s = tls_server(users);
    ClientOptions o;
    o.anchor = "other-ca.pem";
    EapTlsClient c = tls_client(o);
    play(s, c);
    BOOST_TEST((c.status() == EapStatus::failed));
    BOOST_TEST(c.failure_detail().find("TLS") != std::string::npos, c.failure_detail());
    BOOST_TEST((s.status() == EapStatus::failed));
    BOOST_TEST((s.failure_reason() == EapFailureReason::protocol_error));
    BOOST_TEST(s.failure_detail().find("the client refused the TLS handshake") == 0u,
               s.failure_detail());
    BOOST_TEST(users.asked.empty());
}

BOOST_AUTO_TEST_CASE(garbage_and_misplaced_frames) {
    Users users;
    EapServer s = tls_server(users);
    Bytes start = s.start();
    const std::uint8_t id0 = start[1];
    Bytes tls_start = s.process(build_eap_packet(eap_response(id0, EapType::IDENTITY,
                                                              {'a'})))
                          .reply;
    BOOST_REQUIRE(!tls_start.empty());
    const std::uint8_t id1 = tls_start[1];
    // Not TLS records at all: OpenSSL refuses them; the server fails (after sending its alert
    // and taking the acknowledgement, when OpenSSL wrote one).
    EapStep st = s.process(
        build_eap_packet(eap_response(id1, EapType::TLS, from_hex("800000000a1603010005ffffffffff"))));
    BOOST_TEST((s.failure_reason() == EapFailureReason::protocol_error));
    if (st.status == EapStatus::in_progress)
        st = s.process(build_eap_packet(eap_response(st.reply[1], EapType::TLS, tls_ack_frame())));
    BOOST_TEST((st.status == EapStatus::failed));
    BOOST_TEST((parse_eap_packet(st.reply)->code == EapCode::FAILURE));
    BOOST_TEST(s.failure_detail().find("TLS handshake") == 0u, s.failure_detail());

    // A Start flag from the peer, an empty flight, an oversized announcement.
    for (const char* hex : {"20", "00", "c0ffffffff00"}) {
        BOOST_TEST_CONTEXT(hex) {
            Users u;
            EapServer t = tls_server(u);
            Bytes a = t.start();
            Bytes b = t.process(build_eap_packet(eap_response(a[1], EapType::IDENTITY, {'a'})))
                          .reply;
            EapStep x = t.process(build_eap_packet(eap_response(b[1], EapType::TLS, from_hex(hex))));
            BOOST_TEST((x.status == EapStatus::failed));
            BOOST_TEST((t.failure_reason() == EapFailureReason::protocol_error));
        }
    }
}

BOOST_AUTO_TEST_CASE(nak_switches_to_the_method_the_peer_names) {
    // Offered MSCHAPv2 first; a TLS client Naks it and gets EAP-TLS.
    Users users;
    std::map<std::string, std::string> passwords{{"alice", "correct horse"}};
    UserLookup by_password = [&](std::string_view id) {
        auto it = passwords.find(std::string(id));
        return it == passwords.end() ? UserRecord::unknown_user()
                                     : UserRecord::found(*nt_password_hash(it->second));
    };
    auto both = [&](UserLookup mschap) {
        return EapServer({"192.0.2.10"},
                         {{EapType::MSCHAPV2, mschapv2_server_method({"srv"}, mschap)},
                          {EapType::TLS, eap_tls_server_method(server_config(kTls12),
                                                               users.lookup())}});
    };
    {
        EapServer s = both(by_password);
        EapTlsClient c = tls_client({});
        Run r = play(s, c);
        BOOST_TEST((s.status() == EapStatus::succeeded), s.failure_detail());
        BOOST_TEST(s.method_name() == "EAP-TLS");
        // Identity, MSCHAPv2 Challenge (Nak'd), TLS Start, ...
        auto second = parse_eap_packet(r.from_server[1]);
        BOOST_TEST((second->type == EapType::MSCHAPV2));
        auto third = parse_eap_packet(r.from_server[2]);
        BOOST_TEST((third->type == EapType::TLS));
        BOOST_TEST(third->identifier == static_cast<std::uint8_t>(second->identifier + 1));
    }
    {
        // TLS first (eap_methods = ["tls", "mschapv2"]); a password client Naks it.
        EapServer s({"192.0.2.10"},
                    {{EapType::TLS, eap_tls_server_method(server_config(kTls12), users.lookup())},
                     {EapType::MSCHAPV2, mschapv2_server_method({"srv"}, by_password)}});
        auto c = MsChapV2Client::create({"alice", "alice", "correct horse"});
        BOOST_REQUIRE(c);
        play(s, *c);
        BOOST_TEST((s.status() == EapStatus::succeeded), s.failure_detail());
        BOOST_TEST(s.method_name() == "EAP-MSCHAPv2");
        BOOST_TEST(to_hex(s.msk()) == to_hex(c->msk().view()));
    }
    {
        // A Nak naming only methods we do not offer ends it.
        EapServer s = both(by_password);
        Bytes id = s.start();
        Bytes first = s.process(build_eap_packet(eap_response(id[1], EapType::IDENTITY, {'a'})))
                          .reply;
        EapStep n = s.process(build_eap_packet(eap_response(first[1], EapType::NAK, {4, 21})));
        BOOST_TEST((n.status == EapStatus::failed));
        BOOST_TEST(s.failure_detail() == "peer refused EAP-MSCHAPv2: Nak (MD5-Challenge,Type(21))");
    }
    {
        // A second Nak (for TLS, after it started) is refused: each method is tried once.
        EapServer s = both(by_password);
        Bytes id = s.start();
        Bytes first = s.process(build_eap_packet(eap_response(id[1], EapType::IDENTITY, {'a'})))
                          .reply;
        Bytes tls = s.process(build_eap_packet(eap_response(first[1], EapType::NAK, {13}))).reply;
        EapStep n = s.process(build_eap_packet(eap_response(tls[1], EapType::NAK, {26})));
        BOOST_TEST((n.status == EapStatus::failed));
        BOOST_TEST(s.failure_detail() == "peer refused EAP-TLS: Nak (MSCHAPv2)");
    }
}

BOOST_AUTO_TEST_CASE(client_refuses_success_before_the_handshake_and_repeated_starts) {
    EapTlsClient c = tls_client({});
    c.process(build_eap_packet(eap_request(1, EapType::IDENTITY)));
    EapStep hello = c.process(build_eap_packet(eap_request(2, EapType::TLS, tls_start_frame())));
    BOOST_TEST(!hello.reply.empty());
    EapStep again = c.process(build_eap_packet(eap_request(3, EapType::TLS, tls_start_frame())));
    BOOST_TEST((again.status == EapStatus::failed));

    EapTlsClient d = tls_client({});
    d.process(build_eap_packet(eap_request(1, EapType::IDENTITY)));
    d.process(build_eap_packet(eap_request(2, EapType::TLS, tls_start_frame())));
    d.process(build_eap_packet(eap_success(2)));
    BOOST_TEST((d.status() == EapStatus::failed));
    BOOST_TEST(d.msk().empty());
    // Offered MSCHAPv2, it names TLS.
    EapTlsClient e = tls_client({});
    EapStep nak = e.process(build_eap_packet(eap_request(5, EapType::MSCHAPV2, {1})));
    auto p = parse_eap_packet(nak.reply);
    BOOST_REQUIRE(p);
    BOOST_TEST((p->type == EapType::NAK));
    BOOST_TEST(to_hex(p->type_data) == "0d");
}

BOOST_AUTO_TEST_SUITE_END()
