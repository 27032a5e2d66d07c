#include "ike/shard.hpp"

#include <algorithm>
#include <functional>

#include <openssl/sha.h>

namespace postern::ike {

namespace {

// Which of `stripes` an address falls in.
std::size_t stripe_index(const IpAddress& address, std::size_t stripes) {
    return IpAddressHash{}(address) % stripes;
}

// `count(stripe)` summed over every stripe, each under its lock.
template <class Stripes, class Count>
std::size_t sum_stripes(Stripes& stripes, Count count) {
    std::size_t n = 0;
    for (auto& s : stripes) {
        std::lock_guard lock(s.m);
        n += count(s);
    }
    return n;
}

std::uint64_t read_u64(ByteView b) {
    std::uint64_t v = 0;
    for (std::size_t i = 0; i < 8; ++i)
        v = v << 8 | b[i];
    return v;
}

}  // namespace

std::uint64_t label_ike_spi(std::uint64_t spi, unsigned shard, unsigned count) {
    if (count <= 1) return spi;
    // The first octet becomes shard + count * k, k taken from the octet it replaces (k below
    // 256 / count, so it stays an octet): the SPI keeps 56 random bits and most of the 8th.
    const std::uint64_t top = spi >> 56;
    const std::uint64_t k = top % (256 / count);
    const std::uint64_t labelled = (spi & 0x00ff'ffff'ffff'ffffULL) | ((shard + count * k) << 56);
    return labelled != 0 ? labelled : (std::uint64_t{1} << 8);  // shard 0, k 0, rest 0: rare
}

unsigned shard_of_spi(std::uint64_t spi, unsigned count) {
    return count <= 1 ? 0 : static_cast<unsigned>((spi >> 56) % count);
}

unsigned shard_of_id(std::uint64_t id, unsigned count) {
    return count <= 1 || id == 0 ? 0 : static_cast<unsigned>((id - 1) % count);
}

unsigned shard_of_datagram(ByteView m, unsigned count) {
    if (count <= 1 || m.size() < 28) return 0;
    const std::uint64_t spi_i = read_u64(m.first(8));
    const std::uint64_t spi_r = read_u64(m.subspan(8, 8));
    const bool from_initiator = m[19] & 0x08;  // RFC 7296 §3.1: the Initiator flag
    const bool response = m[19] & 0x20;
    // A response without a responder SPI (COOKIE, INVALID_KE_PAYLOAD, NO_PROPOSAL_CHOSEN
    // to our IKE_SA_INIT): the initiator SPI is ours.
    if (spi_r == 0 && (response || !from_initiator)) return shard_of_spi(spi_i, count);
    if (spi_r == 0) {
        // A new IKE_SA_INIT (or its retransmission, or a retry with a cookie or another key
        // share: the same SPIi goes to the same shard). Mixed, so that an initiator choosing
        // SPIs with a pattern still spreads.
        std::uint64_t x = spi_i * 0x9e37'79b9'7f4a'7c15ULL;
        x ^= x >> 29;
        return static_cast<unsigned>(x % count);
    }
    return shard_of_spi(from_initiator ? spi_r : spi_i, count);
}

std::uint32_t EspSpiSequence::permute(std::uint32_t x) const {
    std::uint32_t l = (x >> 13) & 0x1fff, r = x & 0x1fff;
    for (std::uint16_t k : keys_) {
        // Any round function keeps a Feistel network a permutation; this one mixes well.
        std::uint32_t f = (r * 0x9e37u + k) & 0xffffu;
        f ^= f >> 7;
        f = (f * 0x85ebu) & 0xffffu;
        const std::uint32_t next = l ^ (f & 0x1fff);
        l = r;
        r = next;
    }
    return l << 13 | r;
}

std::uint32_t EspSpiSequence::next() {
    for (;;) {
        const std::uint32_t spi =
            static_cast<std::uint32_t>(shard_) << 26 | permute(counter_++ & 0x3ff'ffff);
        if (spi > 255) return spi;
    }
}

ShardDirectory::ShardDirectory(unsigned shards) : shards_(std::clamp(shards, 1u, kMaxShards)) {}

ShardDirectory::UserStripe& ShardDirectory::stripe_of(const std::string& user) const {
    return users_[std::hash<std::string>{}(user) % kStripes];
}

ShardDirectory::AddressStripe& ShardDirectory::stripe_of(const IpAddress& address) const {
    return addresses_[stripe_index(address, kStripes)];
}

void ShardDirectory::count(const std::string& user, int delta) {
    if (user.empty()) return;
    UserStripe& s = stripe_of(user);
    std::lock_guard lock(s.m);
    auto [it, fresh] = s.counts.try_emplace(user, 0);
    if (delta < 0 && it->second == 0) {  // never below zero
        s.counts.erase(it);
        return;
    }
    it->second = static_cast<std::uint32_t>(static_cast<std::int64_t>(it->second) + delta);
    if (it->second == 0) s.counts.erase(it);
}

std::size_t ShardDirectory::total(const std::string& user) const {
    if (user.empty()) return 0;
    UserStripe& s = stripe_of(user);
    std::lock_guard lock(s.m);
    auto it = s.counts.find(user);
    return it == s.counts.end() ? 0 : it->second;
}

ShardDirectory::Owner ShardDirectory::owner(const std::string& user,
                                            const std::string& connection) {
    // Length-prefixed, so that ("ab", "c") and ("a", "bc") differ.
    std::string text = std::to_string(user.size()) + ":" + user + connection;
    std::array<std::uint8_t, SHA256_DIGEST_LENGTH> d{};
    SHA256(reinterpret_cast<const unsigned char*>(text.data()), text.size(), d.data());
    Owner o{};
    std::copy_n(d.begin(), o.size(), o.begin());
    return o;
}

std::uint16_t ShardDirectory::AddressStripe::pool_index(const std::string& name) {
    auto it = std::find(pools.begin(), pools.end(), name);
    if (it != pools.end()) return static_cast<std::uint16_t>(it - pools.begin());
    pools.push_back(name);  // never shrinks: pool names come from the configuration
    return static_cast<std::uint16_t>(pools.size() - 1);
}

void ShardDirectory::hold(const std::string& pool, const IpAddress& address,
                          const std::string& user, const std::string& connection) {
    const Owner who = owner(user, connection);  // a SHA-256: not under the stripe's lock
    AddressStripe& s = stripe_of(address);
    std::lock_guard lock(s.m);
    Held& h = s.held[address];
    h.pool = s.pool_index(pool);
    h.owner = who;
    h.holders = 1;
}

std::optional<std::string> ShardDirectory::share(const IpAddress& address, const std::string& user,
                                                 const std::string& connection) {
    const Owner who = owner(user, connection);  // a SHA-256: not under the stripe's lock
    AddressStripe& s = stripe_of(address);
    std::lock_guard lock(s.m);
    auto it = s.held.find(address);
    if (it == s.held.end() || it->second.owner != who) return std::nullopt;
    ++it->second.holders;
    return s.pools[it->second.pool];
}

bool ShardDirectory::let_go(const std::string& pool, const IpAddress& address) {
    AddressStripe& s = stripe_of(address);
    std::lock_guard lock(s.m);
    auto it = s.held.find(address);
    if (it == s.held.end() || s.pools[it->second.pool] != pool) return true;
    if (--it->second.holders > 0) return false;
    s.held.erase(it);
    return true;
}

ShardDirectory::AdmissionStripe& ShardDirectory::admission_of(const IpAddress& from) const {
    // By what the limits count (an IPv6 address's /64), so one prefix is one stripe.
    return admission_[stripe_index(InitAdmission::key(from), kStripes)];
}

void ShardDirectory::set_admission_limits(AdmissionLimits limits) {
    limits.half_open_limit = 0;  // each shard's own
    limits.rate_table_size = (limits.rate_table_size + kStripes - 1) / kStripes;
    for (auto& s : admission_) {
        std::lock_guard lock(s.m);
        s.admission.set_limits(limits);
    }
}

InitAdmission::Verdict ShardDirectory::admit(const IpAddress& from, sa::TimePoint now) {
    AdmissionStripe& s = admission_of(from);
    std::lock_guard lock(s.m);
    return s.admission.check(from, 0, now);
}

void ShardDirectory::opened(const IpAddress& from) {
    AdmissionStripe& s = admission_of(from);
    std::lock_guard lock(s.m);
    s.admission.opened(from);
}

void ShardDirectory::closed(const IpAddress& from) {
    AdmissionStripe& s = admission_of(from);
    std::lock_guard lock(s.m);
    s.admission.closed(from);
}

std::size_t ShardDirectory::addresses_rated() const {
    return sum_stripes(admission_,
                       [](const AdmissionStripe& s) { return s.admission.addresses_rated(); });
}

std::size_t ShardDirectory::addresses_half_open() const {
    return sum_stripes(admission_,
                       [](const AdmissionStripe& s) { return s.admission.addresses_half_open(); });
}

std::size_t ShardDirectory::held_addresses() const {
    return sum_stripes(addresses_, [](const AddressStripe& s) { return s.held.size(); });
}

}  // namespace postern::ike
