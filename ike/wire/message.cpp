#include "ike/wire/message.hpp"

#include <cassert>

namespace postern::ike::wire {
namespace {

// Header + outer payloads + the generic header of a last payload of `type` whose complete
// length (generic header included) is `last_length`.
Bytes build_prefix(const Header& header, std::span<const Payload> outer, PayloadType type,
                   PayloadType inner_first, std::size_t last_length) {
    Bytes out;
    Writer w(out);
    serialize_header(w, header, outer.empty() ? type : outer.front().type, 0);
    for (std::size_t i = 0; i < outer.size(); ++i) {
        serialize_payload(w, outer[i], i + 1 < outer.size() ? outer[i + 1].type : type);
    }
    assert(last_length <= 0xffff && "SK/SKF body too large for a 16-bit Payload Length");
    w.u8(static_cast<std::uint8_t>(inner_first));
    w.u8(0);
    w.u16(static_cast<std::uint16_t>(last_length));
    std::size_t total = w.size() - kGenericHeaderSize + last_length;
    w.patch_u32(24, static_cast<std::uint32_t>(total));
    return out;
}

}  // namespace

const Payload* Message::encrypted() const {
    if (payloads.empty()) return nullptr;
    const Payload& last = payloads.back();
    if (last.get<EncryptedPayload>() || last.get<EncryptedFragmentPayload>()) return &last;
    return nullptr;
}

Parsed<Message> parse_message(ByteView datagram) {
    auto header = parse_header(datagram);
    if (!header) return tl::unexpected(header.error());
    auto payloads =
        parse_payload_chain(header->next_payload, datagram.subspan(kHeaderSize), kHeaderSize);
    if (!payloads) return tl::unexpected(payloads.error());
    return Message{*header, std::move(*payloads)};
}

Bytes serialize(const Message& m) {
    Bytes out;
    Writer w(out);
    serialize_header(w, m.header, first_type(m.payloads), 0);
    serialize_payload_chain(w, m.payloads);
    w.patch_u32(24, static_cast<std::uint32_t>(out.size()));
    return out;
}

const Payload* find_payload(std::span<const Payload> payloads, PayloadType type) {
    for (const auto& p : payloads) {
        if (p.type == type) return &p;
    }
    return nullptr;
}

std::size_t count_payloads(std::span<const Payload> payloads, PayloadType type) {
    std::size_t n = 0;
    for (const auto& p : payloads)
        n += p.type == type;
    return n;
}

const NotifyPayload* find_notify(std::span<const Payload> payloads, NotifyType type) {
    for (const auto& p : payloads) {
        if (auto n = p.get<NotifyPayload>(); n && p.type == PayloadType::N && n->type == type) {
            return n;
        }
    }
    return nullptr;
}

std::optional<ProtectedSpans> protected_spans(const Message& m, ByteView datagram) {
    const Payload* last = m.encrypted();
    if (!last) return std::nullopt;
    std::size_t body_size = 0;
    PayloadType inner = PayloadType::NONE;
    if (auto sk = last->get<EncryptedPayload>()) {
        body_size = sk->body.size();
        inner = sk->inner_first;
    } else {
        auto skf = last->get<EncryptedFragmentPayload>();
        body_size = skf->body.size();
        inner = skf->inner_first;
    }
    // SK/SKF is last and the header length equals the datagram size, so the body is the tail.
    if (datagram.size() < kHeaderSize + kGenericHeaderSize + body_size) return std::nullopt;
    std::size_t aad = datagram.size() - body_size;
    return ProtectedSpans{datagram.first(aad), datagram.subspan(aad), inner};
}

Bytes build_sk_prefix(const Header& header, std::span<const Payload> outer, PayloadType inner_first,
                      std::size_t body_length) {
    return build_prefix(header, outer, PayloadType::SK, inner_first,
                        kGenericHeaderSize + body_length);
}

Bytes build_skf_prefix(const Header& header, std::span<const Payload> outer,
                       PayloadType inner_first, std::uint16_t fragment_number,
                       std::uint16_t total_fragments, std::size_t body_length) {
    Bytes out = build_prefix(header, outer, PayloadType::SKF, inner_first,
                             kGenericHeaderSize + kSkfFixedSize + body_length);
    Writer w(out);
    w.u16(fragment_number);
    w.u16(total_fragments);
    return out;
}

}  // namespace postern::ike::wire
