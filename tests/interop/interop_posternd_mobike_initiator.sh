#!/usr/bin/env bash
# interop_posternd_mobike_initiator.sh - posternd initiates (site to site, `start = true`) to a
# strongSwan responder with MOBIKE, and then its own address changes: posternd notices (its
# rtnetlink address watch), sends UPDATE_SA_ADDRESSES from the new address and moves its
# CHILD_SA.
#
#   netns a: posternd, initiator, PSK, request_virtual_ip; 192.0.2.1 -> 192.0.2.66 mid-session
#   netns b: charon "b", responder, PSK, pool 10.98.0.0/28, mobike (its default)
#
# Asserted: MOBIKE negotiated; after the move posternd logs the route change and the update
# ("MOBIKE: moved to 192.0.2.66:4500 -> 192.0.2.2:4500", COOKIE2 matched) and moves both ESP
# SAs in its data plane; charon processed UPDATE_SA_ADDRESSES and lists remote-host 192.0.2.66
# for the same IKE SA with the same virtual IP; no new IKE SA; posternd stops cleanly.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
pi_init "$@"
pi_need_posternd
pi_setup_pair
NEW_A=192.0.2.66

initiator_uplink_setup "mobike = true"
posternd_start "$NS_A" "$WORK/postern.toml"

wait_for 20 "posternd's IKE SA to be ESTABLISHED at charon b" ike_established b
wait_for 10 "the CHILD_SA to be INSTALLED at charon b" child_installed b
sa_snapshot b
expect_sa b 'remote-host' "$IP_A"
expect_sa b 'remote-vips' 10.98.0.1
UNIQUE=$(sa_get b 'uniqueid')
wait_for 5 "posternd to log MOBIKE" grep -q 'MOBIKE negotiated' "$WORK/posternd.log"
expect_log b 'peer supports MOBIKE'

pi_log "moving $NS_A's address from $IP_A to $NEW_A"
ip netns exec "$NS_A" sysctl -qw net.ipv4.conf.veth0.promote_secondaries=1
ip -n "$NS_A" addr add "$NEW_A/24" dev veth0
ip -n "$NS_A" addr del "$IP_A/24" dev veth0
wait_for 15 "posternd to move to $NEW_A" \
    grep -q "MOBIKE: moved to $NEW_A:4500 -> $IP_B:4500" "$WORK/posternd.log"
grep -q "the route to $IP_B now leaves from $NEW_A (was $IP_A)" "$WORK/posternd.log" \
    || fail "posternd did not log the route change"
grep -q 'COOKIE2 matched' "$WORK/posternd.log" || fail "posternd did not check COOKIE2"
grep -Eq "move outbound ESP SA [0-9a-f]{8} to $NEW_A:4500 -> $IP_B:4500" "$WORK/posternd.log" \
    || fail "posternd did not move its outbound ESP SA"
grep -Eq "move inbound ESP SA [0-9a-f]{8} to $IP_B:4500 -> $NEW_A:4500" "$WORK/posternd.log" \
    || fail "posternd did not move its inbound ESP SA"
expect_log b 'parsed INFORMATIONAL request [0-9]+ \[ N\(UPD_SA_ADDR\)'
sa_snapshot b
show_sas b
expect_sa b 'state' ESTABLISHED
expect_sa b 'remote-host' "$NEW_A"
expect_sa b 'uniqueid' "$UNIQUE"
expect_sa b 'remote-vips' 10.98.0.1
[ "$(grep -c 'IKE SA established' "$WORK/posternd.log")" = 1 ] || fail "posternd established another IKE SA"
posternd_stop
pass "posternd (initiator, MOBIKE) moved $IP_A -> $NEW_A; charon followed, same IKE SA and virtual IP"
