// IKEv2 protocol numbers (RFC 7296 §3 and the IANA "IKEv2 Parameters" registry), as named enums
// that print in logs. Each enum is generated from one X-list so its names and values cannot
// drift apart; to_string() of a value outside the list prints "NAME(123)".
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

// The X-lists below are tables: keep them aligned by hand.
// clang-format off
namespace postern::ike {

#define POSTERN_EXCHANGE_TYPES(X) \
    X(IKE_SA_INIT, 34)            \
    X(IKE_AUTH, 35)               \
    X(CREATE_CHILD_SA, 36)        \
    X(INFORMATIONAL, 37)          \
    X(IKE_SESSION_RESUME, 38)     \
    X(IKE_INTERMEDIATE, 43)       \
    X(IKE_FOLLOWUP_KE, 44)

#define POSTERN_PAYLOAD_TYPES(X) \
    X(NONE, 0)                   \
    X(SA, 33)                    \
    X(KE, 34)                    \
    X(IDi, 35)                   \
    X(IDr, 36)                   \
    X(CERT, 37)                  \
    X(CERTREQ, 38)               \
    X(AUTH, 39)                  \
    X(NONCE, 40)                 \
    X(N, 41)                     \
    X(D, 42)                     \
    X(V, 43)                     \
    X(TSi, 44)                   \
    X(TSr, 45)                   \
    X(SK, 46)                    \
    X(CP, 47)                    \
    X(EAP, 48)                   \
    X(GSPM, 49)                  \
    X(IDg, 50)                   \
    X(GSA, 51)                   \
    X(KD, 52)                    \
    X(SKF, 53)                   \
    X(PS, 54)

#define POSTERN_NOTIFY_TYPES(X)                  \
    X(UNSUPPORTED_CRITICAL_PAYLOAD, 1)           \
    X(INVALID_IKE_SPI, 4)                        \
    X(INVALID_MAJOR_VERSION, 5)                  \
    X(INVALID_SYNTAX, 7)                         \
    X(INVALID_MESSAGE_ID, 9)                     \
    X(INVALID_SPI, 11)                           \
    X(NO_PROPOSAL_CHOSEN, 14)                    \
    X(INVALID_KE_PAYLOAD, 17)                    \
    X(AUTHENTICATION_FAILED, 24)                 \
    X(SINGLE_PAIR_REQUIRED, 34)                  \
    X(NO_ADDITIONAL_SAS, 35)                     \
    X(INTERNAL_ADDRESS_FAILURE, 36)              \
    X(FAILED_CP_REQUIRED, 37)                    \
    X(TS_UNACCEPTABLE, 38)                       \
    X(INVALID_SELECTORS, 39)                     \
    X(UNACCEPTABLE_ADDRESSES, 40)                \
    X(UNEXPECTED_NAT_DETECTED, 41)               \
    X(USE_ASSIGNED_HoA, 42)                      \
    X(TEMPORARY_FAILURE, 43)                     \
    X(CHILD_SA_NOT_FOUND, 44)                    \
    X(INVALID_GROUP_ID, 45)                      \
    X(AUTHORIZATION_FAILED, 46)                  \
    X(STATE_NOT_FOUND, 47)                       \
    X(INITIAL_CONTACT, 16384)                    \
    X(SET_WINDOW_SIZE, 16385)                    \
    X(ADDITIONAL_TS_POSSIBLE, 16386)             \
    X(IPCOMP_SUPPORTED, 16387)                   \
    X(NAT_DETECTION_SOURCE_IP, 16388)            \
    X(NAT_DETECTION_DESTINATION_IP, 16389)       \
    X(COOKIE, 16390)                             \
    X(USE_TRANSPORT_MODE, 16391)                 \
    X(HTTP_CERT_LOOKUP_SUPPORTED, 16392)         \
    X(REKEY_SA, 16393)                           \
    X(ESP_TFC_PADDING_NOT_SUPPORTED, 16394)      \
    X(NON_FIRST_FRAGMENTS_ALSO, 16395)           \
    X(MOBIKE_SUPPORTED, 16396)                   \
    X(ADDITIONAL_IP4_ADDRESS, 16397)             \
    X(ADDITIONAL_IP6_ADDRESS, 16398)             \
    X(NO_ADDITIONAL_ADDRESSES, 16399)            \
    X(UPDATE_SA_ADDRESSES, 16400)                \
    X(COOKIE2, 16401)                            \
    X(NO_NATS_ALLOWED, 16402)                    \
    X(AUTH_LIFETIME, 16403)                      \
    X(MULTIPLE_AUTH_SUPPORTED, 16404)            \
    X(ANOTHER_AUTH_FOLLOWS, 16405)               \
    X(REDIRECT_SUPPORTED, 16406)                 \
    X(REDIRECT, 16407)                           \
    X(REDIRECTED_FROM, 16408)                    \
    X(TICKET_LT_OPAQUE, 16409)                   \
    X(TICKET_REQUEST, 16410)                     \
    X(TICKET_ACK, 16411)                         \
    X(TICKET_NACK, 16412)                        \
    X(TICKET_OPAQUE, 16413)                      \
    X(LINK_ID, 16414)                            \
    X(USE_WESP_MODE, 16415)                      \
    X(ROHC_SUPPORTED, 16416)                     \
    X(EAP_ONLY_AUTHENTICATION, 16417)            \
    X(CHILDLESS_IKEV2_SUPPORTED, 16418)          \
    X(QUICK_CRASH_DETECTION, 16419)              \
    X(IKEV2_MESSAGE_ID_SYNC_SUPPORTED, 16420)    \
    X(IPSEC_REPLAY_COUNTER_SYNC_SUPPORTED, 16421) \
    X(IKEV2_MESSAGE_ID_SYNC, 16422)              \
    X(IPSEC_REPLAY_COUNTER_SYNC, 16423)          \
    X(SECURE_PASSWORD_METHODS, 16424)            \
    X(PSK_PERSIST, 16425)                        \
    X(PSK_CONFIRM, 16426)                        \
    X(ERX_SUPPORTED, 16427)                      \
    X(IFOM_CAPABILITY, 16428)                    \
    X(SENDER_REQUEST_ID, 16429)                  \
    X(IKEV2_FRAGMENTATION_SUPPORTED, 16430)      \
    X(SIGNATURE_HASH_ALGORITHMS, 16431)          \
    X(CLONE_IKE_SA_SUPPORTED, 16432)             \
    X(CLONE_IKE_SA, 16433)                       \
    X(PUZZLE, 16434)                             \
    X(USE_PPK, 16435)                            \
    X(PPK_IDENTITY, 16436)                       \
    X(NO_PPK_AUTH, 16437)                        \
    X(INTERMEDIATE_EXCHANGE_SUPPORTED, 16438)    \
    X(IP4_ALLOWED, 16439)                        \
    X(IP6_ALLOWED, 16440)                        \
    X(ADDITIONAL_KEY_EXCHANGE, 16441)            \
    X(USE_AGGFRAG, 16442)

#define POSTERN_TRANSFORM_TYPES(X) \
    X(ENCR, 1)                     \
    X(PRF, 2)                      \
    X(INTEG, 3)                    \
    X(KE, 4)                       \
    X(ESN, 5)

#define POSTERN_ENCR_IDS(X)   \
    X(DES_IV64, 1)            \
    X(DES, 2)                 \
    X(3DES, 3)                \
    X(RC5, 4)                 \
    X(IDEA, 5)                \
    X(CAST, 6)                \
    X(BLOWFISH, 7)            \
    X(3IDEA, 8)               \
    X(DES_IV32, 9)            \
    X(NULL, 11)               \
    X(AES_CBC, 12)            \
    X(AES_CTR, 13)            \
    X(AES_CCM_8, 14)          \
    X(AES_CCM_12, 15)         \
    X(AES_CCM_16, 16)         \
    X(AES_GCM_8, 18)          \
    X(AES_GCM_12, 19)         \
    X(AES_GCM_16, 20)         \
    X(NULL_AUTH_AES_GMAC, 21) \
    X(CAMELLIA_CBC, 23)       \
    X(CAMELLIA_CTR, 24)       \
    X(CHACHA20_POLY1305, 28)

#define POSTERN_PRF_IDS(X) \
    X(HMAC_MD5, 1)         \
    X(HMAC_SHA1, 2)        \
    X(HMAC_TIGER, 3)       \
    X(AES128_XCBC, 4)      \
    X(HMAC_SHA2_256, 5)    \
    X(HMAC_SHA2_384, 6)    \
    X(HMAC_SHA2_512, 7)    \
    X(AES128_CMAC, 8)

#define POSTERN_INTEG_IDS(X) \
    X(NONE, 0)               \
    X(HMAC_MD5_96, 1)        \
    X(HMAC_SHA1_96, 2)       \
    X(DES_MAC, 3)            \
    X(KPDK_MD5, 4)           \
    X(AES_XCBC_96, 5)        \
    X(HMAC_MD5_128, 6)       \
    X(HMAC_SHA1_160, 7)      \
    X(AES_CMAC_96, 8)        \
    X(AES_128_GMAC, 9)       \
    X(AES_192_GMAC, 10)      \
    X(AES_256_GMAC, 11)      \
    X(HMAC_SHA2_256_128, 12) \
    X(HMAC_SHA2_384_192, 13) \
    X(HMAC_SHA2_512_256, 14)

// Transform type 4 (Diffie-Hellman group, renamed Key Exchange Method by RFC 9370).
#define POSTERN_KE_IDS(X) \
    X(NONE, 0)            \
    X(MODP_768, 1)        \
    X(MODP_1024, 2)       \
    X(MODP_1536, 5)       \
    X(MODP_2048, 14)      \
    X(MODP_3072, 15)      \
    X(MODP_4096, 16)      \
    X(MODP_6144, 17)      \
    X(MODP_8192, 18)      \
    X(ECP_256, 19)        \
    X(ECP_384, 20)        \
    X(ECP_521, 21)        \
    X(MODP_1024_160, 22)  \
    X(MODP_2048_224, 23)  \
    X(MODP_2048_256, 24)  \
    X(ECP_192, 25)        \
    X(ECP_224, 26)        \
    X(BRAINPOOL_224, 27)  \
    X(BRAINPOOL_256, 28)  \
    X(BRAINPOOL_384, 29)  \
    X(BRAINPOOL_512, 30)  \
    X(CURVE25519, 31)     \
    X(CURVE448, 32)

#define POSTERN_ESN_IDS(X) \
    X(NO_ESN, 0)           \
    X(ESN, 1)

#define POSTERN_PROTOCOL_IDS(X) \
    X(NONE, 0)                  \
    X(IKE, 1)                   \
    X(AH, 2)                    \
    X(ESP, 3)

#define POSTERN_ID_TYPES(X) \
    X(ID_IPV4_ADDR, 1)      \
    X(ID_FQDN, 2)           \
    X(ID_RFC822_ADDR, 3)    \
    X(ID_IPV6_ADDR, 5)      \
    X(ID_DER_ASN1_DN, 9)    \
    X(ID_DER_ASN1_GN, 10)   \
    X(ID_KEY_ID, 11)        \
    X(ID_FC_NAME, 12)       \
    X(ID_NULL, 13)

#define POSTERN_AUTH_METHODS(X)     \
    X(RSA_SIG, 1)                   \
    X(SHARED_KEY_MIC, 2)            \
    X(DSS_SIG, 3)                   \
    X(ECDSA_SHA256_P256, 9)         \
    X(ECDSA_SHA384_P384, 10)        \
    X(ECDSA_SHA512_P521, 11)        \
    X(GENERIC_SECURE_PASSWORD, 12)  \
    X(NULL_AUTH, 13)                \
    X(DIGITAL_SIGNATURE, 14)

#define POSTERN_CERT_ENCODINGS(X) \
    X(PKCS7_X509, 1)              \
    X(PGP, 2)                     \
    X(DNS_SIGNED_KEY, 3)          \
    X(X509_SIGNATURE, 4)          \
    X(KERBEROS_TOKEN, 6)          \
    X(CRL, 7)                     \
    X(ARL, 8)                     \
    X(SPKI, 9)                    \
    X(X509_ATTRIBUTE, 10)         \
    X(RAW_RSA_KEY, 11)            \
    X(HASH_URL_X509_CERT, 12)     \
    X(HASH_URL_X509_BUNDLE, 13)   \
    X(OCSP_CONTENT, 14)           \
    X(RAW_PUBLIC_KEY, 15)

#define POSTERN_TS_TYPES(X)   \
    X(TS_IPV4_ADDR_RANGE, 7)  \
    X(TS_IPV6_ADDR_RANGE, 8)  \
    X(TS_FC_ADDR_RANGE, 9)

#define POSTERN_CFG_TYPES(X) \
    X(CFG_REQUEST, 1)        \
    X(CFG_REPLY, 2)          \
    X(CFG_SET, 3)            \
    X(CFG_ACK, 4)

#define POSTERN_CFG_ATTRIBUTES(X)              \
    X(INTERNAL_IP4_ADDRESS, 1)                 \
    X(INTERNAL_IP4_NETMASK, 2)                 \
    X(INTERNAL_IP4_DNS, 3)                     \
    X(INTERNAL_IP4_NBNS, 4)                    \
    X(INTERNAL_IP4_DHCP, 6)                    \
    X(APPLICATION_VERSION, 7)                  \
    X(INTERNAL_IP6_ADDRESS, 8)                 \
    X(INTERNAL_IP6_DNS, 10)                    \
    X(INTERNAL_IP6_DHCP, 12)                   \
    X(INTERNAL_IP4_SUBNET, 13)                 \
    X(SUPPORTED_ATTRIBUTES, 14)                \
    X(INTERNAL_IP6_SUBNET, 15)                 \
    X(MIP6_HOME_PREFIX, 16)                    \
    X(INTERNAL_IP6_LINK, 17)                   \
    X(INTERNAL_IP6_PREFIX, 18)                 \
    X(HOME_AGENT_ADDRESS, 19)                  \
    X(P_CSCF_IP4_ADDRESS, 20)                  \
    X(P_CSCF_IP6_ADDRESS, 21)                  \
    X(FTT_KAT, 22)                             \
    X(EXTERNAL_SOURCE_IP4_NAT_INFO, 23)        \
    X(TIMEOUT_PERIOD_FOR_LIVENESS_CHECK, 24)   \
    X(INTERNAL_DNS_DOMAIN, 25)                 \
    X(INTERNAL_DNSSEC_TA, 26)                  \
    X(MS_INTERNAL_IP4_SERVER, 23456)           \
    X(MS_INTERNAL_IP6_SERVER, 23457)

// RFC 7427 §7 hash algorithm identifiers (SIGNATURE_HASH_ALGORITHMS notify).
#define POSTERN_HASH_ALGORITHMS(X) \
    X(SHA1, 1)                     \
    X(SHA2_256, 2)                 \
    X(SHA2_384, 3)                 \
    X(SHA2_512, 4)                 \
    X(IDENTITY, 5)

// RFC 3748 §4 EAP packet codes.
#define POSTERN_EAP_CODES(X) \
    X(REQUEST, 1)            \
    X(RESPONSE, 2)           \
    X(SUCCESS, 3)            \
    X(FAILURE, 4)

// Enumerators cannot start with a digit (3DES) or be NULL, so transform IDs carry the
// registry's prefix: EncrId::ENCR_3DES, PrfId::PRF_HMAC_SHA2_256, IntegId::AUTH_HMAC_SHA1_96.
// Everything else uses the registry name as is: ExchangeType::IKE_SA_INIT, KeId::CURVE25519.

#define POSTERN_DECLARE_ENUM(Type, Rep, prefix, LIST)                          \
    enum class Type : Rep {                                                    \
        LIST(POSTERN_ENUM_ENTRY_##prefix)                                      \
    };                                                                         \
    /* The registry name without prefix ("IKE_SA_INIT"), or "" if unknown. */ \
    std::string_view name(Type v);                                             \
    /* name(v), or "Type(123)" when the value is not in the list. */          \
    std::string to_string(Type v);

#define POSTERN_ENUM_ENTRY_NOPFX(name, value) name = value,
#define POSTERN_ENUM_ENTRY_ENCR(name, value) ENCR_##name = value,
#define POSTERN_ENUM_ENTRY_PRF(name, value) PRF_##name = value,
#define POSTERN_ENUM_ENTRY_INTEG(name, value) AUTH_##name = value,
#define POSTERN_ENUM_ENTRY_KE(name, value) name = value,
#define POSTERN_ENUM_ENTRY_PROTO(name, value) name = value,

POSTERN_DECLARE_ENUM(ExchangeType, std::uint8_t, NOPFX, POSTERN_EXCHANGE_TYPES)
POSTERN_DECLARE_ENUM(PayloadType, std::uint8_t, NOPFX, POSTERN_PAYLOAD_TYPES)
POSTERN_DECLARE_ENUM(NotifyType, std::uint16_t, NOPFX, POSTERN_NOTIFY_TYPES)
POSTERN_DECLARE_ENUM(TransformType, std::uint8_t, NOPFX, POSTERN_TRANSFORM_TYPES)
POSTERN_DECLARE_ENUM(EncrId, std::uint16_t, ENCR, POSTERN_ENCR_IDS)
POSTERN_DECLARE_ENUM(PrfId, std::uint16_t, PRF, POSTERN_PRF_IDS)
POSTERN_DECLARE_ENUM(IntegId, std::uint16_t, INTEG, POSTERN_INTEG_IDS)
POSTERN_DECLARE_ENUM(KeId, std::uint16_t, KE, POSTERN_KE_IDS)
POSTERN_DECLARE_ENUM(EsnId, std::uint16_t, NOPFX, POSTERN_ESN_IDS)
POSTERN_DECLARE_ENUM(ProtocolId, std::uint8_t, PROTO, POSTERN_PROTOCOL_IDS)
POSTERN_DECLARE_ENUM(IdType, std::uint8_t, NOPFX, POSTERN_ID_TYPES)
POSTERN_DECLARE_ENUM(AuthMethod, std::uint8_t, NOPFX, POSTERN_AUTH_METHODS)
POSTERN_DECLARE_ENUM(CertEncoding, std::uint8_t, NOPFX, POSTERN_CERT_ENCODINGS)
POSTERN_DECLARE_ENUM(TsType, std::uint8_t, NOPFX, POSTERN_TS_TYPES)
POSTERN_DECLARE_ENUM(CfgType, std::uint8_t, NOPFX, POSTERN_CFG_TYPES)
POSTERN_DECLARE_ENUM(CfgAttribute, std::uint16_t, NOPFX, POSTERN_CFG_ATTRIBUTES)
POSTERN_DECLARE_ENUM(HashAlgorithm, std::uint16_t, NOPFX, POSTERN_HASH_ALGORITHMS)
POSTERN_DECLARE_ENUM(EapCode, std::uint8_t, NOPFX, POSTERN_EAP_CODES)

// Transform attribute types (RFC 7296 §3.3.5). Only Key Length (TV format) is defined.
inline constexpr std::uint16_t kAttrKeyLength = 14;

// Notify types below this value are errors (RFC 7296 §3.10.1).
inline constexpr bool is_error(NotifyType t) { return static_cast<std::uint16_t>(t) < 16384; }

// clang-format on
}  // namespace postern::ike
