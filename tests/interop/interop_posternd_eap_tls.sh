#!/usr/bin/env bash
# interop_posternd_eap_tls.sh MODE POSTERND - a strongSwan client logs in to posternd with
# EAP-TLS (RFC 5216, TLS 1.2): its certificate from `postern pki issue`, the account from
# `postern user add`, the server's certificate from `postern pki init`.
# MODE (ctest registers one test each: interop_posternd_eap_tls_<mode>):
#   tls12    remote_auth = "eap-tls", TLS 1.2 (both sides' default); first the refusals: a disabled
#            account with a good certificate (audit reason disabled), a certificate from another
#            CA (bad_certificate), no certificate for the EAP identity (bad_certificate)
#   dynamic  remote_auth = "eap" (MSCHAPv2 proposed first, EAP-TLS on a Nak): the TLS client
#            Naks MSCHAPv2 and logs in with its certificate; then a password client of the
#            same connection logs in with EAP-MSCHAPv2
#
#   netns b: charon "b" (kernel-libipsec), the client
#   netns a: posternd, userspace data plane, connection "users" (pubkey -> MODE's EAP)
#   netns l: the LAN host 10.97.0.2 / fd00:97::2
#
# Asserted: the IKE SA ESTABLISHED and the CHILD_SA INSTALLED as strongSwan reports them; charon
# logged "EAP method EAP_TLS succeeded, MSK established" (its MSK and ours agree, or the final
# AUTH payloads would not verify) and the TLS version; posternd logged the EAP-TLS login with
# that version and the client's certificate; virtual IPv4/IPv6; ping to the LAN host over both;
# the audit rows login_ok, or login_failed with the reason for each refusal.
#
# No TLS 1.3 here: Debian 12's charon (5.9.8) dies with SIGSEGV in libtls when the server sends
# RFC 9190's commitment message (application data 0x00) that it does not expect; strongSwan added
# the "protected success indication" later. EAP-TLS 1.3 is tested between Postern's own client and
# server (tests/unit/ike/eap/tls_test.cpp, tests/scenario/eap_tls_test.cpp).
set -euo pipefail
MODE=${1:-}
[ $# -gt 0 ] && shift
case $MODE in
    tls12 | dynamic) ;;
    *) echo "usage: $0 tls12|dynamic POSTERND" >&2; exit 1 ;;
esac
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/native_lib.sh"
PI_NAME=interop_posternd_eap_tls_$MODE
pi_init "$@"
pi_need_posternd
pi_setup_pair
pi_add_lan a

nc_pki
case $MODE in
    tls12) NC_REMOTE_AUTH=eap-tls ;;
    dynamic) NC_REMOTE_AUTH=eap ;;
esac
nc_server_conf 0
nc_user_add

# issue USER [CA_DIR]  - `postern pki issue USER` (RSA 3072, CN and subjectAltName USER) into
# WORK/clients/USER.{pem,key}.
issue() {
    nc_postern pki issue "$1" --ca-dir "${2:-$WORK/pki}" --out "$WORK/clients${2:+-other}" \
        >"$WORK/issue-$1.log" 2>&1 || { cat "$WORK/issue-$1.log" >&2; fail "postern pki issue $1 failed"; }
}
issue alice

posternd_start "$NS_A" "$WORK/postern.toml"
wait_for 5 "postern0 in $NS_A" ip -n "$NS_A" link show postern0

PI_CHARON_PLUGINS+=" eap-tls"
charon_start b "$NS_B"
cp "$WORK/pki/ca.pem" "$WORK/b/swanctl/x509ca/postern-ca.pem"

# client_conf ID CERT KEY [AUTH [EAP_ID]]  - connection "tls", child "net": EAP-TLS with CERT/KEY
# as identity ID (EAP identity EAP_ID, default ID), or AUTH = eap-mschapv2 with alice's password.
client_conf() {
    local id=$1 cert=$2 key=$3 auth=${4:-eap-tls} eap_id=${5:-$1} certs_line="" secrets=""
    rm -f "$WORK"/b/swanctl/x509/* "$WORK"/b/swanctl/private/*
    if [ "$auth" = eap-tls ]; then
        cp "$cert" "$WORK/b/swanctl/x509/client.pem"
        cp "$key" "$WORK/b/swanctl/private/client.key"
        certs_line="certs = client.pem"
    else
        secrets=$(printf 'secrets {\n    eap-user {\n        id = %s\n        secret = "%s"\n    }\n}\n' "$id" "$NC_PASSWORD")
    fi
    cat >"$WORK/b/swanctl/swanctl.conf" <<EOF
connections {
    tls {
        version = 2
        local_addrs = $IP_B
        remote_addrs = $IP_A
        vips = 0.0.0.0, ::
        local {
            auth = $auth
            id = $id
            eap_id = $eap_id
            $certs_line
        }
        remote {
            auth = pubkey
            id = $NC_SERVER_NAME
        }
        children {
            net {
                remote_ts = 0.0.0.0/0, ::/0
                updown = $(updown_script b)
            }
        }
    }
}
$secrets
EOF
}

# refused WHAT ID CERT KEY REASON DETAIL [EAP_ID]  - the login fails, posternd logs DETAIL
# (an ERE) and keeps serving, one audit row.
refused() {
    local what=$1 id=$2 cert=$3 key=$4 reason=$5 detail=$6 eap_id=${7:-$2}
    client_conf "$id" "$cert" "$key" eap-tls "$eap_id"
    charon_load b
    if charon_try_initiate b net 15; then fail "$what: charon b logged in"; fi
    expect_log b 'EAP_TLS method failed'
    nc_posternd_log "EAP-TLS failed for '$eap_id': $reason \\(.*$detail"
    nc_audit_has login_failed "identity=$eap_id" "reason=$reason"
    sw b --terminate --ike tls --timeout 5 >/dev/null 2>&1 || true
    posternd_alive || fail "$what: posternd died"
    pi_log "ok: $what refused ($reason)"
}

if [ "$MODE" = tls12 ]; then
    # bob: an account, disabled, with a good certificate
    printf '%s\n' 'bob password 1' | nc_postern --db "$WORK/postern.db" user add bob --password-stdin >/dev/null
    nc_postern --db "$WORK/postern.db" user disable bob >/dev/null
    issue bob
    refused "disabled account" bob "$WORK/clients/bob.pem" "$WORK/clients/bob.key" disabled \
        'user "bob" is disabled'
    # alice's name on a certificate from a CA posternd does not trust
    nc_postern pki init --name other.test --out "$WORK/other-pki" >/dev/null 2>&1 || fail "second pki init failed"
    issue alice "$WORK/other-pki"
    refused "certificate from another CA" alice "$WORK/clients-other/alice.pem" \
        "$WORK/clients-other/alice.key" bad_certificate 'unable to get local issuer certificate'
    # EAP identity alice, but only bob's certificate: charon picks its certificate by the EAP
    # identity and sends none (a certificate that does not name the account is refused in
    # tests/scenario/eap_tls_test.cpp, where the client can be made to send it)
    refused "no certificate for the identity" bob "$WORK/clients/bob.pem" "$WORK/clients/bob.key" \
        bad_certificate 'the client sent no certificate' alice
fi

client_conf alice "$WORK/clients/alice.pem" "$WORK/clients/alice.key"
charon_load b
charon_initiate b net
show_sas b
sa_snapshot b

expect_sa b 'state' ESTABLISHED
expect_sa b 'remote-id' "$NC_SERVER_NAME"
expect_sa b 'local-id' alice
expect_sa_match b 'local-vips' '10\.99\.0\.[0-9]+ fd00:99::[0-9a-f]+'
VIPS=$(sa_get b 'local-vips')
VIP4=${VIPS% *} VIP6=${VIPS#* }
expect_sa b 'child-sas\.[^.]+\.state' INSTALLED
expect_log b 'EAP method EAP_TLS succeeded, MSK established'
expect_log b "authentication of '$NC_SERVER_NAME' with EAP successful"
expect_log b "negotiated TLS 1.2 using suite"
nc_posternd_log "EAP-TLS succeeded for alice \\(TLSv1.2 [^,]+, client CN=alice"
nc_posternd_log 'IKE SA established with .*EAP-TLS as alice'
if [ "$MODE" = dynamic ]; then
    expect_log b 'server requested EAP_MSCHAPV2.*, sending EAP_NAK|requesting EAP_TLS|sending EAP_NAK'
    nc_posternd_log 'EAP \(EAP-MSCHAPv2, EAP-TLS\) with'
fi

pi_ping "$NS_B" "$VIP4" "$LAN_A_HOST4"
pi_ping "$NS_B" "$VIP6" "$LAN_A_HOST6"
nc_audit_has login_ok user=alice

if [ "$MODE" = dynamic ]; then
    # the same connection serves a password client: MSCHAPv2, proposed first, no Nak
    sw b --terminate --ike tls --timeout 10 >/dev/null 2>&1 || true
    client_conf alice "" "" eap-mschapv2
    charon_load b
    charon_initiate b net
    sa_snapshot b
    expect_sa b 'state' ESTABLISHED
    expect_log b 'EAP method EAP_MSCHAPV2 succeeded, MSK established'
    nc_posternd_log 'IKE SA established with .*EAP-MSCHAPv2 as alice'
    VIPS=$(sa_get b 'local-vips')
    pi_ping "$NS_B" "${VIPS% *}" "$LAN_A_HOST4"
fi

posternd_stop
pass "strongSwan -> posternd with EAP-TLS ($MODE): virtual IPv4/IPv6, ping to the LAN, audit rows"
