// Names and passwords for `postern user`: the name rule, where a password comes from (a prompt,
// one line of stdin, or generated) and the NT hash that is all the database keeps.
#pragma once

#include <istream>
#include <optional>
#include <string>
#include <string_view>

#include <tl/expected.hpp>

#include "ike/crypto/secret.hpp"

namespace postern::ctl {

// User and group names: 1 to 64 characters from [A-Za-z0-9._@+-], starting with a letter or a
// digit. So "alice", "alice.smith", "alice@example.com" are names; "DOMAIN\alice", names with
// spaces or control characters, and non-ASCII names are not (a name is also a certificate CN,
// a file name for `pki issue` and an EAP identity typed on a phone). Returns why a name is
// refused.
std::optional<std::string> check_name(std::string_view name, std::string_view what = "user");

enum class PasswordSource { prompt, stdin_line, generate };

// --password-stdin wins, then --generate; without either: a prompt when stdin is a terminal,
// else a generated password (a script never hangs on a hidden prompt).
PasswordSource choose_password_source(bool from_stdin, bool generate, bool stdin_is_tty);

// A password the caller wipes (OPENSSL_cleanse) when done.
class Password {
  public:
    Password() = default;
    explicit Password(std::string text) : text_(std::move(text)) {}
    Password(Password&& o) noexcept : text_(std::move(o.text_)) { o.text_.clear(); }
    Password& operator=(Password&& o) noexcept;
    Password(const Password&) = delete;
    Password& operator=(const Password&) = delete;
    ~Password() { wipe(); }
    const std::string& text() const { return text_; }

  private:
    void wipe();
    std::string text_;
};

// One line (without its "\n" or "\r\n"); an empty line or end of input is an error.
tl::expected<Password, std::string> read_password_line(std::istream& in);
// Asks twice on the terminal (stdin) with echo off, prompts on stderr; both must match.
tl::expected<Password, std::string> prompt_password(std::string_view for_whom);
// 4 groups of 5 characters from an alphabet without look-alikes (0/O, 1/l/I), joined by '-':
// log2(56^20) ~ 116 bits from RAND_bytes.
Password generate_password();

// Checks the password (non-empty, valid UTF-8, at most 256 UTF-16 code units) and returns its
// RFC 2759 NtPasswordHash.
tl::expected<ike::crypto::Secret, std::string> nt_hash_of(const Password& password);

}  // namespace postern::ctl
