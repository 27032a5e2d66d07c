#!/usr/bin/env bash
# interop_posternd_ping.sh - strongSwan pings through posternd's userspace ESP data plane.
#
#   netns a: posternd, responder, PSK, server.dataplane = "userspace": TUN device postern0,
#            pool "clients" 10.99.0.0/24, local_ts 10.97.0.0/24; 10.97.0.1/32 on lo stands for
#            the network behind the gateway
#   netns b: charon "b" (kernel-libipsec: ESP in userspace through ipsec0, always in UDP),
#            initiator, PSK, vips = 0.0.0.0, remote_ts 10.97.0.0/24, encap = yes
#
# Asserted:
#   - posternd created postern0 (MTU 1400, up) with the pool's route
#   - the IKE SA is ESTABLISHED, charon got a virtual IP from 10.99.0.0/24, the CHILD_SA is
#     INSTALLED and UDP-encapsulated
#   - `ping -c 3 -I <virtual IP> 10.97.0.1` from b gets its replies: ESP-in-UDP from b is
#     decrypted by posternd, written to postern0, answered by a's kernel, read back from
#     postern0, encrypted and sent to b
#   - strongSwan's CHILD_SA counts bytes and packets in and out
#   - posternd logged the SAs as installed in the userspace data plane and, at exit, counters
#     with ESP packets out and in
#   - posternd stops cleanly on SIGTERM (status 0, no sanitizer report in its log)
set -euo pipefail
source "$(dirname "$0")/lib.sh"
pi_init "$@"
pi_need_posternd
pi_setup_pair

BEHIND=10.97.0.1
ip -n "$NS_A" addr add "$BEHIND/32" dev lo

posternd_conf "$WORK/postern.toml" 'dataplane = "userspace"'
cat >>"$WORK/postern.toml" <<EOF
[pools.clients]
ipv4 = "10.99.0.0/24"
EOF
posternd_psk_conn "$WORK/postern.toml" ping vpn.postern.test b.postern.test '"aes256gcm16"' \
    'pools = ["clients"]
local_ts = ["10.97.0.0/24"]'
posternd_start "$NS_A" "$WORK/postern.toml"

wait_for 5 "postern0 in $NS_A" ip -n "$NS_A" link show postern0
ip -n "$NS_A" link show postern0 | grep -q 'mtu 1400' || fail "postern0 does not have MTU 1400"
ip -n "$NS_A" link show postern0 | grep -q ',UP' || fail "postern0 is not up"
ip -n "$NS_A" route show 10.99.0.0/24 | grep -q 'dev postern0' \
    || fail "no route 10.99.0.0/24 dev postern0 in $NS_A"
pi_log "ok: postern0 up, MTU 1400, route 10.99.0.0/24 dev postern0"

charon_start b "$NS_B"
charon_rw_conf b aes256gcm16 0.0.0.0 10.97.0.0/24
charon_load b
charon_initiate b net
sa_snapshot b
expect_sa b 'state' ESTABLISHED
expect_sa_match b 'local-vips' '10\.99\.0\.[0-9]+'
VIP=$(sa_get b 'local-vips')
expect_sa b 'child-sas\.[^.]+\.state' INSTALLED
expect_sa b 'child-sas\.[^.]+\.encap' yes
expect_sa b 'child-sas\.[^.]+\.remote-ts' 10.97.0.0/24

# --- traffic through the tunnel ---
ip -n "$NS_B" link show ipsec0 >/dev/null || fail "no ipsec0 in $NS_B"
PI_LOGS+=("$WORK/ping.log")
if ! ip netns exec "$NS_B" ping -c 3 -W 2 -I "$VIP" "$BEHIND" >"$WORK/ping.log" 2>&1; then
    fail "ping $VIP -> $BEHIND through posternd failed: $(tail -n 2 "$WORK/ping.log" | tr '\n' ' ')"
fi
sed "s/^/  [ping] /" "$WORK/ping.log" >&2
grep -q ' 3 received' "$WORK/ping.log" || fail "ping did not get 3 replies"
pi_log "ok: ping $VIP -> $BEHIND through posternd: 3 replies"

show_sas b
sa_snapshot b
for dir in in out; do
    n=$(sa_get b "child-sas\.[^.]+\.bytes-$dir")
    p=$(sa_get b "child-sas\.[^.]+\.packets-$dir")
    [ -n "$n" ] && [ "$n" -gt 0 ] || fail "charon b: CHILD_SA bytes-$dir is '$n', expected > 0"
    [ -n "$p" ] && [ "$p" -ge 3 ] || fail "charon b: CHILD_SA packets-$dir is '$p', expected >= 3"
    pi_log "ok: charon b reports CHILD_SA bytes-$dir = $n, packets-$dir = $p"
done

grep -Eq 'install inbound ESP SA [0-9a-f]{8} .*\(userspace\)' "$WORK/posternd.log" \
    || fail "posternd did not log the inbound SA installed in the userspace data plane"
grep -Eq 'install outbound ESP SA [0-9a-f]{8} .*\(userspace\)' "$WORK/posternd.log" \
    || fail "posternd did not log the outbound SA installed in the userspace data plane"
posternd_stop
line=$(grep -E 'data plane counters:' "$WORK/posternd.log" | tail -n 1)
[ -n "$line" ] || fail "posternd logged no data plane counters at exit"
pi_log "posternd: ${line#*data plane counters: }"
[[ "$line" =~ ESP\ out\ ([0-9]+)\ packets.*ESP\ in\ ([0-9]+)\ packets ]] \
    || fail "cannot read posternd's counters from: $line"
[ "${BASH_REMATCH[1]}" -ge 3 ] || fail "posternd sent ${BASH_REMATCH[1]} ESP packets, expected >= 3"
[ "${BASH_REMATCH[2]}" -ge 3 ] || fail "posternd received ${BASH_REMATCH[2]} ESP packets, expected >= 3"
pi_log "ok: posternd counted ${BASH_REMATCH[1]} ESP packets out, ${BASH_REMATCH[2]} in"
pass "strongSwan -> posternd (userspace data plane): ping $VIP -> $BEHIND through the tunnel"
