// Which payloads each exchange allows, how many, and which must travel inside SK
// (RFC 7296 §1.2-§1.5, §2.6, §3.2; RFC 7383; RFC 9242; RFC 9370). Like strongSwan's
// encoding/message.c, the rules are a table: one ExchangeRules per exchange and direction.
//
//   IKE_SA_INIT      HDR, SA, KE, Ni, [N+], [V+]  -->
//                <-- HDR, SA, KE, Nr, [CERTREQ+], [N+], [V+]   or just N(COOKIE) / N(error)
//   IKE_AUTH         HDR, SK { IDi, [CERT+], [N+], [CERTREQ+], [IDr], [AUTH], [CP],
//                              [SA, TSi, TSr], [EAP] }  -->   (EAP rounds: SK {EAP} / SK {AUTH})
//                <-- HDR, SK { IDr, [CERT+], AUTH, [CP], [SA, TSr, TSr], [EAP], [N+] }
//   CREATE_CHILD_SA  HDR, SK { SA, Ni, [KEi], [TSi, TSr], [N+] }  <-->
//   INFORMATIONAL    HDR, SK { [N+], [D+], [CP] }  <-->
//   IKE_INTERMEDIATE HDR, SK { [KE], [N+] }  <-->
//
// Minimum counts are what every message of that kind has; IKE_AUTH has none because EAP and
// multiple authentication rounds (RFC 4739) carry only some of its payloads - which round
// needs what is the ike_auth task's business. Unknown non-critical payloads are ignored.
#pragma once

#include <cstdint>
#include <span>

#include <tl/expected.hpp>

#include "ike/wire/constants.hpp"
#include "ike/wire/error.hpp"
#include "ike/wire/payload.hpp"

namespace postern::ike::wire {

struct PayloadRule {
    PayloadType type;
    std::uint8_t min;
    std::uint8_t max;
    bool encrypted;  // must be inside SK (true) or outside (false)
};

struct ExchangeRules {
    ExchangeType exchange;
    bool response;
    // Payloads not listed are not allowed.
    std::span<const PayloadRule> payloads;
    // When one of these notifies is present, minimum counts and groups are waived
    // (e.g. an IKE_SA_INIT response with only N(COOKIE), §2.6).
    std::span<const NotifyType> sufficient;
    // Any error notify (type < 16384) waives minimum counts and groups too (§1.2, §2.21).
    bool error_notify_suffices;
    // Payloads that come all together or not at all (e.g. SA, TSi, TSr in IKE_AUTH, §1.2;
    // RFC 6023 childless IKE_AUTH omits all three).
    std::span<const std::span<const PayloadType>> together;
};

// The rules for an exchange and direction, or nullptr if the exchange is not supported.
const ExchangeRules* find_rules(ExchangeType exchange, bool response);

// Checks a message's payloads against the table. `outer` is the message's payload chain;
// `inner` the decrypted contents of its SK payload (or of the reassembled SKF fragments),
// empty when there is none. Reasons name the exchange and direction, e.g.
// "IKE_AUTH request: IDi must be inside SK". Errors carry INVALID_SYNTAX.
tl::expected<void, ParseError> check(ExchangeType exchange, bool response,
                                     std::span<const Payload> outer,
                                     std::span<const Payload> inner = {});

}  // namespace postern::ike::wire
