// A CHILD_SA (one ESP SA pair) as the IKE SA that negotiated it keeps it.
//
// Life of a CHILD_SA (RFC 7296 §1.3, §2.8):
//   Installed  --rekey due, our CREATE_CHILD_SA out-->  Rekeying
//   Rekeying   --the new SA is up-->                     Rekeyed (our Delete for it is due)
//   Installed/Rekeyed  --our Delete out-->               Deleting
// and it is gone once a Delete went either way. A rekeyed SA keeps carrying inbound traffic
// until its Delete is answered (make-before-break); the peer may go on sending on it until
// then.
#pragma once

#include <chrono>
#include <cstdint>
#include <vector>

#include "ike/crypto/secret.hpp"
#include "ike/policy/proposal_select.hpp"
#include "ike/policy/traffic_selector.hpp"
#include "postern/ike_types.hpp"

namespace postern::ike::sa {

enum class ChildState : std::uint8_t { Installed, Rekeying, Rekeyed, Deleting };

struct ChildSa {
    std::uint32_t reqid = 0;
    EspSpi spi_in;                // chosen by us: the peer sends to it
    EspSpi spi_out;               // chosen by the peer
    policy::Selected algorithms;  // ESP: encr, integ, esn (ke when PFS)
    crypto::Secret encr_in, integ_in, encr_out, integ_out;
    std::vector<policy::TrafficSelector> local_ts, remote_ts;
    // Handed to the data plane: the inbound SA (and the outbound one unless outbound_deferred).
    bool installed = false;
    // A CHILD_SA we created as responder of the peer's rekey: its outbound SA waits until the
    // SA it replaces is gone (the peer installs its inbound only when it reads our response,
    // so sending on the new SA earlier could lose packets; strongSwan waits the same way).
    bool outbound_deferred = false;
    EspSpi replaces;  // our inbound SPI of the SA this one replaced (0: none)

    ChildState state = ChildState::Installed;
    // When we rekey it (time-based, with jitter; max(): never) and when it dies if it was not
    // rekeyed by then (its hard lifetime; max(): never). Set once installed.
    std::chrono::steady_clock::time_point rekey_at = std::chrono::steady_clock::time_point::max();
    std::chrono::steady_clock::time_point expire_at = std::chrono::steady_clock::time_point::max();
};

}  // namespace postern::ike::sa
