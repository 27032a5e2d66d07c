// InitAdmission: the limits on new IKE_SA_INIT requests (admission.hpp).

#include "ike/admission.hpp"

#include <algorithm>

namespace postern::ike {

void InitAdmission::set_limits(AdmissionLimits limits) {
    limits_ = limits;
    if (limits_.rate_per_address == 0) {
        buckets_.clear();
        lru_.clear();
    }
    while (buckets_.size() > limits_.rate_table_size && !lru_.empty()) {
        buckets_.erase(lru_.back());
        lru_.pop_back();
    }
}

IpAddress InitAdmission::key(const IpAddress& from) {
    if (!from.is_v6()) return from;
    IpAddress k = from;
    std::fill(k.data() + 8, k.data() + 16, std::uint8_t{0});
    return k;
}

InitAdmission::Verdict InitAdmission::check(const IpAddress& address, std::size_t half_open,
                                            sa::TimePoint now) {
    const IpAddress from = key(address);
    if (limits_.rate_per_address != 0 && !take_token(from, now)) return Verdict::rate_limited;
    if (limits_.half_open_per_address != 0 && half_open_of(from) >= limits_.half_open_per_address)
        return Verdict::per_address;
    if (limits_.half_open_limit != 0 && half_open >= limits_.half_open_limit) return Verdict::total;
    return Verdict::admit;
}

bool InitAdmission::take_token(const IpAddress& from, sa::TimePoint now) {
    const double capacity = static_cast<double>(limits_.rate_per_address);
    auto it = buckets_.find(from);
    if (it == buckets_.end()) {
        if (limits_.rate_table_size == 0) return true;
        // Full: forget the address heard from longest ago (it starts again with a full
        // bucket if it comes back, which costs at most one burst).
        if (buckets_.size() >= limits_.rate_table_size) {
            buckets_.erase(lru_.back());
            lru_.pop_back();
        }
        lru_.push_front(from);
        buckets_.emplace(from, Bucket{capacity - 1.0, now, lru_.begin()});
        return true;
    }
    Bucket& b = it->second;
    lru_.splice(lru_.begin(), lru_, b.lru);
    if (now > b.last) {
        const double elapsed = std::chrono::duration<double>(now - b.last).count();
        b.tokens = std::min(capacity, b.tokens + elapsed * capacity);
        b.last = now;
    }
    if (b.tokens < 1.0) return false;
    b.tokens -= 1.0;
    return true;
}

void InitAdmission::opened(const IpAddress& from) {
    ++per_address_[key(from)];
}

void InitAdmission::closed(const IpAddress& from) {
    auto it = per_address_.find(key(from));
    if (it == per_address_.end()) return;
    if (--it->second == 0) per_address_.erase(it);
}

std::size_t InitAdmission::half_open_of(const IpAddress& from) const {
    auto it = per_address_.find(key(from));
    return it == per_address_.end() ? 0 : it->second;
}

}  // namespace postern::ike
