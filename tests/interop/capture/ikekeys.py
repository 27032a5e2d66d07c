#!/usr/bin/env python3
"""ikekeys.py - extract IKEv2 key material from charon debug logs into keys.txt.

Needs filelog levels ike = 4, chd = 4 (enc/net optional) and ike_name = yes.  Standard
library only.  Values that charon does not log (nonces, SPIs) are taken from the captured
IKE_SA_INIT messages (the .hex files written by pcap2hex.py).  Every value found in both the
initiator's and the responder's log is cross-checked.

keys.txt format: `name = value`, one per line, '#' starts a comment.  Byte strings are
lower-case hex without separators.
"""
import argparse
import os
import re
import struct
import sys

LINE = re.compile(r"^\S+ (\d+)\[(\w+)\] (?:<([^>|]*)\|(\d+)> )?(.*)$")
HEADER = re.compile(r"^(.*?) => (\d+) bytes @ (?:0x[0-9a-fA-F]+|\(nil\))$")
DUMP = re.compile(r"^\s*(\d+): ((?:[0-9A-F]{2} )+)")

# log label -> keys.txt name ("%" = append _i / _r by order of appearance)
LABELS = {
    "shared Diffie Hellman secret": "g_ir",
    "SKEYSEED": "SKEYSEED",
    "Sk_d secret": "SK_d",
    "Sk_ai secret": "SK_ai",
    "Sk_ar secret": "SK_ar",
    "Sk_ei secret": "SK_ei",
    "Sk_er secret": "SK_er",
    "Sk_pi secret": "SK_pi",
    "Sk_pr secret": "SK_pr",
    "octets = message + nonce + prf(Sk_px, IDx')": "AUTH_octets%",
    "prf(secret, keypad)": "PSK_prf_keypad",
    "AUTH = prf(prf(secret, keypad), octets)": "AUTH_psk%",
    "seed": "ESP_keymat_seed",
    "encryption initiator key": "ESP_encr_i",
    "encryption responder key": "ESP_encr_r",
    "integrity initiator key": "ESP_integ_i",
    "integrity responder key": "ESP_integ_r",
}
TEXT = [
    (re.compile(r"selected proposal: (IKE:\S+)"), "ike_proposal"),
    (re.compile(r"selected proposal: (ESP:\S+)"), "esp_proposal"),
    (re.compile(r"CHILD_SA \S+ established with SPIs ([0-9a-f]{8})_i ([0-9a-f]{8})_o"), "child_spis"),
    (re.compile(r"installing new virtual IP (\S+)"), "virtual_ip"),
    (re.compile(r"authentication of '([^']*)' with (.*) successful"), "auth"),
]
EXCERPT = re.compile(r"(generating|parsed) \S+ (request|response) \d+ \[|selected proposal|"
                     r"established|received proposals|configured proposals|INVALID_KE|"
                     r"requested DH group|authentication of|deleting|virtual IP|sending packet|"
                     r"received packet: from|splitting|fragment")


def parse_log(path):
    """Return {ike_sa_id: {'values': [(name, bytes)], 'text': {...}}}, excerpt lines."""
    sas = {}
    pending = {}  # thread -> [sa, name, expected_len, bytearray]
    excerpt = []
    counters = {}
    with open(path, errors="replace") as f:
        for raw in f:
            raw = raw.rstrip("\n")
            m = LINE.match(raw)
            if not m:
                continue
            thread, group, _name, uid, text = m.groups()
            p = pending.get(thread)
            if p is not None:
                d = DUMP.match(text)
                if d:
                    p[3] += bytes.fromhex(d.group(2).replace(" ", ""))
                    excerpt.append(raw)
                    if len(p[3]) >= p[2]:
                        del pending[thread]
                    continue
                del pending[thread]
            if uid is None:
                continue
            sa = sas.setdefault(uid, {"values": [], "text": {}})
            h = HEADER.match(text)
            if h and h.group(1) in LABELS and (group in ("IKE", "CHD")):
                label = h.group(1)
                name = LABELS[label]
                if name.endswith("%"):
                    n = counters.get((uid, name), 0)
                    counters[(uid, name)] = n + 1
                    name = name[:-1] + ("_i" if n == 0 else "_r" if n == 1 else f"_{n}")
                buf = bytearray()
                sa["values"].append((name, buf))
                excerpt.append(raw)
                if int(h.group(2)) > 0:
                    pending[thread] = [sa, name, int(h.group(2)), buf]
                continue
            for rx, key in TEXT:
                t = rx.search(text)
                if t:
                    sa["text"].setdefault(key, t.groups())
            if EXCERPT.search(text) and not HEADER.match(text):
                excerpt.append(raw)
    return sas, excerpt


def message_info(msgdir):
    """SPIs and nonces from the captured IKE_SA_INIT exchange that succeeded."""
    files = sorted(f for f in os.listdir(msgdir) if f.endswith(".hex") and f[:2].isdigit())
    info = {}
    for fn in files:
        m = bytes.fromhex(open(os.path.join(msgdir, fn)).read().strip())
        if m[18] != 34:
            continue
        resp = bool(m[19] & 0x20)
        nxt, off, nonce, ke = m[16], 28, None, None
        while nxt and off + 4 <= len(m):
            plen = struct.unpack("!H", m[off + 2:off + 4])[0]
            if nxt == 40:
                nonce = m[off + 4:off + plen]
            if nxt == 34:
                ke = (struct.unpack("!H", m[off + 4:off + 6])[0], m[off + 8:off + plen])
            nxt, off = m[off], off + plen
        if nonce is None:  # e.g. INVALID_KE_PAYLOAD or COOKIE response
            continue
        if resp:
            info["SPIr"] = m[8:16]
            info["Nr"] = nonce
            info["KEr_group"], info["KEr"] = ke
        else:
            info["SPIi"] = m[0:8]
            info["Ni"] = nonce
            info["KEi_group"], info["KEi"] = ke
    return info


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--initiator-log", required=True)
    ap.add_argument("--responder-log", required=True)
    ap.add_argument("--messages", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--excerpt")
    ap.add_argument("--meta", action="append", default=[])
    ap.add_argument("--psk")
    ap.add_argument("--cred", action="append", default=[])
    a = ap.parse_args()

    isas, excerpt = parse_log(a.initiator_log)
    rsas, _ = parse_log(a.responder_log)
    isas = {k: v for k, v in isas.items() if v["values"]}
    rsas = {k: v for k, v in rsas.items() if v["values"]}
    if len(isas) != 1 or len(rsas) != 1:
        sys.exit(f"expected exactly one keyed IKE_SA per side, got {len(isas)}/{len(rsas)}")
    ivals = next(iter(isas.values()))
    rvals = next(iter(rsas.values()))
    ivalues, rvalues = dict(ivals["values"]), dict(rvals["values"])
    problems = []
    for k, v in ivalues.items():
        if k in rvalues and rvalues[k] != v:
            problems.append(f"{k}: initiator and responder logs differ")
    info = message_info(a.messages)
    if "ESP_keymat_seed" in ivalues and ivalues["ESP_keymat_seed"] != info["Ni"] + info["Nr"]:
        problems.append("CHILD keymat seed != Ni | Nr")
    if problems:
        sys.exit("ikekeys: " + "; ".join(problems))

    out = ["# IKEv2 key material of the IKE SA captured in this folder (strongSwan charon debug",
           "# log, filelog ike=4 chd=4).  Byte strings: lower-case hex.  SPIs, nonces and KE",
           "# values come from the captured IKE_SA_INIT messages; everything else from the",
           "# initiator's log, cross-checked against the responder's log.",
           "# For AES-GCM, SK_e* and ESP_encr_* are key || 4-byte salt (RFC 5282 / RFC 4106);",
           "# SK_a* and ESP_integ_* are absent because AEAD needs no integrity key.",
           "# AUTH_octets_i/_r: the signed octets (RealMessage | Nonce | prf(SK_p, ID')),",
           "# AUTH_psk_i/_r: the PSK AUTH payload data (PSK scenarios only).",
           "# ESP_SPI_i: SPI chosen by the initiator (inbound at moon, used by sun -> moon),",
           "# ESP_SPI_r: SPI chosen by the responder (used moon -> sun, with ESP_encr_i).", ""]
    for m in a.meta:
        k, v = m.split("=", 1)
        out.append(f"{k} = {v}")
    t = ivals["text"]
    if "ike_proposal" in t:
        out.append(f"ike_proposal = {t['ike_proposal'][0]}")
    if "esp_proposal" in t:
        out.append(f"esp_proposal = {t['esp_proposal'][0]}")
    if "virtual_ip" in t:
        out.append(f"virtual_ip = {t['virtual_ip'][0]}")
    out.append(f"ike_sa_unique_id = {next(iter(isas.keys()))}")
    if a.psk is not None:
        out.append(f"psk_ascii = {a.psk}")
        out.append(f"psk = {a.psk.encode().hex()}")
    for c in a.cred:
        k, v = c.split("=", 1)
        out.append(f"{k} = {v}")
    out.append("")
    for k in ("SPIi", "SPIr", "Ni", "Nr"):
        out.append(f"{k} = {info[k].hex()}")
    out.append(f"KEi_group = {info['KEi_group']}")
    out.append(f"KEi = {info['KEi'].hex()}")
    out.append(f"KEr_group = {info['KEr_group']}")
    out.append(f"KEr = {info['KEr'].hex()}")
    order = ["g_ir", "SKEYSEED", "SK_d", "SK_ai", "SK_ar", "SK_ei", "SK_er", "SK_pi", "SK_pr",
             "AUTH_octets_i", "AUTH_octets_r", "PSK_prf_keypad", "AUTH_psk_i", "AUTH_psk_r",
             "ESP_keymat_seed", "ESP_encr_i", "ESP_encr_r", "ESP_integ_i", "ESP_integ_r"]
    for k in order:
        if k in ivalues:
            out.append(f"{k} = {bytes(ivalues[k]).hex()}")
        elif k in rvalues:
            out.append(f"{k} = {bytes(rvalues[k]).hex()}")
    for k, v in ivalues.items():
        if k not in order:
            out.append(f"{k} = {bytes(v).hex()}")
    if "child_spis" in t:
        out.append(f"ESP_SPI_i = {t['child_spis'][0]}")
        out.append(f"ESP_SPI_r = {t['child_spis'][1]}")
    with open(a.out, "w") as f:
        f.write("\n".join(out) + "\n")
    print("\n".join(out))
    if a.excerpt:
        with open(a.excerpt, "w") as f:
            f.write(f"# trimmed from the initiator's (moon) charon log: message summaries and"
                    f" key derivation dumps\n")
            f.write("\n".join(excerpt) + "\n")


if __name__ == "__main__":
    main()
