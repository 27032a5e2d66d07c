// SA proposal negotiation (RFC 7296 §2.7, §3.3): the responder picks one proposal and one
// transform of each type from a received SA payload; the initiator builds its SA payload from
// the configured proposals and checks the responder's answer against what it offered.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <tl/expected.hpp>

#include "ike/crypto/algorithms.hpp"
#include "ike/wire/constants.hpp"
#include "ike/wire/sa.hpp"
#include "postern/bytes.hpp"

namespace postern::ike::policy {

// The outcome of a negotiation: the proposal to send back and the algorithms it stands for.
struct Selected {
    // Responder: the proposal for our SA payload, carrying the peer's proposal number (macOS 14
    // numbers its rekey proposal 3, §3.3.1 says echo it) and exactly one transform of each type
    // the peer's proposal had. Its SPI is empty: the caller puts our SPI there.
    // Initiator (check_response): the responder's proposal as received.
    wire::Proposal proposal;
    // The SPI the peer put in its proposal (empty in IKE_SA_INIT, 8 octets for an IKE rekey,
    // 4 for ESP).
    Bytes peer_spi;

    crypto::EncrTransform encr{EncrId::ENCR_AES_GCM_16, 0};
    std::optional<PrfId> prf;      // IKE only
    std::optional<IntegId> integ;  // nullopt with AEAD encryption
    std::optional<KeId> ke;        // nullopt: no key exchange (ESP without PFS, or IKE_AUTH)
    EsnId esn = EsnId::NO_ESN;     // ESP only

    // Responder: the KE methods of the chosen received proposal that we accept, our preferred
    // first (ke is the first). match_ke() switches to another of them when the peer's KE
    // payload uses it (RFC 7296 §1.2).
    std::vector<KeId> ke_candidates;

    // "IKE:AES_GCM_16_256/PRF_HMAC_SHA2_256/ECP_256" (strongSwan's log style).
    std::string to_string() const;
};

// One line describing an SA payload, strongSwan style:
// "IKE:AES_CBC_128/HMAC_SHA1_96/PRF_HMAC_SHA1/MODP_1024, IKE:...".
std::string describe(const wire::SaPayload& sa);
std::string describe(const wire::Proposal& proposal);

// Responder (RFC 7296 §2.7). `configured` is in the server's order of preference; with
// prefer_server our proposals are tried first (and within a proposal our transform order
// decides), else the peer's. A received proposal is acceptable when, for every transform type
// it contains, one transform is acceptable (§3.3.6); unknown transform IDs are skipped but an
// unknown transform type makes the proposal unacceptable; legacy algorithms count only when
// `policy` allows them; AES needs a supported KEY_LENGTH attribute (§3.3.5).
//
// KE: IKE proposals must carry one. For ESP, a configured proposal without KE means "no PFS"
// and matches proposals offering KE NONE or no KE; one with KE requires one of its methods.
// ignore_ke is for the CHILD_SA piggybacked on IKE_AUTH, which has no key exchange (§1.2: its
// SA may only carry KE NONE, but several clients send their rekey groups anyway): KE transforms
// are then ignored on both sides and left out of the answer, as strongSwan does. It has no
// effect on IKE proposals, whose KE is always required.
//
// The error is one line for the log and the NO_PROPOSAL_CHOSEN decision: "no proposal chosen;
// offered: ...; configured: ...".
tl::expected<Selected, std::string> select_proposal(std::span<const crypto::Proposal> configured,
                                                    const wire::SaPayload& received,
                                                    ProtocolId protocol,
                                                    const crypto::AlgorithmPolicy& policy,
                                                    bool prefer_server = true,
                                                    bool ignore_ke = false);

// What to do with the peer's KE payload once a proposal is selected (RFC 7296 §1.2, §1.3,
// §3.4): the responder selects first, then looks at KEi.
struct KeDecision {
    enum class Action {
        use,         // go on with `group` (Selected::ke and its proposal now say `group`)
        none,        // no key exchange: no KE was selected and none was sent
        ignore,      // no key exchange selected (no PFS); the peer's KE payload is not used
        invalid_ke,  // answer INVALID_KE_PAYLOAD carrying `group`
    };
    Action action = Action::none;
    KeId group = KeId::NONE;
};

// `received` is the KE payload's group, nullopt when the message has no KE payload. If the
// group is one the chosen proposal offers and we accept, it is used (and `selected` updated);
// otherwise INVALID_KE_PAYLOAD demands the selected (preferred) group. A KE payload whose
// group is NONE counts as no KE payload.
KeDecision match_ke(Selected& selected, std::optional<KeId> received);

// Initiator: proposals numbered 1..n in order, transforms in the configured order per type
// (ENCR, PRF, INTEG, KE, ESN), AES with a KEY_LENGTH attribute. `spi` goes into every
// proposal (empty for IKE_SA_INIT).
wire::SaPayload build_sa_payload(std::span<const crypto::Proposal> proposals, ProtocolId protocol,
                                 const Bytes& spi);

// The same proposals without KE transforms: what an initiator offers for the IKE_AUTH
// CHILD_SA (RFC 7296 §1.2 "implementations SHOULD omit the whole transform substructure").
std::vector<crypto::Proposal> without_ke(std::span<const crypto::Proposal> proposals);

// Initiator: the responder's answer must be exactly one proposal, carrying the number of one
// we offered (as numbered by build_sa_payload), with exactly one transform of each type we
// offered in it, each among the ones we offered (§2.7, §3.3.6).
tl::expected<Selected, std::string> check_response(const wire::SaPayload& response,
                                                   std::span<const crypto::Proposal> offered);

}  // namespace postern::ike::policy
