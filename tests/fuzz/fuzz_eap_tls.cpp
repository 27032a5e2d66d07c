// libFuzzer target: EAP-TLS (ike/eap/tls_*): the Type-Data framing, fragmentation and
// reassembly, and EapServer running EapTlsServer and EapTlsClient against fuzz data.
//
// Deterministic: OpenSSL's RAND is replaced by a generator reset before every input (and
// EapServer's identifiers come from a counter), so handshake keys, randoms and signatures are
// a function of the input alone and a crash reproduces from it. The test PKI (tests/data/pki)
// is loaded once; a certificate check runs at a fixed time (2030-01-01).
//
// Byte 0: bits 0-1 pick the mode, bit 2 the highest TLS version (1.2 / 1.3) of the side under
// test (the server in modes 1 and 3, the client in mode 2; the real client of mode 3 offers 1.3),
// bit 3 the fragment size of the EAP-TLS code (1024, or 16384 so that a flight fits one
// message). The rest is the input:
//   0  framing: the input as one Type-Data for parse_tls_frame (re-built and re-parsed);
//      as records of [u8 length][Type-Data] fed to a TlsReassembler checked against a model
//      of its documented rules (length 0 is a synthetic large frame: [flags][u32 length if L]
//      [u16 n], n octets of data, to reach the 64 KiB bound); and, from its first two octets,
//      a fragment size 1..2048 for a TlsFragmenter round trip of the remaining octets.
//   1  server: EapServer offering EAP-TLS after start() and a valid Identity Response; then
//      records of [u8 length][EAP message] as Responses, octet 1 (the identifier) patched to
//      the outstanding Request's.
//   2  client: an EapTlsClient (certificate and key, trusting the test root) fed records of
//      [u8 length][EAP message] as Requests.
//   3  server past the handshake start: byte 1 % 6 rounds of a real EapTlsClient against the
//      server, then the rest of the input replaces the client's next message (identifier
//      patched), then the real client carries on while it can.
//
// Invariants (a violation aborts):
//   - a Type-Data that parses re-builds to the same octets with the reserved flag bits cleared;
//     the reassembler accepts and refuses exactly what its rules say, never buffers more than
//     kMaxTlsFlight, returns the concatenated data (the announced length when one was);
//     fragments carry at most the fragment size, L on the first, M on all but the last;
//   - every message either side produces parses as EAP (server: a Request, Success or Failure
//     matching its status; a TLS Request's Type-Data parses, within the fragment size; client:
//     a Response), a side still in progress always answers, a finished one never again;
//   - msk() is 64 octets when succeeded and empty otherwise; a failed server knows its reason;
//   - fuzz data never makes the server (mode 1) or the client (mode 2) succeed: that would take
//     a signature by a key the fuzzer does not have;
//   - mode 3: when the server succeeds, the real client accepts its EAP-Success with the same
//     MSK (what the fuzz message changed did not matter to TLS: reserved flag bits, record
//     headers, ...); a fuzz message equal to the real one ends in success.
//
// Seeds: POSTERN_FUZZ_EAP_TLS_WRITE_SEEDS=tests/fuzz/corpus/fuzz_eap_tls ./fuzz_eap_tls writes
// the committed seed corpus (real conversations, fragmented to fit the records) and exits.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include <openssl/rand.h>

#include "ike/crypto/x509.hpp"
#include "ike/eap/eap_packet.hpp"
#include "ike/eap/eap_server.hpp"
#include "ike/eap/mschapv2.hpp"  // kMskSize
#include "ike/eap/tls_client.hpp"
#include "ike/eap/tls_frame.hpp"
#include "ike/eap/tls_server.hpp"

using namespace postern;
using namespace postern::ike;
using namespace postern::ike::eap;

namespace {

void check(bool ok) {
    if (!ok) std::abort();
}

// ---- deterministic OpenSSL randomness ----

std::uint64_t rng_state = 0;

void reset_random() {
    rng_state = 0x5eed0f0e4a9d7c11ULL;
}

int fuzz_rand_bytes(unsigned char* buf, int num) {
    for (int i = 0; i < num; ++i) {
        // splitmix64, one octet per step: cheap and without short cycles.
        std::uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        buf[i] = static_cast<unsigned char>(z ^ (z >> 31));
    }
    return 1;
}
int fuzz_rand_seed(const void*, int) {
    return 1;
}
int fuzz_rand_add(const void*, int, double) {
    return 1;
}
int fuzz_rand_status() {
    return 1;
}

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
// RAND_bytes_ex and RAND_priv_bytes_ex (libssl's randoms, key generation, signature nonces and
// salts, RSA blinding) defer to a RAND_METHOD other than the default one (OpenSSL 3.0).
void install_random() {
    static const RAND_METHOD method = {fuzz_rand_seed, fuzz_rand_bytes, nullptr,
                                       fuzz_rand_add,  fuzz_rand_bytes, fuzz_rand_status};
    if (RAND_set_rand_method(&method) != 1) std::abort();
}
#pragma GCC diagnostic pop

Random counter(std::uint8_t seed) {
    auto state = std::make_shared<std::uint8_t>(seed);
    return [state](MutableByteView out) {
        for (auto& b : out)
            b = (*state)++;
    };
}

// ---- the test PKI, loaded once ----

constexpr std::time_t kNow = 1893456000;  // 2030-01-01, inside the test PKI's validity
constexpr std::size_t kBigFragment = 16384;
const std::string kIdentity = "alice@postern.test";

std::string file(const std::string& name) {
    const std::string path = std::string(POSTERN_TEST_DATA_DIR) + "/pki/" + name;
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        std::fprintf(stderr, "cannot read %s\n", path.c_str());
        std::abort();
    }
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

std::vector<crypto::Certificate> certs(std::initializer_list<const char*> names) {
    std::vector<crypto::Certificate> out;
    for (const char* n : names) {
        auto c = crypto::load_pem_chain(file(n));
        if (!c) {
            std::fprintf(stderr, "%s: %s\n", n, c.error().c_str());
            std::abort();
        }
        out.insert(out.end(), c->begin(), c->end());
    }
    return out;
}

std::shared_ptr<const crypto::PrivateKey> key(const char* name) {
    auto k = crypto::PrivateKey::from_pem(file(name));
    if (!k) {
        std::fprintf(stderr, "%s: %s\n", name, k.error().c_str());
        std::abort();
    }
    return std::make_shared<const crypto::PrivateKey>(std::move(*k));
}

struct Pki {
    std::vector<crypto::Certificate> server_chain = certs({"server-rsa-chain.pem"});
    std::shared_ptr<const crypto::PrivateKey> server_key = key("server-rsa.key");
    std::vector<crypto::Certificate> client_chain = certs({"client.pem", "intermediate-ca.pem"});
    std::shared_ptr<const crypto::PrivateKey> client_key = key("client.key");
    std::vector<crypto::Certificate> root = certs({"root-ca.pem"});
    PeerCheck trust_root = [v = crypto::CertificateValidator(root)](
                               std::span<const crypto::Certificate> c)
        -> tl::expected<void, std::string> { return v.validate(c.front(), c.subspan(1), kNow); };
};

const Pki& pki() {
    static const Pki p;
    return p;
}

// ---- the two sides ----

struct Options {
    std::uint16_t version = kTls13;
    std::size_t fragment_size = kTlsFragmentSize;
};

Options options(std::uint8_t b) {
    return {(b & 4) ? kTls13 : kTls12, (b & 8) ? kBigFragment : kTlsFragmentSize};
}

UserLookup users() {
    return [](std::string_view id) {
        if (id == kIdentity) return UserRecord::found(crypto::Secret(Bytes(16, 0x11)));
        if (id == "bob") return UserRecord::disabled_user();
        return UserRecord::unknown_user();
    };
}

EapServer tls_server(const Options& o) {
    EapTlsServer::Config c;
    c.tls.chain = pki().server_chain;
    c.tls.key = pki().server_key;
    c.tls.client_cas = pki().root;
    c.tls.max_version = o.version;
    c.chain_check = pki().trust_root;
    c.fragment_size = o.fragment_size;
    return EapServer({"192.0.2.10"}, {{EapType::TLS, eap_tls_server_method(std::move(c), users())}},
                     counter(7));
}

EapTlsClient tls_client(std::uint16_t version, std::size_t fragment_size) {
    EapTlsClient::Config c;
    c.identity = kIdentity;
    c.tls.chain = pki().client_chain;
    c.tls.key = pki().client_key;
    c.tls.max_version = version;
    c.tls.check_peer = pki().trust_root;
    c.fragment_size = fragment_size;
    return EapTlsClient(std::move(c));
}

// An MSK as octets, whether a method hands out a Secret or a view of its own buffer.
[[maybe_unused]] ByteView octets(const crypto::Secret& s) {
    return s.view();
}
[[maybe_unused]] ByteView octets(ByteView b) {
    return b;
}

bool same(ByteView a, ByteView b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin());
}

// What the server just did: `was_done` is whether it had finished before this step.
void check_server(const EapServer& s, const EapStep& st, bool was_done, std::size_t fragment_size) {
    check(st.status == s.status());
    if (was_done) check(st.reply.empty());
    else check(!st.reply.empty());
    if (!st.reply.empty()) {
        auto p = parse_eap_packet(st.reply);
        check(p.has_value());
        switch (p->code) {
            case EapCode::REQUEST:
                check(s.status() == EapStatus::in_progress);
                if (p->type == EapType::TLS) {
                    auto f = parse_tls_frame(p->type_data);
                    check(f.has_value());
                    check(f->data.size() <= fragment_size);
                }
                break;
            case EapCode::SUCCESS:
                check(s.status() == EapStatus::succeeded);
                break;
            case EapCode::FAILURE:
                check(s.status() == EapStatus::failed);
                break;
            default:
                check(false);
        }
    }
    if (s.status() == EapStatus::succeeded) check(s.msk().size() == kMskSize);
    else check(s.msk().empty());
    if (s.status() == EapStatus::failed) check(s.failure_reason().has_value());
}

void check_client(const EapTlsClient& c, const EapStep& st, bool was_done) {
    check(st.status == c.status());
    if (was_done) check(st.reply.empty());
    if (c.status() == EapStatus::in_progress) check(!st.reply.empty());
    if (!st.reply.empty()) {
        auto p = parse_eap_packet(st.reply);
        check(p.has_value());
        check(p->code == EapCode::RESPONSE);
    }
    if (c.status() == EapStatus::succeeded) check(c.msk().size() == kMskSize);
    else check(c.msk().empty());
}

// Splits [u8 length][octets] records; a length beyond the end takes what is left.
template <class F>
void records(ByteView in, F&& each) {
    std::size_t at = 0;
    while (at < in.size()) {
        const std::size_t n = std::min<std::size_t>(in[at], in.size() - at - 1);
        each(in.subspan(at + 1, n));
        at += 1 + n;
    }
}

// ---- mode 0: framing ----

void one_frame(ByteView in) {
    auto f = parse_tls_frame(in);
    if (!f) {
        check(in.empty() || ((in[0] & kTlsFlagLength) && in.size() < 5));
        return;
    }
    check(f->tls_length.has_value() == bool(f->flags & kTlsFlagLength));
    const Bytes built = build_tls_frame(*f);
    auto again = parse_tls_frame(built);
    check(again.has_value());
    check(again->flags == f->flags && again->tls_length == f->tls_length &&
          again->data == f->data);
    Bytes expected(in.begin(), in.end());
    expected[0] &= kTlsFlagLength | kTlsFlagMore | kTlsFlagStart;
    check(built == expected);
}

// A synthetic frame for a record of length 0: [flags][u32 length if L][u16 n], n octets.
std::optional<TlsFrame> big_frame(ByteView in, std::size_t& at) {
    if (at >= in.size()) return std::nullopt;
    TlsFrame f;
    f.flags = in[at++] & (kTlsFlagLength | kTlsFlagMore | kTlsFlagStart);
    if (f.flags & kTlsFlagLength) {
        if (in.size() - at < 4) return std::nullopt;
        f.tls_length = static_cast<std::uint32_t>(in[at] << 24 | in[at + 1] << 16 |
                                                  in[at + 2] << 8 | in[at + 3]);
        at += 4;
    }
    if (in.size() - at < 2) return std::nullopt;
    f.data.assign(static_cast<std::size_t>(in[at] << 8 | in[at + 1]), 0xab);
    at += 2;
    return f;
}

void reassembly(ByteView in) {
    TlsReassembler r;
    Bytes model;  // what the reassembler should hold
    std::optional<std::uint32_t> announced;
    std::size_t at = 0;
    while (at < in.size()) {
        const std::size_t n = in[at++];
        std::optional<TlsFrame> f;
        if (n == 0) {
            f = big_frame(in, at);
            if (!f) return;
        } else {
            const std::size_t take = std::min(n, in.size() - at);
            auto parsed = parse_tls_frame(in.subspan(at, take));
            at += take;
            if (!parsed) continue;
            f = std::move(*parsed);
        }
        // The documented rules.
        bool refused = false;
        std::optional<std::uint32_t> next_announced = announced;
        if (f->tls_length) {
            if (*f->tls_length > kMaxTlsFlight || (announced && *announced != *f->tls_length))
                refused = true;
            else next_announced = f->tls_length;
        }
        const std::size_t total = model.size() + f->data.size();
        if (!refused && total > (next_announced ? *next_announced : kMaxTlsFlight)) refused = true;
        if (!refused && !f->more() && next_announced && total != *next_announced) refused = true;

        auto result = r.add(*f);
        check(result.has_value() == !refused);
        if (!result) {
            // Every caller ends the conversation here; go on with a fresh flight.
            r = TlsReassembler();
            model.clear();
            announced.reset();
            continue;
        }
        model.insert(model.end(), f->data.begin(), f->data.end());
        announced = next_announced;
        check(model.size() <= kMaxTlsFlight);
        check(*result == !f->more());
        if (*result) {
            const Bytes flight = r.take();
            check(flight == model);
            if (announced) check(flight.size() == *announced);
            check(!r.in_progress());
            model.clear();
            announced.reset();
        } else {
            check(r.in_progress() == (!model.empty() || announced.has_value()));
        }
    }
}

void fragmentation(ByteView in) {
    if (in.size() < 3) return;
    const std::size_t size = 1 + (static_cast<std::size_t>(in[0] << 8 | in[1]) % 2048);
    const Bytes flight(in.begin() + 2, in.end());
    TlsFragmenter out(size);
    out.load(flight);
    TlsReassembler r;
    std::size_t frames = 0;
    bool complete = false;
    while (out.pending()) {
        check(!complete);
        const Bytes b = out.next();
        auto f = parse_tls_frame(b);
        check(f.has_value());
        check(!f->data.empty() && f->data.size() <= size);
        check(f->tls_length.has_value() == (frames == 0));
        if (frames == 0) check(*f->tls_length == flight.size());
        check(!f->start());
        check(f->more() == out.pending());
        auto result = r.add(*f);
        check(result.has_value());
        complete = *result;
        ++frames;
    }
    check(complete);
    check(frames == (flight.size() + size - 1) / size);
    check(r.take() == flight);
}

void framing(ByteView in) {
    one_frame(in);
    reassembly(in);
    fragmentation(in);
}

// ---- mode 1: the server fed fuzz Responses ----

Bytes identity_response(std::uint8_t id) {
    return build_eap_packet(eap_response(id, EapType::IDENTITY, Bytes(kIdentity.begin(), kIdentity.end())));
}

void server_records(ByteView in, const Options& o) {
    EapServer s = tls_server(o);
    Bytes last = s.start();
    EapStep st = s.process(identity_response(last[1]));
    check_server(s, st, false, o.fragment_size);
    check(s.status() == EapStatus::in_progress);
    last = st.reply;
    records(in, [&](ByteView m) {
        Bytes msg(m.begin(), m.end());
        if (msg.size() >= 2 && !last.empty()) msg[1] = last[1];
        const bool was_done = s.status() != EapStatus::in_progress;
        st = s.process(msg);
        check_server(s, st, was_done, o.fragment_size);
        check(s.status() != EapStatus::succeeded);
        if (!st.reply.empty()) last = st.reply;
    });
}

// ---- mode 2: the client fed fuzz Requests ----

void client_records(ByteView in, const Options& o) {
    EapTlsClient c = tls_client(o.version, o.fragment_size);
    records(in, [&](ByteView m) {
        const bool was_done = c.status() != EapStatus::in_progress;
        EapStep st = c.process(m);
        check_client(c, st, was_done);
        check(c.status() != EapStatus::succeeded);
    });
}

// ---- mode 3: the server past the handshake start ----

// Plays in[0] % 6 real rounds, then the rest of `in` in place of the client's next message.
// With `capture`, stores that real message instead (for the seeds) and stops.
void server_after_rounds(ByteView in, const Options& o, Bytes* capture = nullptr) {
    if (in.empty()) return;
    const unsigned rounds = in[0] % 6;
    EapServer s = tls_server(o);
    EapTlsClient c = tls_client(kTls13, o.fragment_size);
    Bytes msg = s.start();
    for (unsigned i = 0; i < rounds; ++i) {
        EapStep cs = c.process(msg);
        check_client(c, cs, false);
        check(c.status() == EapStatus::in_progress);
        EapStep ss = s.process(cs.reply);
        check_server(s, ss, false, o.fragment_size);
        if (s.status() != EapStatus::in_progress) return;  // over before the fuzz message
        msg = ss.reply;
    }
    // The real client's answer (its state moves on as if it had sent it) and the fuzz one.
    EapStep real = c.process(msg);
    check_client(c, real, false);
    if (capture) {
        *capture = real.reply;
        return;
    }
    Bytes fuzz(in.begin() + 1, in.end());
    if (fuzz.size() >= 2) fuzz[1] = msg[1];  // the outstanding identifier
    const bool untouched = fuzz == real.reply;

    EapStep st = s.process(fuzz);
    check_server(s, st, false, o.fragment_size);
    // The real client carries on while both sides can.
    for (int i = 0; i < 64 && s.status() == EapStatus::in_progress &&
                    c.status() == EapStatus::in_progress;
         ++i) {
        EapStep cs = c.process(st.reply);
        check_client(c, cs, false);
        if (cs.reply.empty()) break;
        st = s.process(cs.reply);
        check_server(s, st, false, o.fragment_size);
    }
    if (s.status() == EapStatus::succeeded) {
        // The server finished a TLS handshake: with the real client, so it has the same keys.
        const bool was_done = c.status() != EapStatus::in_progress;
        check(!was_done);
        EapStep cs = c.process(st.reply);
        check_client(c, cs, was_done);
        check(c.status() == EapStatus::succeeded);
        check(same(octets(c.msk()), octets(s.msk())));
    }
    if (untouched) check(s.status() == EapStatus::succeeded);
    if (s.status() != EapStatus::in_progress) {
        EapStep after = s.process(fuzz);
        check_server(s, after, true, o.fragment_size);
    }
}

// ---- seeds ----

void write_seed(const std::string& dir, const std::string& name, std::uint8_t mode_byte,
                ByteView body) {
    const std::string path = dir + "/" + name;
    std::ofstream out(path, std::ios::binary);
    out.put(static_cast<char>(mode_byte));
    out.write(reinterpret_cast<const char*>(body.data()), static_cast<std::streamsize>(body.size()));
    if (!out) {
        std::fprintf(stderr, "cannot write %s\n", path.c_str());
        std::exit(1);
    }
    std::printf("%s: %zu octets\n", path.c_str(), body.size() + 1);
}

void append_record(Bytes& out, ByteView m) {
    check(m.size() <= 255);
    out.push_back(static_cast<std::uint8_t>(m.size()));
    out.insert(out.end(), m.begin(), m.end());
}

// A real conversation with both sides fragmenting at 200 octets (each message fits a record):
// what the client sent after its Identity, and what the server sent up to its first complete
// flight after Start.
void conversation(std::uint16_t version, Bytes& from_client, Bytes& from_server) {
    Options o{version, 200};
    EapServer s = tls_server(o);
    EapTlsClient c = tls_client(kTls13, 200);
    Bytes msg = s.start();
    bool server_flight_done = false;
    bool started = false;
    for (int i = 0; i < 64 && !msg.empty(); ++i) {
        if (!server_flight_done) {
            append_record(from_server, msg);
            auto p = parse_eap_packet(msg);
            if (p && p->type == EapType::TLS) {
                auto f = parse_tls_frame(p->type_data);
                if (started && f && !f->data.empty() && !f->more()) server_flight_done = true;
                started = true;
            }
        }
        EapStep cs = c.process(msg);
        if (cs.reply.empty() || s.status() != EapStatus::in_progress) break;
        if (i > 0) append_record(from_client, cs.reply);
        msg = s.process(cs.reply).reply;
    }
    check(s.status() == EapStatus::succeeded && c.status() == EapStatus::succeeded);
}

void write_seeds(const std::string& dir) {
    // Mode 0.
    {
        Bytes frames;
        TlsFragmenter out(100);
        Bytes flight(250);
        for (std::size_t i = 0; i < flight.size(); ++i)
            flight[i] = static_cast<std::uint8_t>(i);
        out.load(flight);
        while (out.pending())
            append_record(frames, out.next());
        append_record(frames, from_hex("c000000100"));  // L+M, length 256: short at the end
        append_record(frames, from_hex("00"));
        write_seed(dir, "framing-fragments", 0, frames);
        // A synthetic 60000-octet M fragment, then another: above kMaxTlsFlight.
        write_seed(dir, "framing-big", 0, from_hex("0040ea600040ea60"));
    }
    for (std::uint16_t v : {kTls12, kTls13}) {
        const std::string tag = v == kTls13 ? "tls13" : "tls12";
        const std::uint8_t version_bit = v == kTls13 ? 4 : 0;
        reset_random();
        Bytes from_client, from_server;
        conversation(v, from_client, from_server);
        write_seed(dir, "server-" + tag, 1 | version_bit, from_client);
        write_seed(dir, "client-" + tag, 2 | version_bit, from_server);
    }
    // Mode 3: the real message after n rounds (replayed, the conversation succeeds).
    struct Case {
        std::uint8_t mode_byte;
        unsigned rounds;
    };
    for (Case k : {Case{3 | 4 | 8, 1}, Case{3 | 4 | 8, 2}, Case{3 | 4 | 8, 3}, Case{3 | 0 | 8, 2},
                   Case{3 | 0, 5}}) {
        Bytes real;
        const std::uint8_t n = static_cast<std::uint8_t>(k.rounds);
        reset_random();
        server_after_rounds(ByteView(&n, 1), options(k.mode_byte), &real);
        check(!real.empty());
        Bytes body{n};
        body.insert(body.end(), real.begin(), real.end());
        write_seed(dir,
                   std::string("after-") + ((k.mode_byte & 4) ? "tls13" : "tls12") +
                       ((k.mode_byte & 8) ? "-whole" : "-fragments") + "-" +
                       std::to_string(k.rounds),
                   k.mode_byte, body);
    }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    install_random();
    (void)pki();
    // A whole real conversation first: it checks the setup, and whatever OpenSSL initialises
    // on first use (and the randomness it takes) is done before the first input.
    for (std::uint16_t v : {kTls12, kTls13}) {
        reset_random();
        Bytes from_client, from_server;
        conversation(v, from_client, from_server);
    }
    if (const char* dir = std::getenv("POSTERN_FUZZ_EAP_TLS_WRITE_SEEDS")) {
        write_seeds(dir);
        std::exit(0);
    }
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 1) return 0;
    reset_random();
    const Options o = options(data[0]);
    ByteView rest(data + 1, size - 1);
    switch (data[0] % 4) {
        case 0:
            framing(rest);
            break;
        case 1:
            server_records(rest, o);
            break;
        case 2:
            client_records(rest, o);
            break;
        case 3:
            server_after_rounds(rest, o);
            break;
    }
    return 0;
}
