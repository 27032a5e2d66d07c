// A TLS endpoint over memory (OpenSSL libssl with memory BIOs), for EAP-TLS: records in,
// records out, no sockets. Both roles; TLS 1.2 and 1.3 (RFC 5216, RFC 9190).
//
// Decisions:
// - No session resumption (no session cache, no tickets): every EAP-TLS login authenticates the
//   certificate afresh, and a disabled account cannot ride on an old session.
// - No renegotiation; TLS 1.2 at least.
// - The peer's certificate is judged by the caller's PeerCheck (from OpenSSL's verification
//   callback, during the handshake): the chain against the engine's trust anchors at the
//   engine's clock, and whatever account rules apply. A refusal makes OpenSSL send an alert.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "ike/crypto/secret.hpp"
#include "ike/crypto/signature.hpp"
#include "ike/crypto/x509.hpp"
#include "ike/eap/eap_method.hpp"

typedef struct ssl_st SSL;
typedef struct ssl_ctx_st SSL_CTX;

namespace postern::ike::eap {

inline constexpr std::uint16_t kTls12 = 0x0303;
inline constexpr std::uint16_t kTls13 = 0x0304;

// Judges the peer's chain (end entity first, then what else it sent). An error refuses it.
using PeerCheck =
    std::function<tl::expected<void, std::string>(std::span<const crypto::Certificate> chain)>;

struct TlsSettings {
    // Our certificate chain (end entity first) and key: the server's always, the client's when
    // it has one.
    std::vector<crypto::Certificate> chain;
    std::shared_ptr<const crypto::PrivateKey> key;
    // Server: the CAs named in CertificateRequest (clients pick their certificate by them).
    std::vector<crypto::Certificate> client_cas;
    std::uint16_t max_version = kTls12;
    PeerCheck check_peer;
};

class TlsSession {
  public:
    enum class Role { server, client };
    enum class State { handshaking, established, failed };

    static Result<TlsSession> create(Role role, const TlsSettings& settings);
    TlsSession(TlsSession&&) noexcept;
    TlsSession& operator=(TlsSession&&) noexcept;
    ~TlsSession();

    // Feeds records from the peer (may be empty: a client's first call produces ClientHello),
    // advances the handshake, and appends what to send to `out` (alerts included).
    State advance(ByteView in, Bytes& out);
    // Established: application data to send (the TLS 1.3 commitment message of RFC 9190).
    bool write(ByteView data, Bytes& out);
    // Established: application data received so far (reads what advance() buffered).
    Bytes read();

    State state() const { return state_; }
    // Why the handshake failed: our PeerCheck's verdict, the alert the peer sent, OpenSSL's.
    const std::string& error() const { return error_; }
    // The peer refused us (its alert), rather than we it.
    bool peer_refused() const { return peer_refused_; }
    // A server's handshake failed because the client sent no certificate.
    bool missing_peer_certificate() const { return missing_peer_certificate_; }
    // Negotiated version (kTls12, kTls13), 0 before.
    std::uint16_t version() const;
    // "TLSv1.3 TLS_AES_256_GCM_SHA384", for logs.
    std::string description() const;
    // The peer's end-entity certificate, once received.
    std::optional<crypto::Certificate> peer_certificate() const;
    // RFC 5705 / RFC 8446 §7.5 exporter; no context when `context` is nullopt.
    Result<crypto::Secret> export_key(std::string_view label, std::optional<ByteView> context,
                                      std::size_t length) const;

  private:
    struct Impl;
    explicit TlsSession(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
    State state_ = State::handshaking;
    std::string error_;
    bool peer_refused_ = false;
    bool missing_peer_certificate_ = false;
};

}  // namespace postern::ike::eap
