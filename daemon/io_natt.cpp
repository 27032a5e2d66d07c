#include "daemon/io_natt.hpp"

namespace postern::daemon {

NattDatagram classify_natt(ByteView d) {
    if (d.size() == 1 && d[0] == 0xff) return {NattKind::Keepalive, {}};
    if (d.size() < 4) return {NattKind::Malformed, {}};
    if (d[0] == 0 && d[1] == 0 && d[2] == 0 && d[3] == 0) return {NattKind::Ike, d.subspan(4)};
    // An ESP header is SPI (4) + sequence number (4) at least.
    if (d.size() < 8) return {NattKind::Malformed, {}};
    return {NattKind::Esp, {}};
}

Bytes frame_ike(ByteView data, bool natt) {
    const bool keepalive = data.size() == 1 && data[0] == 0xff;
    Bytes out;
    out.reserve(data.size() + 4);
    if (natt && !keepalive) out.insert(out.end(), 4, 0);
    out.insert(out.end(), data.begin(), data.end());
    return out;
}

}  // namespace postern::daemon
