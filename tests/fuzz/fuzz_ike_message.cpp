// libFuzzer target: one UDP payload through the receive path, IKE header through SK
// decryption with a fixed key.
//
// The first input byte picks a mode; the rest is the datagram.
//   mode 0: the datagram as received: parse, check rules, describe, and if it ends in SK/SKF
//           decrypt it with the fixed GCM and CBC ciphers (reaches decryption only for inputs
//           sealed with these keys, e.g. the seeds).
//   mode 1: the datagram's SK body is taken as *plaintext*: the harness seals it with the fixed
//           GCM cipher, then runs the receive path on the sealed datagram. This lets the fuzzer
//           drive the decrypted-content parser (padding, inner payload chain) directly.
//
// Invariants (a violation aborts, which libFuzzer reports as a crash):
//   - every parse failure carries a reason;
//   - parse(serialize(parse(x))) == parse(x) for the outer message and any decrypted chain;
//   - a datagram sealed in mode 1 always passes its integrity check.

#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "fixed_keys.hpp"
#include "ike/sa/protection.hpp"
#include "ike/sa/reassembly.hpp"
#include "ike/wire/describe.hpp"
#include "ike/wire/rules.hpp"

using namespace postern;
using namespace postern::ike;

namespace {

#define FUZZ_ASSERT(cond)     \
    do {                      \
        if (!(cond)) abort(); \
    } while (0)

void check_chain_round_trip(PayloadType first, const std::vector<wire::Payload>& chain) {
    Bytes again = wire::serialize_payload_chain(chain);
    auto reparsed = wire::parse_payload_chain(first, again, 0);
    FUZZ_ASSERT(reparsed.has_value());
    FUZZ_ASSERT(*reparsed == chain);
}

void receive(ByteView datagram, bool must_open) {
    auto m = wire::parse_message(datagram);
    if (!m) {
        FUZZ_ASSERT(!m.error().reason.empty());
        FUZZ_ASSERT(!must_open);
        return;
    }
    Bytes again = wire::serialize(*m);
    auto m2 = wire::parse_message(again);
    FUZZ_ASSERT(m2.has_value());
    FUZZ_ASSERT(*m2 == *m);
    (void)wire::describe(*m);
    (void)wire::check(m->header.exchange, m->header.response, m->payloads);

    const wire::Payload* enc = m->encrypted();
    if (!enc) return;
    bool opened = false;
    for (const auto* cipher : {&fuzz::gcm_cipher(), &fuzz::cbc_cipher()}) {
        if (enc->type == PayloadType::SK) {
            auto inner = sa::open_message(*m, datagram, *cipher);
            if (!inner) {
                FUZZ_ASSERT(!inner.error().reason.empty());
                opened |= inner.error().kind == sa::OpenError::Kind::Syntax;
                continue;
            }
            opened = true;
            check_chain_round_trip(wire::first_type(*inner), *inner);
            (void)wire::describe(m->header, *inner);
            (void)wire::check(m->header.exchange, m->header.response, m->payloads, *inner);
        } else {
            sa::Reassembler r;
            auto st = r.add(*m, datagram, *cipher);
            if (st) opened = true;
            if (st && *st == sa::Reassembler::Status::Complete) {
                auto inner = r.take();
                check_chain_round_trip(wire::first_type(inner), inner);
            }
        }
    }
    FUZZ_ASSERT(opened || !must_open);
}

// Mode 1: reseal the SK body (as plaintext) under the fixed GCM key.
void receive_resealed(ByteView datagram) {
    auto m = wire::parse_message(datagram);
    if (!m) return;
    const wire::Payload* enc = m->encrypted();
    if (!enc || enc->type != PayloadType::SK) return;
    const auto* sk = enc->get<wire::EncryptedPayload>();
    const auto& cipher = fuzz::gcm_cipher();
    std::vector<wire::Payload> outer(m->payloads.begin(), m->payloads.end() - 1);
    if (cipher.body_length(sk->body.size()) > wire::kMaxPayloadBody - 64) return;
    Bytes sealed = wire::build_sk_prefix(m->header, outer, sk->inner_first,
                                         cipher.body_length(sk->body.size()));
    auto body = cipher.seal(sealed, sk->body, fuzz::fixed_iv);
    FUZZ_ASSERT(body.has_value());
    sealed.insert(sealed.end(), body->begin(), body->end());
    receive(sealed, true);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 1) return 0;
    ByteView datagram(data + 1, size - 1);
    if (data[0] & 1)
        receive_resealed(datagram);
    else
        receive(datagram, false);
    return 0;
}
