// Shared by the profile_*_test.cpp files: ProfileInputs for a GCM-first and a CBC-only server,
// the test PKI's files, and a small XML property-list reader (enough to check an Apple profile
// structurally: it refuses anything that is not well-formed plist).
#pragma once

#include <cstdint>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "daemon/ctl/profile_model.hpp"
#include "ike/crypto/x509.hpp"

namespace postern::ctl::profile::test {

inline std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::runtime_error("cannot read " + path);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

inline std::string pki(const std::string& name) {
    return std::string(POSTERN_SOURCE_DIR) + "/tests/data/pki/" + name;
}

inline ike::crypto::Certificate root_ca() {
    return *ike::crypto::Certificate::from_pem(read_file(pki("root-ca.pem")));
}

// A server like conf/postern.toml's (AES-GCM first), serving EAP-MSCHAPv2.
inline ProfileInput gcm_input(std::string user = "alice") {
    ProfileInput in;
    in.user = std::move(user);
    in.connection = "rw";
    in.server_identity = "vpn.postern.test";
    in.server_address = "vpn.postern.test";
    in.ike_proposals = {"aes256gcm16-prfsha256-ecp256", "aes256-sha256-ecp256",
                        "aes256-sha256-modp2048", "aes256gcm16-prfsha256-x25519"};
    in.esp_proposals = {"aes256gcm16", "aes128gcm16", "chacha20poly1305", "aes256-sha256"};
    const auto ca = root_ca();
    in.ca_der = ca.der();
    in.ca_subject = ca.subject_text();
    in.ca_common_name = "Postern Test Root CA";
    in.server_cert_cn = "vpn.postern.test";
    in.server_cert_issuer_cn = "Postern Test Intermediate CA";
    return in;
}

// A server with AES-CBC proposals only.
inline ProfileInput cbc_input(std::string user = "bob") {
    ProfileInput in = gcm_input(std::move(user));
    in.ike_proposals = {"aes128-sha384-modp2048"};
    in.esp_proposals = {"aes128-sha256"};
    return in;
}

// ---- a minimal plist reader

struct PValue;
using PDict = std::map<std::string, PValue>;
using PArray = std::vector<PValue>;
struct PValue {
    std::variant<std::string, std::int64_t, bool, PDict, PArray> v;
    std::string data;  // base64 text of <data>, whitespace removed
    bool is_data = false;
    const PDict& dict() const { return std::get<PDict>(v); }
    const PArray& array() const { return std::get<PArray>(v); }
    const std::string& str() const { return std::get<std::string>(v); }
    std::int64_t integer() const { return std::get<std::int64_t>(v); }
    const PValue& operator[](const std::string& key) const {
        auto it = dict().find(key);
        if (it == dict().end()) throw std::runtime_error("no key " + key);
        return it->second;
    }
    bool has(const std::string& key) const { return dict().count(key) != 0; }
};

class PlistReader {
  public:
    explicit PlistReader(std::string_view text) : s_(text) {}

    PValue parse() {
        skip_prolog();
        expect("<plist version=\"1.0\">");
        PValue v = value();
        expect("</plist>");
        ws();
        if (pos_ != s_.size()) fail("text after </plist>");
        return v;
    }

  private:
    [[noreturn]] void fail(const std::string& what) {
        throw std::runtime_error("plist: " + what + " at offset " + std::to_string(pos_));
    }
    void ws() {
        while (pos_ < s_.size() &&
               (s_[pos_] == ' ' || s_[pos_] == '\n' || s_[pos_] == '\t' || s_[pos_] == '\r'))
            ++pos_;
    }
    bool peek(std::string_view t) {
        ws();
        return s_.substr(pos_, t.size()) == t;
    }
    void expect(std::string_view t) {
        if (!peek(t)) fail("expected " + std::string(t));
        pos_ += t.size();
    }
    void skip_prolog() {
        expect("<?xml version=\"1.0\" encoding=\"UTF-8\"?>");
        expect(
            "<!DOCTYPE plist PUBLIC \"-//Apple//DTD PLIST 1.0//EN\" "
            "\"http://www.apple.com/DTDs/PropertyList-1.0.dtd\">");
    }
    // Text up to '<', with the five XML entities decoded; a bare '&' or '>' is an error.
    std::string text() {
        std::string out;
        while (pos_ < s_.size() && s_[pos_] != '<') {
            char c = s_[pos_];
            if (c == '>') fail("unescaped >");
            if (c == '&') {
                static const std::pair<std::string_view, char> entities[] = {{"&amp;", '&'},
                                                                             {"&lt;", '<'},
                                                                             {"&gt;", '>'},
                                                                             {"&quot;", '"'},
                                                                             {"&apos;", '\''}};
                bool ok = false;
                for (auto [e, ch] : entities)
                    if (s_.substr(pos_, e.size()) == e) {
                        out += ch;
                        pos_ += e.size();
                        ok = true;
                        break;
                    }
                if (!ok) fail("bad entity");
                continue;
            }
            out += c;
            ++pos_;
        }
        return out;
    }
    std::string element(std::string_view name) {
        expect("<" + std::string(name) + ">");
        std::string t = text();
        expect("</" + std::string(name) + ">");
        return t;
    }
    PValue value() {
        PValue v;
        if (peek("<dict>")) {
            expect("<dict>");
            PDict d;
            while (!peek("</dict>")) {
                std::string k = element("key");
                if (d.count(k)) fail("duplicate key " + k);
                d.emplace(k, value());
            }
            expect("</dict>");
            v.v = std::move(d);
        } else if (peek("<array>")) {
            expect("<array>");
            PArray a;
            while (!peek("</array>"))
                a.push_back(value());
            expect("</array>");
            v.v = std::move(a);
        } else if (peek("<string>")) {
            v.v = element("string");
        } else if (peek("<integer>")) {
            std::string t = element("integer");
            std::size_t used = 0;
            v.v = static_cast<std::int64_t>(std::stoll(t, &used));
            if (used != t.size()) fail("bad integer");
        } else if (peek("<true/>")) {
            expect("<true/>");
            v.v = true;
        } else if (peek("<false/>")) {
            expect("<false/>");
            v.v = false;
        } else if (peek("<data>")) {
            std::string t = element("data");
            for (char c : t)
                if (c != '\n' && c != '\t' && c != ' ') v.data += c;
            v.is_data = true;
            v.v = v.data;
        } else {
            fail("unexpected element");
        }
        return v;
    }

    std::string_view s_;
    std::size_t pos_ = 0;
};

inline PValue parse_plist(std::string_view text) {
    return PlistReader(text).parse();
}

}  // namespace postern::ctl::profile::test
