// NAT detection (RFC 7296 §2.23): NAT_DETECTION_SOURCE_IP / _DESTINATION_IP carry
// SHA-1(SPIi | SPIr | IP address | port). In the IKE_SA_INIT request SPIr is zero.
#pragma once

#include <cstdint>

#include "postern/bytes.hpp"
#include "postern/net.hpp"

namespace postern::ike::crypto {

// The 20-octet notification data for one endpoint.
Bytes nat_detection_hash(std::uint64_t spi_i, std::uint64_t spi_r, const Endpoint& endpoint);

}  // namespace postern::ike::crypto
