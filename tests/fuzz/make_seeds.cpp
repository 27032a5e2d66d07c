// Writes the seed corpus of fuzz_ike_message from the strongSwan captures in
// tests/data/strongswan/: each captured datagram as received (mode 0), its decrypted contents
// re-sealed under the fuzz target's fixed GCM and CBC keys, whole and as SKF fragments (mode 0),
// and its plaintext inner chain for the harness to seal itself (mode 1).
//
//   build/test/tests/fuzz/fuzz_make_seeds tests/data/strongswan tests/fuzz/corpus/fuzz_ike_message

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "fixed_keys.hpp"
#include "ike/crypto/keys.hpp"
#include "ike/sa/protection.hpp"
#include "ike/sa/reassembly.hpp"

using namespace postern;
using namespace postern::ike;
namespace fs = std::filesystem;

namespace {

std::string slurp(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

int written = 0;

void write_seed(const fs::path& dir, const std::string& name, std::uint8_t mode, ByteView b) {
    std::ofstream out(dir / name, std::ios::binary);
    out.put(static_cast<char>(mode));
    out.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
    ++written;
}

crypto::IkeTransforms transforms_of(const std::string& proposal) {
    crypto::IkeTransforms t{PrfId::PRF_HMAC_SHA2_256, EncrId::ENCR_AES_CBC, 256,
                            IntegId::AUTH_HMAC_SHA2_256_128};
    if (proposal.find("AES_GCM_16_256") != std::string::npos) {
        t.encr = EncrId::ENCR_AES_GCM_16;
        t.integ = IntegId::AUTH_NONE;
    } else if (proposal.find("AES_CBC_128") != std::string::npos) {
        t.encr_key_bits = 128;
    }
    return t;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 3) {
        std::fprintf(stderr, "usage: %s CAPTURES_DIR OUT_DIR\n", argv[0]);
        return 2;
    }
    fs::path out = argv[2];
    fs::create_directories(out);
    for (const auto& scen : fs::directory_iterator(argv[1])) {
        if (!scen.is_directory()) continue;
        std::map<std::string, std::string> keys;
        std::istringstream kin(slurp(scen.path() / "keys.txt"));
        for (std::string line; std::getline(kin, line);) {
            auto eq = line.find(" = ");
            if (line.empty() || line[0] == '#' || eq == std::string::npos) continue;
            keys[line.substr(0, eq)] = line.substr(eq + 3);
        }
        auto t = transforms_of(keys["ike_proposal"]);
        Bytes ni = from_hex(keys["Ni"]), nr = from_hex(keys["Nr"]);
        auto seed = crypto::skeyseed(t.prf, ni, nr, from_hex(keys["g_ir"]));
        std::uint64_t spi_i = 0, spi_r = 0;
        for (auto b : from_hex(keys["SPIi"]))
            spi_i = spi_i << 8 | b;
        for (auto b : from_hex(keys["SPIr"]))
            spi_r = spi_r << 8 | b;
        auto k = crypto::derive_ike_keys(t, *seed, ni, nr, spi_i, spi_r);
        if (!seed || !k) return 1;
        auto ci = crypto::SkCipher::create(t.encr, t.encr_key_bits, t.integ, k->sk_ei, k->sk_ai);
        auto cr = crypto::SkCipher::create(t.encr, t.encr_key_bits, t.integ, k->sk_er, k->sk_ar);
        if (!ci || !cr) return 1;

        std::vector<fs::path> files;
        for (const auto& f : fs::directory_iterator(scen.path()))
            if (f.path().extension() == ".hex" && f.path().filename().string()[0] != 'e')
                files.push_back(f.path());
        std::sort(files.begin(), files.end());
        sa::Reassembler reasm;
        for (const auto& f : files) {
            Bytes dgram = from_hex(slurp(f));
            std::string base = scen.path().filename().string() + "-" + f.stem().string();
            write_seed(out, base, 0, dgram);
            auto m = wire::parse_message(dgram);
            if (!m || !m->encrypted()) continue;
            const bool from_i = f.filename().string().find("-moon") != std::string::npos;
            const auto& cipher = from_i ? *ci : *cr;
            std::vector<wire::Payload> inner;
            if (m->encrypted()->type == PayloadType::SK) {
                auto r = sa::open_message(*m, dgram, cipher);
                if (!r) continue;
                inner = std::move(*r);
            } else {
                auto st = reasm.add(*m, dgram, cipher);
                if (!st || *st != sa::Reassembler::Status::Complete) continue;
                inner = reasm.take();
            }
            std::vector<wire::Payload> outer(m->payloads.begin(), m->payloads.end() - 1);
            // Mode 1: SK { plaintext chain } for the harness to seal.
            wire::Message plain{m->header, outer};
            wire::Payload sk{PayloadType::SK, false,
                             wire::EncryptedPayload{wire::first_type(inner),
                                                    wire::serialize_payload_chain(inner)}};
            plain.payloads.push_back(std::move(sk));
            write_seed(out, base + "-plain", 1, wire::serialize(plain));
            // Mode 0: re-sealed under the fixed keys, whole and fragmented.
            for (const auto* c : {&fuzz::gcm_cipher(), &fuzz::cbc_cipher()}) {
                const char* tag = c == &fuzz::gcm_cipher() ? "gcm" : "cbc";
                auto sealed = sa::seal_message(m->header, outer, inner, *c, fuzz::fixed_iv);
                if (sealed) write_seed(out, base + "-" + tag, 0, *sealed);
                auto frags = sa::seal_fragments(m->header, inner, *c, 400, fuzz::fixed_iv);
                if (!frags) continue;
                for (std::size_t i = 0; i < frags->size(); ++i)
                    write_seed(out, base + "-" + tag + "-skf" + std::to_string(i + 1), 0,
                               (*frags)[i]);
            }
        }
    }
    std::printf("wrote %d seeds to %s\n", written, out.c_str());
    return 0;
}
