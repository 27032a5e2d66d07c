#include "daemon/ctl/profile_model.hpp"

#include <openssl/evp.h>

#include <algorithm>
#include <array>
#include <cstdio>

namespace postern::ctl::profile {

std::string_view to_string(Target t) {
    switch (t) {
        case Target::ios:
            return "ios";
        case Target::macos:
            return "macos";
        case Target::windows:
            return "windows";
        case Target::android:
            return "android";
        case Target::strongswan:
            return "strongswan";
    }
    return "?";
}

std::optional<Target> parse_target(std::string_view text) {
    for (auto t :
         {Target::ios, Target::macos, Target::windows, Target::android, Target::strongswan})
        if (text == to_string(t)) return t;
    return std::nullopt;
}

std::string ProfileInput::display_name() const {
    return "Postern VPN (" + server_address + ")";
}

Result<Profile> generate(Target target, const ProfileInput& in) {
    switch (target) {
        case Target::ios:
            return generate_apple(in, false);
        case Target::macos:
            return generate_apple(in, true);
        case Target::windows:
            return generate_windows(in);
        case Target::android:
            return generate_android(in);
        case Target::strongswan:
            return generate_strongswan(in);
    }
    return tl::unexpected(ProfileError{1, "unknown target"});
}

std::string uuid_v5(std::string_view namespace_uuid, std::string_view name) {
    std::array<unsigned char, 16> ns{};
    std::size_t n = 0;
    for (std::size_t i = 0; i + 1 < namespace_uuid.size() && n < ns.size();) {
        if (namespace_uuid[i] == '-') {
            ++i;
            continue;
        }
        unsigned v = 0;
        std::sscanf(std::string(namespace_uuid.substr(i, 2)).c_str(), "%2x", &v);
        ns[n++] = static_cast<unsigned char>(v);
        i += 2;
    }
    // RFC 4122 §4.3: SHA-1 over the namespace ID (network order) then the name.
    std::array<unsigned char, EVP_MAX_MD_SIZE> md{};
    unsigned int md_len = 0;
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    EVP_DigestInit_ex(ctx, EVP_sha1(), nullptr);
    EVP_DigestUpdate(ctx, ns.data(), ns.size());
    EVP_DigestUpdate(ctx, name.data(), name.size());
    EVP_DigestFinal_ex(ctx, md.data(), &md_len);
    EVP_MD_CTX_free(ctx);
    md[6] = static_cast<unsigned char>((md[6] & 0x0f) | 0x50);  // version 5
    md[8] = static_cast<unsigned char>((md[8] & 0x3f) | 0x80);  // variant RFC 4122
    std::string out;
    char hex[3];
    for (int i = 0; i < 16; ++i) {
        if (i == 4 || i == 6 || i == 8 || i == 10) out += '-';
        std::snprintf(hex, sizeof hex, "%02x", md[static_cast<std::size_t>(i)]);
        out += hex;
    }
    return out;
}

std::string profile_uuid(const ProfileInput& in, std::string_view kind) {
    return uuid_v5(kProfileNamespace,
                   in.server_identity + "\n" + in.user + "\n" + std::string(kind));
}

std::string base64(ByteView data) {
    if (data.empty()) return {};
    std::string out(4 * ((data.size() + 2) / 3) + 1, '\0');
    int len = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                              reinterpret_cast<const unsigned char*>(data.data()),
                              static_cast<int>(data.size()));
    out.resize(static_cast<std::size_t>(len));
    return out;
}

std::string base64_lines(ByteView data, std::size_t width) {
    const std::string b = base64(data);
    std::string out;
    for (std::size_t i = 0; i < b.size(); i += width)
        out += b.substr(i, width) + "\n";
    return out;
}

std::string pem_certificate(ByteView der) {
    return "-----BEGIN CERTIFICATE-----\n" + base64_lines(der, 64) + "-----END CERTIFICATE-----\n";
}

std::string xml_escape(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (char c : text) {
        switch (c) {
            case '&':
                out += "&amp;";
                break;
            case '<':
                out += "&lt;";
                break;
            case '>':
                out += "&gt;";
                break;
            case '"':
                out += "&quot;";
                break;
            case '\'':
                out += "&apos;";
                break;
            default:
                out += c;
        }
    }
    return out;
}

std::string ps_quote(std::string_view text) {
    std::string out = "'";
    for (char c : text) {
        out += c;
        if (c == '\'') out += '\'';
    }
    return out + "'";
}

std::uint32_t client_lifetime_minutes(std::uint32_t server_seconds) {
    const std::uint32_t server = server_seconds / 60;
    const std::uint32_t margin = std::min<std::uint32_t>(30, server / 2);
    return std::clamp<std::uint32_t>(server - margin, 10, 1410);
}

bool full_tunnel(const ProfileInput& in) {
    return in.remote_ts.empty() ||
           std::find(in.remote_ts.begin(), in.remote_ts.end(), "0.0.0.0/0") != in.remote_ts.end();
}

}  // namespace postern::ctl::profile
