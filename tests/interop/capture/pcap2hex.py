#!/usr/bin/env python3
"""pcap2hex.py - split a pcap of IKEv2 traffic into one hex file per IKE message.

Standard library only.  Reads classic libpcap files (either byte order, usec or nsec
timestamps) with Ethernet, Linux cooked (SLL/SLL2) or raw IP link types, reassembles IPv4
fragments, keeps UDP datagrams on port 500 and 4500.  On port 4500 the 4-byte non-ESP marker
is stripped; ESP packets and NAT-keepalives on 4500 are skipped (and listed).

Writes OUT/NN-<EXCHANGE>-<req|resp>-<sender>.hex (lower-case hex, one line),
OUT/esp-NN-<sender>.hex for UDP-encapsulated ESP packets (from the SPI on, UDP header removed)
and OUT/messages.txt describing each message.

usage: pcap2hex.py capture.pcap OUTDIR [--name moon=192.0.2.1 ...]
"""
import argparse
import ipaddress
import os
import struct
import sys

EXCHANGES = {34: "IKE_SA_INIT", 35: "IKE_AUTH", 36: "CREATE_CHILD_SA", 37: "INFORMATIONAL",
             43: "IKE_SESSION_RESUME", 44: "GSA_AUTH", 45: "GSA_REGISTRATION",
             46: "GSA_REKEY", 48: "IKE_INTERMEDIATE", 49: "IKE_FOLLOWUP_KE"}
PAYLOADS = {0: "NONE", 33: "SA", 34: "KE", 35: "IDi", 36: "IDr", 37: "CERT", 38: "CERTREQ",
            39: "AUTH", 40: "Nonce", 41: "N", 42: "D", 43: "V", 44: "TSi", 45: "TSr",
            46: "SK", 47: "CP", 48: "EAP", 49: "GSPM", 53: "SKF"}


def read_pcap(path):
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 24:
        raise SystemExit(f"{path}: too short for a pcap header")
    magic = data[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        end = "<"
    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        end = ">"
    else:
        raise SystemExit(f"{path}: not a classic pcap file (pcapng is not supported)")
    nsec = magic in (b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d")
    linktype = struct.unpack(end + "I", data[20:24])[0] & 0x0FFFFFFF
    off = 24
    while off + 16 <= len(data):
        sec, frac, incl, _orig = struct.unpack(end + "IIII", data[off:off + 16])
        off += 16
        pkt = data[off:off + incl]
        off += incl
        yield sec + frac / (1e9 if nsec else 1e6), linktype, pkt


def l3(linktype, pkt):
    """Return (ethertype, l3 bytes) or None."""
    if linktype == 1:  # Ethernet
        et, p = struct.unpack("!H", pkt[12:14])[0], 14
        while et in (0x8100, 0x88A8):
            et, p = struct.unpack("!H", pkt[p + 2:p + 4])[0], p + 4
        return et, pkt[p:]
    if linktype == 113:  # Linux SLL
        return struct.unpack("!H", pkt[14:16])[0], pkt[16:]
    if linktype == 276:  # Linux SLL2
        return struct.unpack("!H", pkt[0:2])[0], pkt[20:]
    if linktype in (101, 12, 14):  # raw IP
        v = pkt[0] >> 4
        return (0x0800 if v == 4 else 0x86DD), pkt
    if linktype == 0:  # BSD loopback
        fam = struct.unpack("<I", pkt[:4])[0]
        return (0x0800 if fam == 2 else 0x86DD), pkt[4:]
    return None


class Reassembler:
    def __init__(self):
        self.frags = {}

    def ipv4(self, b):
        """Return (src, dst, proto, payload) or None while incomplete."""
        ihl = (b[0] & 0x0F) * 4
        total = struct.unpack("!H", b[2:4])[0]
        ident = struct.unpack("!H", b[4:6])[0]
        fl = struct.unpack("!H", b[6:8])[0]
        proto = b[9]
        src, dst = ipaddress.ip_address(b[12:16]), ipaddress.ip_address(b[16:20])
        payload = b[ihl:total]
        mf, offset = bool(fl & 0x2000), (fl & 0x1FFF) * 8
        if not mf and offset == 0:
            return src, dst, proto, payload, False
        key = (src, dst, proto, ident)
        parts = self.frags.setdefault(key, {})
        parts[offset] = payload
        if not mf:
            parts["end"] = offset + len(payload)
        if "end" in parts:
            buf, pos = bytearray(), 0
            for o in sorted(k for k in parts if k != "end"):
                if o != pos:
                    return None
                buf += parts[o]
                pos += len(parts[o])
            if pos == parts["end"]:
                del self.frags[key]
                return src, dst, proto, bytes(buf), True
        return None


def ipv6(b):
    nh = b[6]
    src, dst = ipaddress.ip_address(b[8:24]), ipaddress.ip_address(b[24:40])
    plen = struct.unpack("!H", b[4:6])[0]
    return src, dst, nh, b[40:40 + plen], False


def payload_chain(msg):
    """Describe the payload chain of an IKE message (stops at SK/SKF)."""
    out = []
    nxt, off = msg[16], 28
    while nxt != 0 and off + 4 <= len(msg):
        name = PAYLOADS.get(nxt, str(nxt))
        plen = struct.unpack("!H", msg[off + 2:off + 4])[0]
        body = msg[off + 4:off + plen]
        if nxt == 41 and len(body) >= 4:
            ntype = struct.unpack("!H", body[2:4])[0]
            name += f"({ntype})"
        if nxt == 53 and len(body) >= 4:
            fnum, ftot = struct.unpack("!HH", body[:4])
            inner = PAYLOADS.get(msg[off], str(msg[off])) if fnum == 1 else "-"
            out.append(f"SKF[frag {fnum}/{ftot}, inner first={inner}]")
            break
        if nxt == 46:
            out.append(f"SK[inner first={PAYLOADS.get(msg[off], str(msg[off]))}]")
            break
        out.append(name)
        nxt = msg[off]
        off += plen
    return " ".join(out) if out else "-"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("pcap")
    ap.add_argument("outdir")
    ap.add_argument("--name", action="append", default=[], help="NAME=IP for sender labels")
    a = ap.parse_args()
    names = {}
    for n in a.name:
        k, v = n.split("=", 1)
        names[ipaddress.ip_address(v)] = k
    os.makedirs(a.outdir, exist_ok=True)
    for f in os.listdir(a.outdir):
        if f.endswith(".hex") and (f[:2].isdigit() or f.startswith("esp-")):
            os.remove(os.path.join(a.outdir, f))

    ra = Reassembler()
    msgs, skipped, esp = [], [], []
    t0 = None
    for ts, lt, pkt in read_pcap(a.pcap):
        r = l3(lt, pkt)
        if r is None:
            continue
        et, b = r
        if et == 0x0800:
            ip = ra.ipv4(b)
        elif et == 0x86DD:
            ip = ipv6(b)
        else:
            continue
        if ip is None:
            continue
        src, dst, proto, payload, reassembled = ip
        if proto != 17 or len(payload) < 8:
            continue
        sport, dport, ulen = struct.unpack("!HHH", payload[:6])
        data = payload[8:ulen]
        if 4500 in (sport, dport):
            if data == b"\xff":
                skipped.append(f"{ts:.6f} {src}:{sport} -> {dst}:{dport} NAT-keepalive")
                continue
            if data[:4] != b"\x00\x00\x00\x00":
                esp.append((src, sport, dst, dport, data))
                continue
            data = data[4:]
        elif 500 not in (sport, dport):
            continue
        if len(data) < 28:
            skipped.append(f"{ts:.6f} {src}:{sport} -> {dst}:{dport} short UDP payload")
            continue
        t0 = ts if t0 is None else t0
        msgs.append((ts - t0, src, sport, dst, dport, data, reassembled))

    lines = ["# idx file | t(s) | src:port -> dst:port | exchange | flags | msgid | length |"
             " payloads (outer; SK/SKF contents are encrypted)"]
    seen = {}
    for i, (t, src, sport, dst, dport, m, reasm) in enumerate(msgs):
        exch = EXCHANGES.get(m[18], f"EXCH{m[18]}")
        flags = m[19]
        rr = "resp" if flags & 0x20 else "req"
        sender = names.get(src, str(src))
        receiver = names.get(dst, str(dst))
        fn = f"{i:02d}-{exch}-{rr}-{sender}.hex"
        with open(os.path.join(a.outdir, fn), "w") as f:
            f.write(m.hex() + "\n")
        msgid = struct.unpack("!I", m[20:24])[0]
        length = struct.unpack("!I", m[24:28])[0]
        fl = []
        if flags & 0x08:
            fl.append("I")
        if flags & 0x20:
            fl.append("R")
        dup = ""
        if m in seen:
            dup = f" RETRANSMISSION of {seen[m]:02d}"
        else:
            seen[m] = i
        lines.append(f"{i:02d} {fn} | {t:.3f} | {sender}:{sport} -> {receiver}:{dport}"
                     f"{' (non-ESP marker stripped)' if 4500 in (sport, dport) else ''}"
                     f"{' (IP-reassembled)' if reasm else ''} | {exch} | {'+'.join(fl) or '-'}"
                     f" | {msgid} | {length}{'' if length == len(m) else ' MISMATCH ' + str(len(m))}"
                     f" | {payload_chain(m)}{dup}")
    for i, (src, sport, dst, dport, data) in enumerate(esp):
        sender = names.get(src, str(src))
        fn = f"esp-{i:02d}-{sender}.hex"
        with open(os.path.join(a.outdir, fn), "w") as f:
            f.write(data.hex() + "\n")
        lines.append(f"# ESP {fn} | {sender}:{sport} -> {names.get(dst, str(dst))}:{dport} (UDP-encapsulated)"
                     f" | SPI {data[:4].hex()} seq {struct.unpack('!I', data[4:8])[0]} | {len(data)} bytes")
    for s in skipped:
        lines.append("# skipped: " + s)
    with open(os.path.join(a.outdir, "messages.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))
    if not msgs:
        sys.exit("no IKE messages found")


if __name__ == "__main__":
    main()
