#!/usr/bin/env bash
# interop_posternd_nat_router.sh - strongSwan behind a real NAT (masquerading router, random
# ports) against posternd. Skips (77) without `nft` (Debian package nftables).
#
#   netns a: posternd at 192.0.2.1, responder, PSK, pool 10.99.0.0/24
#   netns r: router, masquerades 198.51.100.0/24 behind 192.0.2.254 with random ports (nft)
#   netns b: charon "b" at 198.51.100.2 behind r, initiator, PSK, vips = 0.0.0.0, dpd_delay 1s
#
# Asserted, from what strongSwan reports (swanctl --list-sas, charon's log):
#   - the IKE SA is ESTABLISHED; b reports nat-local (posternd's NATD_DESTINATION_IP hash, made
#     from the address and port it saw, 192.0.2.254 and a translated port, does not match b's
#     own) and not nat-remote (posternd is not behind a NAT); both ends on port 4500
#   - b logged that it sends NAT keepalives
#   - b got a virtual IP from 10.99.0.0/24; the CHILD_SA is INSTALLED, UDP-encapsulated, with
#     traffic selectors <vip>/32 === 10.0.1.1/32
#   - liveness through the NAT: strongSwan's DPD requests are answered (to the translated
#     port) and the IKE SA is still ESTABLISHED 3 s later
#   - posternd stops cleanly on SIGTERM (status 0, no sanitizer report in its log)
# Not asserted here: packets through the CHILD_SA (interop_posternd_ping checks those).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
pi_init "$@"
pi_need_posternd
pi_setup_nat

posternd_conf "$WORK/postern.toml"
cat >>"$WORK/postern.toml" <<EOF
[pools.clients]
ipv4 = "10.99.0.0/24"

[[connections]]
name = "nat"
local_id = "vpn.postern.test"
remote_id = "b.postern.test"
local_auth = "psk"
remote_auth = "psk"
psk = "$PI_PSK"
ike_proposals = ["aes256gcm16-prfsha256-x25519"]
esp_proposals = ["aes256gcm16"]
pools = ["clients"]
local_ts = ["$NET_A/32"]
EOF
posternd_start "$NS_A" "$WORK/postern.toml"

charon_start b "$NS_B"
cat >"$WORK/b/swanctl/swanctl.conf" <<EOF
connections {
    home {
        version = 2
        local_addrs = $IP_B_NAT
        remote_addrs = $IP_A
        proposals = aes256gcm16-prfsha256-x25519
        vips = 0.0.0.0
        dpd_delay = 1s
        local {
            auth = psk
            id = b.postern.test
        }
        remote {
            auth = psk
            id = vpn.postern.test
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
        id-1 = b.postern.test
        id-2 = vpn.postern.test
        secret = "$PI_PSK"
    }
}
EOF
charon_load b
charon_initiate b net
show_sas b
sa_snapshot b

expect_sa b 'state' ESTABLISHED
expect_sa b 'local-host' "$IP_B_NAT"
expect_sa b 'local-port' 4500
expect_sa b 'remote-port' 4500
expect_sa b 'nat-local' yes
expect_sa b 'nat-remote' ''
expect_log b 'local host is behind NAT, sending keep alives'
expect_sa_match b 'local-vips' '10\.99\.0\.[0-9]+'
VIP=$(sa_get b 'local-vips')
expect_sa b 'child-sas\.[^.]+\.state' INSTALLED
expect_sa b 'child-sas\.[^.]+\.encap' yes
expect_sa b 'child-sas\.[^.]+\.local-ts' "$VIP/32"
expect_sa b 'child-sas\.[^.]+\.remote-ts' "$NET_A/32"

sleep 3
# charon's liveness checks behind a NAT carry NAT-D under MOBIKE (it watches its mapping);
# posternd answers them with its own NAT-D, which match (no UPDATE_SA_ADDRESSES follows).
expect_log b 'parsed INFORMATIONAL response [0-9]+ \[ N\(NATD_S_IP\) N\(NATD_D_IP\) \]'
if grep -q 'requesting address change using MOBIKE' "$WORK/b/charon.log"; then
    fail "charon saw a changed NAT mapping in posternd's NAT-D"
fi
sa_snapshot b
expect_sa b 'state' ESTABLISHED
posternd_stop
pass "strongSwan behind a masquerading router -> posternd: NAT detected, 4500, virtual IP, liveness"
