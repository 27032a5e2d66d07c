#!/usr/bin/env bash
# interop_posternd_natt.sh - strongSwan initiator forces NAT-T (encap = yes) against posternd.
#
#   netns a: posternd, responder, PSK
#   netns b: charon "b", initiator, PSK, `encap = yes`: it fakes its NAT_DETECTION_SOURCE_IP
#            hash, so posternd must believe b is behind a NAT and move to port 4500
#            (strongSwan's kernel-libipsec would force this anyway; here it is explicit)
#
# Asserted, from what strongSwan reports (swanctl --list-sas, charon's log):
#   - the IKE SA is ESTABLISHED, both ends on port 4500 (local-port and remote-port), IKE_AUTH
#     went 192.0.2.2[4500] -> 192.0.2.1[4500] and posternd answered from 192.0.2.1[4500]
#   - strongSwan's view of the NAT: nat-fake and nat-any, but neither nat-local nor nat-remote:
#     posternd's NAT-D hashes matched the real addresses and ports
#   - the CHILD_SA is INSTALLED and UDP-encapsulated (encap), AES_GCM_16/256, traffic selectors
#     10.0.2.1/32 === 10.0.1.1/32
#   - liveness on port 4500: strongSwan's DPD (dpd_delay = 1s) sends empty INFORMATIONAL
#     requests, posternd answers them, and 3 s later the IKE SA is still ESTABLISHED
#   - posternd stops cleanly on SIGTERM (status 0, no sanitizer report in its log)
# Not asserted here: packets through the CHILD_SA (interop_posternd_ping checks those).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
pi_init "$@"
pi_need_posternd
pi_setup_pair

posternd_conf "$WORK/postern.toml"
cat >>"$WORK/postern.toml" <<EOF
[[connections]]
name = "natt"
local_id = "vpn.postern.test"
remote_id = "b.postern.test"
local_auth = "psk"
remote_auth = "psk"
psk = "$PI_PSK"
ike_proposals = ["aes256gcm16-prfsha256-x25519"]
esp_proposals = ["aes256gcm16"]
local_ts = ["$NET_A/32"]
EOF
posternd_start "$NS_A" "$WORK/postern.toml"

charon_start b "$NS_B"
cat >"$WORK/b/swanctl/swanctl.conf" <<EOF
connections {
    home {
        version = 2
        local_addrs = $IP_B
        remote_addrs = $IP_A
        proposals = aes256gcm16-prfsha256-x25519
        encap = yes
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
                local_ts = $NET_B/32
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
expect_sa b 'local-port' 4500
expect_sa b 'remote-port' 4500
expect_sa b 'nat-fake' yes
expect_sa b 'nat-any' yes
expect_sa b 'nat-local' ''
expect_sa b 'nat-remote' ''
expect_sa b 'child-sas\.[^.]+\.state' INSTALLED
expect_sa b 'child-sas\.[^.]+\.encap' yes
expect_sa b 'child-sas\.[^.]+\.encr-alg' AES_GCM_16
expect_sa b 'child-sas\.[^.]+\.encr-keysize' 256
expect_sa b 'child-sas\.[^.]+\.local-ts' "$NET_B/32"
expect_sa b 'child-sas\.[^.]+\.remote-ts' "$NET_A/32"
expect_log b "sending packet: from $IP_B\\[4500\\] to $IP_A\\[4500\\]"
expect_log b "received packet: from $IP_A\\[4500\\] to $IP_B\\[4500\\]"

# strongSwan's DPD (dpd_delay = 1s) sends empty INFORMATIONALs on port 4500; posternd answers
# them or the SA would be gone after retransmits
sleep 3
expect_log b 'generating INFORMATIONAL request [0-9]+ \[ \]'
expect_log b 'parsed INFORMATIONAL response [0-9]+ \[ \]'
sa_snapshot b
expect_sa b 'state' ESTABLISHED
posternd_stop
pass "strongSwan -> posternd with forced NAT-T: port 4500, NAT-D right, encapsulated CHILD_SA, liveness answered"
