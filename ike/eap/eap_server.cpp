#include "ike/eap/eap_server.hpp"

#include <utility>

#include <openssl/rand.h>

#include "ike/crypto/ossl.hpp"

namespace postern::ike::eap {

using std::to_string;

namespace {

constexpr std::size_t kMaxIdentity = 255;

bool has_nul(std::string_view s) {
    return s.find('\0') != std::string_view::npos;
}

}  // namespace

Random system_random() {
    return [](MutableByteView out) {
        if (!out.empty() && RAND_bytes(out.data(), static_cast<int>(out.size())) != 1)
            crypto::ossl::fatal("RAND_bytes");
    };
}

EapServer::EapServer(Config config, std::vector<Method> methods, Random random)
    : config_(std::move(config)),
      methods_(std::move(methods)),
      tried_(methods_.size(), false),
      random_(std::move(random)) {}

std::optional<EapFailureReason> EapServer::failure_reason() const {
    if (reason_) return reason_;
    return method_ ? method_->failure_reason() : std::nullopt;
}

const std::string& EapServer::failure_detail() const {
    if (reason_ || !method_) return detail_;
    return method_->failure_detail();
}

std::string_view EapServer::method_name() const {
    return method_ ? method_->name() : std::string_view("EAP");
}

ByteView EapServer::msk() const {
    return status_ == EapStatus::succeeded && method_ ? method_->msk() : ByteView();
}

Bytes EapServer::start() {
    if (state_ != State::initial) return {};
    std::uint8_t id = 0;
    random_(MutableByteView(&id, 1));
    identifier_ = id;
    state_ = State::identity_sent;
    return build_eap_packet(eap_request(identifier_, EapType::IDENTITY));
}

EapStep EapServer::fail(EapFailureReason reason, std::string detail) {
    // A method that failed on its own keeps its reason; the driver's own failures take over.
    if (!failure_reason()) {
        reason_ = reason;
        detail_ = std::move(detail);
    }
    state_ = State::done;
    status_ = EapStatus::failed;
    return {build_eap_packet(eap_failure(identifier_)), status_};
}

EapStep EapServer::process(ByteView message) {
    if (state_ == State::done) return {{}, status_};
    if (state_ == State::initial)
        return fail(EapFailureReason::protocol_error, "EAP message before start()");
    auto parsed = parse_eap_packet(message);
    if (!parsed) return fail(EapFailureReason::protocol_error, parsed.error().reason);
    const EapPacket& p = *parsed;
    if (p.code != EapCode::RESPONSE)
        return fail(EapFailureReason::protocol_error,
                    "expected an EAP Response, got " + ike::to_string(p.code));
    if (p.identifier != identifier_)
        return fail(
            EapFailureReason::protocol_error,
            "EAP Response identifier " + to_string(p.identifier) + " != " + to_string(identifier_));
    if (state_ == State::identity_sent) {
        if (*p.type != EapType::IDENTITY)
            return fail(EapFailureReason::protocol_error,
                        "expected Identity, got " + to_string(*p.type));
        return on_identity(p);
    }
    if (*p.type == EapType::NAK) return on_nak(p);
    if (static_cast<std::uint8_t>(*p.type) != method_->type())
        return fail(EapFailureReason::protocol_error,
                    "expected " + to_string(static_cast<EapType>(method_->type())) + ", got " +
                        to_string(*p.type));
    method_answered_ = true;
    const std::uint8_t next = static_cast<std::uint8_t>(identifier_ + 1);
    return apply(method_->process(p.type_data, next));
}

EapStep EapServer::on_identity(const EapPacket& p) {
    identity_.assign(p.type_data.begin(), p.type_data.end());
    // Android's native client answers with an empty identity: the IKE identity stands in.
    if (identity_.empty()) identity_ = config_.ike_identity;
    if (identity_.empty())
        return fail(EapFailureReason::protocol_error, "empty EAP identity and no IKE identity");
    if (identity_.size() > kMaxIdentity || has_nul(identity_)) {
        std::string what =
            has_nul(identity_) ? "a NUL octet" : to_string(identity_.size()) + " octets";
        identity_.clear();
        return fail(EapFailureReason::protocol_error, "EAP identity has " + what);
    }
    if (methods_.empty()) return fail(EapFailureReason::internal_error, "no EAP method offered");
    tried_[0] = true;
    return start_method(methods_[0]);
}

EapStep EapServer::on_nak(const EapPacket& p) {
    std::string wanted;
    for (auto t : p.type_data)
        wanted += (wanted.empty() ? "" : ",") + to_string(static_cast<EapType>(t));
    const std::string refused = "peer refused " + std::string(method_->name()) + ": Nak (" +
                                (wanted.empty() ? "nothing" : wanted) + ")";
    // RFC 3748 §5.3.1: a Nak answers only a method's first Request.
    if (method_answered_)
        return fail(EapFailureReason::protocol_error, refused + " in the middle of the method");
    // Our order of preference among the methods the peer names and we have not tried.
    for (std::size_t i = 0; i < methods_.size(); ++i) {
        if (tried_[i]) continue;
        for (auto t : p.type_data)
            if (t == static_cast<std::uint8_t>(methods_[i].type)) {
                tried_[i] = true;
                return start_method(methods_[i]);
            }
    }
    return fail(EapFailureReason::protocol_error, refused);
}

EapStep EapServer::start_method(const Method& m) {
    method_ = m.make(identity_);
    method_answered_ = false;
    if (!method_)
        return fail(EapFailureReason::internal_error,
                    "cannot start EAP method " + to_string(m.type));
    state_ = State::method_running;
    return apply(method_->begin(next_identifier()));
}

EapStep EapServer::apply(ServerMethod::Step step) {
    switch (step.kind) {
        case ServerMethod::Step::Kind::request: {
            // The method already used identifier_ + 1 where it needed it (begin() gets it).
            if (method_answered_) next_identifier();
            EapPacket req = eap_request(identifier_, static_cast<EapType>(method_->type()),
                                        std::move(step.type_data));
            if (req.type_data.size() > kMaxTypeData)
                return fail(EapFailureReason::internal_error, "EAP Request too large");
            return {build_eap_packet(req), status_};
        }
        case ServerMethod::Step::Kind::success:
            if (method_->msk().empty())
                return fail(EapFailureReason::internal_error, "method succeeded without an MSK");
            state_ = State::done;
            status_ = EapStatus::succeeded;
            return {build_eap_packet(eap_success(identifier_)), status_};
        case ServerMethod::Step::Kind::failure:
            return fail(method_->failure_reason().value_or(EapFailureReason::protocol_error),
                        method_->failure_detail());
    }
    return fail(EapFailureReason::internal_error, "unknown method step");
}

}  // namespace postern::ike::eap
