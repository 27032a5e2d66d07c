#include "esp/engine/replay_window.hpp"

#include <algorithm>
#include <bit>

namespace postern::esp {

namespace {

constexpr std::uint64_t kBitsPerWord = 64;

}  // namespace

ReplayWindow::ReplayWindow(std::uint32_t size, bool esn) : esn_(esn) {
    size = std::clamp(size, kMinSize, kMaxSize);
    size_ = (size + kBitsPerWord - 1) / kBitsPerWord * kBitsPerWord;
    // One word more than the window needs: the window [top - size + 1, top] touches at most
    // size/64 + 1 words, and they must all be distinct slots of the ring while the word that
    // the next slide clears is not among them (WireGuard's COUNTER_REDUNDANT_BITS).
    const std::size_t words = std::bit_ceil(std::size_t{size_ / kBitsPerWord + 1});
    words_.assign(words, 0);
    word_mask_ = words - 1;
}

bool ReplayWindow::seen(std::uint64_t seq) const {
    return (words_[(seq / kBitsPerWord) & word_mask_] >> (seq % kBitsPerWord)) & 1;
}

std::optional<std::uint64_t> ReplayWindow::check(std::uint32_t seq_low) const {
    std::uint64_t seq = seq_low;
    if (esn_) {
        // RFC 4303 Appendix A2.2. Tl/Th: low/high halves of the top of the window; the bottom
        // of the window, Tl - W + 1, computed modulo 2^32.
        const auto tl = static_cast<std::uint32_t>(top_);
        const std::uint64_t th = top_ >> 32;
        const std::uint32_t bottom_low = tl - (size_ - 1);
        std::uint64_t seq_high;
        if (tl >= size_ - 1) {
            // Case A: the window lies within one subspace. Below its bottom means the packet
            // is from the next subspace (the low 32 bits wrapped forward).
            seq_high = seq_low >= bottom_low ? th : th + 1;
        } else {
            // Case B: the window straddles two subspaces; low numbers at or above the
            // (wrapped) bottom belong to the previous subspace.
            if (seq_low >= bottom_low) {
                if (th == 0) return std::nullopt;  // there is no subspace before the first
                seq_high = th - 1;
            } else {
                seq_high = th;
            }
        }
        if (seq_high > 0xffffffffu) return std::nullopt;  // beyond 2^64 - 1: cannot be sent
        seq = seq_high << 32 | seq_low;
    }
    if (seq == 0) return std::nullopt;  // RFC 4303 §3.3.3: the first packet carries 1
    if (seq > top_) return seq;
    if (top_ - seq >= size_ || seen(seq)) return std::nullopt;
    return seq;
}

bool ReplayWindow::accept(std::uint64_t seq) {
    if (seq == 0) return false;
    if (seq > top_) {
        // Slide: clear the words entered by the new top (at most the whole ring), so bits of
        // numbers that fell out of the window cannot be mistaken for the new ones.
        const std::uint64_t current = top_ / kBitsPerWord;
        const std::uint64_t target = seq / kBitsPerWord;
        const std::uint64_t clear = std::min<std::uint64_t>(target - current, words_.size());
        for (std::uint64_t i = 1; i <= clear; ++i)
            words_[(current + i) & word_mask_] = 0;
        top_ = seq;
    } else if (top_ - seq >= size_ || seen(seq)) {
        return false;
    }
    words_[(seq / kBitsPerWord) & word_mask_] |= std::uint64_t{1} << (seq % kBitsPerWord);
    return true;
}

}  // namespace postern::esp
