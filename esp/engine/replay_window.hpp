// The ESP anti-replay window (RFC 4303 §3.4.3) with Extended Sequence Numbers (RFC 4303
// §2.2.1, Appendix A), in the style of WireGuard's replay filter (replay/replay.go): a ring of
// 64-bit words, so sliding the window forward clears whole words instead of shifting bits.
//
// Two phases, because the window may only move for packets whose ICV verified (RFC 4303
// §3.4.3, strongSwan libipsec esp_packet.c):
//
//   auto seq = window.check(seq_low);   // before decryption: nullopt = too old / duplicate
//   ... verify the ICV using the high 32 bits of *seq (ESN) ...
//   window.accept(*seq);                // after the ICV verified
//
// Semantics. `top` is the highest sequence number accepted so far (0 = none yet). A sequence
// number s is acceptable when s > top (any jump forward, RFC 4303 §3.4.3), or when
// top - s < size and s has not been accepted before. 0 is never acceptable: the first packet of
// an SA carries 1 (RFC 4303 §3.3.3), with or without ESN.
//
// ESN. Only the low 32 bits travel in the packet. check() infers the high 32 bits from the
// window position as RFC 4303 Appendix A2.2 describes (cases A and B: the window lies within one
// 2^32 "subspace", or straddles two), and returns the full 64-bit number; the ICV computation
// must use those inferred high bits, so a wrong guess fails the ICV and never moves the window.
//
// Threading. Not thread-safe, by choice: one worker owns the inbound direction of an SA (the
// receive path steers ESP packets by SPI to a worker), so check() and accept() need no atomics.
// A lock-free variant (CAS on top, fetch_or on the words) is possible but has to fence the word
// clearing of a slide against concurrent bit sets for the new range, and packets of one SA
// spread over workers would reorder and shrink the useful window anyway.
//
// Memory: words are allocated once when the SA is created; check()/accept() never allocate.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

namespace postern::esp {

class ReplayWindow {
  public:
    // Window sizes in packets. A requested size is rounded up to a multiple of 64 and clamped
    // to this range (anti-replay cannot be turned off in this engine; 0 means the minimum).
    static constexpr std::uint32_t kMinSize = 64;
    static constexpr std::uint32_t kMaxSize = 65536;

    ReplayWindow(std::uint32_t size, bool esn);

    // Phase one, before decryption. seq_low is the Sequence Number field of the packet. Returns
    // the full sequence number (with inferred high bits under ESN), or nullopt when it is 0,
    // below the window, or already accepted.
    std::optional<std::uint64_t> check(std::uint32_t seq_low) const;

    // Phase two, after the ICV verified: marks seq as seen and slides the window if seq is
    // ahead. Returns false (and changes nothing) if seq is no longer acceptable, e.g. accepted
    // twice; with one owner per window that only happens through misuse.
    bool accept(std::uint64_t seq);

    std::uint32_t size() const { return size_; }
    bool esn() const { return esn_; }
    // Highest accepted sequence number, 0 before the first packet.
    std::uint64_t top() const { return top_; }

  private:
    bool seen(std::uint64_t seq) const;

    std::vector<std::uint64_t> words_;  // ring; words_.size() is a power of two
    std::uint64_t word_mask_ = 0;
    std::uint64_t top_ = 0;
    std::uint32_t size_ = kMinSize;
    bool esn_ = false;
};

}  // namespace postern::esp
