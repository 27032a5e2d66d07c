// Sharding IKE over threads: a daemon may run several ike::Engine instances, one per thread
// (daemon/ike_shards.hpp), each owning the IKE SAs whose SPI it chose. Everything here is
// what those shards share and how a datagram or a request finds its shard:
//
//   IKE SPIs   an engine of shard i of n makes IKE SPIs whose first octet is i modulo n
//              (label_ike_spi); a datagram goes to the shard of the SPI that is ours in it,
//              a new IKE_SA_INIT request (no responder SPI yet) to the shard its initiator
//              SPI hashes to (shard_of_datagram). Rekeyed IKE SAs get their SPIs from the
//              shard of the SA they replace, so they stay where they are.
//   SA ids     shard i numbers its IKE SAs i+1, i+1+n, i+1+2n, ... (shard_of_id).
//   users      ShardDirectory: how many established IKE SAs each user holds on each shard
//              (the per-identity cap counts them all), INITIAL_CONTACT reaching the other
//              shards, and virtual IPs shared while a reauthenticating peer's new IKE SA
//              (on one shard) takes over the address its old one (on another) holds.
//
// The directory is striped by user and by address: logins of different users take
// different locks, and each lock is held for a map lookup only. Nothing in it sits on the
// path of a datagram that does not change who is logged in.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "ike/admission.hpp"
#include "postern/bytes.hpp"
#include "postern/net.hpp"

namespace postern::ike {

// The most shards a daemon runs (SPIs carry the shard in one octet).
inline constexpr unsigned kMaxShards = 64;

// `spi` with its first octet set so that it names `shard` of `count` (the other octets as
// they were; the result is never 0).
std::uint64_t label_ike_spi(std::uint64_t spi, unsigned shard, unsigned count);
// The shard whose SPI this is.
unsigned shard_of_spi(std::uint64_t spi, unsigned count);
// The shard of an IKE SA id.
unsigned shard_of_id(std::uint64_t id, unsigned count);
// The shard an IKE message (header first, no non-ESP marker) goes to; shard 0 for anything
// too short to be IKE (the engine there counts and drops it).
unsigned shard_of_datagram(ByteView message, unsigned count);

// Our inbound ESP SPIs (RFC 4303 §2.1), unique among every engine of the daemon: the top 6 bits
// name the shard, the other 26 are a counter through a keyed permutation (a 4-round Feistel
// network on two 13-bit halves, keys drawn once per engine), so they look random but do not
// repeat for 2^26 CHILD_SAs per shard (a month of hourly rekeys at 100,000 tunnels); drawing
// them at random instead makes two of 100,000 CHILD_SAs share one about as often as not (the
// birthday bound), and the data plane would refuse the second. Never 0-255 (reserved).
class EspSpiSequence {
  public:
    EspSpiSequence(unsigned shard, const std::array<std::uint16_t, 4>& keys)
        : shard_(shard % kMaxShards), keys_(keys) {}
    std::uint32_t next();
    // The permutation of 26-bit values (exposed for tests).
    std::uint32_t permute(std::uint32_t x) const;
    static unsigned shard_of(std::uint32_t spi) { return spi >> 26; }

  private:
    unsigned shard_;
    std::array<std::uint16_t, 4> keys_;
    std::uint32_t counter_ = 0;
};

class ShardDirectory {
  public:
    explicit ShardDirectory(unsigned shards);
    ShardDirectory(const ShardDirectory&) = delete;
    ShardDirectory& operator=(const ShardDirectory&) = delete;

    unsigned shards() const { return shards_; }

    // --- established IKE SAs per user, for the per-identity cap and INITIAL_CONTACT ---
    // One more (delta 1) or one fewer (-1) counted SA of `user`, on any shard.
    void count(const std::string& user, int delta);
    // The counted SAs of `user` on all shards (a shard takes its own from that).
    std::size_t total(const std::string& user) const;
    // INITIAL_CONTACT (RFC 7296 §2.4) from a peer logged in as `user` on `from`: the other
    // shards end that user's established IKE SAs of `connection`. The daemon sets this (it
    // posts the work to the other shards' threads); unset, nothing happens elsewhere.
    using EndElsewhere = std::function<void(unsigned from, const std::string& connection,
                                            const std::string& user, const std::string& why)>;
    void set_end_elsewhere(EndElsewhere f) { end_elsewhere_ = std::move(f); }
    void end_elsewhere(unsigned from, const std::string& connection, const std::string& user,
                       const std::string& why) const {
        if (end_elsewhere_) end_elsewhere_(from, connection, user, why);
    }

    // --- virtual IPs held across shards (reauthentication, §2.8.3) ---
    // Who holds an address is kept as a digest of user and connection (16 octets of SHA-256
    // rather than two strings: there is an entry for every virtual IP of the daemon).
    // An IKE SA of `user` on `connection` got `address` from `pool` (from the pool, not from
    // another SA): one holder.
    void hold(const std::string& pool, const IpAddress& address, const std::string& user,
              const std::string& connection);
    // A new IKE SA of `user` on `connection` asks for `address`: when an SA of the same user
    // and connection holds it, the new SA becomes a holder too and gets the pool's name.
    std::optional<std::string> share(const IpAddress& address, const std::string& user,
                                     const std::string& connection);
    // A holder lets go: true when it was the last (or the address was never held here), and
    // the address goes back to the pool.
    bool let_go(const std::string& pool, const IpAddress& address);
    std::size_t held_addresses() const;

    // --- DoS protection per source address (ike/admission.hpp), for the whole daemon ---
    // The IKE_SA_INIT requests of one address spread over the shards (they go by SPI), so its
    // rate and its half-open SAs are counted here, striped by address. The total of half-open
    // SAs is each shard's own (its share of the limit); `limits.half_open_limit` is ignored.
    void set_admission_limits(AdmissionLimits limits);
    InitAdmission::Verdict admit(const IpAddress& from, sa::TimePoint now);
    void opened(const IpAddress& from);
    void closed(const IpAddress& from);
    std::size_t addresses_rated() const;
    std::size_t addresses_half_open() const;

  private:
    static constexpr std::size_t kStripes = 64;
    struct UserStripe {
        mutable std::mutex m;
        std::unordered_map<std::string, std::uint32_t> counts;
    };
    using Owner = std::array<std::uint8_t, 16>;
    static Owner owner(const std::string& user, const std::string& connection);
    // An entry for every virtual IP of the daemon, so kept small: the pool is an index into
    // its stripe's names (a daemon has a few pools), not a string of its own.
    struct Held {
        Owner owner;
        std::uint16_t pool = 0;
        std::uint16_t holders = 0;
    };
    struct AddressStripe {
        mutable std::mutex m;
        std::unordered_map<IpAddress, Held, IpAddressHash> held;
        std::vector<std::string> pools;  // the names Held::pool indexes
        std::uint16_t pool_index(const std::string& name);
    };
    struct AdmissionStripe {
        mutable std::mutex m;
        InitAdmission admission;
    };
    UserStripe& stripe_of(const std::string& user) const;
    AddressStripe& stripe_of(const IpAddress& address) const;
    AdmissionStripe& admission_of(const IpAddress& from) const;

    unsigned shards_;
    mutable std::array<UserStripe, kStripes> users_;
    mutable std::array<AddressStripe, kStripes> addresses_;
    mutable std::array<AdmissionStripe, kStripes> admission_;
    EndElsewhere end_elsewhere_;
};

}  // namespace postern::ike
