// What every EAP method shares, sans-I/O: the outcome of a conversation, the user store it
// asks, and the two interfaces IKE_AUTH drives.
//
//   ServerMethod   one method on the server side (EAP-MSCHAPv2, EAP-TLS), run by EapServer
//                  (eap_server.hpp) after the Identity round and any Nak: it sees only the
//                  Type-Data of its own Requests and Responses. It is the plugin API's
//                  EapMethod (include/postern/plugin/eap.hpp): plugins provide methods too.
//   PeerMethod     the peer side of a whole conversation (Identity, Nak, the method), for
//                  Postern's own initiator: whole EAP messages in, whole EAP messages out.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <tl/expected.hpp>

#include "ike/crypto/secret.hpp"
#include "ike/eap/eap_packet.hpp"
#include "postern/bytes.hpp"
#include "postern/plugin/eap.hpp"

namespace postern::ike::eap {

template <class T>
using Result = tl::expected<T, std::string>;

// Fills its argument with random octets. Injectable so tests are deterministic.
using Random = std::function<void(MutableByteView)>;
// RAND_bytes from the default context (aborts if the DRBG fails: nothing safe can follow).
Random system_random();

// What a user store says about an account (the plugin API's type).
using UserRecord = plugin::UserInfo;
// Called at most once per conversation, synchronously, with the account name (the EAP
// identity, or the IKE identity when the peer sent an empty one).
using UserLookup = std::function<UserRecord(std::string_view identity)>;

enum class EapStatus { in_progress, succeeded, failed };

using plugin::EapFailureReason;
using plugin::to_string;

// One step: the EAP message to send (empty when there is nothing to send) and the status after
// it. When the status turns succeeded or failed, reply is the final EAP-Success/Failure.
struct EapStep {
    Bytes reply;
    EapStatus status = EapStatus::in_progress;
};

// The server side of one method (the plugin API's EapMethod). EapServer checks codes,
// identifiers and types and handles the Identity round and Naks; a method sees the Type-Data of
// Responses of its own type only.
using ServerMethod = plugin::EapMethod;

// Builds the method for the account the Identity round named.
using ServerMethodFactory =
    std::function<std::unique_ptr<ServerMethod>(const std::string& identity)>;

// The peer side of a conversation.
class PeerMethod {
  public:
    virtual ~PeerMethod() = default;
    virtual std::string_view name() const = 0;
    // Feeds one EAP message from the server; the reply is empty when there is none to send.
    virtual EapStep process(ByteView eap_message) = 0;
    virtual EapStatus status() const = 0;
    virtual const std::string& failure_detail() const = 0;
    // kMskSize octets once status() is succeeded; empty otherwise.
    virtual const crypto::Secret& msk() const = 0;
};

}  // namespace postern::ike::eap
