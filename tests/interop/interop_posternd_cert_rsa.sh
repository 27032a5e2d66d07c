#!/usr/bin/env bash
# interop_posternd_cert_rsa.sh - strongSwan initiator against posternd, RSA certificates.
#
#   netns a: posternd, responder, connection "rsa": proves itself with tests/data/pki's
#            server-rsa.pem (RSA-2048, vpn.postern.test, issued by the ECDSA intermediate; the
#            intermediate is sent along: cert = server-rsa-chain.pem), trusts root-ca.pem
#   netns b: charon "b", initiator, proves itself with an RSA-2048 certificate made at test time
#            (rsa-client@postern.test, issued by tests/data/pki's intermediate); trusts root-ca.pem
#            only (the intermediate is in swanctl/x509/, untrusted)
#
# Asserted, from what strongSwan reports (swanctl --list-sas, charon's log):
#   - posternd asked for a certificate: CERTREQ for the root CA in its IKE_SA_INIT response
#   - the IKE SA is ESTABLISHED with ids rsa-client@postern.test / vpn.postern.test and the
#     proposal AES_CBC/256, HMAC_SHA2_256_128, PRF_HMAC_SHA2_256, ECP_256
#   - charon received posternd's end-entity certificate and the intermediate as an issuer cert,
#     validated the chain up to the root and authenticated posternd with an RSA signature
#   - the CHILD_SA is INSTALLED: ESP AES_CBC/128 with HMAC_SHA2_256_128, traffic selectors
#     10.0.2.1/32 === 10.0.1.1/32
#   - posternd stops cleanly on SIGTERM (status 0, no sanitizer report in its log)
# Not asserted here: packets through the CHILD_SA (interop_posternd_ping checks those).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
pi_init "$@"
pi_need_posternd
pi_setup_pair
PKI=$PI_DATA/pki

charon_start b "$NS_B"
gen_rsa_key "$WORK/b/swanctl/private/client-rsa.key" 2048
gen_ee "$WORK/b/swanctl/x509/client-rsa.pem" "$WORK/b/swanctl/private/client-rsa.key" \
    "/C=CH/O=Postern Test/CN=rsa-client" "email:rsa-client@postern.test" \
    "$PKI/intermediate-ca.pem" "$PKI/intermediate-ca.key"
cp "$PKI/intermediate-ca.pem" "$WORK/b/swanctl/x509/"
cp "$PKI/root-ca.pem" "$WORK/b/swanctl/x509ca/"

posternd_conf "$WORK/postern.toml"
cat >>"$WORK/postern.toml" <<EOF
[pki]
cacerts = ["$PKI/root-ca.pem"]

[[connections]]
name = "rsa"
local_id = "vpn.postern.test"
remote_id = "rsa-client@postern.test"
local_auth = "pubkey"
remote_auth = "pubkey"
cert = "$PKI/server-rsa-chain.pem"
key = "$PKI/server-rsa.key"
ike_proposals = ["aes256-sha256-ecp256"]
esp_proposals = ["aes128-sha256"]
local_ts = ["$NET_A/32"]
EOF
posternd_start "$NS_A" "$WORK/postern.toml"

cat >"$WORK/b/swanctl/swanctl.conf" <<EOF
connections {
    home {
        version = 2
        local_addrs = $IP_B
        remote_addrs = $IP_A
        proposals = aes256-sha256-ecp256
        local {
            auth = pubkey
            certs = client-rsa.pem
            id = rsa-client@postern.test
        }
        remote {
            auth = pubkey
            id = vpn.postern.test
        }
        children {
            net {
                local_ts = $NET_B/32
                remote_ts = $NET_A/32
                esp_proposals = aes128-sha256
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
expect_sa b 'local-id' rsa-client@postern.test
expect_sa b 'remote-id' vpn.postern.test
expect_sa b 'encr-alg' AES_CBC
expect_sa b 'encr-keysize' 256
expect_sa b 'integ-alg' HMAC_SHA2_256_128
expect_sa b 'prf-alg' PRF_HMAC_SHA2_256
expect_sa b 'dh-group' ECP_256
expect_sa b 'child-sas\.[^.]+\.state' INSTALLED
expect_sa b 'child-sas\.[^.]+\.protocol' ESP
expect_sa b 'child-sas\.[^.]+\.encr-alg' AES_CBC
expect_sa b 'child-sas\.[^.]+\.encr-keysize' 128
expect_sa b 'child-sas\.[^.]+\.integ-alg' HMAC_SHA2_256_128
expect_sa b 'child-sas\.[^.]+\.local-ts' "$NET_B/32"
expect_sa b 'child-sas\.[^.]+\.remote-ts' "$NET_A/32"
expect_log b 'received end entity cert "C=CH, O=Postern Test, CN=vpn.postern.test"'
expect_log b 'received issuer cert "C=CH, O=Postern Test, CN=Postern Test Intermediate CA"'
expect_log b 'reached self-signed root ca with a path length of 1'
expect_log b "authentication of 'vpn.postern.test' with (RSA_EMSA_[A-Z0-9_]+|RSA signature) successful"
posternd_stop
pass "strongSwan -> posternd, RSA certificates with a chain: IKE and CHILD SA established"
