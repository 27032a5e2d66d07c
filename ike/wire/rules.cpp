#include "ike/wire/rules.hpp"

#include <algorithm>
#include <array>
#include <string>

namespace postern::ike::wire {
namespace {

using P = PayloadType;
using std::to_string;

// Upper bounds for repeated payloads, generous but finite so a peer cannot make us keep
// thousands of payloads around.
constexpr std::uint8_t kMany = 32;
constexpr std::uint8_t kCerts = 8;

constexpr PayloadRule kSaInitRequest[] = {
    {P::N, 0, kMany, false}, {P::V, 0, kMany, false}, {P::SA, 1, 1, false},
    {P::KE, 1, 1, false},    {P::NONCE, 1, 1, false},
};
constexpr PayloadRule kSaInitResponse[] = {
    {P::N, 0, kMany, false}, {P::V, 0, kMany, false}, {P::SA, 1, 1, false},
    {P::KE, 1, 1, false},    {P::NONCE, 1, 1, false}, {P::CERTREQ, 0, kMany, false},
};
// §2.6 cookies, RFC 5685 §3 redirect: the response is just this notify.
constexpr NotifyType kSaInitSufficient[] = {NotifyType::COOKIE, NotifyType::REDIRECT};

constexpr PayloadRule kAuthRequest[] = {
    {P::N, 0, kMany, true},     {P::V, 0, kMany, true},       {P::IDi, 0, 1, true},
    {P::CERT, 0, kCerts, true}, {P::CERTREQ, 0, kMany, true}, {P::IDr, 0, 1, true},
    {P::AUTH, 0, 1, true},      {P::CP, 0, 1, true},          {P::SA, 0, 1, true},
    {P::TSi, 0, 1, true},       {P::TSr, 0, 1, true},         {P::EAP, 0, 1, true},
};
constexpr PayloadRule kAuthResponse[] = {
    {P::N, 0, kMany, true},     {P::V, 0, kMany, true}, {P::IDr, 0, 1, true},
    {P::CERT, 0, kCerts, true}, {P::AUTH, 0, 1, true},  {P::CP, 0, 1, true},
    {P::SA, 0, 1, true},        {P::TSi, 0, 1, true},   {P::TSr, 0, 1, true},
    {P::EAP, 0, 1, true},
};
constexpr PayloadType kSaTsGroup[] = {P::SA, P::TSi, P::TSr};
constexpr std::span<const PayloadType> kAuthGroups[] = {kSaTsGroup};

constexpr PayloadRule kCreateChild[] = {
    {P::N, 0, kMany, true}, {P::V, 0, kMany, true}, {P::SA, 1, 1, true},  {P::NONCE, 1, 1, true},
    {P::KE, 0, 1, true},    {P::TSi, 0, 1, true},   {P::TSr, 0, 1, true},
};
// §1.3.1: Child SAs carry TSi and TSr; §1.3.2: IKE SA rekeying carries neither.
constexpr PayloadType kTsGroup[] = {P::TSi, P::TSr};
constexpr std::span<const PayloadType> kCreateChildGroups[] = {kTsGroup};

constexpr PayloadRule kInformational[] = {
    {P::N, 0, kMany, true},
    {P::D, 0, kMany, true},
    {P::CP, 0, 1, true},
    {P::V, 0, kMany, true},
};
// RFC 9242 §3: IKE_INTERMEDIATE content is extension-defined (RFC 9370 puts one KE in it).
constexpr PayloadRule kIntermediate[] = {
    {P::N, 0, kMany, true},
    {P::V, 0, kMany, true},
    {P::KE, 0, 1, true},
};
// RFC 9370 §2.2.2: IKE_FOLLOWUP_KE { KE, N(ADDITIONAL_KEY_EXCHANGE) }.
constexpr PayloadRule kFollowupKe[] = {
    {P::N, 0, kMany, true},
    {P::KE, 1, 1, true},
};

using E = ExchangeType;
constexpr ExchangeRules kTable[] = {
    {E::IKE_SA_INIT, false, kSaInitRequest, {}, false, {}},
    {E::IKE_SA_INIT, true, kSaInitResponse, kSaInitSufficient, true, {}},
    {E::IKE_AUTH, false, kAuthRequest, {}, false, kAuthGroups},
    {E::IKE_AUTH, true, kAuthResponse, {}, true, kAuthGroups},
    {E::CREATE_CHILD_SA, false, kCreateChild, {}, false, kCreateChildGroups},
    {E::CREATE_CHILD_SA, true, kCreateChild, {}, true, kCreateChildGroups},
    {E::INFORMATIONAL, false, kInformational, {}, false, {}},
    {E::INFORMATIONAL, true, kInformational, {}, false, {}},
    {E::IKE_INTERMEDIATE, false, kIntermediate, {}, false, {}},
    {E::IKE_INTERMEDIATE, true, kIntermediate, {}, true, {}},
    {E::IKE_FOLLOWUP_KE, false, kFollowupKe, {}, false, {}},
    {E::IKE_FOLLOWUP_KE, true, kFollowupKe, {}, true, {}},
};

const PayloadRule* find_rule(const ExchangeRules& rules, PayloadType type) {
    for (const auto& r : rules.payloads) {
        if (r.type == type) return &r;
    }
    return nullptr;
}

bool is_encrypted_type(PayloadType t) {
    return t == P::SK || t == P::SKF;
}

tl::unexpected<ParseError> fail(const std::string& what, const std::string& reason) {
    return syntax_error(what + ": " + reason, 0);
}

}  // namespace

const ExchangeRules* find_rules(ExchangeType exchange, bool response) {
    for (const auto& r : kTable) {
        if (r.exchange == exchange && r.response == response) return &r;
    }
    return nullptr;
}

tl::expected<void, ParseError> check(ExchangeType exchange, bool response,
                                     std::span<const Payload> outer,
                                     std::span<const Payload> inner) {
    std::string what = to_string(exchange) + (response ? " response" : " request");
    const ExchangeRules* rules = find_rules(exchange, response);
    if (!rules) return fail(what, "unsupported exchange type");

    bool wants_sk = std::any_of(rules->payloads.begin(), rules->payloads.end(),
                                [](const PayloadRule& r) { return r.encrypted; });
    bool has_sk = !outer.empty() && is_encrypted_type(outer.back().type);
    if (wants_sk && !has_sk) {
        // §1.2: every message after IKE_SA_INIT is protected.
        return fail(what, "no SK payload (every exchange after IKE_SA_INIT is encrypted)");
    }
    if (!wants_sk && has_sk) return fail(what, to_string(outer.back().type) + " not allowed");
    if (!has_sk && !inner.empty()) return fail(what, "inner payloads without an SK payload");

    auto place = [&](const Payload& p, bool inside) -> tl::expected<void, ParseError> {
        if (p.get<UnknownPayload>()) return {};  // non-critical unknown: skipped (§2.5)
        if (is_encrypted_type(p.type)) {
            return fail(what, to_string(p.type) + (inside ? " inside SK" : " not last"));
        }
        const PayloadRule* rule = find_rule(*rules, p.type);
        if (!rule) return fail(what, to_string(p.type) + " not allowed");
        if (rule->encrypted && !inside) return fail(what, to_string(p.type) + " must be inside SK");
        if (!rule->encrypted && inside) return fail(what, to_string(p.type) + " must not be in SK");
        return {};
    };
    for (std::size_t i = 0; i + (has_sk ? 1 : 0) < outer.size(); ++i) {
        if (auto r = place(outer[i], false); !r) return r;
    }
    for (const auto& p : inner) {
        if (auto r = place(p, true); !r) return r;
    }

    auto count = [&](PayloadType t) {
        return std::count_if(outer.begin(), outer.end(), [t](auto& p) { return p.type == t; }) +
               std::count_if(inner.begin(), inner.end(), [t](auto& p) { return p.type == t; });
    };
    for (const auto& rule : rules->payloads) {
        auto n = count(rule.type);
        if (n > rule.max) {
            return fail(what, to_string(n) + " " + to_string(rule.type) + " payloads, at most " +
                                  to_string(rule.max));
        }
    }

    auto waives = [&](const Payload& p) {
        auto n = p.get<NotifyPayload>();
        if (!n || p.type != P::N) return false;
        if (rules->error_notify_suffices && is_error(n->type)) return true;
        return std::find(rules->sufficient.begin(), rules->sufficient.end(), n->type) !=
               rules->sufficient.end();
    };
    if (std::any_of(outer.begin(), outer.end(), waives) ||
        std::any_of(inner.begin(), inner.end(), waives)) {
        return {};
    }
    for (const auto& rule : rules->payloads) {
        auto n = count(rule.type);
        if (n < rule.min) {
            return fail(what, "missing " + to_string(rule.type) + " (" + to_string(n) + " < " +
                                  to_string(rule.min) + ")");
        }
    }
    for (const auto& group : rules->together) {
        std::string present, missing;
        for (auto t : group)
            (count(t) ? present : missing) += " " + to_string(t);
        if (!present.empty() && !missing.empty()) {
            return fail(what, "has" + present + " but not" + missing + " (they come together)");
        }
    }
    return {};
}

}  // namespace postern::ike::wire
