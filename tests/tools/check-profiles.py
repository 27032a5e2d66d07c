#!/usr/bin/env python3
"""Structural checks of the files `postern profile` writes (standard library only).

check-profiles.py --ca CA.pem --identity NAME --address ADDR --user USER
                  [--ios F] [--macos F] [--windows F] [--sswan F] [--android-txt F]
                  [--strongswan F]

Each file is parsed the way its consumer reads it (plistlib for the Apple profile, json for the
strongSwan app's .sswan) and its required keys are checked; every embedded CA must decode to a
certificate whose subject is the CA file's. Exits 1 with one line per failure.
"""
import argparse
import base64
import json
import plistlib
import re
import sys
import uuid

# daemon/ctl/profile_model.hpp kProfileNamespace
PROFILE_NAMESPACE = uuid.UUID("5b1c7c4e-2f3a-5d8e-9a41-70f05e7e1a90")

failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
    return cond


# ---- a minimal DER reader: enough to find a certificate's subject Name


def der_item(data, pos):
    """(tag, header_length, content_length) of the TLV at pos."""
    tag = data[pos]
    length = data[pos + 1]
    header = 2
    if length & 0x80:
        n = length & 0x7F
        length = int.from_bytes(data[pos + 2:pos + 2 + n], "big")
        header += n
    return tag, header, length


def der_children(data, pos):
    """The TLVs inside the constructed TLV at pos, as (tag, start, end) tuples."""
    _, header, length = der_item(data, pos)
    p, end = pos + header, pos + header + length
    out = []
    while p < end:
        tag, h, l = der_item(data, p)
        out.append((tag, p, p + h + l))
        p += h + l
    return out


def certificate_subject(der):
    """DER of the subject Name of an X.509 certificate (RFC 5280 4.1)."""
    tag, _, _ = der_item(der, 0)
    if tag != 0x30:
        raise ValueError("not a SEQUENCE")
    tbs = der_children(der, 0)[0]
    fields = der_children(der, tbs[1])
    if fields[0][0] == 0xA0:  # [0] version
        fields = fields[1:]
    # serialNumber, signature, issuer, validity, subject
    subject = fields[4]
    return der[subject[1]:subject[2]]


def common_name(name_der):
    m = re.search(rb"\x06\x03\x55\x04\x03[\x0c\x13\x16](.)", name_der, re.S)
    if not m:
        return None
    length = m.group(1)[0]
    return name_der[m.end():m.end() + length].decode()


def pem_to_der(text):
    m = re.search(r"-----BEGIN CERTIFICATE-----(.*?)-----END CERTIFICATE-----", text, re.S)
    return base64.b64decode("".join(m.group(1).split()))


def check_ca(b64_or_der, ca_der, where):
    der = b64_or_der if isinstance(b64_or_der, bytes) else base64.b64decode(b64_or_der)
    try:
        subject = certificate_subject(der)
    except (ValueError, IndexError) as e:
        check(False, f"{where}: the CA does not decode as a certificate ({e})")
        return
    check(subject == certificate_subject(ca_der),
          f"{where}: CA subject {common_name(subject)!r} is not the CA file's "
          f"{common_name(certificate_subject(ca_der))!r}")
    check(der == ca_der, f"{where}: the embedded CA is not the CA file's certificate")


def profile_uuid(identity, user, kind):
    return str(uuid.uuid5(PROFILE_NAMESPACE, f"{identity}\n{user}\n{kind}"))


def check_apple(path, args, ca_der, macos):
    with open(path, "rb") as f:
        top = plistlib.load(f)
    where = path
    check(top.get("PayloadType") == "Configuration", f"{where}: PayloadType")
    check(top.get("PayloadVersion") == 1, f"{where}: PayloadVersion")
    check(top.get("PayloadUUID") == profile_uuid(args.identity, args.user, "configuration"),
          f"{where}: PayloadUUID is not the name-based one")
    if macos:
        check(top.get("PayloadScope") == "System", f"{where}: PayloadScope")
    payloads = {p.get("PayloadType"): p for p in top.get("PayloadContent", [])}
    vpn = payloads.get("com.apple.vpn.managed")
    if not check(vpn is not None, f"{where}: no com.apple.vpn.managed payload"):
        return
    for key in ("PayloadIdentifier", "PayloadUUID", "PayloadVersion", "UserDefinedName"):
        check(key in vpn, f"{where}: VPN payload lacks {key}")
    check(vpn.get("VPNType") == "IKEv2", f"{where}: VPNType")
    ike = vpn.get("IKEv2", {})
    expected = {
        "RemoteAddress": args.address,
        "RemoteIdentifier": args.identity,
        "LocalIdentifier": args.user,
        "AuthenticationMethod": "None",
        "ExtendedAuthEnabled": 1,
        "AuthName": args.user,
        "EnablePFS": 0,
        "DeadPeerDetectionRate": "Medium",
        "DisableMOBIKE": 0,
        "DisableRedirect": 1,
        "OnDemandEnabled": 0,
    }
    for key, value in expected.items():
        check(ike.get(key) == value, f"{where}: IKEv2.{key} = {ike.get(key)!r}, want {value!r}")
    check("AuthPassword" not in ike, f"{where}: the profile carries a password")
    for sa in ("IKESecurityAssociationParameters", "ChildSecurityAssociationParameters"):
        params = ike.get(sa, {})
        check(params.get("EncryptionAlgorithm") in
              ("AES-256-GCM", "AES-128-GCM", "AES-256", "AES-128"),
              f"{where}: {sa}.EncryptionAlgorithm {params.get('EncryptionAlgorithm')!r}")
        check(params.get("DiffieHellmanGroup") in (14, 19, 20, 21, 31),
              f"{where}: {sa}.DiffieHellmanGroup")
        check(10 <= params.get("LifeTimeInMinutes", 0) <= 1440, f"{where}: {sa}.LifeTimeInMinutes")
    check(ike.get("IKESecurityAssociationParameters", {}).get("IntegrityAlgorithm") in
          ("SHA2-256", "SHA2-384", "SHA2-512"), f"{where}: IKE IntegrityAlgorithm")
    root = payloads.get("com.apple.security.root")
    if check(root is not None, f"{where}: no com.apple.security.root payload"):
        check(isinstance(root.get("PayloadContent"), bytes), f"{where}: CA is not <data>")
        check_ca(root.get("PayloadContent", b""), ca_der, f"{where}: root payload")
    uuids = [p.get("PayloadUUID") for p in top["PayloadContent"]] + [top.get("PayloadUUID")]
    check(len(set(uuids)) == len(uuids), f"{where}: PayloadUUIDs are not distinct")
    for u in uuids:
        check(uuid.UUID(u).version == 5, f"{where}: {u} is not a version 5 UUID")


def check_sswan(path, args, ca_der):
    with open(path, encoding="utf-8") as f:
        j = json.load(f)
    where = path
    check(j.get("uuid") == profile_uuid(args.identity, args.user, "sswan"), f"{where}: uuid")
    check(bool(j.get("name")), f"{where}: name")
    check(j.get("type") == "ikev2-eap", f"{where}: type {j.get('type')!r}")
    remote = j.get("remote", {})
    check(remote.get("addr") == args.address, f"{where}: remote.addr")
    check(remote.get("id") == args.identity, f"{where}: remote.id")
    if check("cert" in remote, f"{where}: remote.cert missing"):
        check_ca(remote["cert"], ca_der, f"{where}: remote.cert")
    check(j.get("local", {}).get("eap_id") == args.user, f"{where}: local.eap_id")
    for key in ("ike-proposal", "esp-proposal"):
        check(re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", j.get(key, "")) is not None,
              f"{where}: {key} {j.get(key)!r} is not a strongSwan proposal")


def check_android_txt(path, args):
    text = open(path, encoding="utf-8").read()
    for field, value in (("Type", "IKEv2/IPSec MSCHAPv2"), ("Server address", args.address),
                         ("IPSec identifier", args.user), ("Username", args.user),
                         ("IPSec server certificate", "(received from server)")):
        check(re.search(rf"^\s*{re.escape(field)}:\s+{re.escape(value)}", text, re.M),
              f"{path}: no line {field}: {value}")


def check_windows(path, args, ca_der):
    text = open(path, encoding="utf-8").read()
    m = re.search(r"\$CaBase64 = @'\r?\n(.*?)\r?\n'@", text, re.S)
    if check(m is not None, f"{path}: no CA here-string"):
        check_ca("".join(m.group(1).split()), ca_der, f"{path}: $CaBase64")
    for needle in (f"$Server = '{args.address}'", "Cert:\\LocalMachine\\Root",
                   "-TunnelType IKEv2", "-AuthenticationMethod Eap", "New-EapConfiguration",
                   "-EncryptionLevel Required", "Set-VpnConnectionIPsecConfiguration",
                   "-PfsGroup None", "Remove-VpnConnection"):
        check(needle in text, f"{path}: lacks {needle}")
    for param, allowed in (("EncryptionMethod", "AES128|AES192|AES256|GCMAES128|GCMAES256"),
                           ("IntegrityCheckMethod", "SHA256|SHA384"),
                           ("DHGroup", "Group14|ECP256|ECP384|Group24"),
                           ("CipherTransformConstants", "AES128|AES192|AES256|GCMAES\\d+"),
                           ("AuthenticationTransformConstants", "SHA256128|GCMAES\\d+")):
        check(re.search(rf"-{param} ({allowed})\b", text), f"{path}: -{param}")
    check(text.count("{") == text.count("}"), f"{path}: unbalanced braces")


def check_strongswan(path, args, ca_der):
    text = open(path, encoding="utf-8").read()
    body = re.sub(r"#.*", "", text)
    check(body.count("{") == body.count("}"), f"{path}: unbalanced braces")
    for needle in ("version = 2", f"remote_addrs = {args.address}", "vips = ",
                   "auth = eap-mschapv2", f"eap_id = {args.user}", "auth = pubkey",
                   f"id = {args.identity}", "remote_ts = ", "esp_proposals = ",
                   "start_action = none", f"eap-{args.user} {{", 'secret = "<password>"'):
        check(needle in body, f"{path}: lacks {needle}")
    check_ca(pem_to_der(text.replace("# ", "")), ca_der, f"{path}: commented CA")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ca", required=True)
    ap.add_argument("--identity", required=True)
    ap.add_argument("--address", required=True)
    ap.add_argument("--user", required=True)
    for t in ("ios", "macos", "windows", "sswan", "android-txt", "strongswan"):
        ap.add_argument("--" + t)
    args = ap.parse_args()
    ca_der = pem_to_der(open(args.ca).read())
    checked = 0
    for name, fn in (("ios", lambda p: check_apple(p, args, ca_der, False)),
                     ("macos", lambda p: check_apple(p, args, ca_der, True)),
                     ("windows", lambda p: check_windows(p, args, ca_der)),
                     ("sswan", lambda p: check_sswan(p, args, ca_der)),
                     ("android_txt", lambda p: check_android_txt(p, args)),
                     ("strongswan", lambda p: check_strongswan(p, args, ca_der))):
        path = getattr(args, name)
        if path:
            try:
                fn(path)
            except Exception as e:  # a file that does not even parse
                check(False, f"{path}: {type(e).__name__}: {e}")
            checked += 1
    for f in failures:
        print("FAIL:", f)
    print(f"{checked} files checked, {len(failures)} failures")
    return 1 if failures or checked == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
