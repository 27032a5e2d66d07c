#include "ike/sa/reassembly.hpp"

#include <algorithm>

namespace postern::ike::sa {

namespace {

tl::unexpected<OpenError> syntax(std::string reason) {
    wire::ParseError pe{NotifyType::INVALID_SYNTAX, 0, reason, 0};
    return tl::unexpected(OpenError{OpenError::Kind::Syntax, std::move(reason), std::move(pe)});
}

void wipe(Bytes& b) {
    std::fill(b.begin(), b.end(), 0);
}

}  // namespace

void Reassembler::reset() {
    for (auto& [n, part] : parts_)
        wipe(part);
    parts_.clear();
    total_ = 0;
    bytes_ = 0;
    inner_first_ = PayloadType::NONE;
    complete_.clear();
}

tl::expected<Reassembler::Status, OpenError> Reassembler::add(const wire::Message& m,
                                                              ByteView datagram,
                                                              const crypto::SkCipher& cipher) {
    const wire::Payload* p = m.encrypted();
    if (!p || p->type != PayloadType::SKF)
        return tl::unexpected(OpenError{OpenError::Kind::NotProtected, "no SKF payload", {}});
    const auto* skf_ptr = p->get<wire::EncryptedFragmentPayload>();
    if (!skf_ptr)
        return tl::unexpected(OpenError{OpenError::Kind::NotProtected, "no SKF payload", {}});
    const auto& skf = *skf_ptr;

    // §2.6: a fragment announcing fewer fragments than one we hold is from an older
    // transmission: ignore it. One announcing more starts reassembly afresh. These checks
    // come after authentication, so an attacker cannot reset a reassembly in progress.
    auto spans = wire::protected_spans(m, datagram);
    if (!spans)
        return tl::unexpected(OpenError{OpenError::Kind::NotProtected, "no SKF payload", {}});
    auto plain = cipher.open(spans->associated_data, spans->body);
    if (!plain) return tl::unexpected(OpenError{OpenError::Kind::Integrity, plain.error(), {}});

    if (skf.total_fragments > kMaxFragments) {
        wipe(*plain);
        return syntax("SKF: " + std::to_string(skf.total_fragments) +
                      " fragments exceed the limit of " + std::to_string(kMaxFragments));
    }
    if (total_ != 0 && skf.total_fragments < total_) {
        wipe(*plain);
        return Status::Stale;
    }
    if (skf.total_fragments > total_) {
        reset();
        total_ = skf.total_fragments;
    }
    if (parts_.count(skf.fragment_number)) {
        wipe(*plain);
        return Status::Duplicate;
    }
    if (bytes_ + plain->size() > kMaxBytes) {
        wipe(*plain);
        reset();
        return syntax("SKF: reassembled message exceeds " + std::to_string(kMaxBytes) + " bytes");
    }
    if (skf.fragment_number == 1) inner_first_ = skf.inner_first;
    bytes_ += plain->size();
    parts_.emplace(skf.fragment_number, std::move(*plain));
    if (parts_.size() < total_) return Status::Incomplete;

    Bytes joined;
    joined.reserve(bytes_);
    for (auto& [n, part] : parts_)
        joined.insert(joined.end(), part.begin(), part.end());
    const PayloadType first = inner_first_;
    reset();
    auto inner = wire::parse_payload_chain(first, joined, 0);
    wipe(joined);
    if (!inner)
        return tl::unexpected(OpenError{OpenError::Kind::Syntax,
                                        "reassembled SKF contents: " + inner.error().reason,
                                        inner.error()});
    complete_ = std::move(*inner);
    return Status::Complete;
}

}  // namespace postern::ike::sa
