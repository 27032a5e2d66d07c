// Reassembly of IKE fragments (RFC 7383 §2.6). Each SKF fragment is authenticated and
// decrypted on its own as it arrives (so a forged fragment is dropped at once and never
// occupies a slot); when every fragment 1..Total has arrived, the decrypted parts are joined
// in order and parsed as one payload chain whose first type came with fragment 1.
//
// One Reassembler per IKE SA and message ID being received. Bounded: at most kMaxFragments
// fragments and kMaxBytes of decrypted content, so an authenticated peer cannot make us hold
// unbounded memory either.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <tl/expected.hpp>

#include "ike/crypto/sk.hpp"
#include "ike/sa/protection.hpp"
#include "ike/wire/message.hpp"

namespace postern::ike::sa {

class Reassembler {
  public:
    static constexpr std::size_t kMaxFragments = 64;
    static constexpr std::size_t kMaxBytes = 64 * 1024;

    enum class Status {
        Incomplete,  // kept; more fragments needed
        Complete,    // take() returns the inner payloads
        Duplicate,   // this fragment number was already received: ignored
        Stale,       // Total Fragments smaller than a fragment already seen: ignored (§2.6)
    };

    // Adds one SKF message (`m` parsed from `datagram`). Errors: integrity failure (drop the
    // fragment, keep the others), bad numbering, limits, or a malformed reassembled chain.
    tl::expected<Status, OpenError> add(const wire::Message& m, ByteView datagram,
                                        const crypto::SkCipher& cipher);

    // After Status::Complete: the reassembled inner payloads (once).
    std::vector<wire::Payload> take() { return std::move(complete_); }

    std::uint16_t total() const { return total_; }
    std::size_t received() const { return parts_.size(); }
    void reset();

  private:
    std::uint16_t total_ = 0;
    PayloadType inner_first_ = PayloadType::NONE;
    std::map<std::uint16_t, Bytes> parts_;
    std::size_t bytes_ = 0;
    std::vector<wire::Payload> complete_;
};

}  // namespace postern::ike::sa
