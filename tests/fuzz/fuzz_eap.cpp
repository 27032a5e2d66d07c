// libFuzzer target: the EAP codec, the EAP-MSCHAPv2 framing and both state machines
// (ike/eap). Everything is deterministic (counter "random"), so a crash reproduces from the
// input alone.
//
// Byte 0 picks the mode (byte % 4), the rest is the input:
//   0  codec: the rest is one EAP message for parse_eap_packet; when it parses, its Type-Data
//      goes through parse_mschapv2 (both directions) and the value and text parsers.
//   1  server: records of [u8 length][message] fed to an EapServer (MSCHAPv2) after start().
//   2  server past the Identity: byte 1 says how many rounds (0-2) a real MsChapV2Client
//      plays first (so identifiers and MS-CHAPv2-ID are right), the next message is the rest
//      of the input, sent with the outstanding identifier patched in when it is long enough.
//   3  client: records of [u8 length][message] fed to an MsChapV2Client.
//
// Invariants (a violation aborts):
//   - a message that parses re-serialises to the same bytes;
//   - every reply either side produces parses as EAP;
//   - the server's MSK is 64 octets exactly when it succeeded, empty otherwise, and a finished
//     server or client never answers again;
//   - the server only succeeds in mode 2 with the untouched peer message (never on fuzz data
//     alone in mode 1: the fuzzer cannot know the password's hash).

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>

#include "ike/eap/eap_packet.hpp"
#include "ike/eap/eap_server.hpp"
#include "ike/eap/mschapv2_client.hpp"
#include "ike/eap/mschapv2_packet.hpp"
#include "ike/eap/mschapv2_server.hpp"

using namespace postern;
using namespace postern::ike;
using namespace postern::ike::eap;

namespace {

void check(bool ok) {
    if (!ok) std::abort();
}

Random counter(std::uint8_t seed) {
    auto state = std::make_shared<std::uint8_t>(seed);
    return [state](MutableByteView out) {
        for (auto& b : out)
            b = (*state)++;
    };
}

void codec(ByteView in) {
    auto p = parse_eap_packet(in);
    if (!p) return;
    Bytes again = build_eap_packet(*p);
    check(again.size() == in.size() && std::equal(again.begin(), again.end(), in.begin()));
    for (EapCode dir : {EapCode::REQUEST, EapCode::RESPONSE}) {
        auto ms = parse_mschapv2(dir, p->type_data);
        if (!ms) continue;
        (void)parse_challenge_data(ms->data);
        (void)parse_response_data(ms->data);
        (void)parse_success_text(ms->data);
        (void)parse_failure_text(ms->data);
    }
}

void check_reply(const EapStep& s) {
    if (!s.reply.empty()) check(parse_eap_packet(s.reply).has_value());
}

UserLookup users() {
    return [](std::string_view id) {
        if (id == "disabled") return UserRecord::disabled_user();
        if (!id.empty() && id[0] == 'u') return UserRecord::unknown_user();
        return UserRecord::found(*nt_password_hash("secret"));
    };
}

EapServer server() {
    Random random = counter(7);
    return EapServer({"idi"}, {{EapType::MSCHAPV2, mschapv2_server_method({"srv"}, users(), random)}},
                     random);
}

void check_server(const EapServer& s) {
    check((s.status() == EapStatus::succeeded) == (s.msk().size() == kMskSize));
    check(s.status() == EapStatus::succeeded || s.msk().empty());
}

void server_records(ByteView in) {
    EapServer s = server();
    (void)s.start();
    std::size_t at = 0;
    while (at < in.size()) {
        std::size_t n = std::min<std::size_t>(in[at], in.size() - at - 1);
        const bool was_done = s.status() != EapStatus::in_progress;
        EapStep step = s.process(in.subspan(at + 1, n));
        check_reply(step);
        if (was_done) check(step.reply.empty());
        check(s.status() != EapStatus::succeeded);
        check_server(s);
        at += 1 + n;
    }
}

void server_after_rounds(ByteView in) {
    if (in.empty()) return;
    const unsigned rounds = in[0] % 3;
    EapServer s = server();
    auto c = MsChapV2Client::create({"alice", "alice", "secret"}, counter(99));
    check(c.has_value());
    Bytes msg = s.start();
    for (unsigned i = 0; i < rounds; ++i) {
        EapStep cs = c->process(msg);
        check(!cs.reply.empty());
        EapStep ss = s.process(cs.reply);
        check_reply(ss);
        msg = ss.reply;
    }
    Bytes fuzz(in.begin() + 1, in.end());
    if (fuzz.size() >= 2 && !msg.empty()) fuzz[1] = msg[1];  // the outstanding identifier
    EapStep step = s.process(fuzz);
    check_reply(step);
    check_server(s);
    if (s.status() == EapStatus::in_progress) {
        // Whatever the fuzz message did, one more real or fuzz message must end cleanly.
        EapStep more = s.process(fuzz);
        check_reply(more);
        check_server(s);
    }
}

void client_records(ByteView in) {
    auto c = MsChapV2Client::create({"alice", "CORP\\alice", "secret"}, counter(3));
    check(c.has_value());
    std::size_t at = 0;
    while (at < in.size()) {
        std::size_t n = std::min<std::size_t>(in[at], in.size() - at - 1);
        const bool was_done = c->status() != EapStatus::in_progress;
        EapStep step = c->process(in.subspan(at + 1, n));
        check_reply(step);
        if (was_done) check(step.reply.empty());
        check((c->status() == EapStatus::succeeded) == (c->msk().size() == kMskSize));
        at += 1 + n;
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 1) return 0;
    ByteView rest(data + 1, size - 1);
    switch (data[0] % 4) {
        case 0:
            codec(rest);
            break;
        case 1:
            server_records(rest);
            break;
        case 2:
            server_after_rounds(rest);
            break;
        case 3:
            client_records(rest);
            break;
    }
    return 0;
}
