#!/usr/bin/env bash
# interop_native.sh CLIENT POSTERND - a strongSwan initiator configured like one native IKEv2
# client logs in to posternd with EAP-MSCHAPv2 as a user `postern user add` created, with the
# parameters `postern profile` hands out (docs: /work/shared/notes/native-clients.md §1, §3).
# CLIENT (ctest registers one test each: interop_native_<client>):
#   ios              iOS <= 16 manual config: IKE aes256-sha256-{modp2048,ecp256,modp1536},
#                    aes128-sha1-modp1024, 3des-sha1-modp1024 (first KE MODP-2048: posternd
#                    prefers ECP-256 and answers INVALID_KE_PAYLOAD); IDi = the user name (FQDN),
#                    IDr = server name, no CERTREQ, MOBIKE, no RFC 7427; plus a wrong password
#   macos            macOS with the .mobileconfig of `postern profile --for macos`: its one IKE and
#                    one Child SA parameter set, LocalIdentifier/RemoteIdentifier/AuthName, and its
#                    certificate names checked against `postern pki init`'s; otherwise as iOS
#   windows_legacy   Windows 10/11 defaults: 18 single-combination MODP-1024 proposals, ESP
#                    aes256/aes128/3des with SHA-1 only (posternd needs allow_legacy_crypto);
#                    IDi = its IP address, no IDr, CERTREQ for 60 roots (the IKE_AUTH request is
#                    sent in IKE fragments), MOBIKE, no RFC 7427; plus a wrong password
#   windows_hardened the one proposal `postern profile --for windows` sets with
#                    Set-VpnConnectionIPsecConfiguration (parsed from the .ps1)
#   android          Android 11+ built-in client: AES-CBC and AEAD proposals, KE list
#                    modp4096,curve25519,modp3072,modp2048 (first guess MODP-4096: posternd
#                    answers INVALID_KE_PAYLOAD, charon retries), RFC 7427, IDi = user name,
#                    IDr = the server's IP address as typed (posternd answers as that identity
#                    of its certificate), no CERTREQ, no MOBIKE
#   strongswan_app   the strongSwan Android app with the .sswan of `postern profile --for
#                    android`: its ike-proposal, esp-proposal, remote.id, eap_id; CERTREQ, MOBIKE,
#                    RFC 7427
#   strongswan       the swanctl.conf snippet of `postern profile --for strongswan` itself, loaded
#                    as generated (its CA file, the password filled in, remote_addrs pointed at
#                    posternd's address: the name does not resolve in the test's namespaces)
#
#   netns b: charon "b" (kernel-libipsec: ESP in userspace, always UDP-encapsulated), the client
#   netns a: posternd, userspace data plane, server PKI from `postern pki init`, connection
#            "users" (pubkey -> eap-mschapv2), pool 10.99.0.0/24 + fd00:99::/112, DNS
#            10.99.0.53 + fd00:99::53, local_ts the LAN behind a
#   netns l: the LAN host 10.97.0.2 / fd00:97::2
#
# Asserted: the IKE SA ESTABLISHED with the expected algorithms, the CHILD_SA INSTALLED; virtual
# IPv4 and IPv6 from the pool; DNS servers received (charon's updown: PLUTO_DNS4_1/PLUTO_DNS6_1);
# ping client -> LAN host over IPv4 and IPv6 from the virtual IPs; the audit row login_ok for the
# user; per client what it changes on the wire (INVALID_KE round trip, IKE fragments, classic
# or RFC 7427 signature); for ios and windows_legacy a wrong password is refused first
# (AUTHENTICATION_FAILED, audit login_failed reason=bad_password); posternd stops cleanly.
# What stock strongSwan cannot imitate (Windows' CP set and vendor IDs, Apple's notifies,
# Android's empty EAP identity) is in tests/scenario/native_clients_test.cpp.
set -euo pipefail
CLIENT=${1:-}
[ $# -gt 0 ] && shift
case $CLIENT in
    ios | macos | windows_legacy | windows_hardened | android | strongswan_app | strongswan) ;;
    *) echo "usage: $0 ios|macos|windows_legacy|windows_hardened|android|strongswan_app|strongswan POSTERND" >&2; exit 1 ;;
esac
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/native_lib.sh"
PI_NAME=interop_native_$CLIENT
pi_init "$@"
pi_need_posternd
pi_setup_pair
pi_add_lan a

nc_pki
LEGACY=0
[ "$CLIENT" = windows_legacy ] && LEGACY=1
nc_server_conf "$LEGACY"
nc_user_add

# --- the client's settings ---
NC_VIPS="0.0.0.0, ::"
NC_FRAG=yes
NC_SECRET=$NC_PASSWORD
CHARON_EXTRA=
WRONG_PASSWORD=0
EXPECT_INVALID_KE=
EXPECT_IKE=     # encr-alg encr-keysize integ-alg prf-alg dh-group ("-" for none)
EXPECT_ESP=     # encr-alg encr-keysize integ-alg
EXPECT_SIG=     # how charon logs posternd's signature
case $CLIENT in
    ios)
        NC_IKE="aes256-sha256-modp2048, aes256-sha256-ecp256, aes256-sha256-modp1536, aes128-sha1-modp1024, 3des-sha1-modp1024"
        NC_ESP="aes256-sha256, aes256-sha1, 3des-sha1"
        NC_LOCAL_ID=$NC_USER NC_REMOTE_ID=$NC_SERVER_NAME NC_CERTREQ=no NC_MOBIKE=yes
        CHARON_EXTRA="signature_authentication = no"
        WRONG_PASSWORD=1
        EXPECT_INVALID_KE="MODP_2048.*ECP_256"
        EXPECT_IKE="AES_CBC 256 HMAC_SHA2_256_128 PRF_HMAC_SHA2_256 ECP_256"
        EXPECT_ESP="AES_CBC 256 HMAC_SHA2_256_128"
        EXPECT_SIG="RSA signature"
        ;;
    macos)
        # installed from `postern profile --for macos`: the profile's one IKE and one Child SA
        # parameter set (Apple offers exactly that), LocalIdentifier, RemoteIdentifier, AuthName;
        # its certificate names must be those of `postern pki init`'s CA and server certificate
        nc_profile macos >"$WORK/profile.mobileconfig"
        PI_LOGS+=("$WORK/profile.mobileconfig")
        read -r NC_IKE NC_ESP NC_LOCAL_ID NC_REMOTE_ID AUTHNAME ISSUER_CN SERVER_CN < <(python3 - "$WORK/profile.mobileconfig" <<'PY'
import plistlib, sys
p = plistlib.load(open(sys.argv[1], "rb"))
vpn = next(x for x in p["PayloadContent"] if x["PayloadType"] == "com.apple.vpn.managed")
k = vpn["IKEv2"]
enc = {"AES-256-GCM": "aes256gcm16", "AES-128-GCM": "aes128gcm16", "AES-256": "aes256",
       "AES-128": "aes128", "ChaCha20Poly1305": "chacha20poly1305"}
integ = {"SHA2-256": "sha256", "SHA2-384": "sha384", "SHA2-512": "sha512", "SHA1-160": "sha1"}
dh = {14: "modp2048", 15: "modp3072", 16: "modp4096", 19: "ecp256", 20: "ecp384", 21: "ecp521",
      31: "curve25519"}
def prop(d, ike):
    e = enc[d["EncryptionAlgorithm"]]
    i = integ.get(d.get("IntegrityAlgorithm", ""), "")
    parts = [e]
    if i:
        parts.append(("prf" + i) if "gcm" in e or "chacha" in e else i)
    if ike or k.get("EnablePFS", 0):
        parts.append(dh[d["DiffieHellmanGroup"]])
    return "-".join(parts)
print(prop(k["IKESecurityAssociationParameters"], True),
      prop(k["ChildSecurityAssociationParameters"], False),
      k["LocalIdentifier"], k["RemoteIdentifier"], k["AuthName"],
      k["ServerCertificateIssuerCommonName"].replace(" ", "_"),
      k["ServerCertificateCommonName"])
PY
) || fail "cannot read the .mobileconfig profile"
        pi_log "profile: IKE $NC_IKE, ESP $NC_ESP, LocalIdentifier $NC_LOCAL_ID, RemoteIdentifier $NC_REMOTE_ID"
        [ "$AUTHNAME" = "$NC_USER" ] || fail "profile AuthName is '$AUTHNAME', expected $NC_USER"
        CA_CN=$(openssl x509 -in "$WORK/pki/ca.pem" -noout -subject -nameopt multiline | sed -n 's/^ *commonName *= *//p')
        SRV_CN=$(openssl x509 -in "$WORK/pki/server.pem" -noout -subject -nameopt multiline | sed -n 's/^ *commonName *= *//p')
        [ "${ISSUER_CN//_/ }" = "$CA_CN" ] || fail "profile ServerCertificateIssuerCommonName '${ISSUER_CN//_/ }' is not the CA's CN '$CA_CN'"
        [ "$SERVER_CN" = "$SRV_CN" ] || fail "profile ServerCertificateCommonName '$SERVER_CN' is not the server's CN '$SRV_CN'"
        NC_CERTREQ=no NC_MOBIKE=yes
        CHARON_EXTRA="signature_authentication = no"
        EXPECT_IKE="AES_GCM_16 256 - PRF_HMAC_SHA2_256 ECP_256"
        EXPECT_ESP="AES_GCM_16 256 -"
        EXPECT_SIG="RSA signature"
        ;;
    windows_legacy)
        # IDr: none sent (charon sends none for a wildcard remote.id), yet the server's name is
        # checked, as Windows checks it against the address typed: remote.id = *.postern.test
        NC_IKE=
        for e in 3des aes128 aes192 aes256; do
            for h in sha1 sha256 sha384; do NC_IKE+="${NC_IKE:+, }$e-$h-modp1024"; done
        done
        for e in aes128gcm16 aes256gcm16; do
            for h in sha1 sha256 sha384; do NC_IKE+=", $e-prf$h-modp1024"; done
        done
        NC_ESP="aes256-sha1, aes128-sha1, 3des-sha1"
        NC_LOCAL_ID=$IP_B NC_REMOTE_ID="*.postern.test" NC_CERTREQ=yes NC_MOBIKE=yes
        CHARON_EXTRA="signature_authentication = no"
        WRONG_PASSWORD=1
        EXPECT_IKE="AES_CBC 256 HMAC_SHA2_256_128 PRF_HMAC_SHA2_256 MODP_1024"
        EXPECT_ESP="AES_CBC 256 HMAC_SHA1_96"
        EXPECT_SIG="RSA signature"
        ;;
    windows_hardened)
        nc_profile windows >"$WORK/profile.ps1"
        PI_LOGS+=("$WORK/profile.ps1")
        # the Set-VpnConnectionIPsecConfiguration command, its continuation lines joined (the
        # script has Windows line ends)
        SETLINE=$(tr -d '\r' <"$WORK/profile.ps1" | awk '/^Set-VpnConnectionIPsecConfiguration/ { on = 1 }
                       on { l = l " " $0; if ($0 !~ /`$/) { print l; exit } }' | tr -d '`')
        [ -n "$SETLINE" ] || fail "no Set-VpnConnectionIPsecConfiguration in the Windows profile"
        pi_log "profile: $SETLINE"
        winopt() { sed -nE "s/.* -$1 +([A-Za-z0-9]+).*/\1/p" <<<"$SETLINE"; }
        NC_IKE=$(nc_win_ike "$(winopt EncryptionMethod)" "$(winopt IntegrityCheckMethod)" "$(winopt DHGroup)")
        NC_ESP=$(nc_win_esp "$(winopt CipherTransformConstants)" "$(winopt AuthenticationTransformConstants)" "$(winopt PfsGroup)")
        pi_log "Windows offers exactly: IKE $NC_IKE, ESP $NC_ESP"
        NC_LOCAL_ID=$IP_B NC_REMOTE_ID="*.postern.test" NC_CERTREQ=yes NC_MOBIKE=yes
        CHARON_EXTRA="signature_authentication = no"
        EXPECT_SIG="RSA signature"
        ;;
    android)
        KE=modp4096-curve25519-modp3072-modp2048
        PRF=prfsha512-prfsha384-prfsha256-prfsha1
        NC_IKE="aes256-aes192-aes128-sha512-sha384-sha256-$PRF-$KE, chacha20poly1305-aes256gcm16-aes256gcm12-aes256gcm8-aes192gcm16-aes128gcm16-aes128gcm12-aes128gcm8-$PRF-$KE"
        NC_ESP="aes256-aes192-aes128-sha256-sha384-sha512, aes256gcm16-aes192gcm16-aes128gcm16"
        # "Server address" typed as the IP address (in the certificate from `pki init
        # --address`): IDr = ID_IPV4_ADDR, and Android accepts nothing else back
        NC_LOCAL_ID=$NC_USER NC_REMOTE_ID=$IP_A NC_CERTREQ=no NC_MOBIKE=no
        NC_EXPECT_REMOTE_ID=$IP_A
        EXPECT_INVALID_KE="MODP_4096.*MODP_2048"
        EXPECT_IKE="AES_CBC 256 HMAC_SHA2_256_128 PRF_HMAC_SHA2_256 MODP_2048"
        EXPECT_ESP="AES_GCM_16 256 -"
        EXPECT_SIG="RSA_EMSA_PKCS1_SHA2_(256|384|512)"
        ;;
    strongswan_app)
        nc_profile android >"$WORK/profile.txt"
        # the .sswan JSON is the first part of the stdout output
        awk '/^----- / { exit } { print }' "$WORK/profile.txt" >"$WORK/profile.sswan"
        PI_LOGS+=("$WORK/profile.sswan")
        read -r NC_IKE NC_ESP NC_REMOTE_ID EAP_ID TYPE < <(python3 - "$WORK/profile.sswan" <<'PY'
import json, sys
p = json.load(open(sys.argv[1]))
print(p.get("ike-proposal", "default"), p.get("esp-proposal", "default"),
      p["remote"].get("id", "%any"), p["local"]["eap_id"], p["type"])
PY
) || fail "cannot read the .sswan profile"
        [ "$TYPE" = ikev2-eap ] || fail ".sswan type is '$TYPE', expected ikev2-eap"
        [ "$EAP_ID" = "$NC_USER" ] || fail ".sswan eap_id is '$EAP_ID', expected $NC_USER"
        pi_log "profile: ike-proposal $NC_IKE, esp-proposal $NC_ESP, remote.id $NC_REMOTE_ID"
        NC_LOCAL_ID=$NC_USER NC_CERTREQ=yes NC_MOBIKE=yes
        EXPECT_SIG="RSA_EMSA_PKCS1_SHA2_(256|384|512)"
        ;;
    strongswan)
        # the snippet sets no local.id: charon's IDi is its address (as Windows')
        NC_LOCAL_ID=$IP_B NC_CERTREQ=yes NC_MOBIKE=yes
        EXPECT_IKE="AES_GCM_16 256 - PRF_HMAC_SHA2_256 ECP_256"
        EXPECT_ESP="AES_GCM_16 256 -"
        EXPECT_SIG="RSA_EMSA_PKCS1_SHA2_(256|384|512)"
        ;;
esac
CONN=native CHILD=net

posternd_start "$NS_A" "$WORK/postern.toml"
wait_for 5 "postern0 in $NS_A" ip -n "$NS_A" link show postern0

charon_start b "$NS_B" "$CHARON_EXTRA"
cp "$WORK/pki/ca.pem" "$WORK/b/swanctl/x509ca/postern-ca.pem"
case $CLIENT in windows_*) nc_many_cas 59 ;; esac

# --- a wrong password first: refused, audited, and posternd serves the next login ---
if [ "$WRONG_PASSWORD" = 1 ]; then
    NC_SECRET='not the password'
    nc_client_conf
    charon_load b
    if charon_try_initiate b net 15; then fail "charon b logged in with a wrong password"; fi
    expect_log b 'EAP-MS-CHAPv2 failed with error ERROR_AUTHENTICATION_FAILURE|EAP_MSCHAPV2 method failed|received AUTHENTICATION_FAILED'
    nc_audit_has login_failed "user=$NC_USER" reason=bad_password
    sw b --terminate --ike native --timeout 5 >/dev/null 2>&1 || true
    NC_SECRET=$NC_PASSWORD
fi

if [ "$CLIENT" = strongswan ]; then
    nc_postern profile "$NC_USER" --for strongswan -c "$WORK/postern.toml" --db "$WORK/postern.db" \
        --out "$WORK/profile" 2>"$WORK/profile-strongswan.err" \
        || { cat "$WORK/profile-strongswan.err" >&2; fail "postern profile --for strongswan failed"; }
    SNIPPET=$WORK/profile CAFILE=$WORK/profile-ca.pem
    PI_LOGS+=("$SNIPPET" "$WORK/b/swanctl/swanctl.conf")
    [ -s "$SNIPPET" ] && [ -s "$CAFILE" ] || fail "postern profile --for strongswan --out wrote no snippet / CA file"
    # the CA under the name the snippet's cacerts uses
    CANAME=$(sed -nE 's/^ *cacerts = *(.*)$/\1/p' "$SNIPPET")
    [ -n "$CANAME" ] || fail "the swanctl snippet names no cacerts"
    cp "$CAFILE" "$WORK/b/swanctl/x509ca/$CANAME"
    CONN=$(awk '/^connections *\{/ { getline; sub(/^ */, ""); sub(/ *\{.*/, ""); print; exit }' "$SNIPPET")
    CHILD=$(awk '/children *\{/ { getline; sub(/^ */, ""); sub(/ *\{.*/, ""); print; exit }' "$SNIPPET")
    NC_REMOTE_ID=$(sed -nE '/remote *\{/,/\}/ s/^ *id = *(.*)$/\1/p' "$SNIPPET")
    sed -e "s|^\( *remote_addrs = \).*|\1$IP_A|" \
        -e "s|\"<password>\"|\"$NC_PASSWORD\"|" \
        -e "s|^\( *start_action = none\)|\1\n                updown = $(updown_script b)|" \
        "$SNIPPET" >"$WORK/b/swanctl/swanctl.conf"
    grep -q "$NC_PASSWORD" "$WORK/b/swanctl/swanctl.conf" || fail "no <password> placeholder in the snippet's secrets"
    pi_log "profile: swanctl snippet, connection $CONN, child $CHILD, remote.id $NC_REMOTE_ID, CA $CANAME"
else
    nc_client_conf
fi
charon_load b
charon_initiate b "$CHILD"
show_sas b
sa_snapshot b

# --- what strongSwan reports ---
expect_sa b 'state' ESTABLISHED
expect_sa b 'remote-id' "${NC_EXPECT_REMOTE_ID:-$NC_SERVER_NAME}"
expect_sa b 'local-id' "$NC_LOCAL_ID"
if [ -n "$EXPECT_IKE" ]; then
    read -r e k i p g <<<"$EXPECT_IKE"
    expect_sa b 'encr-alg' "$e"
    expect_sa b 'encr-keysize' "$k"
    [ "$i" = - ] && i=
    expect_sa b 'integ-alg' "$i"
    expect_sa b 'prf-alg' "$p"
    expect_sa b 'dh-group' "$g"
fi
expect_sa_match b 'local-vips' '10\.99\.0\.[0-9]+ fd00:99::[0-9a-f]+'
VIPS=$(sa_get b 'local-vips')
VIP4=${VIPS% *} VIP6=${VIPS#* }
expect_sa b 'child-sas\.[^.]+\.state' INSTALLED
expect_sa b 'child-sas\.[^.]+\.encap' yes
if [ -n "$EXPECT_ESP" ]; then
    read -r e k i <<<"$EXPECT_ESP"
    [ "$i" = - ] && i=
    expect_sa b 'child-sas\.[^.]+\.encr-alg' "$e"
    expect_sa b 'child-sas\.[^.]+\.encr-keysize' "$k"
    expect_sa b 'child-sas\.[^.]+\.integ-alg' "$i"
fi
expect_sa b 'child-sas\.[^.]+\.local-ts' "$VIP4/32 $VIP6/128"
expect_sa b 'child-sas\.[^.]+\.remote-ts' "$LAN_A4 $LAN_A6"
expect_log b "installing new virtual IP $VIP4"
expect_log b "installing new virtual IP $VIP6"
expect_log b "authentication of '${NC_EXPECT_REMOTE_ID:-$NC_SERVER_NAME}' with ($EXPECT_SIG) successful"
wait_for 5 "b's updown script" test -s "$WORK/b/updown.env"
grep -qx "PLUTO_DNS4_1=$NC_DNS4" "$WORK/b/updown.env" || fail "updown did not get PLUTO_DNS4_1=$NC_DNS4"
grep -qx "PLUTO_DNS6_1=$NC_DNS6" "$WORK/b/updown.env" || fail "updown did not get PLUTO_DNS6_1=$NC_DNS6"
pi_log "ok: charon b received DNS servers $NC_DNS4 and $NC_DNS6"

# --- what this client changes on the wire ---
if [ -n "$EXPECT_INVALID_KE" ]; then
    expect_log b "peer didn't accept DH group .*$EXPECT_INVALID_KE"
    nc_posternd_log 'IKE_SA_INIT answered with INVALID_KE_PAYLOAD'
fi
case $CLIENT in
    windows_*)
        expect_log b 'generating IKE_AUTH request 1 \[ IDi CERTREQ CPRQ'
        expect_log b 'sending cert request for "O=Windows Root Store, CN=Junk Root 59"'
        expect_log b 'splitting IKE message .* into [0-9]+ fragments'
        ;;
esac
if [ "$CHARON_EXTRA" = "signature_authentication = no" ]; then
    # no RFC 7427: posternd must sign with the classic method (RSA with SHA-1, "RSA signature")
    expect_log b 'generating IKE_SA_INIT request 0 \[ SA KE No N\(NATD_S_IP\) N\(NATD_D_IP\) N\(FRAG_SUP\) N\(REDIR_SUP\) \]'
else
    expect_log b 'generating IKE_SA_INIT request 0 \[ .*N\(HASH_ALG\)'
fi
if [ "$NC_CERTREQ" = yes ]; then
    expect_log b 'sending cert request for "CN=Postern CA vpn.postern.test"'
fi
if [ "$NC_CERTREQ" = no ]; then
    grep -q 'sending cert request' "$WORK/b/charon.log" && fail "charon b sent a CERTREQ (this client does not)"
fi

# --- traffic: client -> LAN host through the tunnel ---
pi_ping "$NS_B" "$VIP4" "$LAN_A_HOST4"
pi_ping "$NS_B" "$VIP6" "$LAN_A_HOST6"

nc_audit_has login_ok "user=$NC_USER"
posternd_stop
pass "$CLIENT emulation -> posternd (EAP-MSCHAPv2): virtual IPv4/IPv6, DNS, ping to the LAN"
