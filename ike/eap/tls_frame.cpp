#include "ike/eap/tls_frame.hpp"

#include <algorithm>

#include "ike/wire/reader.hpp"
#include "ike/wire/writer.hpp"

namespace postern::ike::eap {

using std::to_string;

wire::Parsed<TlsFrame> parse_tls_frame(ByteView type_data) {
    wire::Reader r(type_data);
    TlsFrame f;
    f.flags = r.u8("EAP-TLS Flags");
    if (r.ok() && (f.flags & kTlsFlagLength)) f.tls_length = r.u32("EAP-TLS Message Length");
    if (!r.ok()) return wire::reader_error(r, "EAP-TLS");
    f.flags &= kTlsFlagLength | kTlsFlagMore | kTlsFlagStart;  // reserved bits ignored
    auto rest = r.rest();
    f.data.assign(rest.begin(), rest.end());
    return f;
}

Bytes build_tls_frame(const TlsFrame& f) {
    Bytes out;
    wire::Writer w(out);
    w.u8(static_cast<std::uint8_t>((f.flags & ~kTlsFlagLength) |
                                   (f.tls_length ? kTlsFlagLength : 0)));
    if (f.tls_length) w.u32(*f.tls_length);
    w.bytes(f.data);
    return out;
}

Bytes tls_ack_frame() {
    return build_tls_frame({});
}

Bytes tls_start_frame() {
    return build_tls_frame({kTlsFlagStart, std::nullopt, {}});
}

tl::expected<bool, std::string> TlsReassembler::add(const TlsFrame& f) {
    if (f.tls_length) {
        if (*f.tls_length > kMaxTlsFlight)
            return tl::unexpected("EAP-TLS flight of " + to_string(*f.tls_length) +
                                  " octets announced, at most " + to_string(kMaxTlsFlight));
        if (expected_ && *expected_ != *f.tls_length)
            return tl::unexpected("EAP-TLS message length changed from " + to_string(*expected_) +
                                  " to " + to_string(*f.tls_length));
        expected_ = f.tls_length;
    }
    const std::size_t total = buffer_.size() + f.data.size();
    const std::size_t limit = expected_ ? *expected_ : kMaxTlsFlight;
    if (total > limit)
        return tl::unexpected("EAP-TLS fragments carry " + to_string(total) + " octets, more than " +
                              (expected_ ? "the announced " : "the limit of ") + to_string(limit));
    buffer_.insert(buffer_.end(), f.data.begin(), f.data.end());
    if (f.more()) return false;
    if (expected_ && buffer_.size() != *expected_)
        return tl::unexpected("EAP-TLS flight ends after " + to_string(buffer_.size()) +
                              " of the announced " + to_string(*expected_) + " octets");
    return true;
}

Bytes TlsReassembler::take() {
    Bytes out = std::move(buffer_);
    buffer_.clear();
    expected_.reset();
    return out;
}

void TlsFragmenter::load(Bytes flight) {
    flight_ = std::move(flight);
    offset_ = 0;
}

Bytes TlsFragmenter::next() {
    TlsFrame f;
    const std::size_t n = std::min(fragment_size_, flight_.size() - offset_);
    if (offset_ == 0) f.tls_length = static_cast<std::uint32_t>(flight_.size());
    f.data.assign(flight_.begin() + static_cast<std::ptrdiff_t>(offset_),
                  flight_.begin() + static_cast<std::ptrdiff_t>(offset_ + n));
    offset_ += n;
    if (offset_ < flight_.size()) f.flags |= kTlsFlagMore;
    if (!pending()) {
        flight_.clear();
        offset_ = 0;
    }
    return build_tls_frame(f);
}

}  // namespace postern::ike::eap
