#include "ike/eap/mschapv2.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/provider.h>
#include <openssl/rand.h>

#include "ike/crypto/ossl.hpp"

namespace postern::ike::eap {

namespace {

namespace ossl = crypto::ossl;

// MD4 and DES-ECB fetched once from a library context that has only the legacy provider
// (DESIGN.md: legacy algorithms never enter the default context). Kept for the process's
// lifetime: freeing them from a static destructor could run after OpenSSL's own atexit cleanup.
struct Legacy {
    EVP_MD* md4 = nullptr;
    EVP_CIPHER* des_ecb = nullptr;
    std::string error;
};

const Legacy& legacy() {
    static const Legacy l = [] {
        Legacy out;
        OSSL_LIB_CTX* ctx = OSSL_LIB_CTX_new();
        if (!ctx) {
            out.error = ossl::error("OSSL_LIB_CTX_new");
            return out;
        }
        if (!OSSL_PROVIDER_load(ctx, "legacy")) {
            out.error = ossl::error("MS-CHAPv2 needs OpenSSL's legacy provider (MD4, DES)");
            return out;
        }
        out.md4 = EVP_MD_fetch(ctx, "MD4", nullptr);
        out.des_ecb = EVP_CIPHER_fetch(ctx, "DES-ECB", nullptr);
        if (!out.md4 || !out.des_ecb) out.error = ossl::error("legacy provider: MD4/DES-ECB");
        return out;
    }();
    return l;
}

Result<crypto::Secret> md4(ByteView data) {
    const Legacy& l = legacy();
    if (!l.error.empty()) return tl::unexpected(l.error);
    crypto::Secret out(16);
    unsigned int len = 0;
    if (EVP_Digest(data.data(), data.size(), out.data(), &len, l.md4, nullptr) != 1 || len != 16)
        return tl::unexpected(ossl::error("MD4"));
    return out;
}

// SHA-1 over the concatenation of parts (default context; cannot fail for lack of input).
std::array<std::uint8_t, 20> sha1(std::initializer_list<ByteView> parts) {
    ossl::MdCtx ctx(EVP_MD_CTX_new());
    if (!ctx || EVP_DigestInit_ex(ctx.get(), EVP_sha1(), nullptr) != 1) ossl::fatal("SHA-1 init");
    for (ByteView p : parts) {
        if (!p.empty() && EVP_DigestUpdate(ctx.get(), p.data(), p.size()) != 1)
            ossl::fatal("SHA-1 update");
    }
    std::array<std::uint8_t, 20> out{};
    unsigned int len = 0;
    if (EVP_DigestFinal_ex(ctx.get(), out.data(), &len) != 1 || len != 20) ossl::fatal("SHA-1");
    return out;
}

ByteView text(std::string_view s) {
    return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

// RFC 2759 §8.7 and RFC 3079 §3.4 magic constants.
constexpr std::string_view kAuthMagic1 = "Magic server to client signing constant";
constexpr std::string_view kAuthMagic2 = "Pad to make it do more than one iteration";
constexpr std::string_view kKeyMagic1 = "This is the MPPE Master Key";
constexpr std::string_view kKeyMagic2 =
    "On the client side, this is the send key; on the server side, it is the receive key.";
constexpr std::string_view kKeyMagic3 =
    "On the client side, this is the receive key; on the server side, it is the send key.";

// RFC 2759 §8.6 DesEncrypt's key: 56 bits spread over 8 octets, 7 bits each in the high bits,
// the low bit set for odd parity (OpenSSL ignores parity; it is set for the record).
std::array<std::uint8_t, 8> expand_des_key(ByteView key7) {
    std::uint64_t bits = 0;
    for (std::size_t i = 0; i < 7; ++i)
        bits = bits << 8 | key7[i];
    std::array<std::uint8_t, 8> out{};
    for (std::size_t i = 0; i < 8; ++i) {
        auto b = static_cast<std::uint8_t>((bits >> (49 - 7 * i)) & 0x7f);
        out[i] = static_cast<std::uint8_t>(b << 1 | ((__builtin_popcount(b) & 1) ? 0 : 1));
    }
    return out;
}

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

}  // namespace

Result<crypto::Secret> utf8_to_utf16le(std::string_view s) {
    crypto::Secret out;
    auto put = [&out](std::uint32_t unit) {
        const std::uint8_t le[2] = {static_cast<std::uint8_t>(unit),
                                    static_cast<std::uint8_t>(unit >> 8)};
        out.append(le);
    };
    for (std::size_t i = 0; i < s.size();) {
        const auto c = static_cast<std::uint8_t>(s[i]);
        std::size_t n;
        std::uint32_t cp, min;
        if (c < 0x80) {
            n = 1, cp = c, min = 0;
        } else if ((c & 0xe0) == 0xc0) {
            n = 2, cp = c & 0x1f, min = 0x80;
        } else if ((c & 0xf0) == 0xe0) {
            n = 3, cp = c & 0x0f, min = 0x800;
        } else if ((c & 0xf8) == 0xf0) {
            n = 4, cp = c & 0x07, min = 0x10000;
        } else {
            return tl::unexpected("invalid UTF-8 lead octet at offset " + std::to_string(i));
        }
        if (s.size() - i < n)
            return tl::unexpected("truncated UTF-8 sequence at offset " + std::to_string(i));
        for (std::size_t k = 1; k < n; ++k) {
            const auto cc = static_cast<std::uint8_t>(s[i + k]);
            if ((cc & 0xc0) != 0x80)
                return tl::unexpected("invalid UTF-8 continuation at offset " +
                                      std::to_string(i + k));
            cp = cp << 6 | (cc & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return tl::unexpected("invalid UTF-8 code point at offset " + std::to_string(i));
        if (cp >= 0x10000) {
            cp -= 0x10000;
            put(0xd800 | (cp >> 10));
            put(0xdc00 | (cp & 0x3ff));
        } else {
            put(cp);
        }
        i += n;
    }
    return out;
}

Result<crypto::Secret> nt_password_hash(std::string_view password) {
    auto unicode = utf8_to_utf16le(password);
    if (!unicode) return tl::unexpected("password: " + unicode.error());
    if (unicode->size() / 2 > kMaxPasswordChars)
        return tl::unexpected("password: " + std::to_string(unicode->size() / 2) +
                              " UTF-16 characters > " + std::to_string(kMaxPasswordChars));
    return md4(unicode->view());
}

Result<crypto::Secret> hash_nt_password_hash(ByteView nt_hash) {
    return md4(nt_hash);
}

std::string_view strip_domain(std::string_view user_name) {
    auto at = user_name.rfind('\\');
    return at == std::string_view::npos ? user_name : user_name.substr(at + 1);
}

std::array<std::uint8_t, 8> challenge_hash(const Challenge& peer_challenge,
                                           const Challenge& authenticator_challenge,
                                           std::string_view user_name) {
    auto d = sha1({peer_challenge, authenticator_challenge, text(user_name)});
    std::array<std::uint8_t, 8> out{};
    std::copy_n(d.begin(), 8, out.begin());
    return out;
}

Result<NtResponse> challenge_response(ByteView challenge_hash8, ByteView nt_hash) {
    if (challenge_hash8.size() != 8 || nt_hash.size() != kNtHashSize)
        return tl::unexpected(std::string("ChallengeResponse: wrong input sizes"));
    const Legacy& l = legacy();
    if (!l.error.empty()) return tl::unexpected(l.error);
    crypto::Secret z(21);  // ZPasswordHash: the NT hash padded with 5 zero octets
    std::copy(nt_hash.begin(), nt_hash.end(), z.data());
    NtResponse out{};
    ossl::CipherCtx ctx(EVP_CIPHER_CTX_new());
    if (!ctx) ossl::fatal("EVP_CIPHER_CTX_new");
    for (std::size_t i = 0; i < 3; ++i) {
        auto key = expand_des_key(z.view().subspan(7 * i, 7));
        int len = 0;
        const bool ok =
            EVP_EncryptInit_ex2(ctx.get(), l.des_ecb, key.data(), nullptr, nullptr) == 1 &&
            EVP_CIPHER_CTX_set_padding(ctx.get(), 0) == 1 &&
            EVP_EncryptUpdate(ctx.get(), out.data() + 8 * i, &len, challenge_hash8.data(), 8) ==
                1 &&
            len == 8;
        OPENSSL_cleanse(key.data(), key.size());
        if (!ok) return tl::unexpected(ossl::error("DES-ECB"));
    }
    return out;
}

Result<NtResponse> generate_nt_response(const Challenge& authenticator_challenge,
                                        const Challenge& peer_challenge, std::string_view user_name,
                                        ByteView nt_hash) {
    auto ch = challenge_hash(peer_challenge, authenticator_challenge, user_name);
    return challenge_response(ch, nt_hash);
}

Result<AuthenticatorDigest> authenticator_digest(ByteView nt_hash, const NtResponse& nt_response,
                                                 const Challenge& peer_challenge,
                                                 const Challenge& authenticator_challenge,
                                                 std::string_view user_name) {
    auto hh = hash_nt_password_hash(nt_hash);
    if (!hh) return tl::unexpected(hh.error());
    auto digest = sha1({hh->view(), nt_response, text(kAuthMagic1)});
    auto ch = challenge_hash(peer_challenge, authenticator_challenge, user_name);
    return sha1({digest, ch, text(kAuthMagic2)});
}

Result<std::string> generate_authenticator_response(ByteView nt_hash, const NtResponse& nt_response,
                                                    const Challenge& peer_challenge,
                                                    const Challenge& authenticator_challenge,
                                                    std::string_view user_name) {
    auto d = authenticator_digest(nt_hash, nt_response, peer_challenge, authenticator_challenge,
                                  user_name);
    if (!d) return tl::unexpected(d.error());
    std::string s = "S=";
    static constexpr char kDigits[] = "0123456789ABCDEF";
    for (auto b : *d) {
        s.push_back(kDigits[b >> 4]);
        s.push_back(kDigits[b & 0xf]);
    }
    return s;
}

bool check_authenticator_response(std::string_view received, const AuthenticatorDigest& expected) {
    if (received.size() != 42 || received.substr(0, 2) != "S=") return false;
    AuthenticatorDigest got{};
    for (std::size_t i = 0; i < got.size(); ++i) {
        int hi = hex_value(received[2 + 2 * i]), lo = hex_value(received[3 + 2 * i]);
        if (hi < 0 || lo < 0) return false;
        got[i] = static_cast<std::uint8_t>(hi << 4 | lo);
    }
    return crypto::equal_ct(got, expected);
}

crypto::Secret get_master_key(ByteView password_hash_hash, const NtResponse& nt_response) {
    auto d = sha1({password_hash_hash, nt_response, text(kKeyMagic1)});
    crypto::Secret out(ByteView(d).first(16));
    OPENSSL_cleanse(d.data(), d.size());
    return out;
}

crypto::Secret get_asymmetric_start_key(ByteView master_key, std::size_t length, bool is_send,
                                        bool is_server) {
    static constexpr std::array<std::uint8_t, 40> kShsPad1{};
    static constexpr auto kShsPad2 = [] {
        std::array<std::uint8_t, 40> p{};
        p.fill(0xf2);
        return p;
    }();
    // Magic2 is the client's send key and the server's receive key (RFC 3079 §3.4).
    const std::string_view magic = is_send == is_server ? kKeyMagic3 : kKeyMagic2;
    auto d = sha1({master_key, kShsPad1, text(magic), kShsPad2});
    crypto::Secret out(ByteView(d).first(std::min<std::size_t>(length, d.size())));
    OPENSSL_cleanse(d.data(), d.size());
    return out;
}

Result<crypto::Secret> msk(ByteView nt_hash, const NtResponse& nt_response) {
    auto hh = hash_nt_password_hash(nt_hash);
    if (!hh) return tl::unexpected(hh.error());
    auto master = get_master_key(hh->view(), nt_response);
    // Server's view: receive (Magic2) then send (Magic3), then 32 zero octets (strongSwan).
    crypto::Secret out = get_asymmetric_start_key(master.view(), 16, false, true);
    out.append(get_asymmetric_start_key(master.view(), 16, true, true).view());
    out.resize(kMskSize);
    return out;
}

}  // namespace postern::ike::eap
