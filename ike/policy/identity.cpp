#include "ike/policy/identity.hpp"

#include <algorithm>
#include <cstdio>
#include <memory>
#include <optional>

#include <openssl/asn1.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/x509.h>

#include "postern/net.hpp"

namespace postern::ike::policy {

namespace {

struct NameFree {
    void operator()(X509_NAME* n) const { X509_NAME_free(n); }
};
using Name = std::unique_ptr<X509_NAME, NameFree>;

std::string text_of(ByteView b) {
    return std::string(b.begin(), b.end());
}

Bytes bytes_of(std::string_view s) {
    return Bytes(s.begin(), s.end());
}

char lower(char c) {
    return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

bool iequals(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(),
                                              [](char x, char y) { return lower(x) == lower(y); });
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
        s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
        s.remove_suffix(1);
    return s;
}

bool has_control(ByteView b) {
    return std::any_of(b.begin(), b.end(), [](std::uint8_t c) { return c < 0x20 || c == 0x7f; });
}

// Text for logs and config: control characters as \xNN.
std::string printable(ByteView b) {
    std::string out;
    for (auto c : b) {
        if (c < 0x20 || c == 0x7f) {
            char buf[5];
            std::snprintf(buf, sizeof buf, "\\x%02x", c);
            out += buf;
        } else {
            out.push_back(static_cast<char>(c));
        }
    }
    return out;
}

// A whole DER Name with nothing after it, or nullptr.
Name decode_name(ByteView der) {
    const unsigned char* p = der.data();
    Name n(d2i_X509_NAME(nullptr, &p, static_cast<long>(der.size())));
    if (!n || p != der.data() + der.size()) return nullptr;
    return n;
}

// ---- DN text (RFC 4514 syntax, strongSwan's attribute names) ----

// strongSwan's names where they differ from OpenSSL's short names ("SN" is serialNumber in
// strongSwan, surname in OpenSSL; "E" is the PKCS#9 email address). The first entry for a NID
// is the one printed.
struct AttrName {
    const char* name;
    int nid;
};
constexpr AttrName kAttrNames[] = {
    {"C", NID_countryName},
    {"ST", NID_stateOrProvinceName},
    {"L", NID_localityName},
    {"O", NID_organizationName},
    {"OU", NID_organizationalUnitName},
    {"CN", NID_commonName},
    {"DC", NID_domainComponent},
    {"UID", NID_userId},
    {"E", NID_pkcs9_emailAddress},
    {"Email", NID_pkcs9_emailAddress},
    {"SN", NID_serialNumber},
    {"S", NID_surname},
    {"G", NID_givenName},
    {"T", NID_title},
    {"I", NID_initials},
    {"D", NID_description},
    {"N", NID_name},
    {"STREET", NID_streetAddress},
};

struct DnAttr {
    std::string type;   // as written
    std::string value;  // unescaped
    bool joined = false;
    bool wildcard = false;  // the value was an unescaped "*"
};

// Splits "C=CH, O=Org, CN=a\, b + UID=x" into attributes. Backslash escapes a character or
// gives two hex digits (RFC 4514 §2.4); spaces around types and values are not significant.
tl::expected<std::vector<DnAttr>, std::string> split_dn(std::string_view text) {
    std::vector<DnAttr> out;
    std::size_t i = 0;
    bool joined = false;
    auto fail = [&](const std::string& what) {
        return tl::make_unexpected("DN \"" + std::string(text) + "\": " + what);
    };
    while (true) {
        const auto eq = text.find('=', i);
        if (eq == std::string_view::npos) return fail("attribute without '='");
        DnAttr a;
        a.type = std::string(trim(text.substr(i, eq - i)));
        if (a.type.empty()) return fail("attribute type missing");
        a.joined = joined;
        i = eq + 1;
        while (i < text.size() && text[i] == ' ')
            ++i;
        std::size_t kept = 0;  // length of value up to its last escaped or non-space char
        bool escaped_any = false;
        for (; i < text.size() && text[i] != ',' && text[i] != '+'; ++i) {
            char c = text[i];
            if (c == '\\') {
                if (++i >= text.size()) return fail("'\\' at the end");
                auto hex = [](char h) {
                    return h >= '0' && h <= '9'   ? h - '0'
                           : h >= 'a' && h <= 'f' ? h - 'a' + 10
                           : h >= 'A' && h <= 'F' ? h - 'A' + 10
                                                  : -1;
                };
                c = text[i];
                if (hex(c) >= 0 && i + 1 < text.size() && hex(text[i + 1]) >= 0) {
                    c = static_cast<char>(hex(c) << 4 | hex(text[i + 1]));
                    ++i;
                }
                a.value.push_back(c);
                kept = a.value.size();
                escaped_any = true;
                continue;
            }
            a.value.push_back(c);
            if (c != ' ') kept = a.value.size();
        }
        a.value.resize(kept);
        if (a.value.empty()) return fail("empty value for " + a.type);
        a.wildcard = !escaped_any && a.value == "*";
        out.push_back(std::move(a));
        if (i >= text.size()) break;
        joined = text[i] == '+';
        ++i;
    }
    return out;
}

// The ASN1_OBJECT for an attribute type: strongSwan's names, OpenSSL's names, dotted OIDs.
ASN1_OBJECT* attribute_object(const std::string& type) {
    for (const auto& a : kAttrNames) {
        if (iequals(type, a.name)) return OBJ_nid2obj(a.nid);
    }
    return OBJ_txt2obj(type.c_str(), 0);  // caller frees (nid2obj's static objects too)
}

bool printable_string(std::string_view v) {
    // PrintableString's alphabet (X.680 §41.4), as strongSwan chooses it when it can.
    return std::all_of(v.begin(), v.end(), [](char c) {
        return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
               std::string_view(" '()+,-./:=?").find(c) != std::string_view::npos;
    });
}

tl::expected<Bytes, std::string> encode_dn(std::string_view text) {
    auto attrs = split_dn(text);
    if (!attrs) return tl::make_unexpected(attrs.error());
    Name name(X509_NAME_new());
    if (!name) return tl::make_unexpected(std::string("DN: out of memory"));
    for (const auto& a : *attrs) {
        std::unique_ptr<ASN1_OBJECT, decltype(&ASN1_OBJECT_free)> obj(attribute_object(a.type),
                                                                      ASN1_OBJECT_free);
        if (!obj) {
            return tl::make_unexpected("DN \"" + std::string(text) + "\": unknown attribute " +
                                       a.type);
        }
        const int nid = OBJ_obj2nid(obj.get());
        // emailAddress and domainComponent are IA5String by definition (RFC 5280 App. A).
        int type = V_ASN1_UTF8STRING;
        if (nid == NID_pkcs9_emailAddress || nid == NID_domainComponent)
            type = V_ASN1_IA5STRING;
        else if (printable_string(a.value))
            type = V_ASN1_PRINTABLESTRING;
        const auto* v = reinterpret_cast<const unsigned char*>(a.value.data());
        if (X509_NAME_add_entry_by_OBJ(name.get(), obj.get(), type, v,
                                       static_cast<int>(a.value.size()), -1,
                                       a.joined ? -1 : 0) != 1) {
            return tl::make_unexpected("DN \"" + std::string(text) + "\": cannot add " + a.type);
        }
    }
    int len = i2d_X509_NAME(name.get(), nullptr);
    if (len <= 0) return tl::make_unexpected(std::string("DN: cannot encode"));
    Bytes der(static_cast<std::size_t>(len));
    unsigned char* p = der.data();
    i2d_X509_NAME(name.get(), &p);
    return der;
}

std::string attribute_name(const ASN1_OBJECT* obj) {
    const int nid = OBJ_obj2nid(obj);
    for (const auto& a : kAttrNames) {
        if (a.nid == nid && nid != NID_undef) return a.name;
    }
    if (nid != NID_undef) return OBJ_nid2sn(nid);
    char buf[128];
    OBJ_obj2txt(buf, sizeof buf, obj, 1);
    return buf;
}

// The value of a Name entry as UTF-8, or nullopt for non-string values.
std::optional<std::string> entry_value(const X509_NAME_ENTRY* e) {
    unsigned char* utf8 = nullptr;
    const int len = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(e));
    if (len < 0) return std::nullopt;
    std::string v(reinterpret_cast<char*>(utf8), static_cast<std::size_t>(len));
    OPENSSL_free(utf8);
    return v;
}

// RFC 4514 §2.4 escaping, plus control characters as \XX.
std::string escape_value(std::string_view v) {
    std::string out;
    for (std::size_t i = 0; i < v.size(); ++i) {
        const auto c = static_cast<unsigned char>(v[i]);
        const bool special =
            std::string_view(",+\"\\<>;=").find(static_cast<char>(c)) != std::string_view::npos ||
            (i == 0 && (c == '#' || c == ' ')) || (i + 1 == v.size() && c == ' ');
        if (c < 0x20 || c == 0x7f) {
            char buf[4];
            std::snprintf(buf, sizeof buf, "\\%02X", c);
            out += buf;
        } else {
            if (special) out.push_back('\\');
            out.push_back(static_cast<char>(c));
        }
    }
    // A lone "*" would read back as a pattern wildcard.
    if (out == "*") out = "\\*";
    return out;
}

std::optional<std::string> dn_text(ByteView der) {
    Name name = decode_name(der);
    if (!name) return std::nullopt;
    std::string out;
    const int n = X509_NAME_entry_count(name.get());
    for (int i = 0; i < n; ++i) {
        const X509_NAME_ENTRY* e = X509_NAME_get_entry(name.get(), i);
        if (i > 0) {
            const bool joined = X509_NAME_ENTRY_set(e) ==
                                X509_NAME_ENTRY_set(X509_NAME_get_entry(name.get(), i - 1));
            out += joined ? " + " : ", ";
        }
        out += attribute_name(X509_NAME_ENTRY_get_object(e)) + "=";
        auto v = entry_value(e);
        if (v) {
            out += escape_value(*v);
        } else {
            const ASN1_STRING* d = X509_NAME_ENTRY_get_data(e);
            out += "#" + to_hex(ByteView(ASN1_STRING_get0_data(d),
                                         static_cast<std::size_t>(ASN1_STRING_length(d))));
        }
    }
    return out;
}

std::string oid_text(const ASN1_OBJECT* obj) {
    char buf[128];
    OBJ_obj2txt(buf, sizeof buf, obj, 1);
    return buf;
}

Bytes sha1(ByteView data) {
    Bytes out(20);
    if (!EVP_Digest(data.data(), data.size(), out.data(), nullptr, EVP_sha1(), nullptr)) return {};
    return out;
}

}  // namespace

// ---- Identity ----

tl::expected<Identity, std::string> parse_identity(std::string_view config_text) {
    const std::string_view t = trim(config_text);
    auto fail = [&](const std::string& why) {
        return tl::make_unexpected("identity \"" + std::string(config_text) + "\": " + why);
    };
    if (t.empty()) return fail("empty");
    if (t == "%any") return fail("%any is a pattern, not an identity");
    if (has_control(bytes_of(t))) return fail("control characters");

    auto key_id = [&](std::string_view hex) -> tl::expected<Identity, std::string> {
        Bytes b;
        if (hex.empty() || !from_hex(hex, b)) return fail("key id must be non-empty hex");
        return Identity{IdType::ID_KEY_ID, std::move(b)};
    };
    if (t.starts_with("keyid:")) return key_id(t.substr(6));
    if (t.starts_with("@#")) return key_id(t.substr(2));
    if (t.starts_with("@@")) {
        if (t.size() == 2) return fail("nothing after @@");
        return Identity{IdType::ID_RFC822_ADDR, bytes_of(t.substr(2))};
    }
    if (t.starts_with('@')) {
        if (t.size() == 1) return fail("nothing after @");
        return Identity{IdType::ID_FQDN, bytes_of(t.substr(1))};
    }
    if (t.find('=') != std::string_view::npos) {
        auto der = encode_dn(t);
        if (!der) return tl::make_unexpected(der.error());
        return Identity{IdType::ID_DER_ASN1_DN, std::move(*der)};
    }
    if (t.find('@') != std::string_view::npos) return Identity{IdType::ID_RFC822_ADDR, bytes_of(t)};
    if (auto ip = IpAddress::parse(t)) {
        const auto b = ip->bytes();
        return Identity{ip->is_v4() ? IdType::ID_IPV4_ADDR : IdType::ID_IPV6_ADDR,
                        Bytes(b.begin(), b.end())};
    }
    return Identity{IdType::ID_FQDN, bytes_of(t)};
}

tl::expected<void, std::string> check_received_identity(const Identity& id) {
    const auto n = std::to_string(id.data.size());
    auto fail = [&](const std::string& why) {
        return tl::make_unexpected(to_string(id.type) + ": " + why);
    };
    switch (id.type) {
        case IdType::ID_IPV4_ADDR:
            if (id.data.size() != 4) return fail(n + " octets, not 4");
            return {};
        case IdType::ID_IPV6_ADDR:
            if (id.data.size() != 16) return fail(n + " octets, not 16");
            return {};
        case IdType::ID_FQDN:
        case IdType::ID_RFC822_ADDR:
            if (id.data.empty()) return fail("empty");
            // §3.5: "without any terminators (e.g., NULL, CR, etc.)".
            if (has_control(id.data)) return fail("contains control characters");
            return {};
        case IdType::ID_DER_ASN1_DN:
            if (!decode_name(id.data)) return fail("not a DER Name (" + n + " octets)");
            return {};
        case IdType::ID_KEY_ID:
            if (id.data.empty()) return fail("empty");
            return {};
        case IdType::ID_NULL:
            // RFC 7619 §3.1: the identification data MUST be empty.
            if (!id.data.empty()) return fail(n + " octets, must be empty");
            return {};
        case IdType::ID_DER_ASN1_GN:
        case IdType::ID_FC_NAME:
            return {};
    }
    return fail("unknown ID type");
}

std::string to_string(const Identity& id) {
    auto invalid = [&] { return "(invalid " + to_string(id.type) + " " + to_hex(id.data) + ")"; };
    switch (id.type) {
        case IdType::ID_FQDN:
        case IdType::ID_RFC822_ADDR: {
            const std::string text = printable(id.data);
            // Prefix with @ / @@ when the bare text would read back as another type.
            auto back = parse_identity(text);
            if (back && *back == id) return text;
            return (id.type == IdType::ID_FQDN ? "@" : "@@") + text;
        }
        case IdType::ID_IPV4_ADDR:
        case IdType::ID_IPV6_ADDR: {
            const std::size_t want = id.type == IdType::ID_IPV4_ADDR ? 4 : 16;
            if (id.data.size() != want) return invalid();
            return IpAddress::from_bytes(id.data)->to_string();
        }
        case IdType::ID_DER_ASN1_DN: {
            auto text = dn_text(id.data);
            return text ? *text : invalid();
        }
        case IdType::ID_KEY_ID:
            return "keyid:" + to_hex(id.data);
        default:
            return to_string(id.type) + ":" + to_hex(id.data);
    }
}

bool same_identity(const Identity& a, const Identity& b) {
    if (a.type != b.type) return false;
    switch (a.type) {
        case IdType::ID_FQDN:
        case IdType::ID_RFC822_ADDR:
            return iequals(text_of(a.data), text_of(b.data));
        case IdType::ID_DER_ASN1_DN: {
            if (a.data == b.data) return true;
            Name x = decode_name(a.data), y = decode_name(b.data);
            return x && y && X509_NAME_cmp(x.get(), y.get()) == 0;
        }
        default:
            return a.data == b.data;
    }
}

// ---- IdentityPattern ----

tl::expected<IdentityPattern, std::string> IdentityPattern::parse(std::string_view text) {
    IdentityPattern p;
    const std::string_view t = trim(text);
    p.text_ = std::string(t);
    if (t == "%any") return p;
    auto fail = [&](const std::string& why) {
        return tl::make_unexpected("identity pattern \"" + std::string(text) + "\": " + why);
    };
    if (t.find('=') != std::string_view::npos && !t.starts_with('@') && !t.starts_with("keyid:")) {
        auto attrs = split_dn(t);
        if (!attrs) return tl::make_unexpected(attrs.error());
        const bool wild =
            std::any_of(attrs->begin(), attrs->end(), [](const DnAttr& a) { return a.wildcard; });
        if (wild) {
            p.kind_ = Kind::dn_wildcard;
            for (const auto& a : *attrs) {
                std::unique_ptr<ASN1_OBJECT, decltype(&ASN1_OBJECT_free)> obj(
                    attribute_object(a.type), ASN1_OBJECT_free);
                if (!obj) return fail("unknown attribute " + a.type);
                p.rdns_.push_back({oid_text(obj.get()), a.value, a.wildcard, a.joined});
            }
            return p;
        }
    } else if (t.starts_with("*.")) {
        if (t.size() == 2) return fail("nothing after *.");
        p.kind_ = Kind::fqdn_suffix;
        p.suffix_ = std::string(t.substr(1));
        return p;
    } else if (t.starts_with("*@")) {
        if (t.size() == 2) return fail("nothing after *@");
        p.kind_ = Kind::rfc822_domain;
        p.suffix_ = std::string(t.substr(1));
        return p;
    } else if (t.starts_with('*')) {
        return fail("wildcards are \"*.domain\", \"*@domain\" or a DN value \"*\"; use %any");
    }
    auto id = parse_identity(t);
    if (!id) return tl::make_unexpected(id.error());
    p.kind_ = Kind::exact;
    p.exact_ = std::move(*id);
    return p;
}

bool IdentityPattern::matches(const Identity& id) const {
    switch (kind_) {
        case Kind::any:
            return true;
        case Kind::exact:
            return same_identity(exact_, id);
        case Kind::fqdn_suffix:
        case Kind::rfc822_domain: {
            const auto want = kind_ == Kind::fqdn_suffix ? IdType::ID_FQDN : IdType::ID_RFC822_ADDR;
            if (id.type != want || id.data.size() <= suffix_.size()) return false;
            const std::string s = text_of(id.data);
            return iequals(std::string_view(s).substr(s.size() - suffix_.size()), suffix_);
        }
        case Kind::dn_wildcard: {
            if (id.type != IdType::ID_DER_ASN1_DN) return false;
            Name name = decode_name(id.data);
            if (!name) return false;
            const int n = X509_NAME_entry_count(name.get());
            if (n != static_cast<int>(rdns_.size())) return false;
            for (int i = 0; i < n; ++i) {
                const X509_NAME_ENTRY* e = X509_NAME_get_entry(name.get(), i);
                const auto& want = rdns_[static_cast<std::size_t>(i)];
                if (oid_text(X509_NAME_ENTRY_get_object(e)) != want.oid) return false;
                const bool joined =
                    i > 0 && X509_NAME_ENTRY_set(e) ==
                                 X509_NAME_ENTRY_set(X509_NAME_get_entry(name.get(), i - 1));
                if (joined != want.joined) return false;
                if (want.wildcard) continue;
                auto v = entry_value(e);
                if (!v || !iequals(*v, want.value)) return false;
            }
            return true;
        }
    }
    return false;
}

int IdentityPattern::specificity() const {
    switch (kind_) {
        case Kind::any:
            return kAny;
        case Kind::exact:
            return kExact;
        case Kind::fqdn_suffix:
        case Kind::rfc822_domain:
            return kWildcard + static_cast<int>(std::min<std::size_t>(suffix_.size(), 10000));
        case Kind::dn_wildcard:
            return kWildcard +
                   static_cast<int>(std::count_if(rdns_.begin(), rdns_.end(),
                                                  [](const Rdn& r) { return !r.wildcard; }));
    }
    return kAny;
}

// ---- certificates ----

bool certificate_matches_identity(const crypto::Certificate& cert, const Identity& id) {
    const std::string text = text_of(id.data);
    auto any_iequal = [&](const std::vector<std::string>& names) {
        return std::any_of(names.begin(), names.end(),
                           [&](const std::string& n) { return iequals(n, text); });
    };
    switch (id.type) {
        case IdType::ID_FQDN:
            return !id.data.empty() && any_iequal(cert.dns_names());
        case IdType::ID_RFC822_ADDR:
            return !id.data.empty() && any_iequal(cert.rfc822_names());
        case IdType::ID_IPV4_ADDR:
        case IdType::ID_IPV6_ADDR: {
            const std::size_t want = id.type == IdType::ID_IPV4_ADDR ? 4 : 16;
            if (id.data.size() != want) return false;
            auto ips = cert.ip_addresses();
            return std::find(ips.begin(), ips.end(), id.data) != ips.end();
        }
        case IdType::ID_DER_ASN1_DN: {
            Name name = decode_name(id.data);
            return name && X509_NAME_cmp(name.get(), X509_get_subject_name(cert.get())) == 0;
        }
        case IdType::ID_KEY_ID: {
            if (id.data.empty()) return false;
            return id.data == sha1(cert.public_key_bits()) || id.data == sha1(cert.spki_der()) ||
                   id.data == cert.subject_key_identifier() || id.data == sha1(cert.der());
        }
        default:
            return false;
    }
}

}  // namespace postern::ike::policy
