#include "ike/wire/sa.hpp"

#include <string>

namespace postern::ike::wire {
namespace {

constexpr std::uint8_t kLastProposal = 0;
constexpr std::uint8_t kMoreProposals = 2;
constexpr std::uint8_t kLastTransform = 0;
constexpr std::uint8_t kMoreTransforms = 3;
constexpr std::size_t kProposalHeader = 8;
constexpr std::size_t kTransformHeader = 8;

using std::to_string;

// Expected SPI size for a protocol (RFC 7296 §3.3.1): IKE 0 (IKE_SA_INIT) or 8 (rekeying in
// CREATE_CHILD_SA), AH/ESP 4.
bool spi_size_ok(ProtocolId p, std::size_t size) {
    switch (p) {
        case ProtocolId::IKE:
            return size == 0 || size == 8;
        case ProtocolId::AH:
        case ProtocolId::ESP:
            return size == 4;
        default:
            return false;
    }
}

Parsed<std::vector<TransformAttribute>> parse_attributes(Reader& r, const std::string& where) {
    std::vector<TransformAttribute> attrs;
    while (r.ok() && !r.empty()) {
        std::size_t at = r.offset();
        if (r.remaining() < 4) {
            return syntax_error(where + ": attribute header truncated (" +
                                    to_string(r.remaining()) + " < 4 bytes left)",
                                at);
        }
        std::uint16_t af_type = r.u16("attribute type");
        TransformAttribute a;
        a.tv = af_type & 0x8000;
        a.type = af_type & 0x7fff;
        if (a.tv) {
            a.value = r.u16("attribute value");
        } else {
            std::uint16_t len = r.u16("attribute length");
            if (len > r.remaining()) {
                return syntax_error(where + ": TLV attribute " + to_string(a.type) + " length " +
                                        to_string(len) + " > " + to_string(r.remaining()) +
                                        " bytes left in transform",
                                    at + 2);
            }
            auto v = r.bytes(len, "attribute value");
            a.data.assign(v.begin(), v.end());
        }
        // RFC 7296 §3.3.5: Key Length is a TV attribute.
        if (a.type == kAttrKeyLength && !a.tv) {
            return syntax_error(where + ": KEY_LENGTH attribute in TLV format (must be TV)", at);
        }
        attrs.push_back(std::move(a));
    }
    if (!r.ok()) return reader_error(r, where);
    return attrs;
}

Parsed<Transform> parse_transform(Reader& r, const std::string& where) {
    Transform t;
    t.type = static_cast<TransformType>(r.u8("transform type"));
    r.u8("transform reserved");
    t.id = r.u16("transform ID");
    if (!r.ok()) return reader_error(r, where);
    auto attrs = parse_attributes(r, where);
    if (!attrs) return tl::unexpected(attrs.error());
    t.attributes = std::move(*attrs);
    return t;
}

Parsed<Proposal> parse_proposal_body(Reader& r, std::size_t num_transforms, std::size_t spi_size,
                                     const std::string& where) {
    Proposal p;
    auto spi = r.bytes(spi_size, "proposal SPI");
    if (!r.ok()) return reader_error(r, where);
    p.spi.assign(spi.begin(), spi.end());
    std::uint8_t last = kMoreTransforms;
    while (!r.empty()) {
        std::string twhere = where + " transform " + to_string(p.transforms.size() + 1);
        std::size_t at = r.offset();
        if (last == kLastTransform) {
            return syntax_error(
                where + ": " + to_string(r.remaining()) + " bytes after the last transform", at);
        }
        if (r.remaining() < kTransformHeader) {
            return syntax_error(
                twhere + ": header truncated (" + to_string(r.remaining()) + " < 8 bytes left)",
                at);
        }
        last = r.u8("transform last substructure");
        r.u8("transform reserved");
        std::uint16_t len = r.u16("transform length");
        if (last != kLastTransform && last != kMoreTransforms) {
            return syntax_error(twhere + ": last substructure " + to_string(last) + " not 0 or 3",
                                at);
        }
        if (len < kTransformHeader) {
            return syntax_error(twhere + ": transform length " + to_string(len) + " < 8", at + 2);
        }
        if (len - 4u > r.remaining()) {
            return syntax_error(twhere + ": transform length " + to_string(len) + " > " +
                                    to_string(r.remaining() + 4) + " bytes left in proposal",
                                at + 2);
        }
        Reader tr = r.sub(len - 4u, "transform");
        auto t = parse_transform(tr, twhere);
        if (!t) return tl::unexpected(t.error());
        p.transforms.push_back(std::move(*t));
    }
    if (last != kLastTransform) {
        return syntax_error(where + ": last transform has last substructure 3 (more follow)",
                            r.offset());
    }
    if (p.transforms.size() != num_transforms) {
        return syntax_error(where + ": " + to_string(p.transforms.size()) +
                                " transforms present, header says " + to_string(num_transforms),
                            r.offset());
    }
    return p;
}

}  // namespace

std::optional<std::uint16_t> Transform::key_length() const {
    for (const auto& a : attributes) {
        if (a.type == kAttrKeyLength && a.tv) return a.value;
    }
    return std::nullopt;
}

Transform Transform::encr(EncrId id, std::optional<std::uint16_t> key_bits) {
    Transform t{TransformType::ENCR, std::uint16_t(id), {}};
    if (key_bits) t.attributes.push_back({kAttrKeyLength, true, *key_bits, {}});
    return t;
}

Parsed<SaPayload> parse_sa(Reader& r) {
    SaPayload sa;
    std::uint8_t last = kMoreProposals;
    if (r.empty()) return syntax_error("SA: no proposals", r.offset());
    while (!r.empty()) {
        std::string where = "SA proposal " + to_string(sa.proposals.size() + 1);
        std::size_t at = r.offset();
        if (last == kLastProposal) {
            return syntax_error(
                "SA: " + to_string(r.remaining()) + " bytes after the last proposal", at);
        }
        if (r.remaining() < kProposalHeader) {
            return syntax_error(
                where + ": header truncated (" + to_string(r.remaining()) + " < 8 bytes left)", at);
        }
        last = r.u8("proposal last substructure");
        r.u8("proposal reserved");
        std::uint16_t len = r.u16("proposal length");
        std::uint8_t number = r.u8("proposal number");
        auto protocol = static_cast<ProtocolId>(r.u8("protocol ID"));
        std::uint8_t spi_size = r.u8("SPI size");
        std::uint8_t num_transforms = r.u8("number of transforms");
        if (last != kLastProposal && last != kMoreProposals) {
            return syntax_error(where + ": last substructure " + to_string(last) + " not 0 or 2",
                                at);
        }
        if (len < kProposalHeader + spi_size) {
            return syntax_error(where + ": proposal length " + to_string(len) + " < " +
                                    to_string(kProposalHeader + spi_size) + " (header + SPI size " +
                                    to_string(spi_size) + ")",
                                at + 2);
        }
        if (len - kProposalHeader > r.remaining()) {
            return syntax_error(where + ": proposal length " + to_string(len) + " > " +
                                    to_string(r.remaining() + kProposalHeader) +
                                    " bytes left in SA",
                                at + 2);
        }
        // §3.3.1: proposals are numbered from 1, each one more than the previous.
        if (sa.proposals.empty() ? number == 0 : number != sa.proposals.back().number + 1) {
            return syntax_error(
                where + ": proposal number " + to_string(number) +
                    (sa.proposals.empty() ? std::string(" (must be >= 1)")
                                          : " after " + to_string(sa.proposals.back().number)),
                at + 4);
        }
        if (!spi_size_ok(protocol, spi_size)) {
            return syntax_error(
                where + ": SPI size " + to_string(spi_size) + " invalid for " + to_string(protocol),
                at + 6);
        }
        Reader pr = r.sub(len - kProposalHeader, "proposal");
        auto p = parse_proposal_body(pr, num_transforms, spi_size, where);
        if (!p) return tl::unexpected(p.error());
        p->number = number;
        p->protocol = protocol;
        sa.proposals.push_back(std::move(*p));
    }
    if (last != kLastProposal) {
        return syntax_error("SA: last proposal has last substructure 2 (more follow)", r.offset());
    }
    return sa;
}

void serialize_body(Writer& w, const SaPayload& sa) {
    for (std::size_t i = 0; i < sa.proposals.size(); ++i) {
        const Proposal& p = sa.proposals[i];
        std::size_t start = w.size();
        w.u8(i + 1 == sa.proposals.size() ? kLastProposal : kMoreProposals);
        w.u8(0);
        std::size_t len_at = w.reserve_u16();
        w.u8(p.number);
        w.u8(static_cast<std::uint8_t>(p.protocol));
        w.u8(static_cast<std::uint8_t>(p.spi.size()));
        w.u8(static_cast<std::uint8_t>(p.transforms.size()));
        w.bytes(p.spi);
        for (std::size_t j = 0; j < p.transforms.size(); ++j) {
            const Transform& t = p.transforms[j];
            std::size_t tstart = w.size();
            w.u8(j + 1 == p.transforms.size() ? kLastTransform : kMoreTransforms);
            w.u8(0);
            std::size_t tlen_at = w.reserve_u16();
            w.u8(static_cast<std::uint8_t>(t.type));
            w.u8(0);
            w.u16(t.id);
            for (const auto& a : t.attributes) {
                if (a.tv) {
                    w.u16(static_cast<std::uint16_t>(0x8000 | a.type));
                    w.u16(a.value);
                } else {
                    w.u16(a.type & 0x7fff);
                    w.u16(static_cast<std::uint16_t>(a.data.size()));
                    w.bytes(a.data);
                }
            }
            w.patch_u16(tlen_at, static_cast<std::uint16_t>(w.size() - tstart));
        }
        w.patch_u16(len_at, static_cast<std::uint16_t>(w.size() - start));
    }
}

}  // namespace postern::ike::wire
