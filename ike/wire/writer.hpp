// Appends big-endian fields to a byte vector; length fields are patched once the content size
// is known (reserve_u16 + patch_u16).
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>

#include "postern/bytes.hpp"

namespace postern::ike::wire {

class Writer {
  public:
    explicit Writer(Bytes& out) : out_(out) {}

    std::size_t size() const { return out_.size(); }
    void u8(std::uint8_t v) { out_.push_back(v); }
    void u16(std::uint16_t v) {
        out_.push_back(static_cast<std::uint8_t>(v >> 8));
        out_.push_back(static_cast<std::uint8_t>(v));
    }
    void u32(std::uint32_t v) {
        for (int s = 24; s >= 0; s -= 8)
            out_.push_back(static_cast<std::uint8_t>(v >> s));
    }
    void u64(std::uint64_t v) {
        for (int s = 56; s >= 0; s -= 8)
            out_.push_back(static_cast<std::uint8_t>(v >> s));
    }
    void bytes(ByteView b) { out_.insert(out_.end(), b.begin(), b.end()); }
    void zeros(std::size_t n) { out_.insert(out_.end(), n, 0); }

    // Reserves a 16-bit field and returns its position for patch_u16.
    std::size_t reserve_u16() {
        std::size_t at = out_.size();
        u16(0);
        return at;
    }
    void patch_u16(std::size_t at, std::uint16_t v) {
        out_[at] = static_cast<std::uint8_t>(v >> 8);
        out_[at + 1] = static_cast<std::uint8_t>(v);
    }
    std::size_t reserve_u32() {
        std::size_t at = out_.size();
        u32(0);
        return at;
    }
    void patch_u32(std::size_t at, std::uint32_t v) {
        for (int i = 0; i < 4; ++i)
            out_[at + i] = static_cast<std::uint8_t>(v >> (24 - 8 * i));
    }

    Bytes& buffer() { return out_; }

  private:
    Bytes& out_;
};

}  // namespace postern::ike::wire
