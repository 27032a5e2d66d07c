#!/usr/bin/env bash
# interop_posternd_initiator_psk.sh - posternd initiates to a strongSwan responder, PSK.
#
#   netns a: posternd, connection "uplink": start = true, remote_addrs = [192.0.2.2], PSK,
#            identity branch.postern.test, request_virtual_ip = true, remote_ts 10.0.2.1/32
#   netns b: charon "b", responder, PSK, hands out virtual IPs from 10.98.0.0/28,
#            local_ts 10.0.2.1/32
#
# Asserted, from what the strongSwan responder reports (swanctl --list-sas, charon's log):
#   - an IKE SA initiated by posternd (b is not the initiator) is ESTABLISHED with ids
#     b.postern.test (b) and branch.postern.test (posternd), from 192.0.2.1, with the proposal AES_GCM_16/256, PRF_HMAC_SHA2_256, CURVE_25519
#   - charon authenticated posternd with the pre-shared key
#   - posternd asked for a virtual IP and charon assigned 10.98.0.1 (remote-vips)
#   - the CHILD_SA is INSTALLED: ESP AES_GCM_16/256, traffic selectors (b's view)
#     10.0.2.1/32 === 10.98.0.1/32
#   - posternd followed strongSwan's NAT-D (kernel-libipsec makes strongSwan fake a NAT on its
#     side) to port 4500: charon's local-port is 4500
#   - posternd stops cleanly on SIGTERM (status 0, no sanitizer report in its log)
# Not asserted here: packets through the CHILD_SA (interop_posternd_ping checks those).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
pi_init "$@"
pi_need_posternd
pi_setup_pair

initiator_uplink_setup
posternd_start "$NS_A" "$WORK/postern.toml"

wait_for 20 "posternd's IKE SA to be ESTABLISHED at charon b" ike_established b
wait_for 10 "the CHILD_SA to be INSTALLED at charon b" child_installed b
show_sas b
sa_snapshot b

expect_sa b 'state' ESTABLISHED
expect_sa b 'initiator' ''
expect_sa b 'local-id' b.postern.test
expect_sa b 'remote-id' branch.postern.test
expect_sa b 'remote-host' "$IP_A"
expect_sa b 'local-port' 4500
expect_sa b 'encr-alg' AES_GCM_16
expect_sa b 'encr-keysize' 256
expect_sa b 'prf-alg' PRF_HMAC_SHA2_256
expect_sa b 'dh-group' CURVE_25519
expect_sa b 'remote-vips' 10.98.0.1
expect_sa b 'child-sas\.[^.]+\.state' INSTALLED
expect_sa b 'child-sas\.[^.]+\.protocol' ESP
expect_sa b 'child-sas\.[^.]+\.encr-alg' AES_GCM_16
expect_sa b 'child-sas\.[^.]+\.encr-keysize' 256
expect_sa b 'child-sas\.[^.]+\.local-ts' "$NET_B/32"
expect_sa b 'child-sas\.[^.]+\.remote-ts' 10.98.0.1/32
expect_log b "authentication of 'branch.postern.test' with pre-shared key successful"
expect_log b 'assigning virtual IP 10.98.0.1 to peer'
posternd_stop
pass "posternd -> strongSwan, PSK: IKE and CHILD SA established, virtual IP assigned"
