#!/usr/bin/env bash
# kernel_posternd.sh MODE POSTERND - posternd with the kernel (XFRM) data plane against strongSwan
# with kernel-netlink: ESP in the kernel on both ends. Runs inside the kernel tier's VM
# (tests/kernel/run-vm.sh, Debian's kernel); on a kernel without ESP it skips (77).
#
#   netns b: charon "b" (kernel-netlink), road warrior, PSK, vips 0.0.0.0,::
#   netns a: posternd, server.dataplane = "kernel", pool 10.99.0.0/24 + fd00:99::/112,
#            local_ts = the LAN 10.97.0.0/24 + fd00:97::/64
#   netns l: the LAN behind a
#
# MODE traffic:
#   1. plain ESP (IP protocol 50), AES-256-GCM: the SAs in `ip xfrm state` of a (reqids in
#      Postern's 0x50xxxxxx range, no encapsulation), in/out/fwd policies for both families,
#      the route to the client's virtual IP in table 4500; ping both ways over IPv4 and IPv6
#      and iperf3 TCP client -> LAN; the kernel counted packets on both SAs; after the client
#      logs out, nothing of Postern's is left
#   2. ESP in UDP 4500 (strongSwan's encap = yes), AES-256-CBC + HMAC-SHA-256: the SAs carry
#      espinudp encapsulation (posternd's NAT-T socket decapsulates in the kernel), ping both ways
#   3. crash: posternd killed with SIGKILL leaves its SAs; a new posternd (dataplane = "auto",
#      which must pick the kernel) removes them at start and says so
#   4. clean stop: a new login, ping, SIGTERM: no Postern SA, policy, route or rule left, and
#      a foreign SA (reqid 7) added by hand is still there
# MODE rekey:
#   strongSwan rekeys its CHILD_SA every 6 s (and the IKE SA every 10 s) while a ping runs for
#   ~22 s: the kernel's SPIs changed (new SAs replaced the old ones, the old ones are gone) and
#   at most one echo was lost.
set -euo pipefail
MODE=${1:-}
[ $# -gt 0 ] && shift
case $MODE in traffic|rekey) ;; *) echo "usage: $0 traffic|rekey POSTERND" >&2; exit 2 ;; esac
source "$(dirname "$0")/../interop/lib.sh"
PI_NAME=kernel_posternd_$MODE
# strongSwan with the kernel's ESP: no kernel-libipsec.
PI_CHARON_PLUGINS=${PI_CHARON_PLUGINS/kernel-libipsec /}
pi_init "$@"
pi_need_posternd
probe_ns=pi-$PI_ID-esp
ip netns add "$probe_ns" && ip -n "$probe_ns" link set lo up
if ! ip -n "$probe_ns" xfrm state add src 127.0.0.1 dst 127.0.0.1 proto esp spi 0x100 \
        mode tunnel aead 'rfc4106(gcm(aes))' 0x0102030405060708090a0b0c0d0e0f1011121314 128 \
        2>/dev/null; then
    ip netns del "$probe_ns"
    skip "this kernel cannot install an ESP SA (the kernel tier runs this in its VM)"
fi
ip netns del "$probe_ns"
pi_setup_pair
pi_add_lan a
# On failure, the kernel's side of things in a and b goes into the logs first.
kdiag() {
    local f=$WORK/kernel-diag.txt ns
    for ns in "$NS_A" "$NS_B"; do
        {
            echo "===== $ns"
            ip -n "$ns" -s xfrm state; ip -n "$ns" xfrm policy
            ip -n "$ns" rule; ip -n "$ns" -6 rule
            ip -n "$ns" route show table all | grep -v 'table local'
            ip -n "$ns" -6 route show table all | grep -v 'table local'
            ip netns exec "$ns" cat /proc/net/xfrm_stat | grep -v ' 0$'
        } >>"$f" 2>&1
    done
    PI_LOGS=("$f" "${PI_LOGS[@]}")
}
eval "pi_fail_orig() $(declare -f fail | tail -n +2)"
fail() { kdiag; pi_fail_orig "$@"; }
VIP_RE4='10\.99\.0\.[0-9]+' VIP_RE6='fd00:99::[0-9a-f]+'

# charon_kconf NAME CONN ENCAP ESP [IKE_LINE;CHILD_LINE]  - appends one road-warrior connection
# CONN to posternd (and its PSK) to WORK/NAME/swanctl/swanctl.conf.
charon_kconf() {
    local name=$1 conn=$2 encap=$3 esp=$4 rekey=${5:-;}
    cat >>"$WORK/$name/swanctl/swanctl.conf" <<EOF
connections {
    $conn {
        version = 2
        local_addrs = $IP_B
        remote_addrs = $IP_A
        proposals = aes256gcm16-prfsha256-x25519
        encap = $encap
        vips = 0.0.0.0,::
        ${rekey%%;*}
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
                remote_ts = $LAN_A4,$LAN_A6
                esp_proposals = $esp
                ${rekey#*;}
            }
        }
    }
}
secrets {
    ike-$conn {
        id-1 = b.postern.test
        id-2 = vpn.postern.test
        secret = "$PI_PSK"
    }
}
EOF
}

# The kernel's view in a: `ip xfrm state` / `ip xfrm policy` (also saved for the logs).
xstate() { ip -n "$NS_A" xfrm state | tee "$WORK/xfrm-state.txt"; }
xpolicy() { ip -n "$NS_A" xfrm policy | tee "$WORK/xfrm-policy.txt"; }
PI_LOGS+=("$WORK/xfrm-state.txt" "$WORK/xfrm-policy.txt")
# Postern's reqids: 0x50000000-0x50ffffff (1342177280-1358954495 as ip prints them).
postern_reqids() { grep -oE 'reqid 13(4[2-9]|5[0-8])[0-9]{6}' || true; }
spis() { xstate | grep -oE 'spi 0x[0-9a-f]+' | cut -d' ' -f2 | sort -u | tr '\n' ' '; }

posternd_kconf() {
    posternd_conf "$WORK/postern.toml" "dataplane = \"$1\""
    cat >>"$WORK/postern.toml" <<EOF
[pools.clients]
ipv4 = "10.99.0.0/24"
ipv6 = "fd00:99::/112"
EOF
    posternd_psk_conn "$WORK/postern.toml" kernel vpn.postern.test b.postern.test \
        '"aes256gcm16", "aes256-sha256"' \
        "pools = [\"clients\"]
local_ts = [\"$LAN_A4\", \"$LAN_A6\"]"
}

login() {  # login CONN: initiate its child "net", check the CHILD_SA, set VIP4/VIP6
    local out=$WORK/b/initiate-$1.log
    PI_LOGS+=("$out")
    pi_log "charon b initiates $1"
    sw b --initiate --ike "$1" --child net --timeout 30 >"$out" 2>&1 \
        || fail "charon b: swanctl --initiate --ike $1 failed (see $out)"
    sa_snapshot b
    expect_sa b 'state' ESTABLISHED
    expect_sa b 'child-sas\.[^.]+\.state' INSTALLED
    expect_sa_match b 'local-vips' "$VIP_RE4 $VIP_RE6"
    VIPS=$(sa_get b 'local-vips')
    VIP4=${VIPS% *} VIP6=${VIPS#* }
}

pings() {  # both directions, for each family given
    local f
    for f in "$@"; do
        if [ "$f" = 4 ]; then
            pi_ping "$NS_B" "$VIP4" "$LAN_A_HOST4"; pi_ping "$NS_L" "$LAN_A_HOST4" "$VIP4"
        else
            pi_ping "$NS_B" "$VIP6" "$LAN_A_HOST6"; pi_ping "$NS_L" "$LAN_A_HOST6" "$VIP6"
        fi
    done
}

# expect_no_postern_state WHAT [running]  - no Postern SA, policy or route in a's kernel, and
# unless posternd is still running (it keeps its rule while it runs), no rule either.
expect_no_postern_state() {
    local what=$1 s p r rules=
    s=$(xstate | postern_reqids); p=$(xpolicy | postern_reqids)
    r=$(ip -n "$NS_A" route show table 4500)
    [ "${2:-}" = running ] || rules=$(ip -n "$NS_A" rule | grep 'lookup 4500' || true)
    [ -z "$s" ] || fail "$what: Postern SAs left in the kernel: $s"
    [ -z "$p" ] || fail "$what: Postern policies left in the kernel: $p"
    [ -z "$r" ] || fail "$what: routes left in table 4500: $r"
    [ -z "$rules" ] || fail "$what: rule left: $rules"
    if [ "${2:-}" = running ]; then
        pi_log "ok: $what: no Postern SA, policy or route in the kernel (posternd running)"
    else
        pi_log "ok: $what: no Postern SA, policy, route or rule in the kernel"
    fi
}

if [ "$MODE" = traffic ]; then
    posternd_kconf kernel
    posternd_start "$NS_A" "$WORK/postern.toml"
    grep -q 'data plane: kernel (XFRM)' "$WORK/posternd.log" \
        || fail "posternd did not log its kernel data plane"
    pi_need_forwarding "$NS_A" 4
    pi_need_forwarding "$NS_A" 6
    charon_start b "$NS_B"
    charon_kconf b plain no aes256gcm16
    charon_kconf b natt yes aes256-sha256
    charon_load b

    # --- 1. plain ESP ---
    login plain
    expect_sa b 'child-sas\.[^.]+\.encr-alg' AES_GCM_16
    st=$(xstate)
    [ "$(echo "$st" | grep -c 'proto esp')" = 2 ] || fail "expected 2 ESP SAs in a: $st"
    [ "$(echo "$st" | postern_reqids | sort -u | wc -l)" = 1 ] \
        || fail "both SAs should share one Postern reqid: $st"
    echo "$st" | grep -q 'rfc4106(gcm(aes))' || fail "no AES-GCM SA in a: $st"
    echo "$st" | grep -q encap && fail "plain ESP SAs are UDP-encapsulated: $st"
    pol=$(xpolicy)
    for want in "src $VIP4/32 dst $LAN_A4 +dir in" "src $VIP4/32 dst $LAN_A4 +dir fwd" \
                "src $LAN_A4 dst $VIP4/32 +dir out" "src $VIP6/128 dst $LAN_A6 +dir fwd" \
                "src $LAN_A6 dst $VIP6/128 +dir out"; do
        echo "$pol" | tr '\n\t' '  ' | grep -Eq "$want" || fail "no policy /$want/ in a: $pol"
    done
    [ "$(echo "$pol" | postern_reqids | wc -l)" = 6 ] || fail "expected 6 Postern policies: $pol"
    pi_log "ok: 2 SAs (AES-GCM, plain ESP) and 6 policies (in/out/fwd x IPv4/IPv6) in a's kernel"
    ip -n "$NS_A" route show table 4500 | grep -q "^$VIP4 " \
        || fail "no route to $VIP4 in table 4500: $(ip -n "$NS_A" route show table 4500)"
    pings 4 6
    expect_iperf3 "$NS_B" "$VIP4" "$NS_L" "$LAN_A_HOST4" tcp
    expect_iperf3 "$NS_B" "$VIP6" "$NS_L" "$LAN_A_HOST6" tcp
    ip -n "$NS_A" -s xfrm state >"$WORK/xfrm-stats.txt"
    PI_LOGS+=("$WORK/xfrm-stats.txt")
    n=$(awk '/lifetime current:/ {getline; if ($2+0 >= 10) c++} END {print c+0}' "$WORK/xfrm-stats.txt")
    [ "$n" = 2 ] || fail "the kernel did not count >= 10 packets on both SAs: $(cat "$WORK/xfrm-stats.txt")"
    pi_log "ok: the kernel counted the traffic on both SAs"
    sw b --terminate --ike plain >/dev/null 2>&1 || fail "swanctl --terminate plain failed"
    wait_for 10 "a's SAs to go after the client's Delete" \
        sh -c "! ip -n $NS_A xfrm state | grep -q 'proto esp'"
    expect_no_postern_state "after the client logged out" running

    # --- 2. ESP in UDP 4500 ---
    login natt
    expect_sa b 'child-sas\.[^.]+\.encap' yes
    st=$(xstate)
    echo "$st" | grep -q 'encap type espinudp sport 4500 dport 4500' || fail "no espinudp SA in a: $st"
    echo "$st" | grep -q 'hmac(sha256)' || fail "no HMAC-SHA-256 SA in a: $st"
    pings 4
    pi_log "ok: ESP in UDP 4500 decapsulated by a's kernel (AES-CBC/HMAC-SHA-256)"

    # --- 3. crash, and the next posternd cleans up ---
    pid=$(cat "$WORK/posternd.pid")
    kill -KILL "$pid"; wait "$pid" 2>/dev/null || true
    [ -n "$(xstate | postern_reqids)" ] || fail "the SIGKILLed posternd left no SA (nothing to test)"
    pi_log "posternd killed; its SAs stay in the kernel"
    ip -n "$NS_A" xfrm state add src 192.0.2.9 dst "$IP_A" proto esp spi 0x777 reqid 7 mode tunnel \
        aead 'rfc4106(gcm(aes))' 0x0102030405060708090a0b0c0d0e0f1011121314 128
    mv "$WORK/posternd.log" "$WORK/posternd-1.log"; PI_LOGS+=("$WORK/posternd-1.log")
    posternd_kconf auto
    posternd_start "$NS_A" "$WORK/postern.toml"
    wait_for 10 "posternd's serving line" grep -q 'serving' "$WORK/posternd.log"
    grep -Eq 'removed [0-9]+ kernel objects .* left by an earlier posternd' "$WORK/posternd.log" \
        || fail "the new posternd did not report removing stale state"
    grep -q 'data plane: kernel (XFRM).*server.dataplane = "auto"' "$WORK/posternd.log" \
        || fail "dataplane = \"auto\" did not pick the kernel"
    expect_no_postern_state "after the restart" running
    pi_log "ok: a new posternd (auto -> kernel) removed what the killed one left"

    # --- 4. clean stop ---
    sw b --terminate --ike natt --force --timeout 2 >/dev/null 2>&1 || true  # its peer is gone
    login plain
    pings 4
    posternd_stop
    expect_no_postern_state "after SIGTERM"
    xstate | grep -q 'spi 0x00000777 reqid 7 ' || fail "the foreign SA (reqid 7) was removed"
    pi_log "ok: the foreign SA is still there"
    grep -Eq 'kernel data plane: [0-9]+ SAs installed' "$WORK/posternd.log" \
        || fail "no kernel data plane summary at exit"
    pass "posternd (kernel XFRM) <-> strongSwan (kernel-netlink): plain ESP and ESP-in-UDP, ping and iperf3, crash clean-up, clean stop"
else
    posternd_kconf kernel
    posternd_start "$NS_A" "$WORK/postern.toml"
    charon_start b "$NS_B"
    # swanctl's default life_time (110 % rounded down to whole seconds) would be 6 s too: a
    # hard expiry (delete, then a new CHILD_SA) instead of a rekey.
    charon_kconf b plain no aes256gcm16 "rekey_time = 10s;rekey_time = 6s
                life_time = 9s
                rand_time = 1s"
    charon_load b
    login plain
    before=$(spis)
    pi_log "SPIs before: $before"
    log=$WORK/ping-rekey.log
    PI_LOGS+=("$log")
    # 110 echoes, 0.2 s apart: ~22 s, at least three CHILD_SA rekeys.
    ip netns exec "$NS_B" ping -n -c 110 -i 0.2 -W 2 -I "$VIP4" "$LAN_A_HOST4" >"$log" 2>&1 || true
    after=$(spis)
    pi_log "SPIs after: $after"
    received=$(grep -oE '[0-9]+ received' "$log" | cut -d' ' -f1)
    [ -n "$received" ] || fail "ping printed no summary: $(tail -n 3 "$log")"
    [ "$received" -ge 109 ] || fail "ping lost $((110 - received)) of 110 echoes across the rekeys"
    for s in $before; do
        [[ " $after " == *" $s "* ]] && fail "SA $s of before the rekeys is still installed ($after)"
    done
    [ "$(echo "$after" | wc -w)" -ge 2 ] || fail "no SAs after the rekeys: $after"
    rekeys=$(grep -c 'rekeyed by the peer' "$WORK/posternd.log" || true)
    [ "$rekeys" -ge 2 ] || fail "posternd logged $rekeys CHILD_SA rekeys, expected >= 2"
    if grep -q 'closing expired CHILD_SA' "$WORK/b/charon.log"; then
        fail "a CHILD_SA reached its hard lifetime instead of being rekeyed"
    fi
    pi_log "ok: $received of 110 echoes answered; every SA was replaced"
    posternd_stop
    expect_no_postern_state "after SIGTERM"
    pass "CHILD_SA rekeys in the kernel: new SPIs replaced the old ones, no ping lost beyond one"
fi
