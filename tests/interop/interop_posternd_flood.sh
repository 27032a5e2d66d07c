#!/usr/bin/env bash
# interop_posternd_flood.sh IKE_FLOOD POSTERN POSTERND - a strongSwan client connects and pings
# through posternd while a flood of IKE_SA_INIT requests from spoofed sources hits it.
#
#   netns f: ike_flood (tests/bench): raw IPv4 packets, each a valid IKE_SA_INIT from a random
#            address of 10.200.0.0/16, as fast as it can, at most FLOOD_SECONDS and
#            FLOOD_PACKETS; it stops by itself
#   netns a: posternd (userspace data plane, PSK, pool 10.99.0.0/24, the shipped DoS defaults,
#            info logs); routes 10.200.0.0/16 back to f, where the answers end (f has no such
#            address and does not forward): the spoofed addresses exist only inside the test
#   netns b: charon "b", the legitimate client, as in interop_posternd_ping
#
#      f veth0 198.18.0.2/30 <----> a veth1 198.18.0.1/30 | a veth0 192.0.2.1 <----> b 192.0.2.2
#
# During the flood charon b runs initiate / ping / terminate cycles. Passes when at least one
# handshake completed during the flood and its ping got all replies, the flood really reached
# posternd (its counters show cookies sent or requests dropped by the DoS limits) and posternd
# is alive and stops cleanly. Reported: the flood's packets/s, the legitimate handshakes that
# completed (and tried), posternd's peak memory (VmHWM) and its drop counters.
set -euo pipefail
FLOOD=${1:-}
POSTERN=${2:-}
shift 2 || true
source "$(dirname "$0")/lib.sh"
pi_init "$@"
pi_need_posternd
[ -x "$FLOOD" ] || fail "no ike_flood given (first argument), got '$FLOOD'"
[ -x "$POSTERN" ] || fail "no postern CLI given (second argument), got '$POSTERN'"

FLOOD_SECONDS=${FLOOD_SECONDS:-25}
FLOOD_PACKETS=${FLOOD_PACKETS:-5000000}
FLOOD_RATE=${FLOOD_RATE:-0}  # packets/s; 0 = as fast as it can
FLOOD_SOURCES=${FLOOD_SOURCES:-10.200.0.0/16}  # inside 10.200.0.0/16, /8 to /30
BEHIND=10.97.0.1

pi_setup_pair
NS_F=pi-$PI_ID-f
pi_ns_add "$NS_F"
ip link add veth1 netns "$NS_A" type veth peer name veth0 netns "$NS_F"
ip -n "$NS_A" addr add 198.18.0.1/30 dev veth1
ip -n "$NS_F" addr add 198.18.0.2/30 dev veth0
ip -n "$NS_A" link set veth1 up
ip -n "$NS_F" link set veth0 up
ip -n "$NS_A" route add 10.200.0.0/16 via 198.18.0.2
ip -n "$NS_F" route add 192.0.2.0/24 via 198.18.0.1
ip netns exec "$NS_F" sysctl -qw net.ipv4.ip_forward=0
ip -n "$NS_A" addr add "$BEHIND/32" dev lo
[[ "$FLOOD_SOURCES" == 10.200.* ]] || fail "FLOOD_SOURCES must lie in 10.200.0.0/16 (routed back to $NS_F)"
pi_log "flood namespace $NS_F: $FLOOD_SOURCES -> $IP_A through veth1"

# The responder under attack: posternd (the test), or strongSwan's charon with its defaults
# for the same figures side by side (FLOOD_RESPONDER=strongswan, by hand: docs/benchmarks.md).
# (Heredocs below keep their EOF in column 1.)
FLOOD_RESPONDER=${FLOOD_RESPONDER:-posternd}
case $FLOOD_RESPONDER in
posternd)
posternd_conf "$WORK/postern.toml" 'dataplane = "userspace"'
# A daemon under attack logs at info: a debug line per flood packet would measure the logger.
sed -i 's/"debug"/"info"/' "$WORK/postern.toml"
cat >>"$WORK/postern.toml" <<EOF
[pools.clients]
ipv4 = "10.99.0.0/24"
EOF
posternd_psk_conn "$WORK/postern.toml" flood vpn.postern.test b.postern.test '"aes256gcm16"' \
    'pools = ["clients"]
local_ts = ["10.97.0.0/24"]'
posternd_start "$NS_A" "$WORK/postern.toml"
PID=$(cat "$WORK/posternd.pid")
SOCK=$WORK/postern.ctl.sock
wait_for 10 "posternd's control socket" "$POSTERN" --socket "$SOCK" status
hwm_before=$(awk '/^VmHWM/ {print $2}' "/proc/$PID/status")
    ;;
strongswan)
    charon_start a "$NS_A"
    # At info level, as posternd: charon's test log (ike = 2) writes lines per packet.
    sed -i 's/^\( *\)\(default\|cfg\|ike\|chd\|knl\|net\|enc\|lib\|tls\) = [0-9]*/\1\2 = 0/' \
        "$WORK/a/strongswan.conf"
    sw a --reload-settings >/dev/null || fail "swanctl --reload-settings failed"
    cat >"$WORK/a/swanctl/swanctl.conf" <<EOF
connections {
    rw {
        version = 2
        local_addrs = $IP_A
        proposals = aes256gcm16-prfsha256-x25519
        pools = pool4
        local {
            auth = psk
            id = vpn.postern.test
        }
        remote {
            auth = psk
            id = b.postern.test
        }
        children {
            net {
                local_ts = 10.97.0.0/24
                esp_proposals = aes256gcm16
            }
        }
    }
}
pools {
    pool4 {
        addrs = 10.99.0.0/24
    }
}
secrets {
    ike-rw {
        id-1 = vpn.postern.test
        id-2 = b.postern.test
        secret = "$PI_PSK"
    }
}
EOF
    charon_load a
    PID=$(cat "$WORK/a/pid")
    hwm_before=$(awk '/^VmHWM/ {print $2}' "/proc/$PID/status")
    ;;
*) fail "FLOOD_RESPONDER must be posternd or strongswan, got '$FLOOD_RESPONDER'" ;;
esac

charon_start b "$NS_B"
charon_rw_conf b aes256gcm16 0.0.0.0 10.97.0.0/24
charon_load b

# --- the flood ---
PI_LOGS+=("$WORK/flood.log")
ip netns exec "$NS_F" "$FLOOD" --target "$IP_A" --port 500 --sources "$FLOOD_SOURCES" \
    --count "$FLOOD_PACKETS" --seconds "$FLOOD_SECONDS" --rate "$FLOOD_RATE" >"$WORK/flood.log" 2>&1 &
FLOOD_PID=$!
PI_PIDS+=("$FLOOD_PID")
pi_log "ike_flood started (at most $FLOOD_SECONDS s, $FLOOD_PACKETS packets)"
sleep 2
kill -0 "$FLOOD_PID" 2>/dev/null || fail "ike_flood stopped at once: $(cat "$WORK/flood.log")"

# --- legitimate clients during the flood ---
tried=0 done_ok=0 pinged=0
flood_end=$(( $(date +%s) + FLOOD_SECONDS - 4 ))
while kill -0 "$FLOOD_PID" 2>/dev/null && [ "$(date +%s)" -lt "$flood_end" ]; do
    tried=$((tried + 1))
    t0=$(date +%s%N)
    if charon_try_initiate b net 12 && child_installed b; then
        ms=$(( ($(date +%s%N) - t0) / 1000000 ))
        done_ok=$((done_ok + 1))
        pi_log "handshake $tried completed during the flood in $ms ms"
        if [ "$pinged" = 0 ]; then
            # 3 echoes, all answered; one lost under the flood is retried in the next cycle.
            sa_snapshot b
            VIP=$(sa_get b 'local-vips')
            [ -n "$VIP" ] || fail "charon b got no virtual IP"
            log=$WORK/ping-$tried.log
            PI_LOGS+=("$log")
            if ip netns exec "$NS_B" ping -n -c 3 -i 0.2 -W 3 -I "$VIP" "$BEHIND" >"$log" 2>&1 &&
                grep -q ' 3 received' "$log"; then
                pi_log "ok: ping $VIP -> $BEHIND through the tunnel during the flood: 3 replies"
                pinged=1
            else
                pi_log "ping $VIP -> $BEHIND in cycle $tried: $(tail -n 2 "$log" | tr '\n' ' ')"
            fi
        fi
    else
        pi_log "handshake $tried did not complete during the flood"
    fi
    sw b --terminate --ike home --timeout 8 >"$WORK/b/terminate-$tried.log" 2>&1 || true
done
flooding=no
kill -0 "$FLOOD_PID" 2>/dev/null && flooding=yes
pi_log "client cycles done (flood still running: $flooding)"

# --- the flood ends by itself ---
for _ in $(seq 1 $((FLOOD_SECONDS * 10 + 50))); do
    kill -0 "$FLOOD_PID" 2>/dev/null || break
    sleep 0.1
done
kill -0 "$FLOOD_PID" 2>/dev/null && fail "ike_flood did not stop by itself"
wait "$FLOOD_PID" || fail "ike_flood failed: $(cat "$WORK/flood.log")"
sed "s/^/  [flood] /" "$WORK/flood.log" >&2
[[ "$(cat "$WORK/flood.log")" =~ sent\ ([0-9]+)\ packets\ in\ ([0-9.]+)\ s\ \(([0-9]+)\ packets/s\) ]] \
    || fail "cannot read ike_flood's report"
SENT=${BASH_REMATCH[1]} SECS=${BASH_REMATCH[2]} PPS=${BASH_REMATCH[3]}
[ "$SENT" -gt 0 ] || fail "ike_flood sent nothing"

hwm=$(awk '/^VmHWM/ {print $2}' "/proc/$PID/status")
rss=$(awk '/^VmRSS/ {print $2}' "/proc/$PID/status")
pi_log "flood: $SENT packets in $SECS s = $PPS packets/s from $FLOOD_SOURCES"
pi_log "legitimate handshakes completed during the flood: $done_ok of $tried"
pi_log "$FLOOD_RESPONDER peak memory VmHWM $hwm kB (before the flood $hwm_before kB, now VmRSS $rss kB)"
if [ "$FLOOD_RESPONDER" = strongswan ]; then
    kill -0 "$PID" 2>/dev/null || fail "charon a died during the flood"
    sw a --stats 2>&1 | sed "s/^/  [charon a] /" >&2 || true
    [ "$done_ok" -ge 1 ] || fail "no legitimate handshake completed during the flood ($tried tried)"
    pass "strongSwan under an IKE_SA_INIT flood of $PPS packets/s: $done_ok/$tried legitimate handshakes, VmHWM $hwm kB"
    exit 0
fi
posternd_alive
"$POSTERN" --socket "$SOCK" --json status >"$WORK/status.json" || fail "postern status failed"
PI_LOGS+=("$WORK/status.json")
read -r RECEIVED COOKIES RATE PER_ADDR TOTAL GARBAGE MALFORMED ESTABLISHED HALF_OPEN_EXPIRED < <(
    jq -r '.engine | "\(.received) \(.cookies_sent) \(.dropped_init_rate)
        \(.dropped_half_open_address) \(.dropped_half_open_total) \(.dropped_garbage)
        \(.dropped_malformed) \(.established) \(.half_open_expired)"' "$WORK/status.json" |
        tr '\n' ' '; echo)
[ -n "$RECEIVED" ] && [ "$RECEIVED" != null ] || fail "no engine counters in postern status"
pi_log "posternd received $RECEIVED IKE datagrams ($((RECEIVED * 100 / SENT)) % of the flood), sent $COOKIES cookies, established $ESTABLISHED"
pi_log "posternd drops: init_rate $RATE, half_open_address $PER_ADDR, half_open_total $TOTAL, garbage $GARBAGE, malformed $MALFORMED; half-open expired $HALF_OPEN_EXPIRED"

[ "$((COOKIES + RATE + PER_ADDR + TOTAL))" -gt 0 ] \
    || fail "the flood never reached posternd's DoS defences (no cookies, no drops)"
# Bounded tables: the flood must not grow posternd by more than FLOOD_MAX_GROWTH_KB.
[ $((hwm - hwm_before)) -le "${FLOOD_MAX_GROWTH_KB:-65536}" ] \
    || fail "posternd grew from $hwm_before kB to $hwm kB during the flood"
[ "$done_ok" -ge 1 ] || fail "no legitimate handshake completed during the flood ($tried tried)"
[ "$pinged" = 1 ] || fail "no ping through the tunnel got all its replies during the flood"
posternd_stop
pass "under an IKE_SA_INIT flood of $PPS packets/s: $done_ok/$tried legitimate handshakes, ping passed, posternd VmHWM $hwm kB"
