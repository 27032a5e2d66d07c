// A CHILD_SA (one ESP SA pair) as the IKE SA that negotiated it keeps it.
#pragma once

#include <cstdint>
#include <vector>

#include "ike/crypto/secret.hpp"
#include "ike/policy/proposal_select.hpp"
#include "ike/policy/traffic_selector.hpp"
#include "postern/ike_types.hpp"

namespace postern::ike::sa {

struct ChildSa {
    std::uint32_t reqid = 0;
    EspSpi spi_in;                // chosen by us: the peer sends to it
    EspSpi spi_out;               // chosen by the peer
    policy::Selected algorithms;  // ESP: encr, integ, esn (ke when PFS)
    crypto::Secret encr_in, integ_in, encr_out, integ_out;
    std::vector<policy::TrafficSelector> local_ts, remote_ts;
    bool installed = false;
};

}  // namespace postern::ike::sa
