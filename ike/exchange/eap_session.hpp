// Internal to the engine: the state of an EAP conversation carried in IKE_AUTH (RFC 7296
// §2.16), kept by the IKE SA between the round trips of either role.
#pragma once

#include <memory>
#include <optional>
#include <vector>

#include "ike/crypto/secret.hpp"
#include "ike/eap/eap_method.hpp"
#include "ike/eap/eap_server.hpp"
#include "ike/policy/identity.hpp"
#include "ike/wire/payload.hpp"

namespace postern::ike::exchange {

struct EapSession {
    // Responder: the EAP server, and the first IKE_AUTH request (its SA, TSi, TSr, CP and
    // notifies set up the CHILD_SA once the peer is authenticated).
    std::optional<eap::EapServer> server;
    std::vector<wire::Payload> first_request;
    // Initiator: the EAP peer.
    std::unique_ptr<eap::PeerMethod> client;

    // The other side's IKE identity (responder: IDi; initiator: IDr), for the final AUTH.
    policy::Identity peer;
    // RFC 5998: the responder did not sign; only the MSK-bound AUTH authenticates it.
    bool eap_only = false;
    // Initiator: the responder's IDr (and signature, unless eap_only) have been checked.
    bool responder_checked = false;
    // EAP-Success seen: msk is set and the AUTH payloads are next.
    bool succeeded = false;
    crypto::Secret msk;
    unsigned rounds = 0;  // responder: IKE_AUTH requests in the conversation
    // Responder: the failure was reported (AuthFailed) when the MSCHAPv2 Failure Request or
    // the TLS alert went out; the peer may never answer it (strongSwan aborts with an
    // INFORMATIONAL instead).
    bool failure_reported = false;
};

}  // namespace postern::ike::exchange
