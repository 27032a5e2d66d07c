// EapServer with EAP-MSCHAPv2 against MsChapV2Client, and against hand-made peers that misbehave.
#include <boost/test/unit_test.hpp>

#include <map>

#include "ike/eap/eap_server.hpp"
#include "ike/eap/mschapv2_client.hpp"
#include "ike/eap/mschapv2_packet.hpp"
#include "ike/eap/mschapv2_server.hpp"

using namespace postern;
using namespace postern::ike;
using namespace postern::ike::eap;

namespace {

// Deterministic "random" octets: a counter from a seed.
Random counter(std::uint8_t seed) {
    auto state = std::make_shared<std::uint8_t>(seed);
    return [state](MutableByteView out) {
        for (auto& b : out)
            b = (*state)++;
    };
}

struct Users {
    std::map<std::string, std::pair<std::string, bool>> db;  // identity -> (password, enabled)
    std::vector<std::string> asked;
    UserLookup lookup() {
        return [this](std::string_view id) {
            asked.emplace_back(id);
            auto it = db.find(std::string(id));
            if (it == db.end()) return UserRecord::unknown_user();
            if (!it->second.second) return UserRecord::disabled_user();
            return UserRecord::found(*nt_password_hash(it->second.first));
        };
    }
};

// An EAP server offering MSCHAPv2 alone; identifiers and challenges from one counter.
EapServer mschapv2_server(std::string ike_identity, std::string name, UserLookup lookup,
                          std::uint8_t seed) {
    Random random = counter(seed);
    return EapServer({std::move(ike_identity)},
                     {{EapType::MSCHAPV2,
                       mschapv2_server_method({std::move(name)}, std::move(lookup), random)}},
                     random);
}

struct Fixture {
    Users users;
    EapServer server;
    explicit Fixture(std::string ike_identity = "192.0.2.10")
        : server(mschapv2_server(std::move(ike_identity), "vpn.example.com", users_lookup(),
                                 0x40)) {}
    UserLookup users_lookup() {
        users.db["alice"] = {"correct horse", true};
        users.db["CORP\\bob"] = {"p\xc3\xa4ssw\xc3\xb6rd", true};
        users.db["carol"] = {"whatever", false};
        users.db["192.0.2.10"] = {"android", true};
        return users.lookup();
    }
};

MsChapV2Client client(std::string identity, std::string name, std::string password) {
    auto c = MsChapV2Client::create({std::move(identity), std::move(name), std::move(password)},
                                    counter(0x90));
    BOOST_REQUIRE_MESSAGE(c, c.error());
    return std::move(*c);
}

struct Transcript {
    std::vector<Bytes> from_server, from_client;
};

// Runs the conversation to its end (at most 8 messages each way).
Transcript run(EapServer& s, MsChapV2Client& c) {
    Transcript t;
    Bytes msg = s.start();
    for (int i = 0; i < 8 && !msg.empty(); ++i) {
        t.from_server.push_back(msg);
        EapStep cs = c.process(msg);
        if (cs.reply.empty()) break;
        t.from_client.push_back(cs.reply);
        EapStep ss = s.process(cs.reply);
        msg = ss.reply;
    }
    if (!msg.empty() && (t.from_server.empty() || t.from_server.back() != msg)) {
        t.from_server.push_back(msg);
        c.process(msg);
    }
    return t;
}

EapPacket parse(ByteView b) {
    auto p = parse_eap_packet(b);
    BOOST_REQUIRE_MESSAGE(p, p.error().reason);
    return *p;
}

std::string text(const Bytes& eap) {
    auto p = parse(eap);
    auto ms = parse_mschapv2(p.code, p.type_data);
    BOOST_REQUIRE(ms);
    return std::string(ms->data.begin(), ms->data.end());
}

}  // namespace

BOOST_AUTO_TEST_SUITE(exchange)

BOOST_AUTO_TEST_CASE(round_trip_gives_equal_msks) {
    Fixture f;
    auto c = client("alice", "alice", "correct horse");
    Transcript t = run(f.server, c);
    BOOST_TEST((f.server.status() == EapStatus::succeeded));
    BOOST_TEST((c.status() == EapStatus::succeeded));
    BOOST_TEST(f.server.msk().size() == kMskSize);
    BOOST_TEST(to_hex(f.server.msk()) == to_hex(c.msk().view()));
    BOOST_TEST(to_hex(f.server.msk()).substr(64) == std::string(64, '0'));
    BOOST_TEST(f.server.identity() == "alice");
    BOOST_TEST(!f.server.failure_reason());
    BOOST_TEST((f.users.asked == std::vector<std::string>{"alice"}));

    // Request/Identity, Challenge, Success Request, EAP-Success; four Responses.
    BOOST_REQUIRE_EQUAL(t.from_server.size(), 4u);
    BOOST_REQUIRE_EQUAL(t.from_client.size(), 3u);
    // Identifiers: each Request a new one, Responses echo, EAP-Success repeats the last.
    const std::uint8_t id0 = parse(t.from_server[0]).identifier;
    BOOST_TEST(id0 == 0x40);  // the first octet of the injected random
    for (std::size_t i = 0; i < 3; ++i) {
        BOOST_TEST(parse(t.from_server[i]).identifier == static_cast<std::uint8_t>(id0 + i));
        BOOST_TEST(parse(t.from_client[i]).identifier == static_cast<std::uint8_t>(id0 + i));
    }
    BOOST_TEST((parse(t.from_server[3]).code == EapCode::SUCCESS));
    BOOST_TEST(parse(t.from_server[3]).identifier == static_cast<std::uint8_t>(id0 + 2));
    // The Challenge names the server; the Success Request carries S= and M=.
    auto ms = parse_mschapv2(EapCode::REQUEST, parse(t.from_server[1]).type_data);
    BOOST_REQUIRE(ms);
    auto ch = parse_challenge_data(ms->data);
    BOOST_REQUIRE(ch);
    BOOST_TEST(ch->name == "vpn.example.com");
    BOOST_TEST(text(t.from_server[2]).substr(0, 2) == "S=");
    BOOST_TEST(text(t.from_server[2]).find(" M=") == 42u);
    // A message after the end is ignored.
    EapStep late = f.server.process(t.from_client.back());
    BOOST_TEST(late.reply.empty());
    BOOST_TEST((late.status == EapStatus::succeeded));
}

BOOST_AUTO_TEST_CASE(windows_style_domain_user_and_utf8_password) {
    Fixture f;
    auto c = client("CORP\\bob", "CORP\\bob", "p\xc3\xa4ssw\xc3\xb6rd");
    run(f.server, c);
    BOOST_TEST((f.server.status() == EapStatus::succeeded));
    const auto* method = dynamic_cast<const MsChapV2Server*>(f.server.method());
    BOOST_REQUIRE(method);
    BOOST_TEST(method->response_name() == "CORP\\bob");
    BOOST_TEST(to_hex(f.server.msk()) == to_hex(c.msk().view()));
}

BOOST_AUTO_TEST_CASE(empty_identity_falls_back_to_idi) {
    Fixture f;  // IDi 192.0.2.10, which the store knows
    auto c = client("", "android-user", "android");
    run(f.server, c);
    BOOST_TEST((f.users.asked == std::vector<std::string>{"192.0.2.10"}));
    BOOST_TEST(f.server.identity() == "192.0.2.10");
    BOOST_TEST((f.server.status() == EapStatus::succeeded));
    BOOST_TEST((c.status() == EapStatus::succeeded));
}

BOOST_AUTO_TEST_CASE(empty_identity_without_idi_fails) {
    Fixture f("");
    auto c = client("", "x", "y");
    run(f.server, c);
    BOOST_TEST((f.server.status() == EapStatus::failed));
    BOOST_TEST((f.server.failure_reason() == EapFailureReason::protocol_error));
    BOOST_TEST(f.users.asked.empty());
}

BOOST_AUTO_TEST_CASE(wrong_password_unknown_and_disabled_users) {
    struct Case {
        std::string identity, password;
        EapFailureReason reason;
    };
    std::vector<std::size_t> failure_sizes;
    for (const Case& k : {Case{"alice", "wrong", EapFailureReason::bad_password},
                          Case{"mallory", "anything", EapFailureReason::unknown_user},
                          Case{"carol", "whatever", EapFailureReason::disabled}}) {
        BOOST_TEST_CONTEXT(k.identity) {
            Fixture f;
            auto c = client(k.identity, k.identity, k.password);
            Transcript t = run(f.server, c);
            BOOST_TEST((f.server.status() == EapStatus::failed));
            BOOST_TEST((c.status() == EapStatus::failed));
            BOOST_TEST((f.server.failure_reason() == k.reason));
            BOOST_TEST(f.server.msk().empty());
            BOOST_TEST(c.msk().empty());
            BOOST_TEST((c.server_error() == 691u));
            // Identity, Challenge, Failure Request (E=691 R=0), EAP-Failure.
            BOOST_REQUIRE_EQUAL(t.from_server.size(), 4u);
            const std::string failure = text(t.from_server[2]);
            BOOST_TEST(failure.substr(0, 12) == "E=691 R=0 C=");
            BOOST_TEST(failure.find(" V=3 M=") == 44u);
            BOOST_TEST((parse(t.from_server[3]).code == EapCode::FAILURE));
            BOOST_TEST(parse(t.from_server[3]).identifier == parse(t.from_server[2]).identifier);
            failure_sizes.push_back(t.from_server[2].size());
        }
    }
    // The wire does not tell an unknown or disabled user from a wrong password.
    BOOST_TEST(failure_sizes[0] == failure_sizes[1]);
    BOOST_TEST(failure_sizes[0] == failure_sizes[2]);
}

BOOST_AUTO_TEST_CASE(another_name_cannot_use_its_own_password) {
    // EAP identity "alice" picks alice's hash; the Response's Name only feeds ChallengeHash.
    Fixture f;
    auto c = client("alice", "CORP\\bob", "p\xc3\xa4ssw\xc3\xb6rd");
    run(f.server, c);
    BOOST_TEST((f.server.failure_reason() == EapFailureReason::bad_password));
}

BOOST_AUTO_TEST_CASE(mismatched_and_replayed_identifiers) {
    Fixture f;
    auto c = client("alice", "alice", "correct horse");
    Bytes req = f.server.start();
    Bytes id_resp = c.process(req).reply;
    Bytes bad = id_resp;
    bad[1] ^= 0x01;
    EapStep s = f.server.process(bad);
    BOOST_TEST((s.status == EapStatus::failed));
    BOOST_TEST((f.server.failure_reason() == EapFailureReason::protocol_error));
    BOOST_TEST(f.server.failure_detail() == "EAP Response identifier 65 != 64");
    BOOST_TEST((parse(s.reply).code == EapCode::FAILURE));

    // The Identity Response replayed once the Challenge is out has the old identifier.
    Fixture g;
    auto c2 = client("alice", "alice", "correct horse");
    Bytes r0 = c2.process(g.server.start()).reply;
    BOOST_TEST(!g.server.process(r0).reply.empty());
    EapStep replay = g.server.process(r0);
    BOOST_TEST((replay.status == EapStatus::failed));
    BOOST_TEST(g.server.failure_detail() == "EAP Response identifier 64 != 65");

    // The client refuses a Request that repeats an identifier.
    auto c3 = client("alice", "alice", "correct horse");
    Bytes idreq = build_eap_packet(eap_request(9, EapType::IDENTITY));
    BOOST_TEST(!c3.process(idreq).reply.empty());
    BOOST_TEST(c3.process(idreq).reply.empty());
    BOOST_TEST((c3.status() == EapStatus::failed));
}

BOOST_AUTO_TEST_CASE(wrong_ms_chapv2_id) {
    Fixture f;
    auto c = client("alice", "alice", "correct horse");
    Bytes challenge = f.server.process(c.process(f.server.start()).reply).reply;
    Bytes resp = c.process(challenge).reply;
    resp[6] ^= 0x01;  // MS-CHAPv2-ID
    f.server.process(resp);
    BOOST_TEST((f.server.failure_reason() == EapFailureReason::protocol_error));
    BOOST_TEST(f.server.failure_detail().find("MS-CHAPv2-ID") == 0u);
}

BOOST_AUTO_TEST_CASE(truncated_mschapv2_values) {
    Fixture probe;
    auto c = client("alice", "alice", "correct horse");
    Bytes challenge = probe.server.process(c.process(probe.server.start()).reply).reply;
    const EapPacket resp = parse(c.process(challenge).reply);
    // Cut the Response's value at every length, keeping EAP Length and MS-Length consistent
    // so the MSCHAPv2 value itself is what is short.
    for (std::size_t n = 4; n < 4 + 50; ++n) {
        Fixture f;
        auto cc = client("alice", "alice", "correct horse");
        f.server.process(cc.process(f.server.start()).reply);
        EapPacket cut = resp;
        cut.type_data.resize(n);
        cut.type_data[2] = static_cast<std::uint8_t>(n >> 8);
        cut.type_data[3] = static_cast<std::uint8_t>(n);
        EapStep s = f.server.process(build_eap_packet(cut));
        BOOST_TEST_CONTEXT("type-data " << n) {
            BOOST_TEST((s.status == EapStatus::failed));
            BOOST_TEST((f.server.failure_reason() == EapFailureReason::protocol_error));
            BOOST_TEST(f.server.failure_detail().find("MSCHAPv2 Response: ") == 0u);
        }
    }
    // MS-Length left as it was: the header check catches it.
    Fixture f;
    auto cc = client("alice", "alice", "correct horse");
    f.server.process(cc.process(f.server.start()).reply);
    EapPacket cut = resp;
    cut.type_data.resize(30);
    f.server.process(build_eap_packet(cut));
    BOOST_TEST(f.server.failure_detail().find("MS-Length") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(client_checks_the_authenticator_response) {
    Fixture f;
    auto c = client("alice", "alice", "correct horse");
    Bytes challenge = f.server.process(c.process(f.server.start()).reply).reply;
    Bytes success = f.server.process(c.process(challenge).reply).reply;
    success[12] = success[12] == 'A' ? 'B' : 'A';  // a hex digit of S=
    EapStep cs = c.process(success);
    BOOST_TEST(cs.reply.empty());
    BOOST_TEST((c.status() == EapStatus::failed));
    BOOST_TEST(c.failure_detail().find("authenticator response") != std::string::npos);
    BOOST_TEST(c.msk().empty());
}

BOOST_AUTO_TEST_CASE(client_refuses_early_eap_success) {
    auto c = client("alice", "alice", "correct horse");
    c.process(build_eap_packet(eap_request(1, EapType::IDENTITY)));
    c.process(build_eap_packet(eap_success(1)));
    BOOST_TEST((c.status() == EapStatus::failed));
    BOOST_TEST(c.msk().empty());
}

BOOST_AUTO_TEST_CASE(server_fails_on_unexpected_packets) {
    auto after_identity = [](Fixture& f) {
        auto c = client("alice", "alice", "correct horse");
        f.server.process(c.process(f.server.start()).reply);
    };
    struct Case {
        const char* what;
        std::function<Bytes(std::uint8_t id)> make;
        const char* detail;
    };
    for (const Case& k : {
             Case{"nak",
                  [](std::uint8_t id) {
                      return build_eap_packet(eap_response(id, EapType::NAK, {13}));
                  },
                  "peer refused EAP-MSCHAPv2: Nak (TLS)"},
             Case{"request",
                  [](std::uint8_t id) {
                      return build_eap_packet(eap_request(id, EapType::MSCHAPV2, {2}));
                  },
                  "expected an EAP Response, got REQUEST"},
             Case{"success", [](std::uint8_t id) { return build_eap_packet(eap_success(id)); },
                  "expected an EAP Response, got SUCCESS"},
             Case{"identity again",
                  [](std::uint8_t id) {
                      return build_eap_packet(eap_response(id, EapType::IDENTITY));
                  },
                  "expected MSCHAPv2, got Identity"},
             Case{"early success response",
                  [](std::uint8_t id) { return build_opcode_response(id, MsChapOpCode::SUCCESS); },
                  "expected an MSCHAPv2 Response, got Success"},
             Case{"garbage",
                  [](std::uint8_t) {
                      return Bytes{1, 2, 3};
                  },
                  "EAP: EAP Length: need 2 bytes at offset 2, have 1"},
         }) {
        BOOST_TEST_CONTEXT(k.what) {
            Fixture f;
            after_identity(f);
            EapStep s = f.server.process(k.make(0x41));
            BOOST_TEST((s.status == EapStatus::failed));
            BOOST_TEST((f.server.failure_reason() == EapFailureReason::protocol_error));
            BOOST_TEST(f.server.failure_detail() == k.detail);
            BOOST_TEST(to_hex(s.reply) == "04410004");
        }
    }
    // Before start() nothing is accepted.
    Fixture f;
    BOOST_TEST((f.server.process(build_eap_packet(eap_response(0, EapType::IDENTITY))).status ==
                EapStatus::failed));
}

BOOST_AUTO_TEST_CASE(peer_rejecting_our_success_fails) {
    Fixture f;
    auto c = client("alice", "alice", "correct horse");
    Bytes challenge = f.server.process(c.process(f.server.start()).reply).reply;
    Bytes success = f.server.process(c.process(challenge).reply).reply;
    EapStep s =
        f.server.process(build_opcode_response(parse(success).identifier, MsChapOpCode::FAILURE));
    BOOST_TEST((s.status == EapStatus::failed));
    BOOST_TEST(f.server.msk().empty());
}

BOOST_AUTO_TEST_CASE(store_with_a_bad_hash_is_an_internal_error) {
    EapServer s = mschapv2_server(
        "", "srv", [](std::string_view) { return UserRecord::found(crypto::Secret(Bytes(3, 1))); },
        1);
    auto c = client("x", "x", "y");
    run(s, c);
    BOOST_TEST((s.failure_reason() == EapFailureReason::internal_error));
}

BOOST_AUTO_TEST_SUITE_END()
