#!/usr/bin/env bash
# interop_harness_strongswan_pair.sh - the harness proves itself: strongSwan against strongSwan.
#
#   netns a: charon "a", responder, PSK, hands out virtual IPs from 10.99.0.0/28 and DNS 10.99.0.53
#   netns b: charon "b", initiator, PSK, asks for a virtual IP (vips = 0.0.0.0), forces UDP
#            encapsulation (encap = yes: kernel-libipsec carries ESP in UDP only)
#
# Asserted, from what swanctl reports on both sides (`--list-sas --raw` through list_sas):
#   - the IKE SA is ESTABLISHED with AES_GCM_16/256, PRF_HMAC_SHA2_256, CURVE_25519, on port 4500
#     with NAT faked by b (nat-fake) and seen by a (nat-remote)
#   - b got the virtual IP 10.99.0.1 and a reports it as b's remote-vips
#   - the CHILD_SA is INSTALLED, ESP AES_GCM_16/256, UDP-encapsulated, traffic selectors
#     10.99.0.1/32 === 10.0.1.1/32 on b and the mirror image on a
#   - b's updown script received the DNS server 10.99.0.53 (PLUTO_DNS4_1)
#   - a ping from the virtual IP to a's inner address crosses the tunnel (ipsec0 on both sides)
#     and both CHILD_SAs count the packets
#   - the initiator's terminate deletes the SAs on both sides
set -euo pipefail
source "$(dirname "$0")/lib.sh"
pi_init "$@"
pi_setup_pair
# a DN with spaces, commas and "=" as a's identity: exercises the SA parser on such values
A_ID="C=CH, O=Postern Test, CN=a.postern.test"

charon_start a "$NS_A"
charon_start b "$NS_B"

cat >"$WORK/a/swanctl/swanctl.conf" <<EOF
connections {
    rw {
        version = 2
        local_addrs = $IP_A
        proposals = aes256gcm16-prfsha256-x25519
        pools = pool4
        local {
            auth = psk
            id = "$A_ID"
        }
        remote {
            auth = psk
            id = b.postern.test
        }
        children {
            net {
                local_ts = $NET_A/32
                esp_proposals = aes256gcm16
            }
        }
    }
}
pools {
    pool4 {
        addrs = 10.99.0.0/28
        dns = 10.99.0.53
    }
}
secrets {
    ike-rw {
        id-1 = "$A_ID"
        id-2 = b.postern.test
        secret = "$PI_PSK"
    }
}
EOF

cat >"$WORK/b/swanctl/swanctl.conf" <<EOF
connections {
    home {
        version = 2
        local_addrs = $IP_B
        remote_addrs = $IP_A
        proposals = aes256gcm16-prfsha256-x25519
        vips = 0.0.0.0
        encap = yes
        local {
            auth = psk
            id = b.postern.test
        }
        remote {
            auth = psk
            id = "$A_ID"
        }
        children {
            net {
                remote_ts = $NET_A/32
                esp_proposals = aes256gcm16
                updown = $(updown_script b)
            }
        }
    }
}
secrets {
    ike-home {
        id-1 = "$A_ID"
        id-2 = b.postern.test
        secret = "$PI_PSK"
    }
}
EOF

charon_load a
charon_load b
charon_initiate b net
show_sas b
sa_snapshot b
sa_snapshot a

# --- the initiator's view ---
expect_sa b 'state' ESTABLISHED
expect_sa b 'version' 2
expect_sa b 'initiator' yes
expect_sa b 'local-id' b.postern.test
expect_sa b 'remote-id' "$A_ID"
expect_sa b 'encr-alg' AES_GCM_16
expect_sa b 'encr-keysize' 256
expect_sa b 'prf-alg' PRF_HMAC_SHA2_256
expect_sa b 'dh-group' CURVE_25519
expect_sa b 'remote-port' 4500
expect_sa b 'nat-remote' yes
expect_sa b 'local-vips' 10.99.0.1
expect_sa b 'child-sas\.[^.]+\.state' INSTALLED
expect_sa b 'child-sas\.[^.]+\.protocol' ESP
expect_sa b 'child-sas\.[^.]+\.mode' TUNNEL
expect_sa b 'child-sas\.[^.]+\.encap' yes
expect_sa b 'child-sas\.[^.]+\.encr-alg' AES_GCM_16
expect_sa b 'child-sas\.[^.]+\.encr-keysize' 256
expect_sa b 'child-sas\.[^.]+\.local-ts' 10.99.0.1/32
expect_sa b 'child-sas\.[^.]+\.remote-ts' "$NET_A/32"

# --- the responder's view ---
expect_sa a 'state' ESTABLISHED
expect_sa a 'initiator' ''
expect_sa a 'nat-remote' yes
expect_sa a 'remote-vips' 10.99.0.1
expect_sa a 'child-sas\.[^.]+\.state' INSTALLED
expect_sa a 'child-sas\.[^.]+\.local-ts' "$NET_A/32"
expect_sa a 'child-sas\.[^.]+\.remote-ts' 10.99.0.1/32

# --- DNS: b's updown plugin DNS handler got the server from the pool ---
wait_for 5 "b's updown script" test -s "$WORK/b/updown.env"
grep -qx 'PLUTO_DNS4_1=10.99.0.53' "$WORK/b/updown.env" \
    || fail "b's updown script did not get PLUTO_DNS4_1=10.99.0.53"
pi_log "ok: b received DNS server 10.99.0.53 (updown PLUTO_DNS4_1)"

# --- traffic through the tunnel (kernel-libipsec: ipsec0 on both sides) ---
ip -n "$NS_B" link show ipsec0 >/dev/null || fail "no ipsec0 in $NS_B"
ip netns exec "$NS_B" ping -c 3 -i 0.2 -W 2 -I 10.99.0.1 "$NET_A" >"$WORK/ping.log" 2>&1 \
    || { cat "$WORK/ping.log" >&2; fail "ping 10.99.0.1 -> $NET_A through the tunnel failed"; }
pi_log "ok: ping 10.99.0.1 -> $NET_A through the tunnel"
sa_snapshot b
sa_snapshot a
expect_sa_match b 'child-sas\.[^.]+\.packets-out' '[3-9]|[1-9][0-9]+'
expect_sa_match a 'child-sas\.[^.]+\.packets-in' '[3-9]|[1-9][0-9]+'

# --- teardown by the initiator reaches the responder ---
sw b --terminate --ike home --timeout 10 >"$WORK/b/terminate.log" 2>&1 \
    || fail "swanctl --terminate failed"
wait_for 5 "a to delete the IKE SA" test -z "$(sa_state a)"
pi_log "ok: terminate deleted the SAs on both sides"

pass "strongSwan pair: PSK, virtual IP, DNS, CHILD_SA, ping, delete"
