#include "ike/wire/skf.hpp"

#include <string>

namespace postern::ike::wire {

Parsed<EncryptedFragmentPayload> parse_skf(Reader& r, PayloadType inner_first) {
    EncryptedFragmentPayload f;
    std::size_t at = r.offset();
    f.inner_first = inner_first;
    f.fragment_number = r.u16("SKF fragment number");
    f.total_fragments = r.u16("SKF total fragments");
    auto body = r.rest();
    if (!r.ok()) return reader_error(r, "SKF");
    if (f.fragment_number == 0 || f.fragment_number > f.total_fragments) {
        return syntax_error("SKF: fragment number " + std::to_string(f.fragment_number) +
                                " not in 1.." + std::to_string(f.total_fragments),
                            at);
    }
    f.body.assign(body.begin(), body.end());
    return f;
}

void serialize_body(Writer& w, const EncryptedFragmentPayload& f) {
    w.u16(f.fragment_number);
    w.u16(f.total_fragments);
    w.bytes(f.body);
}

}  // namespace postern::ike::wire
