#include "daemon/ctl/user_password.hpp"

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <termios.h>
#include <unistd.h>

#include <cstdlib>
#include <iostream>

#include "ike/eap/mschapv2.hpp"

namespace postern::ctl {

std::optional<std::string> check_name(std::string_view name, std::string_view what) {
    const std::string w(what);
    if (name.empty()) return w + " name is empty";
    if (name.size() > 64) return w + " name is longer than 64 characters";
    auto alnum = [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    };
    if (!alnum(name.front()))
        return w + " name \"" + std::string(name) + "\" must start with a letter or a digit";
    for (char c : name) {
        if (alnum(c) || c == '.' || c == '_' || c == '@' || c == '+' || c == '-') continue;
        return w + " name \"" + std::string(name) +
               "\": only letters, digits and . _ @ + - are allowed";
    }
    return std::nullopt;
}

PasswordSource choose_password_source(bool from_stdin, bool generate, bool stdin_is_tty) {
    if (from_stdin) return PasswordSource::stdin_line;
    if (generate) return PasswordSource::generate;
    return stdin_is_tty ? PasswordSource::prompt : PasswordSource::generate;
}

Password& Password::operator=(Password&& o) noexcept {
    if (this != &o) {
        wipe();
        text_ = std::move(o.text_);
        o.text_.clear();
    }
    return *this;
}

void Password::wipe() {
    if (!text_.empty()) OPENSSL_cleanse(text_.data(), text_.size());
    text_.clear();
}

namespace {

void wipe(std::string& s) {
    if (!s.empty()) OPENSSL_cleanse(s.data(), s.size());
    s.clear();
}

}  // namespace

tl::expected<Password, std::string> read_password_line(std::istream& in) {
    std::string line;
    if (!std::getline(in, line)) return tl::unexpected(std::string("no password on stdin"));
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) {
        return tl::unexpected(std::string("empty password on stdin"));
    }
    return Password(std::move(line));
}

namespace {

// Reads one line from fd 0 with echo off; the terminal's settings are restored before return.
tl::expected<std::string, std::string> read_hidden(const char* prompt) {
    std::cerr << prompt << std::flush;
    termios old{};
    if (::tcgetattr(STDIN_FILENO, &old) != 0)
        return tl::unexpected(std::string("stdin is not a terminal"));
    termios quiet = old;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    quiet.c_lflag |= ECHONL;
    if (::tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet) != 0)
        return tl::unexpected(std::string("cannot turn off echo"));
    std::string line;
    char c;
    bool got_newline = false;
    while (::read(STDIN_FILENO, &c, 1) == 1) {
        if (c == '\n') {
            got_newline = true;
            break;
        }
        line.push_back(c);
    }
    ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
    if (!got_newline && line.empty()) return tl::unexpected(std::string("no password entered"));
    if (!line.empty() && line.back() == '\r') line.pop_back();
    return line;
}

}  // namespace

tl::expected<Password, std::string> prompt_password(std::string_view for_whom) {
    const std::string p1 = "Password for " + std::string(for_whom) + ": ";
    auto first = read_hidden(p1.c_str());
    if (!first) return tl::unexpected(first.error());
    if (first->empty()) return tl::unexpected(std::string("empty password"));
    auto second = read_hidden("Again: ");
    if (!second) {
        wipe(*first);
        return tl::unexpected(second.error());
    }
    const bool same = *first == *second;
    wipe(*second);
    if (!same) {
        wipe(*first);
        return tl::unexpected(std::string("the passwords differ"));
    }
    return Password(std::move(*first));
}

Password generate_password() {
    // No 0/O/o, 1/l/I: read aloud or typed on a phone without doubt.
    static constexpr std::string_view kAlphabet =
        "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    // Rejection sampling: bytes >= the largest multiple of the alphabet's size are dropped, so
    // every character is equally likely.
    const unsigned limit = 256 - 256 % kAlphabet.size();
    std::string out;
    unsigned char buf[64];
    std::size_t used = sizeof buf;
    while (out.size() < 4 * 5 + 3) {
        if (out.size() % 6 == 5) {
            out.push_back('-');
            continue;
        }
        if (used == sizeof buf) {
            if (RAND_bytes(buf, sizeof buf) != 1) std::abort();  // no safe way on
            used = 0;
        }
        const unsigned b = buf[used++];
        if (b < limit) out.push_back(kAlphabet[b % kAlphabet.size()]);
    }
    OPENSSL_cleanse(buf, sizeof buf);
    return Password(std::move(out));
}

tl::expected<ike::crypto::Secret, std::string> nt_hash_of(const Password& password) {
    if (password.text().empty()) return tl::unexpected(std::string("empty password"));
    auto hash = ike::eap::nt_password_hash(password.text());
    if (!hash) return tl::unexpected("password refused: " + hash.error());
    return std::move(*hash);
}

}  // namespace postern::ctl
