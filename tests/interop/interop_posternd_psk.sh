#!/usr/bin/env bash
# interop_posternd_psk.sh - strongSwan initiator against posternd, pre-shared key.
#
#   netns a: posternd, responder, connection "psk" (PSK both ways, local_ts 10.0.1.1/32)
#   netns b: charon "b", initiator, PSK, local_ts 10.0.2.1/32, remote_ts 10.0.1.1/32
#
# Asserted, from what strongSwan reports (swanctl --list-sas, charon's log):
#   - the IKE SA is ESTABLISHED, IKEv2, ids b.postern.test / vpn.postern.test, with the proposal
#     posternd selected: AES_GCM_16/256, PRF_HMAC_SHA2_256, CURVE_25519
#   - it moved to port 4500: strongSwan with kernel-libipsec always forces UDP encapsulation (it
#     fakes its NAT-D hash), and posternd's own NAT-D hashes are right (strongSwan reports
#     nat-fake, no nat-remote)
#   - charon authenticated posternd with the pre-shared key
#   - the CHILD_SA is INSTALLED: ESP, tunnel mode, AES_GCM_16/256, UDP-encapsulated,
#     traffic selectors 10.0.2.1/32 === 10.0.1.1/32
#   - strongSwan's delete of the CHILD_SA alone is answered with posternd's own SPI (strongSwan
#     logs the CHILD_SA closed, the IKE SA stays ESTABLISHED; posternd logs the removal)
#   - strongSwan's delete of the IKE SA is answered (swanctl --terminate completes) and posternd
#     is still running afterwards
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
name = "psk"
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
expect_sa b 'version' 2
expect_sa b 'initiator' yes
expect_sa b 'local-id' b.postern.test
expect_sa b 'remote-id' vpn.postern.test
expect_sa b 'remote-host' "$IP_A"
expect_sa b 'remote-port' 4500
expect_sa b 'nat-fake' yes
expect_sa b 'nat-remote' ''
expect_sa b 'encr-alg' AES_GCM_16
expect_sa b 'encr-keysize' 256
expect_sa b 'prf-alg' PRF_HMAC_SHA2_256
expect_sa b 'dh-group' CURVE_25519
expect_sa b 'child-sas\.[^.]+\.state' INSTALLED
expect_sa b 'child-sas\.[^.]+\.protocol' ESP
expect_sa b 'child-sas\.[^.]+\.mode' TUNNEL
expect_sa b 'child-sas\.[^.]+\.encap' yes
expect_sa b 'child-sas\.[^.]+\.encr-alg' AES_GCM_16
expect_sa b 'child-sas\.[^.]+\.encr-keysize' 256
expect_sa b 'child-sas\.[^.]+\.local-ts' "$NET_B/32"
expect_sa b 'child-sas\.[^.]+\.remote-ts' "$NET_A/32"
expect_log b "authentication of 'vpn.postern.test' with pre-shared key successful"
expect_log b 'selected proposal: IKE:AES_GCM_16_256/PRF_HMAC_SHA2_256/CURVE_25519'
expect_log b 'selected proposal: ESP:AES_GCM_16_256/NO_EXT_SEQ'

# Delete the CHILD_SA only: HDR, SK { D(ESP, b's inbound SPI) } --> <-- HDR, SK { D(ESP, ours) }
sw b --terminate --child net --timeout 10 >"$WORK/b/terminate-child.log" 2>&1 \
    || fail "swanctl --terminate --child: posternd did not answer (see $WORK/b/terminate-child.log)"
expect_log b 'closing CHILD_SA net'
expect_log b 'received DELETE for ESP CHILD_SA with SPI'
grep -q 'deleted by the peer' "$WORK/posternd.log" || fail "posternd did not log the CHILD_SA delete"
sa_snapshot b
expect_sa b 'state' ESTABLISHED
[ -z "$(child_state b)" ] || fail "charon b still lists a CHILD_SA after deleting it"

sw b --terminate --ike home --timeout 10 >"$WORK/b/terminate.log" 2>&1 \
    || fail "swanctl --terminate: posternd did not answer the delete (see $WORK/b/terminate.log)"
expect_log b 'IKE_SA deleted'
[ -z "$(sa_state b)" ] || fail "charon b still has an IKE SA after terminate"
posternd_stop
pass "strongSwan -> posternd, PSK: IKE and CHILD SA established and deleted"
