// Plugin API: EAP methods on the server side (RFC 3748 carried in IKE_AUTH, RFC 7296 §2.16).
//
// Postern's EAP server does what all methods share: identifiers, the Identity round (an empty
// identity falls back to the peer's IKE identity) and method choice by Nak. A method sees the
// Type-Data of its own Requests and Responses only; when it succeeds, its MSK keys the final
// AUTH payloads of both sides.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "postern/bytes.hpp"
#include "postern/plugin/users.hpp"
#include "postern/plugin/x509.hpp"

namespace postern::plugin {

enum class EapFailureReason {
    unknown_user,
    disabled,
    bad_password,
    bad_certificate,  // no certificate, untrusted, or not the account's
    protocol_error,
    internal_error,
};
inline std::string_view to_string(EapFailureReason r) {
    switch (r) {
        case EapFailureReason::unknown_user:
            return "unknown_user";
        case EapFailureReason::disabled:
            return "disabled";
        case EapFailureReason::bad_password:
            return "bad_password";
        case EapFailureReason::bad_certificate:
            return "bad_certificate";
        case EapFailureReason::protocol_error:
            return "protocol_error";
        case EapFailureReason::internal_error:
            return "internal_error";
    }
    return "unknown";
}

// One conversation's method on the server side.
class EapMethod {
  public:
    struct Step {
        enum class Kind { request, success, failure };
        Kind kind = Kind::request;
        Bytes type_data;  // of the next Request (kind request)

        static Step request(Bytes data) { return {Kind::request, std::move(data)}; }
        static Step success() { return {Kind::success, {}}; }
        static Step failure() { return {Kind::failure, {}}; }
    };

    virtual ~EapMethod() = default;
    virtual std::uint8_t type() const = 0;      // IANA method type (26 MSCHAPv2, 13 TLS)
    virtual std::string_view name() const = 0;  // "EAP-MSCHAPv2", for logs
    // The Type-Data of the method's first Request; `id` is that Request's identifier.
    virtual Step begin(std::uint8_t id) = 0;
    // The Type-Data of a Response to the outstanding Request; `next_id` is the identifier the
    // next Request will carry.
    virtual Step process(ByteView type_data, std::uint8_t next_id) = 0;
    // Known once the outcome is (possibly before the last Request, e.g. with MSCHAPv2's
    // Failure Request); the detail is for the log.
    virtual std::optional<EapFailureReason> failure_reason() const = 0;
    virtual const std::string& failure_detail() const = 0;
    // The MSK (64 octets) after a success; empty otherwise.
    virtual ByteView msk() const = 0;
    // After a success, details for the log ("TLSv1.3 ..., client CN=alice"); may be empty.
    virtual std::string description() const { return {}; }
};

// What a method is started with.
struct EapContext {
    std::string identity;  // the account the Identity round named
    // The user stores, in load order.
    std::function<UserInfo(std::string_view name)> users;
    // The connection's own certificate chain (DER, end entity first) and its private key as an
    // OpenSSL 3 EVP_PKEY* (borrowed for the call to create), for methods in which the server
    // proves itself (EAP-TLS).
    std::vector<Bytes> local_chain;
    void* local_key = nullptr;
    // The server's certificate verifier (the x509 plugin's), for methods that check a client
    // certificate; null without one.
    std::shared_ptr<const CertificateVerifier> verifier;
    std::int64_t now = 0;  // Unix seconds, the engine's clock
    // Random octets (injectable for tests).
    std::function<void(MutableByteView)> random;
};

class EapMethodFactory {
  public:
    virtual ~EapMethodFactory() = default;
    virtual std::uint8_t type() const = 0;
    virtual std::string_view name() const = 0;  // "EAP-TLS"
    // A method for one conversation; null fails the conversation (internal_error).
    virtual std::unique_ptr<EapMethod> create(const EapContext& context) = 0;
};

}  // namespace postern::plugin
