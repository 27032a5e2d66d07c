#include "ike/sa/task_manager.hpp"

#include <cmath>

namespace postern::ike::sa {

namespace {
const std::vector<Bytes> kNone;
}

TaskManager::Incoming TaskManager::classify_request(MessageId id) const {
    if (id.value() == peer_next_) return Incoming::New;
    // §2.1: a retransmission of the request we last answered gets the same response again.
    if (answered_any_ && id.value() + 1 == peer_next_) return Incoming::Retransmit;
    return Incoming::Invalid;
}

void TaskManager::store_response(MessageId id, std::vector<Bytes> datagrams) {
    cached_ = std::move(datagrams);
    peer_next_ = id.value() + 1;
    answered_any_ = true;
}

std::chrono::milliseconds TaskManager::delay(unsigned sent) const {
    // RFC 7296 §2.1 leaves the schedule open; strongSwan's default is 4 s * 1.8^n. We use
    // timeout * base^(sent-1).
    const double ms = static_cast<double>(policy_.timeout.count()) *
                      std::pow(policy_.base, static_cast<double>(sent - 1));
    return std::chrono::milliseconds(static_cast<std::int64_t>(ms));
}

void TaskManager::start_request(std::vector<Bytes> datagrams, TimePoint now) {
    outstanding_ = Outstanding{my_next_, std::move(datagrams), 1, {}};
    outstanding_->next = now + delay(1);
}

void TaskManager::replace_request(std::vector<Bytes> datagrams, TimePoint now) {
    std::uint32_t id = outstanding_ ? outstanding_->id : my_next_;
    outstanding_ = Outstanding{id, std::move(datagrams), 1, {}};
    outstanding_->next = now + delay(1);
}

void TaskManager::complete_request() {
    if (!outstanding_) return;
    my_next_ = outstanding_->id + 1;
    outstanding_.reset();
    response_frags_.reset();
}

const std::vector<Bytes>& TaskManager::outstanding() const {
    return outstanding_ ? outstanding_->datagrams : kNone;
}

TaskManager::Timeout TaskManager::on_timer(TimePoint now) {
    if (!outstanding_ || now < outstanding_->next) return Timeout::None;
    if (outstanding_->sent >= policy_.tries) return Timeout::GiveUp;
    ++outstanding_->sent;
    outstanding_->next = now + delay(outstanding_->sent);
    return Timeout::Retransmit;
}

std::optional<TimePoint> TaskManager::deadline() const {
    if (!outstanding_) return std::nullopt;
    return outstanding_->next;
}

}  // namespace postern::ike::sa
