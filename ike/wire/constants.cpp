#include "ike/wire/constants.hpp"

namespace postern::ike {

#define POSTERN_NAME_CASE_NOPFX(name, value) \
    case value:                              \
        return #name;
#define POSTERN_NAME_CASE_ENCR(name, value) \
    case value:                             \
        return "ENCR_" #name;
#define POSTERN_NAME_CASE_PRF(name, value) \
    case value:                            \
        return "PRF_" #name;
#define POSTERN_NAME_CASE_INTEG(name, value) \
    case value:                              \
        return "AUTH_" #name;
#define POSTERN_NAME_CASE_KE(name, value) POSTERN_NAME_CASE_NOPFX(name, value)
#define POSTERN_NAME_CASE_PROTO(name, value) POSTERN_NAME_CASE_NOPFX(name, value)

#define POSTERN_DEFINE_ENUM(Type, prefix, LIST)                                     \
    std::string_view name(Type v) {                                                 \
        switch (static_cast<long>(v)) { LIST(POSTERN_NAME_CASE_##prefix) }          \
        return {};                                                                  \
    }                                                                               \
    std::string to_string(Type v) {                                                 \
        auto n = name(v);                                                           \
        if (!n.empty()) return std::string(n);                                      \
        return std::string(#Type "(") + std::to_string(static_cast<long>(v)) + ")"; \
    }

POSTERN_DEFINE_ENUM(ExchangeType, NOPFX, POSTERN_EXCHANGE_TYPES)
POSTERN_DEFINE_ENUM(PayloadType, NOPFX, POSTERN_PAYLOAD_TYPES)
POSTERN_DEFINE_ENUM(NotifyType, NOPFX, POSTERN_NOTIFY_TYPES)
POSTERN_DEFINE_ENUM(TransformType, NOPFX, POSTERN_TRANSFORM_TYPES)
POSTERN_DEFINE_ENUM(EncrId, ENCR, POSTERN_ENCR_IDS)
POSTERN_DEFINE_ENUM(PrfId, PRF, POSTERN_PRF_IDS)
POSTERN_DEFINE_ENUM(IntegId, INTEG, POSTERN_INTEG_IDS)
POSTERN_DEFINE_ENUM(KeId, KE, POSTERN_KE_IDS)
POSTERN_DEFINE_ENUM(EsnId, NOPFX, POSTERN_ESN_IDS)
POSTERN_DEFINE_ENUM(ProtocolId, PROTO, POSTERN_PROTOCOL_IDS)
POSTERN_DEFINE_ENUM(IdType, NOPFX, POSTERN_ID_TYPES)
POSTERN_DEFINE_ENUM(AuthMethod, NOPFX, POSTERN_AUTH_METHODS)
POSTERN_DEFINE_ENUM(CertEncoding, NOPFX, POSTERN_CERT_ENCODINGS)
POSTERN_DEFINE_ENUM(TsType, NOPFX, POSTERN_TS_TYPES)
POSTERN_DEFINE_ENUM(CfgType, NOPFX, POSTERN_CFG_TYPES)
POSTERN_DEFINE_ENUM(CfgAttribute, NOPFX, POSTERN_CFG_ATTRIBUTES)
POSTERN_DEFINE_ENUM(HashAlgorithm, NOPFX, POSTERN_HASH_ALGORITHMS)
POSTERN_DEFINE_ENUM(EapCode, NOPFX, POSTERN_EAP_CODES)

}  // namespace postern::ike
