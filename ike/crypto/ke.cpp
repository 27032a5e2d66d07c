#include "ike/crypto/ke.hpp"
#include "ike/crypto/ke_pool.hpp"

#include <algorithm>
#include <array>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/dh.h>
#include <openssl/param_build.h>

#include "ike/crypto/modp_groups.hpp"

namespace postern::ike::crypto {

namespace {

struct ParamBldFree {
    void operator()(OSSL_PARAM_BLD* b) const { OSSL_PARAM_BLD_free(b); }
};
struct ParamFree {
    void operator()(OSSL_PARAM* p) const { OSSL_PARAM_free(p); }
};
using ParamBld = std::unique_ptr<OSSL_PARAM_BLD, ParamBldFree>;
using Params = std::unique_ptr<OSSL_PARAM, ParamFree>;

std::string name_of(const KeInfo& info) {
    return std::string(info.name);
}

// ---- MODP ---------------------------------------------------------------------------------

ossl::Bn modp_prime(KeId id) {
    std::string hex(modp_prime_hex(id));
    BIGNUM* p = nullptr;
    if (hex.empty() || BN_hex2bn(&p, hex.c_str()) == 0) ossl::fatal("MODP prime table");
    return ossl::Bn(p);
}

// A DH EVP_PKEY from the group (p, g = 2) and optionally a public and a private value.
tl::expected<ossl::Pkey, std::string> modp_pkey(const BIGNUM* p, const BIGNUM* pub,
                                                const BIGNUM* priv, int selection) {
    ossl::Bn g(BN_new());
    if (!g || BN_set_word(g.get(), kModpGenerator) != 1) ossl::fatal("BN_set_word");
    ParamBld bld(OSSL_PARAM_BLD_new());
    if (!bld || !OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_FFC_P, p) ||
        !OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_FFC_G, g.get()) ||
        (pub && !OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, pub)) ||
        (priv && !OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_PRIV_KEY, priv)))
        ossl::fatal("OSSL_PARAM_BLD_push_BN");
    Params params(OSSL_PARAM_BLD_to_param(bld.get()));
    ossl::PkeyCtx ctx(EVP_PKEY_CTX_new_from_name(nullptr, "DH", nullptr));
    EVP_PKEY* out = nullptr;
    if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
        EVP_PKEY_fromdata(ctx.get(), &out, selection, params.get()) != 1)
        return tl::make_unexpected(ossl::error("building the DH key"));
    return ossl::Pkey(out);
}

Bytes bn_padded(const BIGNUM* v, std::size_t size) {
    Bytes out(size);
    if (BN_bn2binpad(v, out.data(), static_cast<int>(size)) < 0) ossl::fatal("BN_bn2binpad");
    return out;
}

// ---- ECP ----------------------------------------------------------------------------------

struct Curve {
    KeId id;
    const char* group;                 // OpenSSL group name
    std::array<std::uint8_t, 10> oid;  // DER OBJECT IDENTIFIER (tag, length, content)
    std::size_t oid_len;
};

constexpr std::array kCurves = {
    Curve{KeId::ECP_256,
          "prime256v1",
          {0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07},
          10},
    Curve{KeId::ECP_384, "secp384r1", {0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22}, 7},
    Curve{KeId::ECP_521, "secp521r1", {0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x23}, 7},
};

const Curve& curve_of(KeId id) {
    for (const auto& c : kCurves)
        if (c.id == id) return c;
    ossl::fatal("curve table");
}

// The public key of an EC EVP_PKEY as x | y (the uncompressed SEC1 point without 0x04).
tl::expected<Bytes, std::string> ecp_public(EVP_PKEY* key, std::size_t size) {
    Bytes point(size + 1);
    std::size_t len = 0;
    if (EVP_PKEY_get_octet_string_param(key, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, point.data(),
                                        point.size(), &len) != 1 ||
        len != point.size() || point[0] != 0x04)
        return tl::make_unexpected(ossl::error("encoding the EC public key"));
    return Bytes(point.begin() + 1, point.end());
}

// ---- X25519 / X448 ------------------------------------------------------------------------

int ecx_type(KeId id) {
    return id == KeId::CURVE25519 ? EVP_PKEY_X25519 : EVP_PKEY_X448;
}
const char* ecx_name(KeId id) {
    return id == KeId::CURVE25519 ? "X25519" : "X448";
}

tl::expected<Bytes, std::string> ecx_public(EVP_PKEY* key, std::size_t size) {
    Bytes pub(size);
    std::size_t len = size;
    if (EVP_PKEY_get_raw_public_key(key, pub.data(), &len) != 1 || len != size)
        return tl::make_unexpected(ossl::error("reading the public key"));
    return pub;
}

// EVP_PKEY_derive with our key and the peer's; out is sized to the expected length.
// `validate`: OpenSSL checks the peer key first (MODP). The callers of the other families
// have checked it already (ECP: a full public key check; X25519/X448 have no invalid encoding,
// and the all-zero result of a low-order point fails the derive itself): checking again cost
// 1.3 us of OpenSSL's method lookups per handshake.
tl::expected<Secret, std::string> derive(EVP_PKEY* ours, EVP_PKEY* peer, std::size_t size,
                                         bool dh_pad, bool validate) {
    ossl::PkeyCtx ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, ours, nullptr));
    if (!ctx || EVP_PKEY_derive_init(ctx.get()) != 1)
        return tl::make_unexpected(ossl::error("key exchange: derive init"));
    // RFC 7296 §2.14: g^ir is padded with zeros to the prime length for MODP groups.
    if (dh_pad && EVP_PKEY_CTX_set_dh_pad(ctx.get(), 1) != 1)
        return tl::make_unexpected(ossl::error("key exchange: DH padding"));
    if (EVP_PKEY_derive_set_peer_ex(ctx.get(), peer, validate ? 1 : 0) != 1)
        return tl::make_unexpected(ossl::error("peer public value rejected"));
    Secret out(size);
    std::size_t len = size;
    if (EVP_PKEY_derive(ctx.get(), out.data(), &len) != 1)
        return tl::make_unexpected(ossl::error("key exchange failed"));
    if (len != size) {
        return tl::make_unexpected("key exchange produced " + std::to_string(len) +
                                   " octets, expected " + std::to_string(size));
    }
    return out;
}

// The peer's X25519 or X448 public value as a key, through an import context kept per thread
// and method: EVP_PKEY_new_raw_public_key looks the key manager up by name on every call
// (3.2 us against 1.6).
ossl::Pkey ecx_public_key(KeId id, ByteView pub) {
    thread_local ossl::PkeyCtx x25519, x448;
    ossl::PkeyCtx& ctx = id == KeId::CURVE25519 ? x25519 : x448;
    if (!ctx) {
        ctx.reset(EVP_PKEY_CTX_new_from_name(nullptr, ecx_name(id), nullptr));
        if (!ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1) ossl::fatal("X25519/X448 import");
    }
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY,
                                          const_cast<std::uint8_t*>(pub.data()), pub.size()),
        OSSL_PARAM_construct_end(),
    };
    EVP_PKEY* key = nullptr;
    if (EVP_PKEY_fromdata(ctx.get(), &key, EVP_PKEY_PUBLIC_KEY, params) != 1) return nullptr;
    return ossl::Pkey(key);
}

bool all_zero(ByteView b) {
    // Accumulate without branching on secret bytes.
    std::uint8_t acc = 0;
    for (auto x : b)
        acc |= x;
    return acc == 0;
}

}  // namespace

tl::expected<KeyExchange, std::string> KeyExchange::generate(KeId id) {
    if (KeySharePool* pool = KeySharePool::installed())
        if (auto ready = pool->take(id)) return std::move(*ready);
    return generate_now(id);
}

tl::expected<KeyExchange, std::string> KeyExchange::generate_now(KeId id) {
    const KeInfo* info = find_ke(id);
    if (!info) return tl::make_unexpected("unsupported key exchange method " + to_string(id));

    EVP_PKEY* key = nullptr;
    switch (info->family) {
        case KeFamily::modp: {
            ossl::Bn p = modp_prime(id);
            auto params = modp_pkey(p.get(), nullptr, nullptr, EVP_PKEY_KEY_PARAMETERS);
            if (!params) return tl::make_unexpected(params.error());
            ossl::PkeyCtx ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, params->get(), nullptr));
            if (!ctx || EVP_PKEY_keygen_init(ctx.get()) != 1 ||
                EVP_PKEY_keygen(ctx.get(), &key) != 1)
                return tl::make_unexpected(ossl::error(name_of(*info) + " key generation"));
            ossl::Pkey owned(key);
            BIGNUM* pub = nullptr;
            if (EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_PUB_KEY, &pub) != 1)
                return tl::make_unexpected(ossl::error("reading the DH public value"));
            ossl::Bn pub_owned(pub);
            return KeyExchange(*info, std::move(owned), bn_padded(pub, info->public_size));
        }
        case KeFamily::ecp: {
            key = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", curve_of(id).group);
            if (!key) return tl::make_unexpected(ossl::error(name_of(*info) + " key generation"));
            ossl::Pkey owned(key);
            auto pub = ecp_public(key, info->public_size);
            if (!pub) return tl::make_unexpected(pub.error());
            return KeyExchange(*info, std::move(owned), std::move(*pub));
        }
        case KeFamily::ecx: {
            // A key generation context kept per thread and method (the key share filler's
            // thread makes them all): EVP_PKEY_Q_keygen builds one each time.
            thread_local ossl::PkeyCtx x25519, x448;
            ossl::PkeyCtx& ctx = id == KeId::CURVE25519 ? x25519 : x448;
            if (!ctx) {
                ctx.reset(EVP_PKEY_CTX_new_from_name(nullptr, ecx_name(id), nullptr));
                if (ctx && EVP_PKEY_keygen_init(ctx.get()) != 1) ctx.reset();
            }
            if (!ctx || EVP_PKEY_keygen(ctx.get(), &key) != 1)
                return tl::make_unexpected(ossl::error(name_of(*info) + " key generation"));
            ossl::Pkey owned(key);
            auto pub = ecx_public(key, info->public_size);
            if (!pub) return tl::make_unexpected(pub.error());
            return KeyExchange(*info, std::move(owned), std::move(*pub));
        }
    }
    return tl::make_unexpected("unsupported key exchange method " + to_string(id));
}

tl::expected<KeyExchange, std::string> KeyExchange::from_private(KeId id, ByteView priv) {
    const KeInfo* info = find_ke(id);
    if (!info) return tl::make_unexpected("unsupported key exchange method " + to_string(id));

    switch (info->family) {
        case KeFamily::modp: {
            ossl::Bn p = modp_prime(id);
            ossl::Bn x(BN_bin2bn(priv.data(), static_cast<int>(priv.size()), nullptr));
            ossl::Bn y(BN_new());
            BN_CTX* bn_ctx = BN_CTX_new();
            if (!x || !y || !bn_ctx) ossl::fatal("BN_new");
            if (BN_is_zero(x.get()) || BN_cmp(x.get(), p.get()) >= 0) {
                BN_CTX_free(bn_ctx);
                return tl::make_unexpected(name_of(*info) + " private exponent out of range");
            }
            ossl::Bn g(BN_new());
            BN_set_word(g.get(), kModpGenerator);
            // y = g^x mod p with OpenSSL's constant-time modular exponentiation: OpenSSL does not
            // derive the public value when a DH key is imported from a private value alone.
            const int ok =
                BN_mod_exp_mont_consttime(y.get(), g.get(), x.get(), p.get(), bn_ctx, nullptr);
            BN_CTX_free(bn_ctx);
            if (ok != 1) return tl::make_unexpected(ossl::error("computing g^x"));
            auto key = modp_pkey(p.get(), y.get(), x.get(), EVP_PKEY_KEYPAIR);
            if (!key) return tl::make_unexpected(key.error());
            return KeyExchange(*info, std::move(*key), bn_padded(y.get(), info->public_size));
        }
        case KeFamily::ecp: {
            // Strip leading zeros, then left-pad to the order size (= the field size for these
            // curves). The key is imported as an SEC1 ECPrivateKey without the optional public
            // key, which makes OpenSSL compute the public point (RFC 5915 §3).
            const std::size_t n = info->shared_size;
            std::size_t skip = 0;
            while (skip < priv.size() && priv[skip] == 0)
                ++skip;
            if (priv.size() - skip > n || skip == priv.size())
                return tl::make_unexpected(name_of(*info) + " private scalar out of range");
            const Curve& c = curve_of(id);
            // SEQUENCE { INTEGER 1, OCTET STRING d, [0] { OID } }; all lengths < 128.
            const std::size_t body = 3 + 2 + n + 2 + c.oid_len;
            Secret der(2 + body);
            std::uint8_t* w = der.data();
            *w++ = 0x30;
            *w++ = static_cast<std::uint8_t>(body);
            *w++ = 0x02, *w++ = 0x01, *w++ = 0x01;
            *w++ = 0x04;
            *w++ = static_cast<std::uint8_t>(n);
            w += n - (priv.size() - skip);  // zero padding (Secret starts zeroed)
            w = std::copy(priv.begin() + static_cast<std::ptrdiff_t>(skip), priv.end(), w);
            *w++ = 0xa0;
            *w++ = static_cast<std::uint8_t>(c.oid_len);
            std::copy_n(c.oid.begin(), c.oid_len, w);
            const unsigned char* in = der.data();
            EVP_PKEY* key =
                d2i_PrivateKey(EVP_PKEY_EC, nullptr, &in, static_cast<long>(der.size()));
            if (!key) return tl::make_unexpected(ossl::error(name_of(*info) + " private scalar"));
            ossl::Pkey owned(key);
            auto pub = ecp_public(key, info->public_size);
            if (!pub) return tl::make_unexpected(pub.error());
            return KeyExchange(*info, std::move(owned), std::move(*pub));
        }
        case KeFamily::ecx: {
            if (priv.size() != info->shared_size) {
                return tl::make_unexpected(name_of(*info) + " private key must be " +
                                           std::to_string(info->shared_size) + " octets, not " +
                                           std::to_string(priv.size()));
            }
            EVP_PKEY* key =
                EVP_PKEY_new_raw_private_key(ecx_type(id), nullptr, priv.data(), priv.size());
            if (!key) return tl::make_unexpected(ossl::error(name_of(*info) + " private key"));
            ossl::Pkey owned(key);
            auto pub = ecx_public(key, info->public_size);
            if (!pub) return tl::make_unexpected(pub.error());
            return KeyExchange(*info, std::move(owned), std::move(*pub));
        }
    }
    return tl::make_unexpected("unsupported key exchange method " + to_string(id));
}

tl::expected<Secret, std::string> KeyExchange::shared_secret(ByteView peer) const {
    const std::string name = name_of(*info_);
    if (peer.size() != info_->public_size) {
        return tl::make_unexpected(name + " public value must be " +
                                   std::to_string(info_->public_size) + " octets, got " +
                                   std::to_string(peer.size()));
    }
    switch (info_->family) {
        case KeFamily::modp: {
            ossl::Bn p = modp_prime(info_->id);
            ossl::Bn y(BN_bin2bn(peer.data(), static_cast<int>(peer.size()), nullptr));
            ossl::Bn p_minus_1(BN_dup(p.get()));
            if (!y || !p_minus_1 || BN_sub_word(p_minus_1.get(), 1) != 1) ossl::fatal("BN");
            // RFC 8247 §2.4 / NIST SP 800-56A: 1 < y < p-1 rules out the values that force g^ir
            // into {0, 1, p-1}.
            if (BN_cmp(y.get(), BN_value_one()) <= 0 || BN_cmp(y.get(), p_minus_1.get()) >= 0)
                return tl::make_unexpected(name + " public value is not in the range 1 < y < p-1");
            auto peer_key = modp_pkey(p.get(), y.get(), nullptr, EVP_PKEY_PUBLIC_KEY);
            if (!peer_key) return tl::make_unexpected(peer_key.error());
            return derive(key_.get(), peer_key->get(), info_->shared_size, true, true);
        }
        case KeFamily::ecp: {
            Bytes point(1 + peer.size());
            point[0] = 0x04;  // RFC 5903 §7: the KE data is x | y, the SEC1 uncompressed point body
            std::copy(peer.begin(), peer.end(), point.begin() + 1);
            ParamBld bld(OSSL_PARAM_BLD_new());
            const char* group = curve_of(info_->id).group;
            if (!bld ||
                !OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, group, 0) ||
                !OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(),
                                                  point.size()))
                ossl::fatal("OSSL_PARAM_BLD");
            Params params(OSSL_PARAM_BLD_to_param(bld.get()));
            ossl::PkeyCtx ctx(EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr));
            EVP_PKEY* raw = nullptr;
            // Import decodes the point and refuses one that is not on the curve or whose
            // coordinates are not below the field prime.
            if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
                EVP_PKEY_fromdata(ctx.get(), &raw, EVP_PKEY_PUBLIC_KEY, params.get()) != 1)
                return tl::make_unexpected(
                    ossl::error(name + " public value is not a point on the curve"));
            ossl::Pkey peer_key(raw);
            ossl::PkeyCtx check(EVP_PKEY_CTX_new_from_pkey(nullptr, raw, nullptr));
            // Full public key validation: not infinity, on the curve, of the right order.
            if (!check || EVP_PKEY_public_check(check.get()) != 1)
                return tl::make_unexpected(ossl::error(name + " public value failed validation"));
            return derive(key_.get(), raw, info_->shared_size, false, false);
        }
        case KeFamily::ecx: {
            auto peer_key = ecx_public_key(info_->id, peer);
            if (!peer_key) return tl::make_unexpected(ossl::error(name + " public value"));
            auto shared = derive(key_.get(), peer_key.get(), info_->shared_size, false, false);
            // RFC 7748 §6.1: a low-order peer value yields the all-zero secret, which must be
            // refused. OpenSSL's X25519 already fails then; check again so the reason is clear.
            if (!shared) {
                ossl::clear_errors();
                return tl::make_unexpected(name +
                                           " public value is of low order (shared secret "
                                           "would be all zero)");
            }
            if (all_zero(shared->view()))
                return tl::make_unexpected(name + " shared secret is all zero (low-order point)");
            return shared;
        }
    }
    return tl::make_unexpected("unsupported key exchange method");
}

}  // namespace postern::ike::crypto
