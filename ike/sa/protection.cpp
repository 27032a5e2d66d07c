#include "ike/sa/protection.hpp"

#include <algorithm>
#include <string>

namespace postern::ike::sa {

tl::expected<std::vector<wire::Payload>, OpenError> open_message(const wire::Message& m,
                                                                 ByteView datagram,
                                                                 const crypto::SkCipher& cipher) {
    // SKF fragments go through the Reassembler: a lone fragment is not a message.
    const wire::Payload* enc = m.encrypted();
    if (!enc || enc->type != PayloadType::SK)
        return tl::unexpected(OpenError{OpenError::Kind::NotProtected,
                                        enc ? "SKF fragment: use the Reassembler" : "no SK payload",
                                        {}});
    auto spans = wire::protected_spans(m, datagram);
    if (!spans)
        return tl::unexpected(OpenError{OpenError::Kind::NotProtected, "no SK payload", {}});
    auto plain = cipher.open(spans->associated_data, spans->body);
    if (!plain) return tl::unexpected(OpenError{OpenError::Kind::Integrity, plain.error(), {}});
    // Offsets of inner payloads are reported relative to the decrypted content.
    auto inner = wire::parse_payload_chain(spans->inner_first, *plain, 0);
    std::fill(plain->begin(), plain->end(), 0);
    if (!inner)
        return tl::unexpected(OpenError{OpenError::Kind::Syntax,
                                        "SK contents: " + inner.error().reason, inner.error()});
    return std::move(*inner);
}

tl::expected<Bytes, std::string> seal_message(const wire::Header& header,
                                              std::span<const wire::Payload> outer,
                                              std::span<const wire::Payload> inner,
                                              const crypto::SkCipher& cipher,
                                              const crypto::IvSource& iv) {
    Bytes plain = wire::serialize_payload_chain(inner);
    const std::size_t body_len = cipher.body_length(plain.size());
    if (wire::kGenericHeaderSize + body_len > 0xffff) {
        std::fill(plain.begin(), plain.end(), 0);
        return tl::unexpected("SK payload of " + std::to_string(body_len) +
                              " octets exceeds the 16-bit Payload Length: fragment instead");
    }
    Bytes out = wire::build_sk_prefix(header, outer, wire::first_type(inner), body_len);
    auto body = cipher.seal(out, plain, iv);
    std::fill(plain.begin(), plain.end(), 0);
    if (!body) return tl::unexpected(body.error());
    out.insert(out.end(), body->begin(), body->end());
    return out;
}

tl::expected<std::vector<Bytes>, std::string> seal_fragments(const wire::Header& header,
                                                             std::span<const wire::Payload> inner,
                                                             const crypto::SkCipher& cipher,
                                                             std::size_t max_message,
                                                             const crypto::IvSource& iv) {
    // Each fragment: IKE header (28) + SKF header (4 generic + 2 number + 2 total) + body.
    constexpr std::size_t kFixed = wire::kHeaderSize + 8;
    if (max_message <= kFixed) return tl::unexpected(std::string("fragment size too small"));
    // No fragment larger than one SKF Payload Length can describe, whatever max_message says.
    constexpr std::size_t kMaxBody = 0xffff - wire::kGenericHeaderSize - wire::kSkfFixedSize;
    const std::size_t chunk = cipher.max_plaintext(std::min(max_message - kFixed, kMaxBody));
    if (chunk == 0)
        return tl::unexpected(std::string("fragment size too small for the cipher's overhead"));

    Bytes plain = wire::serialize_payload_chain(inner);
    const std::size_t total = std::max<std::size_t>(1, (plain.size() + chunk - 1) / chunk);
    if (total > 0xffff) return tl::unexpected(std::string("too many fragments"));

    std::vector<Bytes> out;
    out.reserve(total);
    for (std::size_t i = 0; i < total; ++i) {
        const std::size_t at = i * chunk;
        const std::size_t n = std::min(chunk, plain.size() - std::min(at, plain.size()));
        ByteView part(plain.data() + at, n);
        // §2.5: only the first fragment names the first inner payload; the others carry 0.
        const auto first = i == 0 ? wire::first_type(inner) : PayloadType::NONE;
        Bytes msg =
            wire::build_skf_prefix(header, {}, first, static_cast<std::uint16_t>(i + 1),
                                   static_cast<std::uint16_t>(total), cipher.body_length(n));
        auto body = cipher.seal(msg, part, iv);
        if (!body) {
            std::fill(plain.begin(), plain.end(), 0);
            return tl::unexpected(body.error());
        }
        msg.insert(msg.end(), body->begin(), body->end());
        out.push_back(std::move(msg));
    }
    std::fill(plain.begin(), plain.end(), 0);
    return out;
}

}  // namespace postern::ike::sa
