#include "ike/policy/address_pool.hpp"

#include <limits>

namespace postern::ike::policy {

namespace {

// The last 64 bits of an address (all of an IPv4 address), host order.
std::uint64_t low64(const IpAddress& a) {
    if (a.is_v4()) return a.v4_value();
    std::uint64_t v = 0;
    for (std::size_t i = 8; i < 16; ++i)
        v = v << 8 | a.bytes()[i];
    return v;
}

bool same_high64(const IpAddress& a, const IpAddress& b) {
    if (a.is_v4()) return true;
    for (std::size_t i = 0; i < 8; ++i)
        if (a.bytes()[i] != b.bytes()[i]) return false;
    return true;
}

}  // namespace

tl::expected<AddressPool, std::string> AddressPool::create(std::string_view cidr,
                                                           std::span<const IpAddress> reserve) {
    auto parsed = parse_cidr(cidr);
    if (!parsed) return tl::make_unexpected("address pool " + parsed.error());
    AddressPool pool;
    pool.cidr_ = *parsed;
    const bool v4 = pool.cidr_.network.is_v4();
    const unsigned host_bits = (v4 ? 32u : 128u) - pool.cidr_.prefix;
    // Offsets live in 64 bits: a pool wider than that only uses its first 2^64 - 1 addresses,
    // far more than any server hands out.
    const std::uint64_t max_offset = host_bits >= 64 ? std::numeric_limits<std::uint64_t>::max()
                                                     : (std::uint64_t{1} << host_bits) - 1;
    if (v4) {
        // RFC 3021: a /31 has no network or broadcast address; a /32 is the one address.
        const bool small = pool.cidr_.prefix >= 31;
        pool.first_ = small ? 0 : 1;
        pool.last_ = small ? max_offset : max_offset - 1;
    } else {
        // RFC 4291 §2.6.1: the all-zero host is the Subnet-Router anycast address. RFC 6164
        // uses both addresses of a /127.
        pool.first_ = pool.cidr_.prefix >= 127 ? 0 : 1;
        pool.last_ = max_offset;
    }
    for (const auto& r : reserve) {
        const auto off = pool.offset_of(r);
        if (!off) {
            return tl::make_unexpected("address pool " + pool.cidr_.to_string() +
                                       ": reserved address " + r.to_string() +
                                       " is not in the pool");
        }
        if (*off >= pool.first_ && *off <= pool.last_) pool.reserved_.insert(*off);
    }
    pool.size_ = pool.last_ - pool.first_ - pool.reserved_.size() + 1;
    pool.next_unused_ = pool.first_;
    return pool;
}

std::optional<std::uint64_t> AddressPool::offset_of(const IpAddress& address) const {
    const IpAddress& net = cidr_.network;
    if (address.family() != net.family() || !same_high64(address, net)) return std::nullopt;
    // For prefixes shorter than /64 the high half must be the network's: see create().
    const unsigned host_bits = static_cast<unsigned>(net.size()) * 8 - cidr_.prefix;
    const std::uint64_t a = low64(address), n = low64(net);
    if (host_bits < 64 && ((a ^ n) >> host_bits) != 0) return std::nullopt;
    return a - n;
}

IpAddress AddressPool::address_at(std::uint64_t offset) const {
    const IpAddress& net = cidr_.network;
    if (net.is_v4()) return IpAddress::v4(static_cast<std::uint32_t>(net.v4_value() + offset));
    IpAddress out = net;
    std::uint64_t v = low64(net) + offset;  // no carry: offset < 2^host_bits
    for (int i = 15; i >= 8; --i) {
        out.data()[i] = static_cast<std::uint8_t>(v);
        v >>= 8;
    }
    return out;
}

bool AddressPool::allocatable(std::uint64_t offset) const {
    return offset >= first_ && offset <= last_ && !reserved_.contains(offset);
}

bool AddressPool::contains(const IpAddress& address) const {
    const auto off = offset_of(address);
    return off && allocatable(*off);
}

std::optional<std::string> AddressPool::holder(const IpAddress& address) const {
    const auto off = offset_of(address);
    if (!off) return std::nullopt;
    const auto it = leases_.find(*off);
    if (it == leases_.end() || !it->second.online) return std::nullopt;
    return it->second.identity;
}

IpAddress AddressPool::take(std::uint64_t offset, const std::string& identity) {
    auto it = leases_.find(offset);
    if (it == leases_.end()) {
        leases_.emplace(offset, Lease{identity, true, 0});
    } else {
        // A remembered lease changes hands (or comes back to its identity).
        released_order_.erase(it->second.released_seq);
        offline_by_identity_.erase({it->second.identity, offset});
        it->second = Lease{identity, true, 0};
    }
    ++in_use_;
    return address_at(offset);
}

std::optional<IpAddress> AddressPool::acquire(const std::string& identity,
                                              std::optional<IpAddress> requested) {
    // 1. The client's own request (§3.15.1 lets it name the address it wants), unless another
    //    identity may still come back for that address.
    if (requested) {
        if (const auto off = offset_of(*requested); off && allocatable(*off)) {
            const auto it = leases_.find(*off);
            if (it == leases_.end() || (!it->second.online && it->second.identity == identity))
                return take(*off, identity);
        }
    }
    // 2. The address this identity had before.
    if (auto it = offline_by_identity_.lower_bound({identity, 0});
        it != offline_by_identity_.end() && it->first == identity) {
        return take(it->second, identity);
    }
    // 3. A never-used address. Offsets taken by explicit requests ahead of the counter are
    //    skipped once each.
    while (!unused_exhausted_) {
        const std::uint64_t off = next_unused_;
        if (off == last_)
            unused_exhausted_ = true;
        else
            ++next_unused_;
        if (allocatable(off) && !leases_.contains(off)) return take(off, identity);
    }
    // 4. Someone else's remembered address, the one released longest ago.
    if (!released_order_.empty()) return take(released_order_.begin()->second, identity);
    return std::nullopt;
}

bool AddressPool::release(const IpAddress& address) {
    const auto off = offset_of(address);
    if (!off) return false;
    auto it = leases_.find(*off);
    if (it == leases_.end() || !it->second.online) return false;
    it->second.online = false;
    it->second.released_seq = release_seq_++;
    released_order_.emplace(it->second.released_seq, *off);
    offline_by_identity_.emplace(it->second.identity, *off);
    --in_use_;
    return true;
}

}  // namespace postern::ike::policy
