#!/usr/bin/env bash
# interop_posternd_cert_ecdsa.sh - strongSwan initiator against posternd over IPv6, ECDSA
# certificates.
#
#   netns a: posternd at 2001:db8::1, responder, connection "ecdsa": proves itself with
#            tests/data/pki's server-ecdsa.pem (P-256, ecdsa.postern.test and IP 2001:db8::1,
#            issued by the intermediate, which is sent along), trusts root-ca.pem
#   netns b: charon "b" at 2001:db8::2, initiator, proves itself with tests/data/pki's client.pem
#            (P-256, alice@postern.test, issued by the intermediate); trusts root-ca.pem only
#
# Asserted, from what strongSwan reports (swanctl --list-sas, charon's log):
#   - posternd asked for a certificate: CERTREQ for the root CA in its IKE_SA_INIT response
#   - the IKE SA is ESTABLISHED over IPv6 (2001:db8::2 -> 2001:db8::1; port 4500: kernel-libipsec
#     always forces UDP encapsulation), ids
#     alice@postern.test / ecdsa.postern.test, proposal AES_GCM_16/128, PRF_HMAC_SHA2_256, ECP_256
#   - charon received posternd's certificate and the intermediate, validated the chain to the
#     root and authenticated posternd with an ECDSA signature
#   - the CHILD_SA is INSTALLED: ESP AES_GCM_16/128, traffic selectors 10.0.2.1/32 === 10.0.1.1/32
#   - posternd stops cleanly on SIGTERM (status 0, no sanitizer report in its log)
# Not asserted here: packets through the CHILD_SA (interop_posternd_ping checks those).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
pi_init "$@"
pi_need_posternd
pi_setup_pair
PKI=$PI_DATA/pki

cat "$PKI/server-ecdsa.pem" "$PKI/intermediate-ca.pem" >"$WORK/server-ecdsa-chain.pem"
posternd_conf "$WORK/postern.toml"
cat >>"$WORK/postern.toml" <<EOF
[pki]
cacerts = ["$PKI/root-ca.pem"]

[[connections]]
name = "ecdsa"
local_id = "ecdsa.postern.test"
remote_id = "alice@postern.test"
local_auth = "pubkey"
remote_auth = "pubkey"
cert = "$WORK/server-ecdsa-chain.pem"
key = "$PKI/server-ecdsa.key"
ike_proposals = ["aes128gcm16-prfsha256-ecp256"]
esp_proposals = ["aes128gcm16"]
local_ts = ["$NET_A/32"]
EOF
posternd_start "$NS_A" "$WORK/postern.toml"

charon_start b "$NS_B"
cp "$PKI/client.pem" "$PKI/intermediate-ca.pem" "$WORK/b/swanctl/x509/"
cp "$PKI/client.key" "$WORK/b/swanctl/private/"
cp "$PKI/root-ca.pem" "$WORK/b/swanctl/x509ca/"
cat >"$WORK/b/swanctl/swanctl.conf" <<EOF
connections {
    home {
        version = 2
        local_addrs = $IP6_B
        remote_addrs = $IP6_A
        proposals = aes128gcm16-prfsha256-ecp256
        local {
            auth = pubkey
            certs = client.pem
            id = alice@postern.test
        }
        remote {
            auth = pubkey
            id = ecdsa.postern.test
        }
        children {
            net {
                local_ts = $NET_B/32
                remote_ts = $NET_A/32
                esp_proposals = aes128gcm16
            }
        }
    }
}
EOF
charon_load b
# strongSwan sends its certificate only when asked (send_cert = ifasked, the default, like most
# clients): posternd must put a CERTREQ for its CAs into the IKE_SA_INIT response
if ! charon_try_initiate b net; then
    expect_log b 'received cert request for "C=CH, O=Postern Test, CN=Postern Test Root CA"'
    fail "charon b: swanctl --initiate failed (see $WORK/b/initiate-net.log)"
fi
expect_log b 'received cert request for "C=CH, O=Postern Test, CN=Postern Test Root CA"'
show_sas b
sa_snapshot b

expect_sa b 'state' ESTABLISHED
expect_sa b 'local-host' "$IP6_B"
expect_sa b 'remote-host' "$IP6_A"
expect_sa b 'remote-port' 4500
expect_sa b 'local-id' alice@postern.test
expect_sa b 'remote-id' ecdsa.postern.test
expect_sa b 'encr-alg' AES_GCM_16
expect_sa b 'encr-keysize' 128
expect_sa b 'prf-alg' PRF_HMAC_SHA2_256
expect_sa b 'dh-group' ECP_256
expect_sa b 'child-sas\.[^.]+\.state' INSTALLED
expect_sa b 'child-sas\.[^.]+\.protocol' ESP
expect_sa b 'child-sas\.[^.]+\.encr-alg' AES_GCM_16
expect_sa b 'child-sas\.[^.]+\.encr-keysize' 128
expect_sa b 'child-sas\.[^.]+\.local-ts' "$NET_B/32"
expect_sa b 'child-sas\.[^.]+\.remote-ts' "$NET_A/32"
expect_log b 'received end entity cert "C=CH, O=Postern Test, CN=ecdsa.postern.test"'
expect_log b 'received issuer cert "C=CH, O=Postern Test, CN=Postern Test Intermediate CA"'
expect_log b 'reached self-signed root ca with a path length of 1'
expect_log b "authentication of 'ecdsa.postern.test' with (ECDSA[A-Z0-9_-]*|ECDSA-256 signature) successful"
posternd_stop
pass "strongSwan -> posternd over IPv6, ECDSA certificates: IKE and CHILD SA established"
