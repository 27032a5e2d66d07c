#!/usr/bin/env bash
# interop_posternd_fragmentation.sh - IKE fragmentation (RFC 7383) carrying a certificate chain
# over a path that cannot carry the whole message.
#
#   netns a: posternd, responder, [server] fragment_size = 576 (IKE message bytes per fragment),
#            proves itself with vpn.postern.test (RSA-2048) issued by an RSA-4096 intermediate
#            issued by an RSA-4096 root (all made at test time); sends the intermediate along
#   netns b: charon "b", initiator, fragmentation = yes, charon.fragment_size = 600 (datagram
#            bytes), proves itself with frag-client@postern.test (RSA-2048, same intermediate)
#   path:    veth MTU 640, and neither namespace reassembles IP fragments (reassembly memory
#            limit 0), so a datagram larger than 640 bytes never arrives: only IKE fragments do
#
# Asserted:
#   - posternd asked for a certificate: CERTREQ for the root CA in its IKE_SA_INIT response
#   - the path: a 1000-byte ping does not arrive, a 500-byte one does
#   - from charon's log: its IKE_AUTH request was split into fragments, posternd's IKE_AUTH
#     response arrived as several fragments that charon reassembled into one message of more than
#     2500 bytes, holding posternd's certificate and the RSA-4096 intermediate as issuer cert,
#     and the chain validated to the root
#   - from swanctl: the IKE SA is ESTABLISHED (AES_CBC/256, HMAC_SHA2_256_128, ECP_256) and the
#     CHILD_SA INSTALLED with traffic selectors 10.0.2.1/32 === 10.0.1.1/32
#   - posternd stops cleanly on SIGTERM (status 0, no sanitizer report in its log)
# Not asserted here: packets through the CHILD_SA (interop_posternd_ping checks those).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
pi_init "$@"
pi_need_posternd
pi_setup_pair 640
pi_drop_ip_fragments "$NS_A"
pi_drop_ip_fragments "$NS_B"

# the path: big datagrams (IP-fragmented) are lost, small ones pass
ip netns exec "$NS_B" ping -c 1 -W 1 -s 500 "$IP_A" >/dev/null || fail "a 500-byte ping does not cross the veth"
if ip netns exec "$NS_B" ping -c 1 -W 1 -s 1000 "$IP_A" >/dev/null; then
    fail "a 1000-byte ping crossed the veth: IP fragments are not dropped"
fi
pi_log "ok: the path carries 500-byte datagrams but not 1000-byte ones"

# the PKI: RSA-4096 root and intermediate (generated in parallel: a few seconds each)
P=$WORK/pki
mkdir -p "$P"
gen_rsa_key "$P/root.key" 4096 & k1=$!
gen_rsa_key "$P/int.key" 4096 & k2=$!
gen_rsa_key "$P/server.key" 2048
gen_rsa_key "$P/client.key" 2048
wait "$k1" "$k2"
gen_ca "$P/root.pem" "$P/root.key" "/C=CH/O=Postern Test/CN=Postern Frag Root CA"
gen_ca "$P/int.pem" "$P/int.key" "/C=CH/O=Postern Test/CN=Postern Frag Intermediate CA" "$P/root.pem" "$P/root.key"
gen_ee "$P/server.pem" "$P/server.key" "/C=CH/O=Postern Test/CN=vpn.postern.test" "DNS:vpn.postern.test" "$P/int.pem" "$P/int.key"
gen_ee "$P/client.pem" "$P/client.key" "/C=CH/O=Postern Test/CN=frag-client" "email:frag-client@postern.test" "$P/int.pem" "$P/int.key"
cat "$P/server.pem" "$P/int.pem" >"$P/server-chain.pem"
pi_log "made an RSA-4096 root and intermediate, RSA-2048 server and client certificates"

posternd_conf "$WORK/postern.toml" 'fragment_size = 576'
cat >>"$WORK/postern.toml" <<EOF
[pki]
cacerts = ["$P/root.pem"]

[[connections]]
name = "frag"
local_id = "vpn.postern.test"
remote_id = "frag-client@postern.test"
local_auth = "pubkey"
remote_auth = "pubkey"
cert = "$P/server-chain.pem"
key = "$P/server.key"
fragmentation = true
ike_proposals = ["aes256-sha256-ecp256"]
esp_proposals = ["aes256gcm16"]
local_ts = ["$NET_A/32"]
EOF
posternd_start "$NS_A" "$WORK/postern.toml"

charon_start b "$NS_B" '    fragment_size = 600'
cp "$P/client.pem" "$P/int.pem" "$WORK/b/swanctl/x509/"
cp "$P/client.key" "$WORK/b/swanctl/private/"
cp "$P/root.pem" "$WORK/b/swanctl/x509ca/"
cat >"$WORK/b/swanctl/swanctl.conf" <<EOF
connections {
    home {
        version = 2
        local_addrs = $IP_B
        remote_addrs = $IP_A
        proposals = aes256-sha256-ecp256
        fragmentation = yes
        local {
            auth = pubkey
            certs = client.pem
            id = frag-client@postern.test
        }
        remote {
            auth = pubkey
            id = vpn.postern.test
        }
        children {
            net {
                local_ts = $NET_B/32
                remote_ts = $NET_A/32
                esp_proposals = aes256gcm16
            }
        }
    }
}
EOF
charon_load b
# strongSwan sends its certificate only when asked (send_cert = ifasked, the default): posternd
# must put a CERTREQ for its CA into the IKE_SA_INIT response
if ! charon_try_initiate b net 30; then
    expect_log b 'received cert request for "C=CH, O=Postern Test, CN=Postern Frag Root CA"'
    fail "charon b: swanctl --initiate failed (see $WORK/b/initiate-net.log)"
fi
show_sas b
sa_snapshot b

expect_log b 'splitting IKE message \([0-9]+ bytes\) into [0-9]+ fragments'
expect_log b 'received fragment #[0-9]+ of [0-9]+, reassembled fragmented IKE message'
size=$(sed -n 's/.*reassembled fragmented IKE message (\([0-9]*\) bytes).*/\1/p' "$WORK/b/charon.log" | tail -1)
[ "${size:-0}" -gt 2500 ] || fail "the reassembled IKE_AUTH response has $size bytes, expected > 2500 (a chain)"
pi_log "ok: posternd's IKE_AUTH response: $size bytes, reassembled from fragments"
expect_log b 'received end entity cert "C=CH, O=Postern Test, CN=vpn.postern.test"'
expect_log b 'received issuer cert "C=CH, O=Postern Test, CN=Postern Frag Intermediate CA"'
expect_log b 'reached self-signed root ca with a path length of 1'

expect_sa b 'state' ESTABLISHED
expect_sa b 'remote-id' vpn.postern.test
expect_sa b 'encr-alg' AES_CBC
expect_sa b 'encr-keysize' 256
expect_sa b 'integ-alg' HMAC_SHA2_256_128
expect_sa b 'dh-group' ECP_256
expect_sa b 'child-sas\.[^.]+\.state' INSTALLED
expect_sa b 'child-sas\.[^.]+\.local-ts' "$NET_B/32"
expect_sa b 'child-sas\.[^.]+\.remote-ts' "$NET_A/32"
posternd_stop
pass "strongSwan -> posternd, RSA-4096 chain in IKE fragments over a 640-byte path without IP fragments"
