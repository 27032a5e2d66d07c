#!/usr/bin/env bash
# interop_posternd_mobike.sh MODE POSTERND - a strongSwan client changes address mid-session
# (MOBIKE, RFC 4555) and keeps its tunnel through posternd's userspace data plane.
# MODE (ctest: interop_posternd_mobike_<mode>):
#   direct  b's link moves from 192.0.2.2 to 192.0.2.77 on the same segment (drawn below)
#   nat     b starts on a direct link to a (203.0.113.2 <-> 203.0.113.1) and also sits behind
#           the masquerading router r (198.51.100.2 -> 192.0.2.254); its direct address goes
#           away, so it moves behind the NAT: posternd sees it at 192.0.2.254 with a new port
#
#   netns a: posternd, responder, PSK, server.dataplane = "userspace", pool "clients"
#            10.99.0.0/24, local_ts 10.97.0.0/24; 10.97.0.1/32 on lo stands for the network
#            behind the gateway
#   netns b: charon "b" (kernel-libipsec, ESP in UDP), initiator, PSK, vips = 0.0.0.0,
#            mobike = yes, no local_addrs (it may use any address it has)
#
# Mid-session b's link moves from 192.0.2.2 to 192.0.2.77 (new address added, old one
# removed); charon's kernel-netlink sees the address events and sends UPDATE_SA_ADDRESSES from
# the new address.
#
# Asserted:
#   - MOBIKE negotiated (posternd logs it; charon's IKE SA lists MOBIKE)
#   - a ping from b's virtual IP to 10.97.0.1 running across the move loses at most a few
#     packets and gets replies after the move
#   - charon sent UPDATE_SA_ADDRESSES and posternd answered it (posternd logs "peer moved",
#     moved both ESP SAs in the userspace data plane, echoed COOKIE2 if charon sent one)
#   - `postern sa list` shows the new peer address and the same virtual IP, the same IKE SA id
#   - `swanctl --list-sas` shows local-host = the new address and the same IKE SA (unique id):
#     no new IKE SA; posternd moved its ESP SAs (the SPIs from before) and started no exchange
#     of its own. charon itself rekeys the CHILD_SA after the update because its kernel-libipsec
#     backend cannot update SAs in place (strongSwan's fallback); the SPIs are compared only when
#     charon did not do that.
#   - posternd stops cleanly
set -euo pipefail
MODE=${1:-}
[ $# -gt 0 ] && shift
case $MODE in
    direct | nat) ;;
    *) echo "usage: $0 direct|nat POSTERND" >&2; exit 1 ;;
esac
source "$(dirname "$0")/lib.sh"
PI_NAME=$PI_NAME-$MODE
pi_init "$@"
pi_need_posternd
if [ "$MODE" = direct ]; then
    pi_setup_pair
    OLD_B=$IP_B      # b as a sees it, before and after
    NEW_B=192.0.2.77
else
    pi_setup_nat
    # The direct link, preferred for a's address until its address goes.
    ip link add vethd netns "$NS_A" type veth peer name vethd netns "$NS_B"
    ip -n "$NS_A" addr add 203.0.113.1/24 dev vethd
    ip -n "$NS_B" addr add 203.0.113.2/24 dev vethd
    ip -n "$NS_A" link set vethd up
    ip -n "$NS_B" link set vethd up
    ip -n "$NS_B" route add "$IP_A/32" via 203.0.113.1 dev vethd
    OLD_B=203.0.113.2
    NEW_B=$IP_R_OUT
fi

POSTERN_CLI=$(dirname "$POSTERND")/postern
[ -x "$POSTERN_CLI" ] || fail "no postern CLI next to $POSTERND"
BEHIND=10.97.0.1
ip -n "$NS_A" addr add "$BEHIND/32" dev lo

posternd_conf "$WORK/postern.toml" 'dataplane = "userspace"'
cat >>"$WORK/postern.toml" <<EOF
[pools.clients]
ipv4 = "10.99.0.0/24"
EOF
posternd_psk_conn "$WORK/postern.toml" roam vpn.postern.test b.postern.test '"aes256gcm16"' \
    'pools = ["clients"]
local_ts = ["10.97.0.0/24"]
mobike = true'
posternd_start "$NS_A" "$WORK/postern.toml"
wait_for 5 "postern0 in $NS_A" ip -n "$NS_A" link show postern0

charon_start b "$NS_B"
# charon's address changes below: no local_addrs; MOBIKE on (its default, said anyway).
charon_rw_conf b aes256gcm16 0.0.0.0 10.97.0.0/24
sed -i '/^        local_addrs = /d; s/^        encap = yes/        encap = yes\n        mobike = yes/' \
    "$WORK/b/swanctl/swanctl.conf"
grep -q 'mobike = yes' "$WORK/b/swanctl/swanctl.conf" || fail "could not turn MOBIKE on in swanctl.conf"
charon_load b
charon_initiate b net
sa_snapshot b
expect_sa b 'state' ESTABLISHED
expect_sa b 'local-host' "$OLD_B"
expect_sa_match b 'local-vips' '10\.99\.0\.[0-9]+'
VIP=$(sa_get b 'local-vips')
UNIQUE=$(sa_get b 'uniqueid')
SPI_IN=$(sa_get b 'child-sas\.[^.]+\.spi-in')
SPI_OUT=$(sa_get b 'child-sas\.[^.]+\.spi-out')
[ -n "$UNIQUE" ] && [ -n "$SPI_IN" ] || fail "cannot read charon's IKE SA id / CHILD_SA SPIs"
grep -q 'MOBIKE negotiated' "$WORK/posternd.log" || fail "posternd did not negotiate MOBIKE"
pi_log "ok: established, virtual IP $VIP, MOBIKE negotiated"

ctl() { "$POSTERN_CLI" --socket "$WORK/postern.ctl.sock" "$@"; }
PI_LOGS+=("$WORK/sa-before.txt" "$WORK/sa-after.txt" "$WORK/ping.log")
ctl sa list >"$WORK/sa-before.txt" 2>&1 || fail "postern sa list failed: $(cat "$WORK/sa-before.txt")"
sed "s/^/  [sa list before] /" "$WORK/sa-before.txt" >&2
grep -q "$OLD_B" "$WORK/sa-before.txt" || fail "postern sa list does not show $OLD_B"
grep -q "$VIP" "$WORK/sa-before.txt" || fail "postern sa list does not show $VIP"

# --- ping across the move ---
ip netns exec "$NS_B" ping -i 0.2 -c 60 -W 1 -I "$VIP" "$BEHIND" >"$WORK/ping.log" 2>&1 &
PING=$!
PI_PIDS+=("$PING")
sleep 3
if [ "$MODE" = direct ]; then
    pi_log "moving $NS_B's link from $OLD_B to $NEW_B"
    # The new address stays when the old (primary) one goes.
    ip netns exec "$NS_B" sysctl -qw net.ipv4.conf.veth0.promote_secondaries=1
    ip -n "$NS_B" addr add "$NEW_B/24" dev veth0
    ip -n "$NS_B" addr del "$OLD_B/24" dev veth0
else
    pi_log "$NS_B loses its direct address $OLD_B: behind the NAT from now on"
    ip -n "$NS_B" addr del "$OLD_B/24" dev vethd
fi
wait_for 15 "posternd to follow the client to $NEW_B" \
    grep -q "MOBIKE: peer moved from $OLD_B:[0-9]* to $NEW_B" "$WORK/posternd.log"
wait "$PING" || true
sed "s/^/  [ping] /" "$WORK/ping.log" >&2
received=$(sed -nE 's/.* ([0-9]+) received.*/\1/p' "$WORK/ping.log")
[ -n "$received" ] || fail "cannot read ping's summary"
[ "$received" -ge 50 ] || fail "ping across the move got $received of 60 replies (at most 10 may be lost)"
# Replies after the move: the last sequence numbers came back.
last=$(grep -oE 'icmp_seq=[0-9]+' "$WORK/ping.log" | tail -n 1 | cut -d= -f2)
[ -n "$last" ] && [ "$last" -ge 55 ] || fail "no ping replies at the end (last icmp_seq '$last')"
pi_log "ok: ping across the move: $received of 60 replies, last icmp_seq $last"

# --- what each end reports ---
expect_log b 'requesting address change using MOBIKE'
expect_log b 'generating INFORMATIONAL request [0-9]+ \[ N\(UPD_SA_ADDR\)'
expect_log b 'parsed INFORMATIONAL response [0-9]+ \[ N\(NATD_S_IP\) N\(NATD_D_IP\)'
grep -Eq 'received INFORMATIONAL request [0-9]+ \[ N\(UPD_SA_ADDR\)' "$WORK/posternd.log" \
    || fail "posternd did not receive UPDATE_SA_ADDRESSES"
grep -Eq "move (inbound|outbound) ESP SA [0-9a-f]{8} .*$NEW_B.*\\(userspace\\)" "$WORK/posternd.log" \
    || fail "posternd did not move the ESP SAs in the userspace data plane"
if grep -q 'N(UPD_SA_ADDR).*N(COOKIE2)' "$WORK/posternd.log"; then
    grep -Eq 'sending INFORMATIONAL response [0-9]+ \[.*N\(COOKIE2\) \]' "$WORK/posternd.log" \
        || fail "posternd did not echo COOKIE2"
fi
ctl sa list >"$WORK/sa-after.txt" 2>&1 || fail "postern sa list failed: $(cat "$WORK/sa-after.txt")"
sed "s/^/  [sa list after] /" "$WORK/sa-after.txt" >&2
grep -q "$NEW_B" "$WORK/sa-after.txt" || fail "postern sa list does not show the new address $NEW_B"
grep -q "$VIP" "$WORK/sa-after.txt" || fail "postern sa list lost the virtual IP $VIP"
[ "$(grep -c . "$WORK/sa-after.txt")" = "$(grep -c . "$WORK/sa-before.txt")" ] \
    || fail "postern sa list changed its number of lines (a new IKE SA?)"
ctl sa list --json >"$WORK/sa-after.json" 2>&1 || fail "postern sa list --json failed"
PI_LOGS+=("$WORK/sa-after.json")
grep -Eq '"mobike": ?true' "$WORK/sa-after.json" || fail "postern sa list --json: no \"mobike\": true"
grep -Eq "\"peer\": ?\"$NEW_B:[0-9]+\"" "$WORK/sa-after.json" || fail "postern sa list --json: peer is not $NEW_B"
pi_log "ok: postern sa list shows $NEW_B, $VIP, mobike true"

sa_snapshot b
show_sas b
expect_sa b 'state' ESTABLISHED
if [ "$MODE" = direct ]; then
    expect_sa b 'local-host' "$NEW_B"
else
    expect_sa b 'local-host' "$IP_B_NAT"
    expect_sa b 'nat-local' yes
fi
expect_sa b 'remote-host' "$IP_A"
expect_sa b 'uniqueid' "$UNIQUE"
expect_sa b 'local-vips' "$VIP"
# posternd moved the CHILD_SA it had (both directions, the SPIs from before the move) in its
# data plane; it started no exchange but the answers.
grep -Eq "move inbound ESP SA $SPI_OUT to $NEW_B:[0-9]+ -> $IP_A:4500 \(ESP in UDP\) \(userspace\)" \
    "$WORK/posternd.log" || fail "posternd did not move its inbound SA $SPI_OUT"
grep -Eq "move outbound ESP SA $SPI_IN to $IP_A:4500 -> $NEW_B:[0-9]+ \(ESP in UDP\) \(userspace\)" \
    "$WORK/posternd.log" || fail "posternd did not move its outbound SA $SPI_IN"
if grep -Eq 'sending (CREATE_CHILD_SA|IKE_SA_INIT|INFORMATIONAL) request' "$WORK/posternd.log"; then
    fail "posternd started an exchange of its own (rekey, new IKE SA or Delete)"
fi
[ "$(grep -c 'IKE SA established' "$WORK/posternd.log")" = 1 ] || fail "posternd established another IKE SA"
if sed -n '/requesting address change/,$p' "$WORK/b/charon.log" | grep -q 'IKE_SA_INIT request 0'; then
    fail "charon made a new IKE SA after the move"
fi
# strongSwan's kernel-libipsec cannot update SAs in place, so charon follows a MOBIKE update of
# its own CHILD_SAs with a CHILD_SA rekey ("UPDATING => INSTALLED, queueing CHILD_REKEY task");
# with its kernel-netlink backend it would not. That rekey is charon's, and posternd answers it.
if grep -q 'queueing CHILD_REKEY task' "$WORK/b/charon.log"; then
    pi_log "note: charon (kernel-libipsec) rekeyed its CHILD_SA after the move, as it does"
else
    expect_sa b 'child-sas\.[^.]+\.spi-in' "$SPI_IN"
fi
pi_log "ok: same IKE SA ($UNIQUE), posternd moved CHILD_SA $SPI_IN/$SPI_OUT, client now at $NEW_B"

posternd_stop
pass "strongSwan client moved $OLD_B -> $NEW_B ($MODE) with MOBIKE; tunnel, virtual IP and ping kept"
