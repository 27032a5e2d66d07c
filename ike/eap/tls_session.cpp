#include "ike/eap/tls_session.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "ike/crypto/cert_cache.hpp"
#include "ike/crypto/ossl.hpp"

namespace postern::ike::eap {

namespace {

struct CtxFree {
    void operator()(SSL_CTX* c) const { SSL_CTX_free(c); }
};
struct SslFree {
    void operator()(SSL* s) const { SSL_free(s); }
};

// Our Certificate for one libssl decoded; through the certificate cache, so a client that
// comes back with the same certificate is not decoded a second time here.
tl::expected<crypto::Certificate, std::string> wrap(X509* x) {
    unsigned char* der = nullptr;
    const int n = i2d_X509(x, &der);
    if (n <= 0) return tl::unexpected(crypto::ossl::error("i2d_X509"));
    auto c = crypto::CertificateCache::shared().parse(ByteView(der, static_cast<std::size_t>(n)));
    OPENSSL_free(der);
    if (!c) return tl::unexpected(c.error());
    return **c;
}

}  // namespace

struct TlsSession::Impl {
    std::unique_ptr<SSL_CTX, CtxFree> ctx;
    std::unique_ptr<SSL, SslFree> ssl;
    BIO* in = nullptr;   // owned by ssl
    BIO* out = nullptr;  // owned by ssl
    PeerCheck check;
    std::string check_error;  // set when check refused the peer
    std::string peer_alert;   // an alert the peer sent
    std::string our_alert;    // an alert we sent

    // OpenSSL's certificate verification, replaced by the caller's check (SSL_CTX_set_cert_
    // verify_callback): the untrusted stack holds the whole chain the peer sent.
    static int verify(X509_STORE_CTX* store, void* arg) {
        auto* self = static_cast<Impl*>(arg);
        std::vector<crypto::Certificate> chain;
        X509* leaf = X509_STORE_CTX_get0_cert(store);
        auto ee = leaf ? wrap(leaf) : tl::unexpected(std::string("no certificate"));
        if (!ee) {
            self->check_error = "peer certificate: " + ee.error();
            X509_STORE_CTX_set_error(store, X509_V_ERR_CERT_REJECTED);
            return 0;
        }
        chain.push_back(std::move(*ee));
        if (STACK_OF(X509)* rest = X509_STORE_CTX_get0_untrusted(store)) {
            for (int i = 0; i < sk_X509_num(rest); ++i) {
                X509* x = sk_X509_value(rest, i);
                if (X509_cmp(x, leaf) == 0) continue;
                auto c = wrap(x);
                if (!c) {
                    self->check_error = "peer chain: " + c.error();
                    X509_STORE_CTX_set_error(store, X509_V_ERR_CERT_REJECTED);
                    return 0;
                }
                chain.push_back(std::move(*c));
            }
        }
        if (!self->check) {
            self->check_error = "no way to check the peer's certificate";
            X509_STORE_CTX_set_error(store, X509_V_ERR_CERT_REJECTED);
            return 0;
        }
        if (auto ok = self->check(chain); !ok) {
            self->check_error = ok.error();
            X509_STORE_CTX_set_error(store, X509_V_ERR_CERT_REJECTED);
            return 0;
        }
        return 1;
    }

    static void info(const SSL* ssl, int where, int ret) {
        auto* self = static_cast<Impl*>(SSL_get_app_data(ssl));
        if (!self || !(where & SSL_CB_ALERT)) return;
        std::string text = std::string(SSL_alert_type_string_long(ret)) + " alert " +
                           SSL_alert_desc_string_long(ret);
        if (where & SSL_CB_READ) self->peer_alert = std::move(text);
        else self->our_alert = std::move(text);
    }

    void drain(Bytes& sink) const {
        std::uint8_t buf[4096];
        int n;
        while ((n = BIO_read(out, buf, sizeof buf)) > 0)
            sink.insert(sink.end(), buf, buf + n);
    }
};

Result<TlsSession> TlsSession::create(Role role, const TlsSettings& s) {
    auto impl = std::make_unique<Impl>();
    impl->check = s.check_peer;
    impl->ctx.reset(SSL_CTX_new(role == Role::server ? TLS_server_method() : TLS_client_method()));
    SSL_CTX* ctx = impl->ctx.get();
    if (!ctx) return tl::unexpected(crypto::ossl::error("SSL_CTX_new"));
    if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1 ||
        SSL_CTX_set_max_proto_version(ctx, s.max_version >= kTls13 ? TLS1_3_VERSION
                                                                   : TLS1_2_VERSION) != 1)
        return tl::unexpected(crypto::ossl::error("TLS versions"));
    SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET | SSL_OP_NO_RENEGOTIATION);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_num_tickets(ctx, 0);
    if (!s.chain.empty()) {
        if (!s.key) return tl::unexpected(std::string("a TLS certificate without its key"));
        if (SSL_CTX_use_certificate(ctx, s.chain.front().get()) != 1)
            return tl::unexpected(crypto::ossl::error("TLS certificate"));
        for (std::size_t i = 1; i < s.chain.size(); ++i)
            if (SSL_CTX_add1_chain_cert(ctx, s.chain[i].get()) != 1)
                return tl::unexpected(crypto::ossl::error("TLS chain certificate"));
        if (SSL_CTX_use_PrivateKey(ctx, s.key->get()) != 1 || SSL_CTX_check_private_key(ctx) != 1)
            return tl::unexpected(crypto::ossl::error("TLS key"));
    } else if (role == Role::server) {
        return tl::unexpected(std::string("a TLS server needs a certificate"));
    }
    if (role == Role::server) {
        STACK_OF(X509_NAME)* names = sk_X509_NAME_new_null();
        if (!names) crypto::ossl::fatal("sk_X509_NAME_new_null");
        for (const auto& ca : s.client_cas)
            if (X509_NAME* n = X509_NAME_dup(X509_get_subject_name(ca.get())))
                sk_X509_NAME_push(names, n);
        SSL_CTX_set_client_CA_list(ctx, names);
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
    } else {
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
    }
    SSL_CTX_set_cert_verify_callback(ctx, &Impl::verify, impl.get());

    impl->ssl.reset(SSL_new(ctx));
    if (!impl->ssl) return tl::unexpected(crypto::ossl::error("SSL_new"));
    impl->in = BIO_new(BIO_s_mem());
    impl->out = BIO_new(BIO_s_mem());
    if (!impl->in || !impl->out) {
        BIO_free(impl->in);
        BIO_free(impl->out);
        return tl::unexpected(crypto::ossl::error("BIO_new"));
    }
    BIO_set_mem_eof_return(impl->in, -1);  // an empty input is "want more", not EOF
    SSL_set_bio(impl->ssl.get(), impl->in, impl->out);
    SSL_set_app_data(impl->ssl.get(), impl.get());
    SSL_set_info_callback(impl->ssl.get(), &Impl::info);
    if (role == Role::server) SSL_set_accept_state(impl->ssl.get());
    else SSL_set_connect_state(impl->ssl.get());
    return TlsSession(std::move(impl));
}

TlsSession::TlsSession(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
TlsSession::TlsSession(TlsSession&&) noexcept = default;
TlsSession& TlsSession::operator=(TlsSession&&) noexcept = default;
TlsSession::~TlsSession() = default;

TlsSession::State TlsSession::advance(ByteView in, Bytes& out) {
    if (state_ == State::failed) return state_;
    if (!in.empty() && BIO_write(impl_->in, in.data(), static_cast<int>(in.size())) !=
                           static_cast<int>(in.size()))
        crypto::ossl::fatal("BIO_write");
    if (state_ == State::handshaking) {
        const int r = SSL_do_handshake(impl_->ssl.get());
        if (r == 1) {
            state_ = State::established;
        } else {
            const int e = SSL_get_error(impl_->ssl.get(), r);
            if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
                state_ = State::failed;
                missing_peer_certificate_ = ERR_GET_REASON(ERR_peek_last_error()) ==
                                            SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE;
                if (!impl_->check_error.empty()) {
                    error_ = impl_->check_error;
                } else if (!impl_->peer_alert.empty()) {
                    error_ = "peer sent " + impl_->peer_alert;
                    peer_refused_ = true;
                } else {
                    error_ = crypto::ossl::error("TLS handshake");
                    if (!impl_->our_alert.empty()) error_ += " (we sent " + impl_->our_alert + ")";
                }
            }
        }
    }
    crypto::ossl::clear_errors();
    impl_->drain(out);
    return state_;
}

bool TlsSession::write(ByteView data, Bytes& out) {
    if (state_ != State::established) return false;
    const int n = SSL_write(impl_->ssl.get(), data.data(), static_cast<int>(data.size()));
    crypto::ossl::clear_errors();
    impl_->drain(out);
    return n == static_cast<int>(data.size());
}

Bytes TlsSession::read() {
    Bytes data;
    if (state_ != State::established) return data;
    std::uint8_t buf[4096];
    for (;;) {
        const int n = SSL_read(impl_->ssl.get(), buf, sizeof buf);
        if (n > 0) {
            data.insert(data.end(), buf, buf + n);
            continue;
        }
        const int e = SSL_get_error(impl_->ssl.get(), n);
        if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
            // After the handshake a TLS 1.3 server may still refuse our certificate.
            state_ = State::failed;
            if (!impl_->peer_alert.empty()) {
                error_ = "peer sent " + impl_->peer_alert;
                peer_refused_ = true;
            } else {
                error_ = crypto::ossl::error("TLS read");
            }
        }
        break;
    }
    crypto::ossl::clear_errors();
    return data;
}

std::uint16_t TlsSession::version() const {
    if (state_ == State::handshaking) return 0;
    return static_cast<std::uint16_t>(SSL_version(impl_->ssl.get()));
}

std::string TlsSession::description() const {
    const SSL_CIPHER* c = SSL_get_current_cipher(impl_->ssl.get());
    return std::string(SSL_get_version(impl_->ssl.get())) + (c ? " " : "") +
           (c ? SSL_CIPHER_get_name(c) : "");
}

std::optional<crypto::Certificate> TlsSession::peer_certificate() const {
    X509* x = SSL_get0_peer_certificate(impl_->ssl.get());
    if (!x) return std::nullopt;
    auto c = wrap(x);
    if (!c) return std::nullopt;
    return std::move(*c);
}

Result<crypto::Secret> TlsSession::export_key(std::string_view label,
                                              std::optional<ByteView> context,
                                              std::size_t length) const {
    if (state_ != State::established)
        return tl::unexpected(std::string("TLS keys before the handshake completed"));
    crypto::Secret out(length);
    const std::string l(label);
    if (SSL_export_keying_material(impl_->ssl.get(), out.data(), out.size(), l.c_str(), l.size(),
                                   context ? context->data() : nullptr,
                                   context ? context->size() : 0, context ? 1 : 0) != 1)
        return tl::unexpected(crypto::ossl::error("TLS exporter"));
    return out;
}

}  // namespace postern::ike::eap
