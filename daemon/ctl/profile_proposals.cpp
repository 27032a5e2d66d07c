#include "daemon/ctl/profile_proposals.hpp"

#include <algorithm>
#include <functional>

#include "ike/crypto/algorithms.hpp"

namespace postern::ctl::profile {

namespace {

using ike::EncrId;
using ike::IntegId;
using ike::KeId;
using ike::PrfId;
using ike::ProtocolId;
using ike::crypto::EncrTransform;
using ike::crypto::Proposal;

struct Parsed {
    std::string text;
    Proposal proposal;
};

std::vector<Parsed> parse_all(const std::vector<std::string>& texts, ProtocolId protocol,
                              bool allow_legacy) {
    std::vector<Parsed> out;
    for (const auto& t : texts) {
        // The config loader already refused strings that do not parse; skip rather than fail.
        if (auto p = ike::crypto::parse_proposal(t, protocol, {allow_legacy}))
            out.push_back({t, *p});
    }
    return out;
}

bool is_aead(EncrId id) {
    return id == EncrId::ENCR_AES_GCM_8 || id == EncrId::ENCR_AES_GCM_12 ||
           id == EncrId::ENCR_AES_GCM_16 || id == EncrId::ENCR_AES_CCM_8 ||
           id == EncrId::ENCR_AES_CCM_12 || id == EncrId::ENCR_AES_CCM_16 ||
           id == EncrId::ENCR_CHACHA20_POLY1305;
}

// The hash behind an integrity or PRF transform ("" for XCBC/CMAC and the like).
std::string integ_hash(IntegId id) {
    switch (id) {
        case IntegId::AUTH_HMAC_SHA1_96:
            return "sha1";
        case IntegId::AUTH_HMAC_SHA2_256_128:
            return "sha256";
        case IntegId::AUTH_HMAC_SHA2_384_192:
            return "sha384";
        case IntegId::AUTH_HMAC_SHA2_512_256:
            return "sha512";
        default:
            return "";
    }
}

std::string prf_hash(PrfId id) {
    switch (id) {
        case PrfId::PRF_HMAC_SHA1:
            return "sha1";
        case PrfId::PRF_HMAC_SHA2_256:
            return "sha256";
        case PrfId::PRF_HMAC_SHA2_384:
            return "sha384";
        case PrfId::PRF_HMAC_SHA2_512:
            return "sha512";
        default:
            return "";
    }
}

// An ESP proposal without KE, or with NONE among its KE methods, lets a client rekey without
// PFS; otherwise every rekey needs one of the listed groups.
bool pfs_optional(const Proposal& p) {
    return p.ke.empty() || std::find(p.ke.begin(), p.ke.end(), KeId::NONE) != p.ke.end();
}

// One IKE transform combination: encryption, integrity (absent for AEAD), PRF, KE.
struct IkeCombo {
    EncrTransform encr;
    std::optional<IntegId> integ;
    PrfId prf;
    KeId ke;
};

// Calls `take` for every combination of `p` in the server's order of preference, where a
// non-AEAD combination uses the same hash for integrity and PRF (Apple and Windows derive the
// PRF from the integrity setting). Stops at the first `take` that returns true.
bool each_ike_combo(const Proposal& p, const std::function<bool(const IkeCombo&)>& take) {
    for (const auto& e : p.encr) {
        if (is_aead(e.id)) {
            for (auto prf : p.prf)
                for (auto ke : p.ke)
                    if (take({e, std::nullopt, prf, ke})) return true;
            continue;
        }
        for (auto integ : p.integ)
            for (auto prf : p.prf) {
                if (integ_hash(integ).empty() || integ_hash(integ) != prf_hash(prf)) continue;
                for (auto ke : p.ke)
                    if (take({e, integ, prf, ke})) return true;
            }
    }
    return false;
}

struct EspCombo {
    EncrTransform encr;
    std::optional<IntegId> integ;
    std::optional<KeId> pfs;  // nullopt: no PFS needed
};

bool each_esp_combo(const Proposal& p, bool may_pfs,
                    const std::function<bool(const EspCombo&)>& take) {
    std::vector<std::optional<KeId>> pfs;
    if (pfs_optional(p)) {
        pfs.push_back(std::nullopt);
    } else if (may_pfs) {
        for (auto ke : p.ke)
            pfs.push_back(ke);
    }
    for (const auto& e : p.encr)
        for (const auto& g : pfs) {
            if (is_aead(e.id)) {
                if (take({e, std::nullopt, g})) return true;
                continue;
            }
            for (auto integ : p.integ)
                if (take({e, integ, g})) return true;
        }
    return false;
}

ProfileError unsuitable(std::string_view target, std::string_view what, const ProfileInput& in,
                        std::string_view supports) {
    std::string offered;
    for (const auto& p : what == "IKE" ? in.ike_proposals : in.esp_proposals)
        offered += (offered.empty() ? "" : ", ") + p;
    return {1, "connection \"" + in.connection + "\" offers no " + std::string(what) +
                   " proposal " + std::string(target) + " can use (the server offers " + offered +
                   "; " + std::string(target) + " supports " + std::string(supports) + ")"};
}

// ---- Apple

std::optional<std::string> apple_encr(const EncrTransform& e) {
    if (e.id == EncrId::ENCR_AES_GCM_16 && e.key_bits == 256) return "AES-256-GCM";
    if (e.id == EncrId::ENCR_AES_GCM_16 && e.key_bits == 128) return "AES-128-GCM";
    if (e.id == EncrId::ENCR_AES_CBC && e.key_bits == 256) return "AES-256";
    if (e.id == EncrId::ENCR_AES_CBC && e.key_bits == 128) return "AES-128";
    return std::nullopt;
}

std::optional<std::string> apple_hash(const std::string& hash) {
    if (hash == "sha256") return "SHA2-256";
    if (hash == "sha384") return "SHA2-384";
    if (hash == "sha512") return "SHA2-512";
    return std::nullopt;  // SHA-1 is gone from iOS 26 / macOS 26
}

std::optional<int> apple_group(KeId ke) {
    switch (ke) {
        case KeId::MODP_2048:
        case KeId::ECP_256:
        case KeId::ECP_384:
        case KeId::ECP_521:
        case KeId::CURVE25519:
            return static_cast<int>(ke);
        default:
            return std::nullopt;
    }
}

}  // namespace

const char* const kAppleSupports =
    "AES-256-GCM, AES-128-GCM, AES-256, AES-128 with SHA2-256/384/512 and DH groups 14 (modp2048), "
    "19 (ecp256), 20 (ecp384), 21 (ecp521), 31 (curve25519)";
const char* const kWindowsSupports =
    "IKE: AES-128/192/256 (AES-GCM on Windows 11) with SHA256/SHA384 and modp2048, ecp256, ecp384; "
    "ESP: AES-GCM-128/192/256 or AES-128/192/256 with SHA256 (3DES, SHA1 and modp1024 with "
    "allow_legacy_crypto)";
const char* const kAndroidNativeSupports =
    "IKE: AES-CBC/CTR with SHA2-256/384/512 or AES-GCM/ChaCha20-Poly1305, with modp2048, modp3072, "
    "modp4096 or curve25519; ESP: AES-GCM or AES-CBC with SHA2-256/384/512, without PFS";

Result<AppleChoice> choose_apple(const ProfileInput& in) {
    AppleChoice c;
    bool found = false;
    for (const auto& p : parse_all(in.ike_proposals, ProtocolId::IKE, in.allow_legacy)) {
        found = each_ike_combo(p.proposal, [&](const IkeCombo& k) {
            auto encr = apple_encr(k.encr);
            auto hash = apple_hash(k.integ ? integ_hash(*k.integ) : prf_hash(k.prf));
            auto group = apple_group(k.ke);
            if (!encr || !hash || !group) return false;
            c.ike = {*encr, *hash, *group, p.text};
            return true;
        });
        if (found) break;
    }
    if (!found) return tl::unexpected(unsuitable("Apple (iOS/macOS)", "IKE", in, kAppleSupports));
    found = false;
    for (const auto& p : parse_all(in.esp_proposals, ProtocolId::ESP, in.allow_legacy)) {
        found = each_esp_combo(p.proposal, true, [&](const EspCombo& k) {
            auto encr = apple_encr(k.encr);
            if (!encr) return false;
            std::string integ;
            if (k.integ) {
                auto h = apple_hash(integ_hash(*k.integ));
                if (!h) return false;
                integ = *h;
            }
            int group = c.ike.dh_group;  // unused without PFS; Apple wants a value
            if (k.pfs) {
                auto g = apple_group(*k.pfs);
                if (!g) return false;
                group = *g;
            }
            c.child = {*encr, integ, group, p.text};
            c.pfs = k.pfs.has_value();
            return true;
        });
        if (found) break;
    }
    if (!found) return tl::unexpected(unsuitable("Apple (iOS/macOS)", "ESP", in, kAppleSupports));
    return c;
}

// ---- Windows

namespace {

std::optional<std::string> windows_cbc(const EncrTransform& e) {
    if (e.id == EncrId::ENCR_AES_CBC) {
        if (e.key_bits == 128) return "AES128";
        if (e.key_bits == 192) return "AES192";
        if (e.key_bits == 256) return "AES256";
    }
    if (e.id == EncrId::ENCR_3DES) return "DES3";
    return std::nullopt;
}

std::optional<std::string> windows_gcm(const EncrTransform& e, bool ike) {
    if (e.id != EncrId::ENCR_AES_GCM_16) return std::nullopt;
    if (e.key_bits == 128) return "GCMAES128";
    if (e.key_bits == 192 && !ike) return "GCMAES192";
    if (e.key_bits == 256) return "GCMAES256";
    return std::nullopt;
}

std::optional<std::string> windows_ike_hash(const std::string& hash) {
    if (hash == "sha256") return "SHA256";
    if (hash == "sha384") return "SHA384";
    if (hash == "sha1") return "SHA1";  // only reachable with allow_legacy_crypto
    return std::nullopt;
}

std::optional<std::string> windows_dh(KeId ke) {
    switch (ke) {
        case KeId::MODP_2048:
            return "Group14";
        case KeId::ECP_256:
            return "ECP256";
        case KeId::ECP_384:
            return "ECP384";
        case KeId::MODP_2048_256:
            return "Group24";
        case KeId::MODP_1024:
            return "Group2";
        default:
            return std::nullopt;
    }
}

std::optional<std::string> windows_pfs(KeId ke) {
    switch (ke) {
        case KeId::MODP_2048:
            return "PFS2048";
        case KeId::ECP_256:
            return "ECP256";
        case KeId::ECP_384:
            return "ECP384";
        case KeId::MODP_2048_256:
            return "PFS24";
        case KeId::MODP_1024:
            return "PFS2";
        default:
            return std::nullopt;
    }
}

}  // namespace

Result<WindowsChoice> choose_windows(const ProfileInput& in) {
    WindowsChoice c;
    // AES-CBC first: Windows 10 has no AES-GCM for the IKE SA (Windows 11 added it), so a
    // GCM IKE proposal is taken only when the server offers nothing else Windows can use.
    bool found = false;
    const auto ike = parse_all(in.ike_proposals, ProtocolId::IKE, in.allow_legacy);
    for (bool gcm : {false, true}) {
        for (const auto& p : ike) {
            found = each_ike_combo(p.proposal, [&](const IkeCombo& k) {
                auto encr = gcm ? windows_gcm(k.encr, true) : windows_cbc(k.encr);
                auto hash = windows_ike_hash(k.integ ? integ_hash(*k.integ) : prf_hash(k.prf));
                auto dh = windows_dh(k.ke);
                if (!encr || !hash || !dh) return false;
                c.encryption_method = *encr;
                c.integrity_check_method = *hash;
                c.dh_group = *dh;
                c.ike_source = p.text;
                c.ike_gcm = gcm;
                return true;
            });
            if (found) break;
        }
        if (found) break;
    }
    if (!found) return tl::unexpected(unsuitable("Windows", "IKE", in, kWindowsSupports));
    found = false;
    for (const auto& p : parse_all(in.esp_proposals, ProtocolId::ESP, in.allow_legacy)) {
        found = each_esp_combo(p.proposal, true, [&](const EspCombo& k) {
            std::string cipher, auth;
            if (auto g = windows_gcm(k.encr, false)) {
                cipher = auth = *g;
            } else if (auto cbc = windows_cbc(k.encr); cbc && k.integ) {
                cipher = *cbc;
                auto h = integ_hash(*k.integ);
                if (h == "sha256") {
                    auth = "SHA256128";
                } else if (h == "sha1") {
                    auth = "SHA196";
                } else {
                    return false;
                }
            } else {
                return false;
            }
            std::string pfs = "None";
            if (k.pfs) {
                auto g = windows_pfs(*k.pfs);
                if (!g) return false;
                pfs = *g;
            }
            c.cipher_transform = cipher;
            c.authentication_transform = auth;
            c.pfs_group = pfs;
            c.esp_source = p.text;
            return true;
        });
        if (found) break;
    }
    if (!found) return tl::unexpected(unsuitable("Windows", "ESP", in, kWindowsSupports));
    return c;
}

// ---- Android's built-in client: fixed proposals (AOSP VpnIkev2Utils, Ikev2VpnProfile)

AndroidNativeCheck check_android_native(const ProfileInput& in) {
    AndroidNativeCheck r;
    auto ke_ok = [](KeId ke) {
        return ke == KeId::MODP_2048 || ke == KeId::MODP_3072 || ke == KeId::MODP_4096 ||
               ke == KeId::CURVE25519;
    };
    for (const auto& p : parse_all(in.ike_proposals, ProtocolId::IKE, in.allow_legacy)) {
        bool ok = false;
        for (const auto& e : p.proposal.encr)
            for (auto ke : p.proposal.ke) {
                if (!ke_ok(ke)) continue;
                bool encr_ok = false, integ_ok = false;
                if (e.id == EncrId::ENCR_AES_GCM_8 || e.id == EncrId::ENCR_AES_GCM_12 ||
                    e.id == EncrId::ENCR_AES_GCM_16 || e.id == EncrId::ENCR_CHACHA20_POLY1305) {
                    encr_ok = integ_ok = true;
                } else if (e.id == EncrId::ENCR_AES_CBC || e.id == EncrId::ENCR_AES_CTR) {
                    encr_ok = true;
                    for (auto i : p.proposal.integ) {
                        auto h = integ_hash(i);
                        integ_ok |= h == "sha256" || h == "sha384" || h == "sha512" ||
                                    i == IntegId::AUTH_AES_XCBC_96 ||
                                    i == IntegId::AUTH_AES_CMAC_96;
                    }
                }
                ok |= encr_ok && integ_ok;
            }
        if (ok) {
            r.ike = p.text;
            break;
        }
    }
    for (const auto& p : parse_all(in.esp_proposals, ProtocolId::ESP, in.allow_legacy)) {
        bool ok = false;
        ok = each_esp_combo(p.proposal, false, [&](const EspCombo& k) {
            if (k.encr.id == EncrId::ENCR_AES_GCM_8 || k.encr.id == EncrId::ENCR_AES_GCM_12 ||
                k.encr.id == EncrId::ENCR_AES_GCM_16)
                return true;
            if (k.encr.id != EncrId::ENCR_AES_CBC || !k.integ) return false;
            auto h = integ_hash(*k.integ);
            return h == "sha256" || h == "sha384" || h == "sha512";
        });
        if (ok) {
            r.esp = p.text;
            break;
        }
    }
    return r;
}

// ---- the strongSwan app takes one proposal string of each kind; it implements everything
// Postern does, so the server's first one is taken as written.

Result<StrongswanChoice> choose_strongswan(const ProfileInput& in) {
    if (in.ike_proposals.empty() || in.esp_proposals.empty())
        return tl::unexpected(
            ProfileError{1, "connection \"" + in.connection + "\" has no proposals"});
    return StrongswanChoice{in.ike_proposals.front(), in.esp_proposals.front()};
}

}  // namespace postern::ctl::profile
