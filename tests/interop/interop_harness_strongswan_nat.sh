#!/usr/bin/env bash
# interop_harness_strongswan_nat.sh - the NAT router of the harness, proved with strongSwan on
# both ends. Skips (77) without `nft` (Debian package nftables).
#
#   netns a: charon "a", responder at 192.0.2.1, PSK, virtual IPs from 10.99.0.0/28
#   netns r: router, masquerades 198.51.100.0/24 behind 192.0.2.254 with random ports (nft)
#   netns b: charon "b", initiator at 198.51.100.2 behind r, asks for a virtual IP
#
# Asserted, from what swanctl reports on both sides:
#   - the IKE SA is ESTABLISHED; b reports nat-local (its NAT-D hash did not survive the
#     router), a sees b at 192.0.2.254 on a translated port (not 500, not 4500) and nat-remote
#   - b got 10.99.0.1, the CHILD_SA is INSTALLED and UDP-encapsulated on both sides
#   - b logged that it sends NAT keepalives
#   - a ping from the virtual IP to a's inner address crosses the tunnel and the NAT
set -euo pipefail
source "$(dirname "$0")/lib.sh"
pi_init "$@"
pi_setup_nat

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
            id = a.postern.test
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
    }
}
secrets {
    ike-rw {
        id-1 = a.postern.test
        id-2 = b.postern.test
        secret = "$PI_PSK"
    }
}
EOF
cat >"$WORK/b/swanctl/swanctl.conf" <<EOF
connections {
    home {
        version = 2
        local_addrs = $IP_B_NAT
        remote_addrs = $IP_A
        proposals = aes256gcm16-prfsha256-x25519
        vips = 0.0.0.0
        local {
            auth = psk
            id = b.postern.test
        }
        remote {
            auth = psk
            id = a.postern.test
        }
        children {
            net {
                remote_ts = $NET_A/32
                esp_proposals = aes256gcm16
            }
        }
    }
}
secrets {
    ike-home {
        id-1 = a.postern.test
        id-2 = b.postern.test
        secret = "$PI_PSK"
    }
}
EOF
charon_load a
charon_load b
charon_initiate b net
show_sas b
show_sas a
sa_snapshot b
sa_snapshot a

expect_sa b 'state' ESTABLISHED
expect_sa b 'local-host' "$IP_B_NAT"
expect_sa b 'nat-local' yes
expect_sa b 'local-vips' 10.99.0.1
expect_sa b 'child-sas\.[^.]+\.state' INSTALLED
expect_sa b 'child-sas\.[^.]+\.encap' yes
expect_sa a 'state' ESTABLISHED
expect_sa a 'remote-host' "$IP_R_OUT"
expect_sa a 'nat-remote' yes
port=$(sa_get a 'remote-port')
[ "$port" != 500 ] && [ "$port" != 4500 ] || fail "a sees b on port $port: the router did not translate the port"
pi_log "ok: a sees b at $IP_R_OUT:$port (translated)"
expect_sa a 'child-sas\.[^.]+\.state' INSTALLED
expect_sa a 'child-sas\.[^.]+\.encap' yes
expect_log b 'local host is behind NAT, sending keep alives'

ip netns exec "$NS_B" ping -c 3 -i 0.2 -W 2 -I 10.99.0.1 "$NET_A" >"$WORK/ping.log" 2>&1 \
    || { cat "$WORK/ping.log" >&2; fail "ping 10.99.0.1 -> $NET_A through the tunnel and the NAT failed"; }
pi_log "ok: ping 10.99.0.1 -> $NET_A through the tunnel and the NAT"
pass "strongSwan pair through a masquerading router: NAT detected, port 4500 translated, ping"
