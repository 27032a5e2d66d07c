// One-line descriptions of messages for logs, in strongSwan's format so that logs of both
// read alike:
//   "IKE_SA_INIT request 0 [ SA KE No N(NATD_S_IP) N(NATD_D_IP) N(FRAG_SUP) ]"
//   "IKE_AUTH request 1 [ EF(1/3) ]", "IKE_AUTH response 1 [ IDr AUTH CPRP(ADDR) SA TSi TSr ]"
#pragma once

#include <span>
#include <string>
#include <string_view>

#include "ike/wire/constants.hpp"
#include "ike/wire/header.hpp"
#include "ike/wire/message.hpp"
#include "ike/wire/payload.hpp"

namespace postern::ike::wire {

// "<EXCHANGE> request|response <message id> [ <payloads> ]". An undecrypted SK prints as "E".
std::string describe(const Message& m);
// The same with other payloads, e.g. the decrypted SK contents.
std::string describe(const Header& h, std::span<const Payload> payloads);
// One payload: "SA", "No", "N(COOKIE)", "EF(2/3)", "CPRQ(ADDR DNS)", "EAP/REQ/ID", "U(200)".
std::string describe(const Payload& p);

// strongSwan's short notify names ("NATD_S_IP", "FRAG_SUP"); the registry name for the others,
// the number for unknown types.
std::string short_name(NotifyType type);

}  // namespace postern::ike::wire
