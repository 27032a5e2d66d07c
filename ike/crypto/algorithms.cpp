#include "ike/crypto/algorithms.hpp"

#include <algorithm>
#include <array>
#include <optional>

namespace postern::ike::crypto {

namespace {

// RFC 3602 (AES-CBC), RFC 2451 (3DES), RFC 5282 (GCM in IKE, 8-octet IV, 4-octet salt),
// RFC 7634 (ChaCha20-Poly1305: 8-octet IV, 4-octet salt, no padding needed).
constexpr std::array kEncr = {
    EncrInfo{EncrId::ENCR_AES_CBC, 128, false, 16, 0, 16, 16, 0, false, "AES-CBC-128"},
    EncrInfo{EncrId::ENCR_AES_CBC, 192, false, 24, 0, 16, 16, 0, false, "AES-CBC-192"},
    EncrInfo{EncrId::ENCR_AES_CBC, 256, false, 32, 0, 16, 16, 0, false, "AES-CBC-256"},
    EncrInfo{EncrId::ENCR_AES_GCM_16, 128, true, 16, 4, 8, 1, 16, false, "AES-GCM-16-128"},
    EncrInfo{EncrId::ENCR_AES_GCM_16, 192, true, 24, 4, 8, 1, 16, false, "AES-GCM-16-192"},
    EncrInfo{EncrId::ENCR_AES_GCM_16, 256, true, 32, 4, 8, 1, 16, false, "AES-GCM-16-256"},
    EncrInfo{EncrId::ENCR_CHACHA20_POLY1305, 0, true, 32, 4, 8, 1, 16, false, "CHACHA20-POLY1305"},
    EncrInfo{EncrId::ENCR_3DES, 0, false, 24, 0, 8, 8, 0, true, "3DES"},
};

constexpr std::array kPrf = {
    PrfInfo{PrfId::PRF_HMAC_SHA2_256, 32, 32, "SHA256", false, "PRF-HMAC-SHA2-256"},
    PrfInfo{PrfId::PRF_HMAC_SHA2_384, 48, 48, "SHA384", false, "PRF-HMAC-SHA2-384"},
    PrfInfo{PrfId::PRF_HMAC_SHA2_512, 64, 64, "SHA512", false, "PRF-HMAC-SHA2-512"},
    PrfInfo{PrfId::PRF_HMAC_SHA1, 20, 20, "SHA1", true, "PRF-HMAC-SHA1"},
};

// RFC 4868 (HMAC-SHA2 truncated to half), RFC 2404 (HMAC-SHA1-96).
constexpr std::array kInteg = {
    IntegInfo{IntegId::AUTH_HMAC_SHA2_256_128, 32, 16, "SHA256", false, "HMAC-SHA2-256-128"},
    IntegInfo{IntegId::AUTH_HMAC_SHA2_384_192, 48, 24, "SHA384", false, "HMAC-SHA2-384-192"},
    IntegInfo{IntegId::AUTH_HMAC_SHA2_512_256, 64, 32, "SHA512", false, "HMAC-SHA2-512-256"},
    IntegInfo{IntegId::AUTH_HMAC_SHA1_96, 20, 12, "SHA1", true, "HMAC-SHA1-96"},
};

constexpr std::array kKe = {
    KeInfo{KeId::MODP_2048, KeFamily::modp, 256, 256, false, "MODP-2048"},
    KeInfo{KeId::MODP_3072, KeFamily::modp, 384, 384, false, "MODP-3072"},
    KeInfo{KeId::MODP_4096, KeFamily::modp, 512, 512, false, "MODP-4096"},
    KeInfo{KeId::MODP_6144, KeFamily::modp, 768, 768, false, "MODP-6144"},
    KeInfo{KeId::MODP_8192, KeFamily::modp, 1024, 1024, false, "MODP-8192"},
    KeInfo{KeId::ECP_256, KeFamily::ecp, 64, 32, false, "ECP-256"},
    KeInfo{KeId::ECP_384, KeFamily::ecp, 96, 48, false, "ECP-384"},
    KeInfo{KeId::ECP_521, KeFamily::ecp, 132, 66, false, "ECP-521"},
    KeInfo{KeId::CURVE25519, KeFamily::ecx, 32, 32, false, "CURVE25519"},
    KeInfo{KeId::CURVE448, KeFamily::ecx, 56, 56, false, "CURVE448"},
    KeInfo{KeId::MODP_1024, KeFamily::modp, 128, 128, true, "MODP-1024"},
};

std::string legacy_refusal(std::string_view name) {
    return std::string(name) +
           " is a legacy algorithm (RFC 8247); it is refused unless allow_legacy is set";
}

}  // namespace

const EncrInfo* find_encr(EncrId id, std::uint16_t key_bits) {
    for (const auto& e : kEncr)
        if (e.id == id && e.key_bits == key_bits) return &e;
    return nullptr;
}

const PrfInfo* find_prf(PrfId id) {
    for (const auto& p : kPrf)
        if (p.id == id) return &p;
    return nullptr;
}

const IntegInfo* find_integ(IntegId id) {
    for (const auto& i : kInteg)
        if (i.id == id) return &i;
    return nullptr;
}

const KeInfo* find_ke(KeId id) {
    for (const auto& k : kKe)
        if (k.id == id) return &k;
    return nullptr;
}

tl::expected<const EncrInfo*, std::string> lookup_encr(EncrId id, std::uint16_t key_bits,
                                                       const AlgorithmPolicy& policy) {
    const EncrInfo* e = find_encr(id, key_bits);
    if (!e) {
        return tl::make_unexpected("unsupported encryption transform " + to_string(id) +
                                   " with key length " + std::to_string(key_bits));
    }
    if (e->legacy && !policy.allow_legacy) return tl::make_unexpected(legacy_refusal(e->name));
    return e;
}

tl::expected<const PrfInfo*, std::string> lookup_prf(PrfId id, const AlgorithmPolicy& policy) {
    const PrfInfo* p = find_prf(id);
    if (!p) return tl::make_unexpected("unsupported PRF " + to_string(id));
    if (p->legacy && !policy.allow_legacy) return tl::make_unexpected(legacy_refusal(p->name));
    return p;
}

tl::expected<const IntegInfo*, std::string> lookup_integ(IntegId id,
                                                         const AlgorithmPolicy& policy) {
    const IntegInfo* i = find_integ(id);
    if (!i) return tl::make_unexpected("unsupported integrity transform " + to_string(id));
    if (i->legacy && !policy.allow_legacy) return tl::make_unexpected(legacy_refusal(i->name));
    return i;
}

tl::expected<const KeInfo*, std::string> lookup_ke(KeId id, const AlgorithmPolicy& policy) {
    const KeInfo* k = find_ke(id);
    if (!k) return tl::make_unexpected("unsupported key exchange method " + to_string(id));
    if (k->legacy && !policy.allow_legacy) return tl::make_unexpected(legacy_refusal(k->name));
    return k;
}

// ---- proposal strings -------------------------------------------------------------------

namespace {

// One keyword of the strongSwan syntax and what it adds to a proposal. A plain hash keyword
// ("sha256") names an integrity algorithm and, in IKE proposals without prf keywords, also
// the PRF (as in strongSwan).
struct Keyword {
    std::string_view word;
    TransformType type;
    std::uint16_t id;
    std::uint16_t key_bits;
    std::optional<PrfId> implied_prf;
};

constexpr std::uint16_t u16(auto e) {
    return static_cast<std::uint16_t>(e);
}

const std::array kKeywords = {
    Keyword{"aes128", TransformType::ENCR, u16(EncrId::ENCR_AES_CBC), 128, {}},
    Keyword{"aes", TransformType::ENCR, u16(EncrId::ENCR_AES_CBC), 128, {}},
    Keyword{"aes192", TransformType::ENCR, u16(EncrId::ENCR_AES_CBC), 192, {}},
    Keyword{"aes256", TransformType::ENCR, u16(EncrId::ENCR_AES_CBC), 256, {}},
    Keyword{"aes128gcm16", TransformType::ENCR, u16(EncrId::ENCR_AES_GCM_16), 128, {}},
    Keyword{"aes128gcm128", TransformType::ENCR, u16(EncrId::ENCR_AES_GCM_16), 128, {}},
    Keyword{"aes128gcm", TransformType::ENCR, u16(EncrId::ENCR_AES_GCM_16), 128, {}},
    Keyword{"aes192gcm16", TransformType::ENCR, u16(EncrId::ENCR_AES_GCM_16), 192, {}},
    Keyword{"aes192gcm128", TransformType::ENCR, u16(EncrId::ENCR_AES_GCM_16), 192, {}},
    Keyword{"aes192gcm", TransformType::ENCR, u16(EncrId::ENCR_AES_GCM_16), 192, {}},
    Keyword{"aes256gcm16", TransformType::ENCR, u16(EncrId::ENCR_AES_GCM_16), 256, {}},
    Keyword{"aes256gcm128", TransformType::ENCR, u16(EncrId::ENCR_AES_GCM_16), 256, {}},
    Keyword{"aes256gcm", TransformType::ENCR, u16(EncrId::ENCR_AES_GCM_16), 256, {}},
    Keyword{"chacha20poly1305", TransformType::ENCR, u16(EncrId::ENCR_CHACHA20_POLY1305), 0, {}},
    Keyword{"3des", TransformType::ENCR, u16(EncrId::ENCR_3DES), 0, {}},
    Keyword{"sha256", TransformType::INTEG, u16(IntegId::AUTH_HMAC_SHA2_256_128), 0,
            PrfId::PRF_HMAC_SHA2_256},
    Keyword{"sha2_256", TransformType::INTEG, u16(IntegId::AUTH_HMAC_SHA2_256_128), 0,
            PrfId::PRF_HMAC_SHA2_256},
    Keyword{"sha384", TransformType::INTEG, u16(IntegId::AUTH_HMAC_SHA2_384_192), 0,
            PrfId::PRF_HMAC_SHA2_384},
    Keyword{"sha2_384", TransformType::INTEG, u16(IntegId::AUTH_HMAC_SHA2_384_192), 0,
            PrfId::PRF_HMAC_SHA2_384},
    Keyword{"sha512", TransformType::INTEG, u16(IntegId::AUTH_HMAC_SHA2_512_256), 0,
            PrfId::PRF_HMAC_SHA2_512},
    Keyword{"sha2_512", TransformType::INTEG, u16(IntegId::AUTH_HMAC_SHA2_512_256), 0,
            PrfId::PRF_HMAC_SHA2_512},
    Keyword{"sha1", TransformType::INTEG, u16(IntegId::AUTH_HMAC_SHA1_96), 0, PrfId::PRF_HMAC_SHA1},
    Keyword{"sha", TransformType::INTEG, u16(IntegId::AUTH_HMAC_SHA1_96), 0, PrfId::PRF_HMAC_SHA1},
    Keyword{"prfsha256", TransformType::PRF, u16(PrfId::PRF_HMAC_SHA2_256), 0, {}},
    Keyword{"prfsha384", TransformType::PRF, u16(PrfId::PRF_HMAC_SHA2_384), 0, {}},
    Keyword{"prfsha512", TransformType::PRF, u16(PrfId::PRF_HMAC_SHA2_512), 0, {}},
    Keyword{"prfsha1", TransformType::PRF, u16(PrfId::PRF_HMAC_SHA1), 0, {}},
    Keyword{"modp1024", TransformType::KE, u16(KeId::MODP_1024), 0, {}},
    Keyword{"modp2048", TransformType::KE, u16(KeId::MODP_2048), 0, {}},
    Keyword{"modp3072", TransformType::KE, u16(KeId::MODP_3072), 0, {}},
    Keyword{"modp4096", TransformType::KE, u16(KeId::MODP_4096), 0, {}},
    Keyword{"modp6144", TransformType::KE, u16(KeId::MODP_6144), 0, {}},
    Keyword{"modp8192", TransformType::KE, u16(KeId::MODP_8192), 0, {}},
    Keyword{"ecp256", TransformType::KE, u16(KeId::ECP_256), 0, {}},
    Keyword{"ecp384", TransformType::KE, u16(KeId::ECP_384), 0, {}},
    Keyword{"ecp521", TransformType::KE, u16(KeId::ECP_521), 0, {}},
    Keyword{"x25519", TransformType::KE, u16(KeId::CURVE25519), 0, {}},
    Keyword{"curve25519", TransformType::KE, u16(KeId::CURVE25519), 0, {}},
    Keyword{"x448", TransformType::KE, u16(KeId::CURVE448), 0, {}},
    Keyword{"curve448", TransformType::KE, u16(KeId::CURVE448), 0, {}},
    Keyword{"esn", TransformType::ESN, u16(EsnId::ESN), 0, {}},
    Keyword{"noesn", TransformType::ESN, u16(EsnId::NO_ESN), 0, {}},
};

template <typename T>
void add_unique(std::vector<T>& v, T x) {
    if (std::find(v.begin(), v.end(), x) == v.end()) v.push_back(x);
}

std::string quoted(std::string_view s) {
    return "'" + std::string(s) + "'";
}

// The "legacy" refusal for a keyword, naming the keyword as the admin wrote it.
tl::expected<void, std::string> check_policy(const Keyword& k, const AlgorithmPolicy& policy) {
    bool legacy = false;
    std::string_view name;
    switch (k.type) {
        case TransformType::ENCR: {
            const EncrInfo* e = find_encr(static_cast<EncrId>(k.id), k.key_bits);
            legacy = e->legacy;
            name = e->name;
            break;
        }
        case TransformType::PRF: {
            const PrfInfo* p = find_prf(static_cast<PrfId>(k.id));
            legacy = p->legacy;
            name = p->name;
            break;
        }
        case TransformType::INTEG: {
            const IntegInfo* i = find_integ(static_cast<IntegId>(k.id));
            legacy = i->legacy;
            name = i->name;
            break;
        }
        case TransformType::KE: {
            const KeInfo* ke = find_ke(static_cast<KeId>(k.id));
            legacy = ke->legacy;
            name = ke->name;
            break;
        }
        case TransformType::ESN:
            break;
    }
    if (legacy && !policy.allow_legacy) {
        return tl::make_unexpected("keyword " + quoted(k.word) + " selects " + std::string(name) +
                                   ", a legacy algorithm (RFC 8247); set allow_legacy to use it");
    }
    return {};
}

}  // namespace

tl::expected<Proposal, std::string> parse_proposal(std::string_view text, ProtocolId protocol,
                                                   const AlgorithmPolicy& policy) {
    if (protocol != ProtocolId::IKE && protocol != ProtocolId::ESP)
        return tl::make_unexpected("proposals are for IKE or ESP, not " + to_string(protocol));
    const bool ike = protocol == ProtocolId::IKE;
    const std::string where = std::string(ike ? "IKE" : "ESP") + " proposal " + quoted(text);
    if (text.empty())
        return tl::make_unexpected("empty " + std::string(ike ? "IKE" : "ESP") + " proposal");

    Proposal p;
    p.protocol = protocol;
    std::vector<PrfId> implied_prf;
    std::size_t pos = 0;
    while (pos <= text.size()) {
        std::size_t dash = text.find('-', pos);
        if (dash == std::string_view::npos) dash = text.size();
        std::string_view word = text.substr(pos, dash - pos);
        pos = dash + 1;
        if (word.empty()) return tl::make_unexpected(where + ": empty keyword (stray '-')");

        auto it = std::find_if(kKeywords.begin(), kKeywords.end(),
                               [&](const Keyword& k) { return k.word == word; });
        if (it == kKeywords.end())
            return tl::make_unexpected(where + ": unknown algorithm keyword " + quoted(word));
        if (auto ok = check_policy(*it, policy); !ok)
            return tl::make_unexpected(where + ": " + ok.error());

        switch (it->type) {
            case TransformType::ENCR:
                add_unique(p.encr, EncrTransform{static_cast<EncrId>(it->id), it->key_bits});
                break;
            case TransformType::PRF:
                if (!ike) {
                    return tl::make_unexpected(where + ": " + quoted(word) +
                                               " is a PRF, which ESP proposals do not have");
                }
                add_unique(p.prf, static_cast<PrfId>(it->id));
                break;
            case TransformType::INTEG:
                add_unique(p.integ, static_cast<IntegId>(it->id));
                if (it->implied_prf) add_unique(implied_prf, *it->implied_prf);
                break;
            case TransformType::KE:
                add_unique(p.ke, static_cast<KeId>(it->id));
                break;
            case TransformType::ESN:
                if (ike) {
                    return tl::make_unexpected(where + ": " + quoted(word) +
                                               " (extended sequence numbers) applies to ESP only");
                }
                add_unique(p.esn, static_cast<EsnId>(it->id));
                break;
        }
    }

    if (p.encr.empty()) return tl::make_unexpected(where + ": no encryption algorithm");
    const auto is_aead = [](const EncrTransform& e) { return find_encr(e.id, e.key_bits)->aead; };
    const bool any_aead = std::any_of(p.encr.begin(), p.encr.end(), is_aead);
    const bool all_aead = std::all_of(p.encr.begin(), p.encr.end(), is_aead);
    // RFC 7296 §3.3: combined-mode and classic ciphers go in separate proposals, since an
    // integrity transform is required with one and forbidden with the other.
    if (any_aead && !all_aead) {
        return tl::make_unexpected(where +
                                   ": AEAD and non-AEAD encryption cannot share a proposal; "
                                   "write them as separate proposals");
    }
    if (all_aead && !p.integ.empty()) {
        return tl::make_unexpected(where + ": integrity algorithm " +
                                   std::string(find_integ(p.integ.front())->name) +
                                   " cannot be combined with AEAD encryption (for IKE, name the "
                                   "PRF with a 'prf' keyword such as 'prfsha256')");
    }
    if (!all_aead && p.integ.empty())
        return tl::make_unexpected(where + ": no integrity algorithm (e.g. 'sha256')");

    if (ike) {
        if (p.prf.empty()) p.prf = implied_prf;
        if (p.prf.empty()) return tl::make_unexpected(where + ": no PRF (add e.g. 'prfsha256')");
        if (p.ke.empty())
            return tl::make_unexpected(where + ": no key exchange method (e.g. 'x25519')");
    } else if (p.esn.empty()) {
        p.esn.push_back(EsnId::NO_ESN);
    }
    return p;
}

std::string to_string(const Proposal& p) {
    std::string out;
    const auto add = [&](std::uint8_t type, std::uint16_t id, std::uint16_t bits) {
        // The first keyword in table order that maps back to this transform.
        for (const auto& k : kKeywords) {
            if (u16(k.type) == type && k.id == id && k.key_bits == bits) {
                if (!out.empty()) out += '-';
                out += k.word;
                return;
            }
        }
    };
    for (const auto& e : p.encr)
        add(u16(TransformType::ENCR), u16(e.id), e.key_bits);
    for (auto i : p.integ)
        add(u16(TransformType::INTEG), u16(i), 0);
    for (auto f : p.prf)
        add(u16(TransformType::PRF), u16(f), 0);
    for (auto k : p.ke)
        add(u16(TransformType::KE), u16(k), 0);
    for (auto e : p.esn)
        add(u16(TransformType::ESN), u16(e), 0);
    return out;
}

}  // namespace postern::ike::crypto
