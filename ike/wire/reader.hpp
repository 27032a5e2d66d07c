// Bounds-checked reader over untrusted bytes. The first failure is sticky: once a read fails,
// every later read fails too and the reader keeps the first reason, so parsers can read a whole
// structure and check ok() once. Views returned point into the caller's buffer (no copies).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "postern/bytes.hpp"

namespace postern::ike::wire {

class Reader {
  public:
    explicit Reader(ByteView data, std::size_t base_offset = 0) : data_(data), base_(base_offset) {}

    bool ok() const { return error_.empty(); }
    const std::string& error() const { return error_; }
    // Offset of the failure (or current position) relative to the start of the message.
    std::size_t offset() const { return base_ + pos_; }
    std::size_t remaining() const { return ok() ? data_.size() - pos_ : 0; }
    bool empty() const { return remaining() == 0; }

    std::uint8_t u8(const char* what) {
        auto v = take(1, what);
        return v.empty() ? 0 : v[0];
    }
    std::uint16_t u16(const char* what) {
        auto v = take(2, what);
        return v.empty() ? 0 : static_cast<std::uint16_t>(v[0] << 8 | v[1]);
    }
    std::uint32_t u32(const char* what) {
        auto v = take(4, what);
        if (v.empty()) return 0;
        return std::uint32_t{v[0]} << 24 | std::uint32_t{v[1]} << 16 | std::uint32_t{v[2]} << 8 |
               std::uint32_t{v[3]};
    }
    std::uint64_t u64(const char* what) {
        auto v = take(8, what);
        std::uint64_t r = 0;
        for (auto b : v)
            r = r << 8 | b;
        return r;
    }
    // Exactly n bytes, or an empty view and a sticky failure naming `what` and the numbers.
    ByteView bytes(std::size_t n, const char* what) { return take(n, what); }
    // Everything that is left.
    ByteView rest() { return take(remaining(), "rest"); }
    // A reader over the next n bytes; this reader moves past them. The sub-reader reports
    // offsets relative to the same message start.
    Reader sub(std::size_t n, const char* what) {
        std::size_t at = offset();
        auto v = take(n, what);
        Reader r(v, at);
        if (!ok()) r.fail(error_);
        return r;
    }

    // Records a failure unless one is already recorded.
    void fail(std::string reason) {
        if (error_.empty())
            error_ = reason.empty() ? std::string("parse error") : std::move(reason);
    }

  private:
    ByteView take(std::size_t n, const char* what) {
        if (!ok()) return {};
        if (data_.size() - pos_ < n) {
            fail(std::string(what) + ": need " + std::to_string(n) + " bytes at offset " +
                 std::to_string(offset()) + ", have " + std::to_string(data_.size() - pos_));
            return {};
        }
        auto v = data_.subspan(pos_, n);
        pos_ += n;
        return v;
    }

    ByteView data_;
    std::size_t base_;
    std::size_t pos_ = 0;
    std::string error_;
};

}  // namespace postern::ike::wire
