// The task manager of one IKE SA owns everything about messages as messages: message IDs and
// the window (size 1, RFC 7296 §2.3), retransmission of our outstanding request with
// exponential back-off (§2.1), the cached last response replayed when the peer retransmits
// its request (§2.1), and reassembly of fragmented messages (RFC 7383). Exchanges never touch
// message IDs or timers; they hand finished datagrams to start_request / store_response.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <vector>

#include "ike/sa/reassembly.hpp"
#include "postern/bytes.hpp"
#include "postern/ike_types.hpp"

namespace postern::ike::sa {

using Clock = std::chrono::steady_clock;
using TimePoint = Clock::time_point;

struct RetransmitPolicy {
    std::chrono::milliseconds timeout{2000};
    double base = 1.8;
    unsigned tries = 5;
};

class TaskManager {
  public:
    explicit TaskManager(RetransmitPolicy p = {}) : policy_(p) {}

    // --- the peer's requests --------------------------------------------------------------
    enum class Incoming {
        New,         // the next expected request: process it
        Retransmit,  // the request we answered last: replay cached_response()
        Invalid,     // outside the window: drop (§2.3)
    };
    Incoming classify_request(MessageId id) const;
    // Caches the response to request `id` and moves the window on.
    void store_response(MessageId id, std::vector<Bytes> datagrams);
    const std::vector<Bytes>& cached_response() const { return cached_; }
    MessageId expected_request() const { return MessageId(peer_next_); }

    // --- our requests ---------------------------------------------------------------------
    bool busy() const { return outstanding_.has_value(); }
    MessageId next_request_id() const { return MessageId(my_next_); }
    // Sends `datagrams` as request next_request_id() (the caller built them with that ID).
    void start_request(std::vector<Bytes> datagrams, TimePoint now);
    // Whether `id` answers the outstanding request.
    bool answers_outstanding(MessageId id) const {
        return outstanding_ && outstanding_->id == id.value();
    }
    // The response arrived: clears the request and moves our message ID on.
    void complete_request();
    // Re-sends the outstanding request with the same ID (e.g. after COOKIE or INVALID_KE the
    // IKE_SA_INIT request is replaced, and message ID 0 is reused).
    void replace_request(std::vector<Bytes> datagrams, TimePoint now);
    const std::vector<Bytes>& outstanding() const;

    enum class Timeout { None, Retransmit, GiveUp };
    // Call when deadline() has passed: Retransmit -> send outstanding() again; GiveUp -> the
    // peer is gone (the caller deletes the SA).
    Timeout on_timer(TimePoint now);
    std::optional<TimePoint> deadline() const;
    unsigned retransmits() const { return outstanding_ ? outstanding_->sent - 1 : 0; }

    // Fragments of the peer's requests and of responses to ours are reassembled apart.
    Reassembler& request_fragments() { return request_frags_; }
    Reassembler& response_fragments() { return response_frags_; }

  private:
    struct Outstanding {
        std::uint32_t id;
        std::vector<Bytes> datagrams;
        unsigned sent = 0;
        TimePoint next;
    };
    std::chrono::milliseconds delay(unsigned sent) const;

    RetransmitPolicy policy_;
    std::uint32_t my_next_ = 0;
    std::uint32_t peer_next_ = 0;
    bool answered_any_ = false;
    std::vector<Bytes> cached_;
    std::optional<Outstanding> outstanding_;
    Reassembler request_frags_, response_frags_;
};

}  // namespace postern::ike::sa
