// Loads the strongSwan-to-strongSwan captures in tests/data/strongswan/<scenario>/: the IKE
// messages in order and keys.txt (see that folder's README).
#pragma once

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "postern/bytes.hpp"

namespace postern::test {

struct CapturedMessage {
    std::string file;  // "02-IKE_AUTH-req-moon.hex"
    Bytes bytes;
    bool from_initiator() const { return file.find("-moon.") != std::string::npos; }
};

struct Capture {
    std::string dir;
    std::vector<CapturedMessage> messages;  // IKE messages only, in capture order
    std::map<std::string, std::string> keys;

    Bytes key(const std::string& name) const {
        auto it = keys.find(name);
        if (it == keys.end()) throw std::runtime_error("keys.txt has no " + name);
        return from_hex(it->second);
    }
    std::string text(const std::string& name) const { return keys.at(name); }
    std::string read(const std::string& file) const {
        std::ifstream in(dir + "/" + file, std::ios::binary);
        std::stringstream ss;
        ss << in.rdbuf();
        return ss.str();
    }
    const CapturedMessage& at(std::size_t i) const { return messages.at(i); }
};

inline Capture load_capture(const std::string& scenario) {
    Capture c;
    c.dir = std::string(POSTERN_TEST_DATA_DIR) + "/strongswan/" + scenario;
    std::vector<std::string> files;
    for (const auto& e : std::filesystem::directory_iterator(c.dir)) {
        std::string name = e.path().filename().string();
        if (name.size() > 4 && name.substr(name.size() - 4) == ".hex" && name[0] >= '0' &&
            name[0] <= '9')
            files.push_back(name);
    }
    std::sort(files.begin(), files.end());
    for (const auto& f : files) {
        std::ifstream in(c.dir + "/" + f);
        std::stringstream ss;
        ss << in.rdbuf();
        CapturedMessage m{f, {}};
        if (!from_hex(ss.str(), m.bytes)) throw std::runtime_error("bad hex in " + f);
        c.messages.push_back(std::move(m));
    }
    std::ifstream in(c.dir + "/keys.txt");
    std::string line;
    while (std::getline(in, line)) {
        if (line.empty() || line[0] == '#') continue;
        auto eq = line.find(" = ");
        if (eq == std::string::npos) continue;
        c.keys[line.substr(0, eq)] = line.substr(eq + 3);
    }
    if (c.messages.empty() || c.keys.empty()) throw std::runtime_error("no capture in " + c.dir);
    return c;
}

}  // namespace postern::test
