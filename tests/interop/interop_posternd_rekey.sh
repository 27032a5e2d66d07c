#!/usr/bin/env bash
# interop_posternd_rekey.sh client|server|reauth - rekeying and reauthentication under traffic
# (RFC 7296 §2.8, §2.8.3).
#
#   netns a: posternd, responder, PSK, userspace data plane, pool 10.99.0.0/24,
#            local_ts 10.97.0.0/24 (10.97.0.1/32 on lo stands for the network behind)
#   netns b: charon "b" (kernel-libipsec), initiator, virtual IP, remote_ts 10.97.0.0/24
#
#   client: strongSwan rekeys: its IKE SA every 20 s and its CHILD_SA every 8 s (seconds-long
#           lifetimes, strongSwan's jitter); posternd's own times are hours.
#   server: posternd rekeys: ike_rekey_time 20 s, child_rekey_time 8 s, rand_time 2 s;
#           strongSwan's are hours.
#   reauth: posternd's reauth_time is 20 s: its AUTH_LIFETIME (RFC 4478) makes strongSwan
#           (make_before_break = yes, over_time 5 s) reauthenticate every 15 s with a new IKE
#           SA asking for its virtual IP, which posternd hands over from the old IKE SA;
#           strongSwan then deletes the old one. Asserted beside the ping: at least 3
#           reauthentications as posternd logged them, each a new IKE SA on strongSwan's side
#           with the same virtual IP, and no AUTH_LIFETIME deadline missed.
#
# For a minute, ping runs from b's virtual IP to 10.97.0.1 every 0.2 s (300 echo requests).
# Asserted:
#   - at most one echo request lost (make-before-break: the old SAs carry traffic until the
#     new ones do)
#   - the rekeys happened, as both ends report them: strongSwan's log and posternd's log show
#     at least 2 IKE SA rekeys and 5 CHILD_SA rekeys, and the rekeying side is the one the mode
#     says
#   - afterwards strongSwan has one IKE SA ESTABLISHED with SPIs other than the first ones and
#     one CHILD_SA INSTALLED, still with the same virtual IP; `postern sa list` shows the one
#     connection (no replaced SA left over, no second login)
#   - posternd never logged a disconnect, and stops cleanly
set -euo pipefail
source "$(dirname "$0")/lib.sh"
MODE=${1:?usage: $0 client|server POSTERND}
shift
case $MODE in client | server | reauth) ;; *) echo "mode must be client, server or reauth" >&2; exit 2 ;; esac
pi_init "$@"
pi_need_posternd
pi_setup_pair

BEHIND=10.97.0.1
ip -n "$NS_A" addr add "$BEHIND/32" dev lo

CHARON_EXTRA=
if [ "$MODE" = reauth ]; then
    TIMES='ike_rekey_time = "4h"
child_rekey_time = "4h"
reauth_time = "20s"'
    SW_IKE='rekey_time = 4h\n        over_time = 5s'
    SW_CHILD='rekey_time = 1h'
    CHARON_EXTRA='    make_before_break = yes'
elif [ "$MODE" = server ]; then
    TIMES='ike_rekey_time = "20s"
child_rekey_time = "8s"
rand_time = "2s"'
    SW_IKE='rekey_time = 4h'
    SW_CHILD='rekey_time = 1h'
else
    TIMES='ike_rekey_time = "4h"
child_rekey_time = "4h"'
    SW_IKE='rekey_time = 20s'
    # swanctl's default life_time (110 % rounded down to whole seconds) would be 8 s too:
    # hard expiry, no rekey.
    SW_CHILD='rekey_time = 8s\n                life_time = 12s\n                rand_time = 1s'
fi

posternd_conf "$WORK/postern.toml" 'dataplane = "userspace"'
cat >>"$WORK/postern.toml" <<EOF
[pools.clients]
ipv4 = "10.99.0.0/24"
EOF
posternd_psk_conn "$WORK/postern.toml" rekey vpn.postern.test b.postern.test '"aes256gcm16"' \
    "pools = [\"clients\"]
local_ts = [\"10.97.0.0/24\"]
$TIMES"
posternd_start "$NS_A" "$WORK/postern.toml"

charon_start b "$NS_B" "$CHARON_EXTRA"
charon_rw_conf b aes256gcm16 0.0.0.0 10.97.0.0/24
# The rekey times go into the connection and its child (swanctl.conf: one key per line).
sed -i "s|^        encap = yes|        encap = yes\n        $SW_IKE|; s|^                esp_proposals = aes256gcm16|                esp_proposals = aes256gcm16\n                $SW_CHILD|" \
    "$WORK/b/swanctl/swanctl.conf"
grep -q "${SW_IKE%%\\n*}" "$WORK/b/swanctl/swanctl.conf" || fail "could not set strongSwan's rekey times"
# No hard expiry stands in for a rekey: strongSwan "closing expired CHILD_SA" would be one.
charon_load b
charon_initiate b net
sa_snapshot b
expect_sa b 'state' ESTABLISHED
# One CHILD_SA installed; strongSwan keeps the one a rekey replaced a few seconds as DELETED.
LIVE=$(grep -oE '^home\.child-sas\.[^.]+\.state=INSTALLED' "$WORK/b/sas.txt" | cut -d. -f3 || true)
[ "$(echo "$LIVE" | grep -c .)" = 1 ] || fail "strongSwan has $(echo "$LIVE" | grep -c .) installed CHILD_SAs, expected 1"
pi_log "ok: strongSwan's installed CHILD_SA is $LIVE"
VIP=$(sa_get b 'local-vips')
SPI_I0=$(sa_get b 'initiator-spi')
CHILD_SPI0=$(sa_get b 'child-sas\.[^.]+\.spi-in')
pi_log "established: virtual IP $VIP, IKE SPI $SPI_I0, CHILD_SA SPI $CHILD_SPI0"

PI_LOGS+=("$WORK/ping.log")
ip netns exec "$NS_B" ping -n -i 0.2 -c 300 -W 2 -I "$VIP" "$BEHIND" >"$WORK/ping.log" 2>&1 || true
tail -n 3 "$WORK/ping.log" | sed "s/^/  [ping] /" >&2
[[ "$(grep 'packets transmitted' "$WORK/ping.log")" =~ ([0-9]+)\ packets\ transmitted,\ ([0-9]+)\ received ]] \
    || fail "cannot read ping's summary"
SENT=${BASH_REMATCH[1]} GOT=${BASH_REMATCH[2]}
[ "$SENT" -ge 290 ] || fail "ping sent only $SENT echo requests"
[ $((SENT - GOT)) -le 1 ] || fail "ping lost $((SENT - GOT)) of $SENT echo requests across the rekeys"
pi_log "ok: ping $VIP -> $BEHIND: $GOT of $SENT answered across the rekeys"

# --- the rekeys, as both ends saw them ---
count() { grep -c -- "$2" "$1" || true; }
SW_IKE_N=$(count "$WORK/b/charon.log" 'rekeyed between')
SW_CHILD_N=$(count "$WORK/b/charon.log" 'CHILD_SA net{[0-9]*} established')
PD_IKE_N=$(count "$WORK/posternd.log" 'IKE SA rekeyed: SPIs')
PD_CHILD_N=0 PD_REAUTH_N=0
if [ "$MODE" = reauth ]; then
    PD_REAUTH_N=$(count "$WORK/posternd.log" "taken over from the peer's earlier IKE SA")
    SW_EST_N=$(grep -Ec 'IKE_SA home\[[0-9]+\] established' "$WORK/b/charon.log" || true)
    pi_log "posternd: $PD_REAUTH_N reauthentications keeping the virtual IP; strongSwan: $SW_EST_N IKE SAs established"
    [ "$PD_REAUTH_N" -ge 3 ] || fail "posternd logged $PD_REAUTH_N reauthentications, expected >= 3"
    [ "$SW_EST_N" -ge 4 ] || fail "strongSwan established $SW_EST_N IKE SAs, expected >= 4"
    if grep -q 'did not reauthenticate' "$WORK/posternd.log"; then
        fail "posternd deleted an IKE SA for a missed reauthentication"
    fi
else
    if [ "$MODE" = server ]; then
        PD_CHILD_N=$(grep -Ec 'CHILD_SA [0-9]+ SPIs in [0-9a-f]+ out [0-9a-f]+ rekeyed: ' "$WORK/posternd.log" || true)
        WHO=$(count "$WORK/posternd.log" 'rekeying the IKE SA')
    else
        PD_CHILD_N=$(count "$WORK/posternd.log" 'rekeyed by the peer')
        WHO=$(count "$WORK/b/charon.log" 'activating IKE_REKEY task')
    fi
    pi_log "strongSwan: $SW_IKE_N IKE rekeys, $((SW_CHILD_N - 1)) CHILD_SAs after the first; posternd: $PD_IKE_N IKE rekeys, $PD_CHILD_N CHILD rekeys"
    [ "$PD_IKE_N" -ge 2 ] || fail "posternd logged $PD_IKE_N IKE SA rekeys, expected >= 2"
    [ "$SW_IKE_N" -ge 2 ] || fail "strongSwan logged $SW_IKE_N IKE SA rekeys, expected >= 2"
    [ "$PD_CHILD_N" -ge 5 ] || fail "posternd logged $PD_CHILD_N CHILD_SA rekeys, expected >= 5"
    [ "$((SW_CHILD_N - 1))" -ge 5 ] || fail "strongSwan established $((SW_CHILD_N - 1)) new CHILD_SAs, expected >= 5"
    [ "$WHO" -ge 2 ] || fail "the IKE rekeys were not started by the $MODE side"
fi
if grep -q 'closing expired CHILD_SA' "$WORK/b/charon.log"; then
    fail "a CHILD_SA reached its hard lifetime instead of being rekeyed"
fi

# --- the state afterwards ---
show_sas b
sa_snapshot b
expect_sa b 'state' ESTABLISHED
# One CHILD_SA installed; strongSwan keeps the one a rekey replaced a few seconds as DELETED.
LIVE=$(grep -oE '^home\.child-sas\.[^.]+\.state=INSTALLED' "$WORK/b/sas.txt" | cut -d. -f3 || true)
[ "$(echo "$LIVE" | grep -c .)" = 1 ] || fail "strongSwan has $(echo "$LIVE" | grep -c .) installed CHILD_SAs, expected 1"
pi_log "ok: strongSwan's installed CHILD_SA is $LIVE"
expect_sa b 'local-vips' "$VIP"
[ "$(grep -c '\.state=ESTABLISHED' "$WORK/b/sas.txt")" = 1 ] || fail "strongSwan holds more than one IKE SA"
[ "$(sa_get b 'initiator-spi')" != "$SPI_I0" ] || fail "the IKE SA's SPIs never changed"
[ "$(sa_get b "child-sas\\.$LIVE\\.spi-in")" != "$CHILD_SPI0" ] || fail "the CHILD_SA's SPIs never changed"
LIST=$("$(dirname "$POSTERND")/postern" --socket "$WORK/postern.ctl.sock" sa list 2>&1) \
    || fail "postern sa list failed: $LIST"
echo "$LIST" | sed 's/^/  [postern sa list] /' >&2
[ "$(echo "$LIST" | grep -c "$VIP")" = 1 ] || fail "postern sa list does not show the one connection with $VIP"
# A reauthentication ends the old IKE SA (strongSwan deletes it): a disconnect in the log.
if [ "$MODE" != reauth ] && grep -q 'IKE SA deleted (' "$WORK/posternd.log"; then
    fail "posternd logged a disconnect: $(grep 'IKE SA deleted (' "$WORK/posternd.log" | head -n 1)"
fi
posternd_stop
if [ "$MODE" = reauth ]; then
    pass "reauthentication under ping: $GOT/$SENT replies, $PD_REAUTH_N reauthentications, virtual IP $VIP kept"
else
    pass "$MODE rekeys under ping: $GOT/$SENT replies, $PD_IKE_N IKE and $PD_CHILD_N CHILD_SA rekeys"
fi
