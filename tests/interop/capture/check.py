#!/usr/bin/env python3
"""check.py - sanity-check a tests/data/strongswan/<scenario>/ folder.

Structural checks (standard library): message 0 starts with SPIi from keys.txt, every header
length equals the file size, every IKE_AUTH message carries SK (46) or SKF (53).
If the `cryptography` package is importable it also decrypts every SK/SKF payload with the
logged SK_e*/SK_a* (AES-GCM or AES-CBC + HMAC-SHA2-256-128), reassembles SKF fragments,
lists the inner payloads, and recomputes the AUTH payloads (PSK: prf(prf(PSK, "Key Pad for
IKEv2"), octets); certificates: RSA signature over the octets with the peer's certificate),
and decrypts the captured ESP packets (esp-*.hex) with the logged CHILD_SA keys.

usage: check.py DIR [-v]
"""
import hashlib
import hmac
import os
import struct
import sys

PAYLOADS = {0: "NONE", 33: "SA", 34: "KE", 35: "IDi", 36: "IDr", 37: "CERT", 38: "CERTREQ",
            39: "AUTH", 40: "Nonce", 41: "N", 42: "D", 43: "V", 44: "TSi", 45: "TSr",
            46: "SK", 47: "CP", 48: "EAP", 53: "SKF"}


def load_keys(d):
    keys = {}
    for line in open(os.path.join(d, "keys.txt")):
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        k, v = line.split("=", 1)
        keys[k.strip()] = v.strip()
    return keys


def hx(keys, k):
    return bytes.fromhex(keys[k]) if k in keys else None


def chain(first, body):
    """[(type, payload body)] of a payload chain starting with `first`."""
    out, nxt, off = [], first, 0
    while nxt and off + 4 <= len(body):
        plen = struct.unpack("!H", body[off + 2:off + 4])[0]
        if plen < 4 or off + plen > len(body):
            raise ValueError(f"bad payload length {plen} at {off}")
        out.append((nxt, body[off + 4:off + plen]))
        nxt, off = body[off], off + plen
    return out


def outer(m):
    """(type, offset of payload header, payload length) of the outer chain."""
    out, nxt, off = [], m[16], 28
    while nxt and off + 4 <= len(m):
        plen = struct.unpack("!H", m[off + 2:off + 4])[0]
        out.append((nxt, off, plen))
        if nxt in (46, 53):
            break
        nxt, off = m[off], off + plen
    return out


class Decryptor:
    def __init__(self, keys):
        from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM
        self.Cipher, self.algorithms, self.modes, self.AESGCM = Cipher, algorithms, modes, AESGCM
        prop = keys.get("ike_proposal", "")
        self.gcm = "GCM" in prop
        self.keys = keys

    def decrypt(self, m, off, plen, initiator_sent):
        """Decrypt the SK/SKF payload at off; return (plaintext, first inner type)."""
        side = "i" if initiator_sent else "r"
        ek = hx(self.keys, "SK_e" + side)
        first = m[off]  # next-payload field of the SK/SKF header = first inner payload
        body_start = off + 4
        is_skf = payload_type_at(m, off) == 53
        if is_skf:
            body_start += 4
        end = off + plen
        if self.gcm:
            key, salt = ek[:-4], ek[-4:]
            iv = m[body_start:body_start + 8]
            aad = m[:body_start]
            ct = m[body_start + 8:end]
            pt = self.AESGCM(key).decrypt(salt + iv, ct, aad)
        else:
            ak = hx(self.keys, "SK_a" + side)
            icv = m[end - 16:end]
            calc = hmac.new(ak, m[:end - 16], hashlib.sha256).digest()[:16]
            if not hmac.compare_digest(icv, calc):
                raise ValueError("integrity check failed")
            iv = m[body_start:body_start + 16]
            ct = m[body_start + 16:end - 16]
            dec = self.Cipher(self.algorithms.AES(ek), self.modes.CBC(iv)).decryptor()
            pt = dec.update(ct) + dec.finalize()
        padlen = pt[-1]
        return pt[:len(pt) - padlen - 1], first


def payload_type_at(m, off):
    """Type of the payload whose header starts at off (walk from the IKE header)."""
    nxt, o = m[16], 28
    while o < off:
        plen = struct.unpack("!H", m[o + 2:o + 4])[0]
        nxt, o = m[o], o + plen
    return nxt


def prf(k, d):
    return hmac.new(k, d, hashlib.sha256).digest()


def main():
    d = sys.argv[1]
    verbose = "-v" in sys.argv
    keys = load_keys(d)
    files = sorted(f for f in os.listdir(d) if f.endswith(".hex") and f[:2].isdigit())
    espfiles = sorted(f for f in os.listdir(d) if f.startswith("esp-") and f.endswith(".hex"))
    msgs = [(f, bytes.fromhex(open(os.path.join(d, f)).read().strip())) for f in files]
    errors, report = [], []

    if msgs[0][1][:8].hex() != keys["SPIi"]:
        errors.append("message 0 SPIi != keys.txt SPIi")
    for f, m in msgs:
        length = struct.unpack("!I", m[24:28])[0]
        if length != len(m):
            errors.append(f"{f}: header length {length} != size {len(m)}")
        if m[17] != 0x20:
            errors.append(f"{f}: version {m[17]:#x}")
        if m[18] == 35 and not any(t in (46, 53) for t, _, _ in outer(m)):
            errors.append(f"{f}: IKE_AUTH without SK/SKF")
        if m[18] != 34 and (m[:8].hex() != keys["SPIi"] or m[8:16].hex() != keys["SPIr"]):
            errors.append(f"{f}: SPIs differ from keys.txt")

    try:
        import cryptography  # noqa: F401
        have_crypto = True
    except ImportError:
        have_crypto = False
        report.append("cryptography not available: decryption checks skipped")

    if have_crypto:
        dec = Decryptor(keys)
        frags = {}
        inner_msgs = {}  # file -> [(type, body)]
        for f, m in msgs:
            o = outer(m)
            if not o or o[-1][0] not in (46, 53):
                continue
            t, off, plen = o[-1]
            init = bool(m[19] & 0x08)
            try:
                pt, first = dec.decrypt(m, off, plen, init)
            except Exception as e:  # noqa: BLE001
                errors.append(f"{f}: decryption failed: {e!r}")
                continue
            if t == 46:
                inner = chain(first, pt)
                inner_msgs[f] = (m, inner)
                report.append(f"{f}: decrypted SK: " + " ".join(
                    PAYLOADS.get(x, str(x)) for x, _ in inner))
            else:
                fnum, ftot = struct.unpack("!HH", m[off + 4:off + 8])
                key = (m[18], m[19] & 0x28, m[20:24])
                frags.setdefault(key, {"files": {}, "first": None, "tot": ftot})
                frags[key]["files"][fnum] = (f, pt, m)
                if fnum == 1:
                    frags[key]["first"] = first
                report.append(f"{f}: decrypted SKF fragment {fnum}/{ftot} ({len(pt)} bytes)")
        for key, fr in frags.items():
            if sorted(fr["files"]) != list(range(1, fr["tot"] + 1)):
                errors.append(f"incomplete fragment set {key}")
                continue
            pt = b"".join(fr["files"][i][1] for i in range(1, fr["tot"] + 1))
            inner = chain(fr["first"], pt)
            f1, _, m1 = fr["files"][1]
            names = [fr["files"][i][0] for i in range(1, fr["tot"] + 1)]
            inner_msgs[f1] = (m1, inner)
            report.append(f"reassembled {'+'.join(names)}: " + " ".join(
                PAYLOADS.get(x, str(x)) for x, _ in inner))

        # AUTH verification for the IKE_AUTH exchange
        init_req = [m for f, m in msgs if m[18] == 34 and not m[19] & 0x20]
        init_resp = [m for f, m in msgs if m[18] == 34 and m[19] & 0x20
                     and any(t == 40 for t, _, _ in outer(m))]
        if init_req and init_resp:
            realmsg = {"i": init_req[-1], "r": init_resp[-1]}
            nonce = {"i": hx(keys, "Ni"), "r": hx(keys, "Nr")}
            for f, (m, inner) in sorted(inner_msgs.items()):
                if m[18] != 35:
                    continue
                side = "r" if m[19] & 0x20 else "i"
                other = "r" if side == "i" else "i"
                pd = dict(inner)
                idp = pd.get(35 if side == "i" else 36)
                auth = pd.get(39)
                if idp is None or auth is None:
                    continue
                octets = realmsg[side] + nonce[other] + prf(hx(keys, "SK_p" + side), idp)
                if "AUTH_octets_" + side in keys and hx(keys, "AUTH_octets_" + side) != octets:
                    errors.append(f"{f}: computed octets != logged AUTH_octets_{side}")
                method = auth[0]
                if method == 2:
                    psk = hx(keys, "psk")
                    exp = prf(prf(psk, b"Key Pad for IKEv2"), octets)
                    if exp == auth[4:]:
                        report.append(f"{f}: PSK AUTH ({side}) verified")
                    else:
                        errors.append(f"{f}: PSK AUTH mismatch")
                else:
                    report.append(f"{f}: AUTH method {method}: " + verify_sig(
                        d, keys, side, method, auth[4:], octets, errors, f))
        for f in espfiles:
            p = bytes.fromhex(open(os.path.join(d, f)).read().strip())
            report.append(f"{f}: " + check_esp(dec, keys, p, errors, f))
    for r in report:
        print("  " + r)
    if errors:
        for e in errors:
            print("ERROR: " + e)
        sys.exit(1)
    print(f"check.py: {d}: {len(msgs)} messages OK")


def check_esp(dec, keys, p, errors, f):
    """Decrypt one ESP packet (SPI..ICV) with the logged CHILD_SA keys."""
    spi = p[:4].hex()
    if spi == keys.get("ESP_SPI_r"):
        side = "i"  # initiator -> responder
    elif spi == keys.get("ESP_SPI_i"):
        side = "r"
    else:
        errors.append(f"{f}: unknown SPI {spi}")
        return "FAILED"
    ek = hx(keys, "ESP_encr_" + side)
    try:
        if "GCM" in keys.get("esp_proposal", ""):
            iv, ct = p[8:16], p[16:]
            pt = dec.AESGCM(ek[:-4]).decrypt(ek[-4:] + iv, ct, p[:8])
        else:
            ik = hx(keys, "ESP_integ_" + side)
            if not hmac.compare_digest(p[-16:], hmac.new(ik, p[:-16], hashlib.sha256).digest()[:16]):
                raise ValueError("ICV mismatch")
            c = dec.Cipher(dec.algorithms.AES(ek), dec.modes.CBC(p[8:24])).decryptor()
            pt = c.update(p[24:-16]) + c.finalize()
    except Exception as e:  # noqa: BLE001
        errors.append(f"{f}: ESP decryption failed: {e!r}")
        return "FAILED"
    nh, padlen = pt[-1], pt[-2]
    inner = pt[:len(pt) - padlen - 2]
    what = f"next header {nh}"
    if nh == 4 and len(inner) >= 20:
        proto = {1: "ICMP", 6: "TCP", 17: "UDP"}.get(inner[9], str(inner[9]))
        what = (f"IPv4 {'.'.join(map(str, inner[12:16]))} -> {'.'.join(map(str, inner[16:20]))}"
                f" {proto}")
    return f"ESP decrypted with ESP_encr_{side}: {what}"


def verify_sig(d, keys, side, method, data, octets, errors, f):
    try:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding
    except ImportError:
        return "not verified (no cryptography)"
    certfile = keys.get("moon_cert" if side == "i" else "sun_cert")
    if not certfile:
        return "no certificate listed in keys.txt"
    cert = x509.load_pem_x509_certificate(open(os.path.join(d, certfile), "rb").read())
    pub = cert.public_key()
    if method == 14:  # RFC 7427: len | AlgorithmIdentifier | signature
        alen = data[0]
        algid, sig = data[1:1 + alen], data[1 + alen:]
        oid = algid.hex()
        if "2a864886f70d01010b" in oid:  # sha256WithRSAEncryption
            pad, h, what = padding.PKCS1v15(), hashes.SHA256(), "RSA PKCS#1 v1.5 SHA-256"
        elif "2a864886f70d01010a" in oid:  # RSASSA-PSS (assume SHA-256, salt 32)
            pad = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)
            h, what = hashes.SHA256(), "RSASSA-PSS SHA-256"
        else:
            return f"unknown AlgorithmIdentifier {oid}"
    elif method == 1:
        pad, h, what, sig = padding.PKCS1v15(), hashes.SHA1(), "RSA PKCS#1 v1.5 SHA-1", data
    else:
        return "unsupported method"
    try:
        pub.verify(sig, octets, pad, h)
        return f"{what} signature verified with {certfile}"
    except Exception as e:  # noqa: BLE001
        errors.append(f"{f}: signature verification failed ({what}): {e!r}")
        return "FAILED"


if __name__ == "__main__":
    main()
