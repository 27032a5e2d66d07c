// libFuzzer target: a responder ike::Engine fed a sequence of datagrams from one peer, with
// the clock moving between them. Reaches the engine's dispatch, IKE_SA_INIT handling (proposal
// selection, INVALID_KE_PAYLOAD, cookies, key derivation from the peer's public value), the
// half-open table, the window checks and the timers.
//
// Input: byte 0 picks the mode (bit 0: demand cookies from everyone; bits 1-3: seconds the
// clock moves per datagram), then records of [u16 length][datagram]. The engine's random
// source is deterministic so a crash reproduces from the input alone.
//
// Invariants: no crash or sanitizer report; the engine never holds more SAs than datagrams
// it was given; every datagram it sends parses.

#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "ike/engine.hpp"
#include "ike/policy/address_pool.hpp"
#include "ike/wire/message.hpp"

using namespace postern;
using namespace postern::ike;

namespace {

class OnePool : public AddressPools {
  public:
    OnePool() : pool_(*policy::AddressPool::create("10.99.0.0/24")) {}
    std::optional<IpAddress> acquire(const std::string&, const std::string& id, IpAddress::Family f,
                                     std::optional<IpAddress> req) override {
        if (f != IpAddress::Family::V4) return std::nullopt;
        return pool_.acquire(id, req);
    }
    void release(const std::string&, const IpAddress& a) override { pool_.release(a); }

  private:
    policy::AddressPool pool_;
};

EngineConfig make_config(bool cookies) {
    ConnectionConfig c;
    c.name = "rw";
    auto policy = crypto::AlgorithmPolicy{};
    for (const char* p : {"aes256gcm16-prfsha256-x25519-ecp256", "aes256-sha256-modp2048"})
        c.ike_proposals.push_back(*crypto::parse_proposal(p, ProtocolId::IKE, policy));
    c.esp_proposals.push_back(*crypto::parse_proposal("aes256gcm16", ProtocolId::ESP, policy));
    c.local_id = *policy::parse_identity("vpn.postern.test");
    c.local_auth = c.remote_auth = AuthClass::Psk;
    c.psk = crypto::Secret(as_bytes("fuzzing-psk"));
    c.pools = {"clients"};
    EngineConfig e;
    e.connections.push_back(std::move(c));
    e.cookie_threshold = cookies ? 0 : 64;
    e.dpd_delay = std::chrono::seconds(10);
    return e;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 1) return 0;
    const std::uint8_t mode = data[0];
    std::uint64_t counter = 0;
    OnePool pools;
    Engine engine(make_config(mode & 1), &pools, [&counter](MutableByteView b) {
        for (auto& x : b)
            x = static_cast<std::uint8_t>(++counter * 131 >> 3);
    });
    const Endpoint us{*IpAddress::parse("192.0.2.2"), 500};
    const Endpoint peer{*IpAddress::parse("192.0.2.1"), 500};
    TimePoint now{std::chrono::seconds(1000)};
    const auto step = std::chrono::seconds((mode >> 1) & 7);

    std::size_t pos = 1, datagrams = 0;
    while (pos + 2 <= size) {
        std::size_t len = std::size_t{data[pos]} << 8 | data[pos + 1];
        pos += 2;
        if (len > size - pos) len = size - pos;
        Datagram in{us, peer, Bytes(data + pos, data + pos + len)};
        pos += len;
        ++datagrams;
        Actions out;
        engine.on_datagram(in, now, out);
        now += step;
        if (auto t = engine.next_timer(); t && *t <= now) engine.on_timer(now, out);
        for (const auto& d : out.send) {
            if (d.data.size() == 1 && d.data[0] == 0xff) continue;  // NAT keepalive
            if (!wire::parse_message(d.data)) abort();
        }
    }
    if (engine.list().size() > datagrams) abort();
    return 0;
}
