#include "ike/policy/proposal_select.hpp"

#include <algorithm>
#include <utility>

namespace postern::ike::policy {

namespace {

// A received proposal's transforms sorted by type. Types this implementation does not know
// are only counted: §3.3.6 says such a proposal cannot be accepted.
struct ByType {
    std::vector<const wire::Transform*> encr, prf, integ, ke, esn;
    std::vector<const wire::Transform*> unknown;
};

ByType group(const wire::Proposal& p) {
    ByType g;
    for (const auto& t : p.transforms) {
        switch (t.type) {
            case TransformType::ENCR:
                g.encr.push_back(&t);
                break;
            case TransformType::PRF:
                g.prf.push_back(&t);
                break;
            case TransformType::INTEG:
                g.integ.push_back(&t);
                break;
            case TransformType::KE:
                g.ke.push_back(&t);
                break;
            case TransformType::ESN:
                g.esn.push_back(&t);
                break;
            default:
                g.unknown.push_back(&t);
                break;
        }
    }
    return g;
}

bool has_id(const std::vector<const wire::Transform*>& ts, std::uint16_t id) {
    return std::any_of(ts.begin(), ts.end(), [&](const wire::Transform* t) { return t->id == id; });
}

// The KEY_LENGTH attribute is the only one defined (§3.3.5); a transform carrying anything
// else asks for something we cannot honour, so it is skipped like an unknown ID.
bool only_key_length(const wire::Transform& t) {
    return std::all_of(t.attributes.begin(), t.attributes.end(),
                       [](const auto& a) { return a.type == kAttrKeyLength && a.tv; });
}

// The encryption transform a received ENCR transform stands for, if we implement it with that
// key length. AES without KEY_LENGTH maps to key_bits 0, which find_encr does not know: the
// attribute is mandatory for variable-length ciphers (§3.3.5).
std::optional<crypto::EncrTransform> as_encr(const wire::Transform& t) {
    if (!only_key_length(t)) return std::nullopt;
    crypto::EncrTransform e{static_cast<EncrId>(t.id), t.key_length().value_or(0)};
    if (!crypto::find_encr(e.id, e.key_bits)) return std::nullopt;
    return e;
}

// The IDs both sides accept, in the order of whoever's preference applies.
template <class Id, class Ok>
std::vector<Id> common(const std::vector<Id>& ours,
                       const std::vector<const wire::Transform*>& theirs, bool prefer_server,
                       Ok ok) {
    std::vector<Id> out;
    const auto offered = [&](Id id) {
        return std::any_of(theirs.begin(), theirs.end(), [&](const wire::Transform* t) {
            return t->id == static_cast<std::uint16_t>(id) && t->attributes.empty();
        });
    };
    const auto add = [&](Id id) {
        if (ok(id) && std::find(out.begin(), out.end(), id) == out.end()) out.push_back(id);
    };
    if (prefer_server) {
        for (Id id : ours)
            if (offered(id)) add(id);
    } else {
        for (const wire::Transform* t : theirs) {
            const Id id = static_cast<Id>(t->id);
            if (t->attributes.empty() && std::find(ours.begin(), ours.end(), id) != ours.end())
                add(id);
        }
    }
    return out;
}

// Tries one of our proposals against one of theirs (RFC 7296 §3.3.6: one transform of every
// type present must be acceptable).
std::optional<Selected> match(const crypto::Proposal& ours, const wire::Proposal& theirs,
                              ProtocolId protocol, const crypto::AlgorithmPolicy& policy,
                              bool prefer_server, bool ignore_ke) {
    if (theirs.protocol != protocol) return std::nullopt;
    const ByType g = group(theirs);
    const bool is_ike = protocol == ProtocolId::IKE;
    if (!g.unknown.empty()) return std::nullopt;
    // §3.3.3: ESN belongs to AH/ESP, PRF to IKE; we cannot pick one of a type we cannot use.
    if (is_ike && !g.esn.empty()) return std::nullopt;
    if (!is_ike && !g.prf.empty()) return std::nullopt;
    if (g.encr.empty()) return std::nullopt;

    Selected s;

    // ENCR and INTEG are chosen together: AEAD goes with no INTEG or INTEG NONE only (§3.3),
    // the others with a real integrity algorithm both sides accept.
    std::vector<crypto::EncrTransform> encr_candidates;
    const auto encr_ok = [&](const crypto::EncrTransform& e) {
        return crypto::lookup_encr(e.id, e.key_bits, policy).has_value() &&
               std::find(encr_candidates.begin(), encr_candidates.end(), e) ==
                   encr_candidates.end();
    };
    if (prefer_server) {
        for (const auto& e : ours.encr) {
            for (const wire::Transform* t : g.encr) {
                if (as_encr(*t) == e && encr_ok(e)) encr_candidates.push_back(e);
            }
        }
    } else {
        for (const wire::Transform* t : g.encr) {
            auto e = as_encr(*t);
            if (e && std::find(ours.encr.begin(), ours.encr.end(), *e) != ours.encr.end() &&
                encr_ok(*e))
                encr_candidates.push_back(*e);
        }
    }
    const bool integ_none_offered = has_id(g.integ, std::uint16_t(IntegId::AUTH_NONE));
    const auto integ_candidates = common(ours.integ, g.integ, prefer_server, [&](IntegId id) {
        return id != IntegId::AUTH_NONE && crypto::lookup_integ(id, policy).has_value();
    });
    bool found = false;
    for (const auto& e : encr_candidates) {
        if (crypto::find_encr(e.id, e.key_bits)->aead) {
            if (!g.integ.empty() && !integ_none_offered) continue;
            s.encr = e;
            s.integ.reset();
        } else {
            if (integ_candidates.empty()) continue;
            s.encr = e;
            s.integ = integ_candidates.front();
        }
        found = true;
        break;
    }
    if (!found) return std::nullopt;

    if (is_ike) {
        const auto prfs = common(ours.prf, g.prf, prefer_server, [&](PrfId id) {
            return crypto::lookup_prf(id, policy).has_value();
        });
        if (prfs.empty()) return std::nullopt;  // also when the PRF transform is missing
        s.prf = prfs.front();
    }

    // KE: mandatory for IKE (§1.2); for ESP it is PFS, decided by our configuration (§1.3.1).
    bool ke_none_reply = false;
    if (!(ignore_ke && !is_ike)) {
        if (is_ike || !ours.ke.empty()) {
            s.ke_candidates = common(ours.ke, g.ke, prefer_server, [&](KeId id) {
                return id != KeId::NONE && crypto::lookup_ke(id, policy).has_value();
            });
            if (s.ke_candidates.empty()) return std::nullopt;
            s.ke = s.ke_candidates.front();
        } else if (!g.ke.empty()) {
            // We do not do PFS: acceptable only if the peer lets us go without (KE NONE).
            if (!has_id(g.ke, std::uint16_t(KeId::NONE))) return std::nullopt;
            ke_none_reply = true;
        }
    }

    if (!is_ike) {
        // A missing ESN transform is read as "no ESN" (§3.3.2: NO_ESN is the usual answer).
        const std::vector<EsnId> our_esn =
            ours.esn.empty() ? std::vector<EsnId>{EsnId::NO_ESN} : ours.esn;
        if (g.esn.empty()) {
            if (std::find(our_esn.begin(), our_esn.end(), EsnId::NO_ESN) == our_esn.end())
                return std::nullopt;
            s.esn = EsnId::NO_ESN;
        } else {
            const auto esns = common(our_esn, g.esn, prefer_server, [](EsnId id) {
                return id == EsnId::NO_ESN || id == EsnId::ESN;
            });
            if (esns.empty()) return std::nullopt;
            s.esn = esns.front();
        }
    }

    // The answer: one transform of each type the peer's proposal had, in type order.
    s.proposal.number = theirs.number;
    s.proposal.protocol = protocol;
    s.peer_spi = theirs.spi;
    auto& out = s.proposal.transforms;
    out.push_back(wire::Transform::encr(
        s.encr.id, s.encr.key_bits ? std::optional<std::uint16_t>(s.encr.key_bits) : std::nullopt));
    if (s.prf) out.push_back(wire::Transform::prf(*s.prf));
    if (s.integ)
        out.push_back(wire::Transform::integ(*s.integ));
    else if (!g.integ.empty())
        out.push_back(wire::Transform::integ(IntegId::AUTH_NONE));
    if (s.ke)
        out.push_back(wire::Transform::ke(*s.ke));
    else if (ke_none_reply)
        out.push_back(wire::Transform::ke(KeId::NONE));
    if (!g.esn.empty()) out.push_back(wire::Transform::esn(s.esn));
    return s;
}

// The registry name in strongSwan's spelling: ENCR_ and AUTH_ prefixes dropped
// ("AES_CBC", "HMAC_SHA1_96"), PRF_ kept; "EncrId(99)" for values not in the registry.
template <class E>
std::string id_name(E id) {
    std::string_view n = ike::name(id);
    if (n.empty()) return ike::to_string(id);
    for (std::string_view prefix : {"ENCR_", "AUTH_"})
        if (n.starts_with(prefix)) n.remove_prefix(prefix.size());
    return std::string(n);
}

std::string describe_transform(const wire::Transform& t) {
    switch (t.type) {
        case TransformType::ENCR: {
            std::string s = id_name(static_cast<EncrId>(t.id));
            if (auto bits = t.key_length()) s += "_" + std::to_string(*bits);
            return s;
        }
        case TransformType::PRF:
            return id_name(static_cast<PrfId>(t.id));
        case TransformType::INTEG:
            return id_name(static_cast<IntegId>(t.id));
        case TransformType::KE:
            return id_name(static_cast<KeId>(t.id));
        case TransformType::ESN:
            return id_name(static_cast<EsnId>(t.id));
        default:
            return "TRANSFORM_TYPE_" + std::to_string(unsigned(t.type)) + "=" +
                   std::to_string(t.id);
    }
}

}  // namespace

std::string describe(const wire::Proposal& p) {
    std::string out = id_name(p.protocol) + ":";
    bool first = true;
    // strongSwan's order: ENCR/INTEG/PRF/KE/ESN, then anything unknown. INTEG NONE (AEAD) is
    // left out as strongSwan does.
    const auto emit = [&](auto pred) {
        for (const auto& t : p.transforms) {
            if (!pred(t)) continue;
            if (!first) out += '/';
            out += describe_transform(t);
            first = false;
        }
    };
    emit([](const wire::Transform& t) { return t.type == TransformType::ENCR; });
    emit([](const wire::Transform& t) {
        return t.type == TransformType::INTEG && t.id != std::uint16_t(IntegId::AUTH_NONE);
    });
    emit([](const wire::Transform& t) { return t.type == TransformType::PRF; });
    emit([](const wire::Transform& t) { return t.type == TransformType::KE; });
    emit([](const wire::Transform& t) { return t.type == TransformType::ESN; });
    emit([](const wire::Transform& t) {
        return static_cast<std::uint8_t>(t.type) < 1 || static_cast<std::uint8_t>(t.type) > 5;
    });
    return out;
}

std::string describe(const wire::SaPayload& sa) {
    std::string out;
    for (const auto& p : sa.proposals) {
        if (!out.empty()) out += ", ";
        out += describe(p);
    }
    return out.empty() ? "nothing" : out;
}

std::string Selected::to_string() const {
    return describe(proposal);
}

tl::expected<Selected, std::string> select_proposal(std::span<const crypto::Proposal> configured,
                                                    const wire::SaPayload& received,
                                                    ProtocolId protocol,
                                                    const crypto::AlgorithmPolicy& policy,
                                                    bool prefer_server, bool ignore_ke) {
    if (protocol != ProtocolId::IKE && protocol != ProtocolId::ESP)
        return tl::make_unexpected("no proposal chosen: protocol " + ike::to_string(protocol) +
                                   " is not supported");
    const auto try_pair = [&](const crypto::Proposal& ours,
                              const wire::Proposal& theirs) -> std::optional<Selected> {
        if (ours.protocol != protocol) return std::nullopt;
        return match(ours, theirs, protocol, policy, prefer_server, ignore_ke);
    };
    if (prefer_server) {
        for (const auto& ours : configured)
            for (const auto& theirs : received.proposals)
                if (auto s = try_pair(ours, theirs)) return std::move(*s);
    } else {
        for (const auto& theirs : received.proposals)
            for (const auto& ours : configured)
                if (auto s = try_pair(ours, theirs)) return std::move(*s);
    }
    std::string mine;
    for (const auto& ours : configured) {
        if (ours.protocol != protocol) continue;
        if (!mine.empty()) mine += ", ";
        mine += crypto::to_string(ours);
    }
    return tl::make_unexpected("no proposal chosen; offered: " + describe(received) +
                               "; configured: " + (mine.empty() ? "nothing" : mine));
}

KeDecision match_ke(Selected& selected, std::optional<KeId> received) {
    using A = KeDecision::Action;
    if (received == KeId::NONE) received.reset();
    if (!received) {
        // The chosen proposal needs a key exchange the peer did not send (§1.3: the KE payload
        // must use the group the responder picks).
        if (selected.ke) return {A::invalid_ke, *selected.ke};
        return {A::none, KeId::NONE};
    }
    if (!selected.ke) return {A::ignore, KeId::NONE};
    const auto& c = selected.ke_candidates;
    if (std::find(c.begin(), c.end(), *received) == c.end()) return {A::invalid_ke, *selected.ke};
    // §1.2: a KEi group the chosen proposal offers and we accept is used as is, saving a
    // round trip even when we would have preferred another one.
    selected.ke = *received;
    for (auto& t : selected.proposal.transforms)
        if (t.type == TransformType::KE) t.id = std::uint16_t(*received);
    return {A::use, *received};
}

wire::SaPayload build_sa_payload(std::span<const crypto::Proposal> proposals, ProtocolId protocol,
                                 const Bytes& spi) {
    wire::SaPayload sa;
    std::uint8_t number = 1;
    for (const auto& p : proposals) {
        wire::Proposal w;
        w.number = number++;
        w.protocol = protocol;
        w.spi = spi;
        for (const auto& e : p.encr) {
            w.transforms.push_back(wire::Transform::encr(
                e.id, e.key_bits ? std::optional<std::uint16_t>(e.key_bits) : std::nullopt));
        }
        for (auto id : p.prf)
            w.transforms.push_back(wire::Transform::prf(id));
        for (auto id : p.integ)
            w.transforms.push_back(wire::Transform::integ(id));
        for (auto id : p.ke)
            w.transforms.push_back(wire::Transform::ke(id));
        for (auto id : p.esn)
            w.transforms.push_back(wire::Transform::esn(id));
        sa.proposals.push_back(std::move(w));
    }
    return sa;
}

std::vector<crypto::Proposal> without_ke(std::span<const crypto::Proposal> proposals) {
    std::vector<crypto::Proposal> out(proposals.begin(), proposals.end());
    for (auto& p : out)
        p.ke.clear();
    // Two proposals may now be the same; the duplicate would only lengthen the SA payload.
    std::vector<crypto::Proposal> unique;
    for (auto& p : out)
        if (std::find(unique.begin(), unique.end(), p) == unique.end())
            unique.push_back(std::move(p));
    return unique;
}

tl::expected<Selected, std::string> check_response(const wire::SaPayload& response,
                                                   std::span<const crypto::Proposal> offered) {
    const auto fail = [](std::string why) {
        return tl::make_unexpected("SA response: " + std::move(why));
    };
    if (response.proposals.size() != 1) {
        return fail(std::to_string(response.proposals.size()) +
                    " proposals, expected exactly one (RFC 7296 §2.7)");
    }
    const wire::Proposal& p = response.proposals.front();
    if (p.number < 1 || p.number > offered.size()) {
        return fail("proposal number " + std::to_string(p.number) + " was not offered (we sent " +
                    std::to_string(offered.size()) + ")");
    }
    const crypto::Proposal& o = offered[p.number - 1];
    if (p.protocol != o.protocol) {
        return fail("protocol " + ike::to_string(p.protocol) + ", we offered " +
                    ike::to_string(o.protocol));
    }
    const bool is_ike = o.protocol == ProtocolId::IKE;
    const ByType g = group(p);
    const std::string what = describe(p);
    if (!g.unknown.empty()) return fail(what + ": transform type we did not offer");
    for (const auto* list : {&g.encr, &g.prf, &g.integ, &g.ke, &g.esn}) {
        if (list->size() > 1) {
            return fail(what + ": " + std::to_string(list->size()) + " " +
                        ike::to_string(list->front()->type) + " transforms, expected one");
        }
    }

    Selected s;
    s.proposal = p;
    s.peer_spi = p.spi;

    if (g.encr.empty()) return fail(what + ": no encryption transform");
    const auto encr = as_encr(*g.encr.front());
    if (!encr || std::find(o.encr.begin(), o.encr.end(), *encr) == o.encr.end())
        return fail(what + ": encryption transform not offered");
    s.encr = *encr;
    const bool aead = crypto::find_encr(encr->id, encr->key_bits)->aead;

    if (is_ike) {
        if (g.prf.empty()) return fail(what + ": no PRF transform");
        const auto id = static_cast<PrfId>(g.prf.front()->id);
        if (std::find(o.prf.begin(), o.prf.end(), id) == o.prf.end())
            return fail(what + ": PRF not offered");
        s.prf = id;
        if (!g.esn.empty()) return fail(what + ": ESN transform in an IKE proposal");
    } else if (!g.prf.empty()) {
        return fail(what + ": PRF transform in an " + ike::to_string(o.protocol) + " proposal");
    }

    if (aead) {
        if (!g.integ.empty() && g.integ.front()->id != std::uint16_t(IntegId::AUTH_NONE))
            return fail(what + ": integrity transform with AEAD encryption");
    } else {
        if (g.integ.empty()) return fail(what + ": no integrity transform");
        const auto id = static_cast<IntegId>(g.integ.front()->id);
        if (std::find(o.integ.begin(), o.integ.end(), id) == o.integ.end())
            return fail(what + ": integrity transform not offered");
        s.integ = id;
    }

    if (!o.ke.empty()) {
        if (g.ke.empty()) return fail(what + ": no key exchange transform");
        const auto id = static_cast<KeId>(g.ke.front()->id);
        if (std::find(o.ke.begin(), o.ke.end(), id) == o.ke.end())
            return fail(what + ": key exchange method not offered");
        s.ke = id;
        s.ke_candidates = {id};
    } else if (!g.ke.empty() && g.ke.front()->id != std::uint16_t(KeId::NONE)) {
        return fail(what + ": key exchange method not offered (we offered none)");
    }

    if (!is_ike) {
        const std::vector<EsnId> our_esn =
            o.esn.empty() ? std::vector<EsnId>{EsnId::NO_ESN} : o.esn;
        const EsnId id = g.esn.empty() ? EsnId::NO_ESN : static_cast<EsnId>(g.esn.front()->id);
        if (std::find(our_esn.begin(), our_esn.end(), id) == our_esn.end())
            return fail(what + ": ESN mode not offered");
        s.esn = id;
    }
    return s;
}

}  // namespace postern::ike::policy
