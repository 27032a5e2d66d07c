#include "ike/wire/describe.hpp"

namespace postern::ike::wire {
namespace {

std::string_view notify_short(NotifyType t) {
    using N = NotifyType;
    switch (t) {
        case N::UNSUPPORTED_CRITICAL_PAYLOAD:
            return "CRIT";
        case N::INVALID_IKE_SPI:
            return "INVAL_IKE_SPI";
        case N::INVALID_MAJOR_VERSION:
            return "INVAL_MAJOR";
        case N::INVALID_SYNTAX:
            return "INVAL_SYN";
        case N::INVALID_MESSAGE_ID:
            return "INVAL_MID";
        case N::INVALID_SPI:
            return "INVAL_SPI";
        case N::NO_PROPOSAL_CHOSEN:
            return "NO_PROP";
        case N::INVALID_KE_PAYLOAD:
            return "INVAL_KE";
        case N::AUTHENTICATION_FAILED:
            return "AUTH_FAILED";
        case N::SINGLE_PAIR_REQUIRED:
            return "SINGLE_PAIR";
        case N::NO_ADDITIONAL_SAS:
            return "NO_ADD_SAS";
        case N::INTERNAL_ADDRESS_FAILURE:
            return "INT_ADDR_FAIL";
        case N::FAILED_CP_REQUIRED:
            return "FAIL_CP_REQ";
        case N::TS_UNACCEPTABLE:
            return "TS_UNACCEPT";
        case N::INVALID_SELECTORS:
            return "INVAL_SEL";
        case N::TEMPORARY_FAILURE:
            return "TEMP_FAIL";
        case N::CHILD_SA_NOT_FOUND:
            return "CHILD_SA_NOT_FOUND";
        case N::INITIAL_CONTACT:
            return "INIT_CONTACT";
        case N::SET_WINDOW_SIZE:
            return "SET_WINSIZE";
        case N::ADDITIONAL_TS_POSSIBLE:
            return "ADD_TS_POSS";
        case N::IPCOMP_SUPPORTED:
            return "IPCOMP_SUP";
        case N::NAT_DETECTION_SOURCE_IP:
            return "NATD_S_IP";
        case N::NAT_DETECTION_DESTINATION_IP:
            return "NATD_D_IP";
        case N::USE_TRANSPORT_MODE:
            return "USE_TRANSP";
        case N::HTTP_CERT_LOOKUP_SUPPORTED:
            return "HTTP_CERT_LOOK";
        case N::ESP_TFC_PADDING_NOT_SUPPORTED:
            return "ESP_TFC_PAD_N";
        case N::NON_FIRST_FRAGMENTS_ALSO:
            return "NON_FIRST_FRAG";
        case N::MOBIKE_SUPPORTED:
            return "MOBIKE_SUP";
        case N::ADDITIONAL_IP4_ADDRESS:
            return "ADD_4_ADDR";
        case N::ADDITIONAL_IP6_ADDRESS:
            return "ADD_6_ADDR";
        case N::NO_ADDITIONAL_ADDRESSES:
            return "NO_ADD_ADDR";
        case N::UPDATE_SA_ADDRESSES:
            return "UPD_SA_ADDR";
        case N::NO_NATS_ALLOWED:
            return "NO_NATS";
        case N::AUTH_LIFETIME:
            return "AUTH_LFT";
        case N::MULTIPLE_AUTH_SUPPORTED:
            return "MULT_AUTH";
        case N::ANOTHER_AUTH_FOLLOWS:
            return "AUTH_FOLLOWS";
        case N::REDIRECT_SUPPORTED:
            return "REDIR_SUP";
        case N::REDIRECT:
            return "REDIR";
        case N::REDIRECTED_FROM:
            return "REDIR_FROM";
        case N::EAP_ONLY_AUTHENTICATION:
            return "EAP_ONLY";
        case N::CHILDLESS_IKEV2_SUPPORTED:
            return "CHDLESS_SUP";
        case N::IKEV2_MESSAGE_ID_SYNC_SUPPORTED:
            return "MSG_ID_SYN_SUP";
        case N::IKEV2_FRAGMENTATION_SUPPORTED:
            return "FRAG_SUP";
        case N::SIGNATURE_HASH_ALGORITHMS:
            return "HASH_ALG";
        case N::INTERMEDIATE_EXCHANGE_SUPPORTED:
            return "IKE_INT_SUP";
        default:
            return {};
    }
}

std::string_view cfg_short(CfgAttribute a) {
    using C = CfgAttribute;
    switch (a) {
        case C::INTERNAL_IP4_ADDRESS:
            return "ADDR";
        case C::INTERNAL_IP4_NETMASK:
            return "MASK";
        case C::INTERNAL_IP4_DNS:
            return "DNS";
        case C::INTERNAL_IP4_NBNS:
            return "NBNS";
        case C::INTERNAL_IP4_DHCP:
            return "DHCP";
        case C::APPLICATION_VERSION:
            return "VER";
        case C::INTERNAL_IP6_ADDRESS:
            return "ADDR6";
        case C::INTERNAL_IP6_DNS:
            return "DNS6";
        case C::INTERNAL_IP6_DHCP:
            return "DHCP6";
        case C::INTERNAL_IP4_SUBNET:
            return "SUBNET";
        case C::SUPPORTED_ATTRIBUTES:
            return "SUPP";
        case C::INTERNAL_IP6_SUBNET:
            return "SUBNET6";
        case C::INTERNAL_DNS_DOMAIN:
            return "DOMAIN";
        default:
            return {};
    }
}

std::string_view cfg_type_short(CfgType t) {
    switch (t) {
        case CfgType::CFG_REQUEST:
            return "CPRQ";
        case CfgType::CFG_REPLY:
            return "CPRP";
        case CfgType::CFG_SET:
            return "CPS";
        case CfgType::CFG_ACK:
            return "CPA";
    }
    return "CP";
}

std::string eap_short(const EapPayload& e) {
    std::string s = "EAP/";
    switch (e.code) {
        case EapCode::REQUEST:
            s += "REQ";
            break;
        case EapCode::RESPONSE:
            s += "RES";
            break;
        case EapCode::SUCCESS:
            return s + "SUCC";
        case EapCode::FAILURE:
            return s + "FAIL";
        default:
            return s + std::to_string(static_cast<int>(e.code));
    }
    if (!e.type) return s;
    switch (*e.type) {
        case kEapIdentity:
            return s + "/ID";
        case kEapNak:
            return s + "/NAK";
        case kEapMd5:
            return s + "/MD5";
        case kEapTls:
            return s + "/TLS";
        case kEapMschapv2:
            return s + "/MSCHAPV2";
        default:
            return s + "/" + std::to_string(*e.type);
    }
}

}  // namespace

std::string short_name(NotifyType type) {
    if (auto s = notify_short(type); !s.empty()) return std::string(s);
    if (auto s = name(type); !s.empty()) return std::string(s);
    return std::to_string(static_cast<unsigned>(type));
}

std::string describe(const Payload& p) {
    if (auto n = p.get<NotifyPayload>()) return "N(" + short_name(n->type) + ")";
    if (p.get<NoncePayload>()) return "No";
    if (p.get<EncryptedPayload>()) return "E";
    if (auto f = p.get<EncryptedFragmentPayload>()) {
        return "EF(" + std::to_string(f->fragment_number) + "/" +
               std::to_string(f->total_fragments) + ")";
    }
    if (auto cp = p.get<CpPayload>()) {
        // Like strongSwan: attribute names, repeated types collapsed ("CPRP(ADDR DNS)").
        std::string s(cfg_type_short(cp->type));
        std::string inner;
        const CfgAttributeValue* prev = nullptr;
        for (const auto& a : cp->attributes) {
            if (prev && prev->type == a.type) continue;
            prev = &a;
            auto n = cfg_short(a.type);
            inner += (inner.empty() ? "" : " ") +
                     (n.empty() ? std::to_string(static_cast<unsigned>(a.type)) : std::string(n));
        }
        return s + "(" + inner + ")";
    }
    if (auto e = p.get<EapPayload>()) return eap_short(*e);
    if (p.get<UnknownPayload>()) return "U(" + std::to_string(static_cast<unsigned>(p.type)) + ")";
    return to_string(p.type);
}

std::string describe(const Header& h, std::span<const Payload> payloads) {
    std::string s = to_string(h.exchange) + (h.response ? " response " : " request ") +
                    std::to_string(h.message_id.value()) + " [ ";
    for (const auto& p : payloads)
        s += describe(p) + " ";
    return s + "]";
}

std::string describe(const Message& m) {
    return describe(m.header, m.payloads);
}

}  // namespace postern::ike::wire
