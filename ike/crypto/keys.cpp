#include "ike/crypto/keys.hpp"

#include <algorithm>
#include <array>

namespace postern::ike::crypto {

namespace {

tl::expected<Prf, std::string> prf_for(PrfId id) {
    return Prf::create(id);
}

std::array<std::uint8_t, 8> be64(std::uint64_t v) {
    std::array<std::uint8_t, 8> out{};
    for (int i = 7; i >= 0; --i) {
        out[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(v);
        v >>= 8;
    }
    return out;
}

}  // namespace

tl::expected<IkeKeyLengths, std::string> ike_key_lengths(const IkeTransforms& t) {
    const PrfInfo* prf = find_prf(t.prf);
    if (!prf) return tl::make_unexpected("unsupported PRF " + to_string(t.prf));
    const EncrInfo* encr = find_encr(t.encr, t.encr_key_bits);
    if (!encr) {
        return tl::make_unexpected("unsupported encryption transform " + to_string(t.encr) +
                                   " with key length " + std::to_string(t.encr_key_bits));
    }
    std::size_t sk_a = 0;
    if (encr->aead) {
        if (t.integ != IntegId::AUTH_NONE) {
            return tl::make_unexpected("integrity transform " + to_string(t.integ) +
                                       " negotiated with AEAD cipher " + std::string(encr->name));
        }
    } else {
        const IntegInfo* integ = find_integ(t.integ);
        if (!integ)
            return tl::make_unexpected("unsupported integrity transform " + to_string(t.integ));
        sk_a = integ->key_size;
    }
    return IkeKeyLengths{prf->key_size, sk_a, encr->keymat_size(), prf->key_size};
}

tl::expected<Secret, std::string> skeyseed(PrfId prf_id, ByteView ni, ByteView nr, ByteView g_ir) {
    auto prf = prf_for(prf_id);
    if (!prf) return tl::make_unexpected(prf.error());
    // Ni | Nr as one key; built in a Secret so the copy is wiped.
    Secret key(ni.size() + nr.size());
    std::copy(ni.begin(), ni.end(), key.data());
    std::copy(nr.begin(), nr.end(), key.data() + ni.size());
    return prf->compute(key.view(), {g_ir});
}

tl::expected<Secret, std::string> rekey_skeyseed(PrfId old_prf, const Secret& old_sk_d,
                                                 ByteView g_ir_new, ByteView ni, ByteView nr) {
    auto prf = prf_for(old_prf);
    if (!prf) return tl::make_unexpected(prf.error());
    return prf->compute(old_sk_d.view(), {g_ir_new, ni, nr});
}

tl::expected<IkeKeys, std::string> derive_ike_keys(const IkeTransforms& t, const Secret& seed,
                                                   ByteView ni, ByteView nr, std::uint64_t spi_i,
                                                   std::uint64_t spi_r) {
    auto len = ike_key_lengths(t);
    if (!len) return tl::make_unexpected(len.error());
    auto prf = prf_for(t.prf);
    if (!prf) return tl::make_unexpected(prf.error());
    const auto spii = be64(spi_i), spir = be64(spi_r);
    const std::size_t total = len->sk_d + 2 * len->sk_a + 2 * len->sk_e + 2 * len->sk_p;
    auto keymat = prf->plus(seed.view(), {ni, nr, spii, spir}, total);
    if (!keymat) return tl::make_unexpected("IKE key derivation: " + keymat.error());

    IkeKeys k;
    std::size_t at = 0;
    const auto take = [&](std::size_t n) {
        Secret s = keymat->slice(at, n);
        at += n;
        return s;
    };
    k.sk_d = take(len->sk_d);
    k.sk_ai = take(len->sk_a);
    k.sk_ar = take(len->sk_a);
    k.sk_ei = take(len->sk_e);
    k.sk_er = take(len->sk_e);
    k.sk_pi = take(len->sk_p);
    k.sk_pr = take(len->sk_p);
    return k;
}

tl::expected<ChildKeyLengths, std::string> child_key_lengths(EncrId encr_id,
                                                             std::uint16_t encr_key_bits,
                                                             IntegId integ_id) {
    const EncrInfo* encr = find_encr(encr_id, encr_key_bits);
    if (!encr) {
        return tl::make_unexpected("unsupported encryption transform " + to_string(encr_id) +
                                   " with key length " + std::to_string(encr_key_bits));
    }
    if (encr->aead) {
        if (integ_id != IntegId::AUTH_NONE) {
            return tl::make_unexpected("integrity transform " + to_string(integ_id) +
                                       " negotiated with AEAD cipher " + std::string(encr->name));
        }
        return ChildKeyLengths{encr->keymat_size(), 0};
    }
    const IntegInfo* integ = find_integ(integ_id);
    if (!integ)
        return tl::make_unexpected("unsupported integrity transform " + to_string(integ_id));
    return ChildKeyLengths{encr->keymat_size(), integ->key_size};
}

tl::expected<ChildKeys, std::string> derive_child_keys(PrfId prf_id, const Secret& sk_d,
                                                       ByteView g_ir_new, ByteView ni, ByteView nr,
                                                       ChildKeyLengths len) {
    auto prf = prf_for(prf_id);
    if (!prf) return tl::make_unexpected(prf.error());
    const std::size_t total = 2 * (len.encr + len.integ);
    auto keymat = prf->plus(sk_d.view(), {g_ir_new, ni, nr}, total);
    if (!keymat) return tl::make_unexpected("CHILD_SA key derivation: " + keymat.error());
    ChildKeys k;
    k.encr_i = keymat->slice(0, len.encr);
    k.integ_i = keymat->slice(len.encr, len.integ);
    k.encr_r = keymat->slice(len.encr + len.integ, len.encr);
    k.integ_r = keymat->slice(2 * len.encr + len.integ, len.integ);
    return k;
}

}  // namespace postern::ike::crypto
