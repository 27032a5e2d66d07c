# shellcheck shell=bash
# lib.sh - the interop harness: posternd and strongSwan (charon) in throw-away network namespaces.
#
# Sourced by every tests/interop/*.sh. Nothing here touches the host's own interfaces, /run or
# /etc: each test gets its own namespaces (named after its pid, so tests run in parallel under
# `ctest -j`), its own work directory, and each charon its own mount namespace.
#
# Two-namespace topology (pi_setup_pair):
#
#   netns pi-PID-a                                 netns pi-PID-b
#   +--------------------------------+             +--------------------------------+
#   | usually posternd (or charon)   |             | charon "b" (swanctl via vici)  |
#   |  lo      10.0.1.1/32 fd00:1::1 |             |  lo      10.0.2.1/32 fd00:2::1 |
#   |  veth0   192.0.2.1/24  <-------+-------------+-----> veth0  192.0.2.2/24      |
#   |          2001:db8::1/64        |  veth pair  |         2001:db8::2/64         |
#   +--------------------------------+             +--------------------------------+
#
# NAT topology (pi_setup_nat; needs `nft`, package nftables): b sits behind a masquerading
# router r, so a sees every packet of b coming from 192.0.2.254 with rewritten ports.
#
#   netns pi-PID-a                 netns pi-PID-r                       netns pi-PID-b
#   +---------------------+        +-------------------------------+    +----------------------+
#   | veth0 192.0.2.1/24 <+--------+> veth0 192.0.2.254/24         |    |                      |
#   +---------------------+        |  nft: masquerade out of veth0 |    |                      |
#                                  |  veth1 198.51.100.1/24 <------+----+> veth0 198.51.100.2 |
#                                  +-------------------------------+    |  default via .1      |
#                                                                       +----------------------+
#
# Every charon runs as
#   ip netns exec NS unshare -m --propagation private sh -c 'mount -t tmpfs tmpfs /run; exec charon'
# with STRONGSWAN_CONF=WORK/<name>/strongswan.conf: an explicit plugin list (kdf included, no
# resolve plugin, so /etc/resolv.conf is never written), kernel-libipsec (userspace ESP through
# an ipsec0 TUN device: the host kernel has no ESP), the vici socket WORK/<name>/vici and a
# filelog WORK/<name>/charon.log. swanctl talks to it with --uri unix://WORK/<name>/vici.
#
# On exit (success, failure, signal) the EXIT trap kills every process the test started and
# deletes its namespaces; on failure it first prints the logs (charon, posternd, swanctl
# outputs). KEEP=1 keeps the work directory. Namespaces left by a test that was SIGKILLed
# (ctest's timeout) are reaped by the next test that starts.
#
# Exit codes: 0 pass, 1 fail, 77 skip (ctest SKIP_RETURN_CODE): not root, strongSwan missing,
# no network namespaces, no /dev/net/tun, and for the NAT topology no `nft`.
#
# Usage in a test:
#   source "$(dirname "$0")/lib.sh"
#   pi_init "$@"                 # parses --posternd PATH (or env POSTERND), checks, sets traps
#   pi_setup_pair
#   charon_start b pi-PID-b ...  # see each function's comment

set -euo pipefail

PI_HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PI_REPO=$(cd "$PI_HERE/../.." && pwd)
PI_DATA=$PI_REPO/tests/data
PI_NAME=$(basename "${0%.sh}")
PI_ID=$$
CHARON=${CHARON:-/usr/lib/ipsec/charon}
SWANCTL=${SWANCTL:-swanctl}
POSTERND=${POSTERND:-}

NS_A=pi-$PI_ID-a
NS_B=pi-$PI_ID-b
NS_R=pi-$PI_ID-r
IP_A=192.0.2.1
IP_B=192.0.2.2
IP6_A=2001:db8::1
IP6_B=2001:db8::2
NET_A=10.0.1.1     # a's inner address (lo), for traffic selectors
NET_B=10.0.2.1     # b's inner address (lo)
NET6_A=fd00:1::1   # a's inner IPv6 address (lo)
NET6_B=fd00:2::1   # b's inner IPv6 address (lo)
# NAT topology
IP_R_OUT=192.0.2.254
IP_R_IN=198.51.100.1
IP_B_NAT=198.51.100.2

PI_PIDS=()         # every background process started (charon, posternd, ...)
PI_NAMESPACES=()   # every namespace created
PI_LOGS=()         # files shown on failure
PI_T0=$(date +%s%N)
WORK=

pi_log() {
    local t=$(( ($(date +%s%N) - PI_T0) / 100000000 ))
    printf '[%s %3d.%ds] %s\n' "$PI_NAME" $((t / 10)) $((t % 10)) "$*" >&2
}
skip() { echo "SKIP: $PI_NAME: $*" >&2; exit 77; }
fail() { echo "FAIL: $PI_NAME: $*" >&2; exit 1; }
pass() { pi_log "PASS: $*"; }

# pi_init [--posternd PATH] [PATH]  - checks the environment, creates WORK, sets the traps.
pi_init() {
    while [ $# -gt 0 ]; do
        case $1 in
            --posternd) POSTERND=$2; shift 2 ;;
            --posternd=*) POSTERND=${1#*=}; shift ;;
            -*) fail "unknown option $1" ;;
            *) POSTERND=$1; shift ;;
        esac
    done
    [ "$(id -u)" = 0 ] || skip "needs root (network namespaces)"
    local t
    for t in ip unshare mount ss; do
        command -v "$t" >/dev/null || skip "missing $t (iproute2/util-linux)"
    done
    [ -x "$CHARON" ] || skip "missing $CHARON (Debian package strongswan-charon)"
    command -v "$SWANCTL" >/dev/null || skip "missing swanctl (Debian package strongswan-swanctl)"
    [ -e /usr/lib/ipsec/plugins/libstrongswan-kernel-libipsec.so ] \
        || skip "missing strongSwan's kernel-libipsec plugin (libcharon-extra-plugins)"
    [ -c /dev/net/tun ] || skip "no /dev/net/tun (kernel-libipsec needs TUN)"
    pi_reap_stale
    ip netns add "pi-$PI_ID-probe" 2>/dev/null || skip "cannot create network namespaces here"
    ip netns del "pi-$PI_ID-probe"
    WORK=$(mktemp -d "/tmp/postern-interop-$PI_NAME.XXXXXX")
    chmod 755 "$WORK"
    trap 'pi_exit $?' EXIT
    trap 'exit 130' INT TERM HUP
    pi_log "work directory $WORK, namespaces pi-$PI_ID-*"
}

# pi_need_posternd  - fails (not skips: ctest always passes the binary) without a posternd.
pi_need_posternd() {
    [ -n "$POSTERND" ] || fail "no posternd given (pass its path as the first argument or POSTERND=...)"
    [ -x "$POSTERND" ] || fail "posternd '$POSTERND' is not an executable file"
}

# Namespaces of earlier runs whose test process is gone (SIGKILLed by a ctest timeout).
pi_reap_stale() {
    local ns pid p
    for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep -E '^pi-[0-9]+-[a-z]+$' || true); do
        pid=${ns#pi-}; pid=${pid%%-*}
        if ! kill -0 "$pid" 2>/dev/null; then
            for p in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$p" 2>/dev/null || true; done
            ip netns del "$ns" 2>/dev/null || true
        fi
    done
}

pi_cleanup() {
    local p i ns
    for p in "${PI_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${PI_PIDS[@]}"; do
        for i in $(seq 1 30); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$p" 2>/dev/null || true
        wait "$p" 2>/dev/null || true
    done
    PI_PIDS=()
    for ns in "${PI_NAMESPACES[@]}"; do
        # anything else still running inside (a helper a test forgot): gone too
        for p in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$p" 2>/dev/null || true; done
        ip netns del "$ns" 2>/dev/null || true
    done
    PI_NAMESPACES=()
}

pi_exit() {
    local rc=$1
    trap - EXIT INT TERM HUP
    set +e
    if [ "$rc" != 0 ] && [ "$rc" != 77 ]; then
        pi_dump_logs
    fi
    pi_cleanup
    if [ -n "$WORK" ]; then
        if [ -n "${KEEP:-}" ] || { [ "$rc" != 0 ] && [ "$rc" != 77 ] && [ -n "${KEEP_ON_FAILURE:-}" ]; }; then
            echo "[$PI_NAME] work directory kept: $WORK" >&2
        else
            rm -rf "$WORK"
        fi
    fi
    pi_log "exit $rc"
    exit "$rc"
}

pi_dump_logs() {
    local f
    echo "==================== $PI_NAME: logs (failure) ====================" >&2
    for f in "${PI_LOGS[@]}"; do
        [ -s "$f" ] || continue
        echo "---------- $f (last 150 lines) ----------" >&2
        tail -n 150 "$f" >&2
    done
    echo "==================== end of logs ====================" >&2
}

# wait_for TIMEOUT_S DESCRIPTION CMD... - polls CMD every 0.1 s; fails the test on timeout.
wait_for() {
    local timeout=$1 what=$2; shift 2
    local deadline
    deadline=$(( $(date +%s%N) + ${timeout%.*} * 1000000000 ))
    while ! "$@" >/dev/null 2>&1; do
        [ "$(date +%s%N)" -lt "$deadline" ] || fail "timed out after ${timeout}s waiting for $what"
        sleep 0.1
    done
}

# ---------------------------------------------------------------------------------------------
# Topologies
# ---------------------------------------------------------------------------------------------

pi_ns_add() {
    ip netns add "$1"
    PI_NAMESPACES+=("$1")
    ip -n "$1" link set lo up
    # no IPv6 duplicate address detection delay, no forwarding unless asked
    ip netns exec "$1" sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0
}

# pi_setup_pair [MTU]  - namespaces a and b joined by a veth pair (see the drawing above).
pi_setup_pair() {
    local mtu=${1:-1500} ns
    pi_ns_add "$NS_A"
    pi_ns_add "$NS_B"
    ip link add veth0 netns "$NS_A" type veth peer name veth0 netns "$NS_B"
    ip -n "$NS_A" addr add "$IP_A/24" dev veth0
    ip -n "$NS_B" addr add "$IP_B/24" dev veth0
    ip -n "$NS_A" addr add "$NET_A/32" dev lo
    ip -n "$NS_B" addr add "$NET_B/32" dev lo
    ip -n "$NS_A" addr add "$NET6_A/128" dev lo
    ip -n "$NS_B" addr add "$NET6_B/128" dev lo
    for ns in "$NS_A" "$NS_B"; do
        ip -n "$ns" link set veth0 mtu "$mtu"
        ip -n "$ns" link set veth0 up
    done
    if [ "$mtu" -ge 1280 ]; then
        ip -n "$NS_A" addr add "$IP6_A/64" dev veth0 nodad
        ip -n "$NS_B" addr add "$IP6_B/64" dev veth0 nodad
    fi
    pi_log "namespaces $NS_A ($IP_A) <-> $NS_B ($IP_B), mtu $mtu"
}

# pi_drop_ip_fragments NS  - NS never reassembles IPv4/IPv6 fragments (reassembly memory limit
# 0): a path that cannot carry an IP-fragmented datagram, only IKE fragments (RFC 7383) pass.
pi_drop_ip_fragments() {
    ip netns exec "$1" sysctl -qw net.ipv4.ipfrag_low_thresh=0 net.ipv4.ipfrag_high_thresh=0 \
        net.ipv6.ip6frag_low_thresh=0 net.ipv6.ip6frag_high_thresh=0
}

# pi_setup_nat  - a <-> r <-> b, r masquerades b (see the drawing above). Skips without nft.
pi_setup_nat() {
    command -v nft >/dev/null || skip "no 'nft' for the NAT router (Debian package nftables)"
    pi_ns_add "$NS_A"
    pi_ns_add "$NS_R"
    pi_ns_add "$NS_B"
    ip link add veth0 netns "$NS_A" type veth peer name veth0 netns "$NS_R"
    ip link add veth1 netns "$NS_R" type veth peer name veth0 netns "$NS_B"
    ip -n "$NS_A" addr add "$IP_A/24" dev veth0
    ip -n "$NS_R" addr add "$IP_R_OUT/24" dev veth0
    ip -n "$NS_R" addr add "$IP_R_IN/24" dev veth1
    ip -n "$NS_B" addr add "$IP_B_NAT/24" dev veth0
    ip -n "$NS_A" addr add "$NET_A/32" dev lo
    ip -n "$NS_B" addr add "$NET_B/32" dev lo
    ip -n "$NS_A" link set veth0 up
    ip -n "$NS_R" link set veth0 up
    ip -n "$NS_R" link set veth1 up
    ip -n "$NS_B" link set veth0 up
    ip -n "$NS_B" route add default via "$IP_R_IN"
    ip netns exec "$NS_R" sysctl -qw net.ipv4.ip_forward=1
    ip netns exec "$NS_R" nft -f - <<EOF
table ip pinat {
    chain postrouting {
        type nat hook postrouting priority srcnat; policy accept;
        oifname "veth0" masquerade random
    }
}
EOF
    pi_log "namespaces $NS_B ($IP_B_NAT) -> NAT $NS_R ($IP_R_OUT) -> $NS_A ($IP_A)"
}

# ---------------------------------------------------------------------------------------------
# strongSwan
# ---------------------------------------------------------------------------------------------

# Plugins every charon loads. No `resolve`: DNS servers a peer assigns are handed to the updown
# plugin's DNS handler instead (charon_start ... dns_handler), never to /etc/resolv.conf.
PI_CHARON_PLUGINS="random nonce aes sha1 sha2 hmac gcm chapoly curve25519 mgf1 openssl pem pkcs1 pkcs8 x509 pubkey revocation constraints kdf kernel-libipsec kernel-netlink socket-default vici updown attr eap-identity eap-mschapv2"

# charon_start NAME NS [EXTRA_CHARON_LINES]
#   Starts charon NAME in NS; its files live in WORK/NAME/ (strongswan.conf, vici, charon.log,
#   swanctl/). EXTRA_CHARON_LINES go verbatim into the charon { } section (fragment_size = 576,
#   ...). Returns when the vici socket accepts swanctl.
charon_start() {
    local name=$1 ns=$2 extra=${3:-} dir=$WORK/$1
    mkdir -p "$dir/swanctl/x509" "$dir/swanctl/x509ca" "$dir/swanctl/private" \
        "$dir/swanctl/ecdsa" "$dir/swanctl/rsa" "$dir/swanctl/pkcs8"
    cat >"$dir/strongswan.conf" <<EOF
charon {
    load = $PI_CHARON_PLUGINS
    port = 500
    port_nat_t = 4500
    retransmit_timeout = 1.0
    retransmit_base = 1.4
    retransmit_tries = 4
    install_routes = yes
    install_virtual_ip = yes
    # a stale peer must not wait 30 s for a half-open SA
    half_open_timeout = 10
$extra
    plugins {
        vici {
            socket = unix://$dir/vici
        }
        revocation {
            enable_ocsp = no
            enable_crl = no
        }
        updown {
            dns_handler = yes
        }
    }
    syslog {
        daemon {
            default = -1
        }
    }
    filelog {
        $name {
            path = $dir/charon.log
            append = no
            flush_line = yes
            ike_name = yes
            time_format = %H:%M:%S
            default = 1
            cfg = 2
            ike = 2
            chd = 2
            knl = 1
            net = 1
            enc = 1
            lib = 1
            tls = 2
        }
    }
}
EOF
    PI_LOGS+=("$dir/charon.stdout" "$dir/charon.log" "$dir/sas.txt")
    ip netns exec "$ns" unshare -m --propagation private \
        sh -c "mount -t tmpfs tmpfs /run && STRONGSWAN_CONF=$dir/strongswan.conf exec $CHARON" \
        >"$dir/charon.stdout" 2>&1 &
    PI_PIDS+=($!)
    echo "$!" >"$dir/pid"
    wait_for 15 "charon $name's vici socket" sw "$name" --stats
    pi_log "charon $name running in $ns"
}

# sw NAME SWANCTL-ARGS...  - swanctl against charon NAME.
sw() {
    local name=$1; shift
    SWANCTL_DIR=$WORK/$name/swanctl "$SWANCTL" "$@" --uri "unix://$WORK/$name/vici"
}

# charon_load NAME  - loads WORK/NAME/swanctl/swanctl.conf (write it first) and its credentials.
charon_load() {
    local name=$1 out=$WORK/$1/load.log
    PI_LOGS+=("$out")
    sw "$name" --load-all --noprompt --file "$WORK/$name/swanctl/swanctl.conf" >"$out" 2>&1 \
        || { cat "$out" >&2; fail "swanctl --load-all for $name failed"; }
}

# charon_try_initiate NAME CHILD [TIMEOUT_S]  - swanctl --initiate; returns its status.
charon_try_initiate() {
    local name=$1 child=$2 timeout=${3:-20} out=$WORK/$1/initiate-$2.log
    [[ " ${PI_LOGS[*]} " == *" $out "* ]] || PI_LOGS+=("$out")
    pi_log "charon $name initiates $child"
    if sw "$name" --initiate --child "$child" --timeout "$timeout" >"$out" 2>&1; then
        pi_log "charon $name: $child initiated"
        return 0
    fi
    pi_log "charon $name: swanctl --initiate --child $child failed"
    return 1
}

# charon_initiate NAME CHILD [TIMEOUT_S]  - swanctl --initiate; fails the test if it fails.
charon_initiate() {
    charon_try_initiate "$@" \
        || fail "charon $1: swanctl --initiate --child $2 failed (see $WORK/$1/initiate-$2.log)"
}

# list_sas NAME  - swanctl's view of charon NAME's SAs, flattened to one `path=value` line each:
#   <ike>.state=ESTABLISHED
#   <ike>.encr-alg=AES_GCM_16
#   <ike>.local-vips=10.99.0.1                          (lists joined with single spaces)
#   <ike>.child-sas.<child>-<id>.local-ts=10.99.0.1/32
# Parsed from `swanctl --list-sas --pretty` (vici's message dump, Debian 5.9.8): one `key = value`,
# `name {`, `key = [`, item, `]` or `}` per line. The one-line `--raw` dump would be ambiguous:
# it does not quote values, and an identity such as "C=CH, O=Postern Test, CN=alice" reads as
# three keys there. The flattened view is also saved as WORK/NAME/sas.txt (and shown on failure).
list_sas() {
    local name=$1 out=$WORK/$1/sas.pretty
    sw "$name" --list-sas --pretty >"$out" 2>&1 || { cat "$out" >&2; return 1; }
    pi_flatten_pretty <"$out" | tee "$WORK/$name/sas.txt"
}

# pi_flatten_pretty  - stdin: vici pretty dump; stdout: path=value lines (see list_sas).
pi_flatten_pretty() {
    awk '
        function path(k,   p, i) { p = ""; for (i = 1; i <= d; i++) p = p st[i] "."; return p k }
        /^[^ ].* \{$/          { d = 0; next }                  # "list-sa event {": a message
        /^ *\}$/               { if (d > 0) d--; next }
        inlist && /^ *\]$/     { print path(inlist) "=" items; inlist = ""; next }
        inlist                 { sub(/^ +/, ""); items = items (items == "" ? "" : " ") $0; next }
        /^ *[^ ]+ = \[$/        { k = $1; inlist = k; items = ""; next }
        /^ *[^ ]+ \{$/          { st[++d] = $1; next }
        /^ *[^ ]+ = /          { line = $0; sub(/^ */, "", line); k = line; sub(/ = .*/, "", k)
                                 v = line; sub(/^[^ ]+ = /, "", v); print path(k) "=" v; next }
    '
}

# sa_snapshot NAME  - takes a fresh list_sas of NAME for the sa_get/expect_sa calls that follow
# (one swanctl call for a batch of assertions).
sa_snapshot() {
    list_sas "$1" >/dev/null || fail "swanctl --list-sas for $1 failed"
}

# sa_get NAME PATH_REGEX [fresh]  - the value of the first flattened entry whose path (after
# the IKE SA's name) matches ^PATH_REGEX$, e.g. 'child-sas\.[^.]+\.state'. Reads the last
# sa_snapshot of NAME (takes one if there is none, or with "fresh").
sa_get() {
    local name=$1 re=$2
    if [ "${3:-}" = fresh ] || [ ! -e "$WORK/$name/sas.txt" ]; then sa_snapshot "$name"; fi
    PI_RE="^[^.]+[.]$re\$" awk '
        { i = index($0, "="); k = substr($0, 1, i - 1)
          if (k ~ ENVIRON["PI_RE"]) { print substr($0, i + 1); exit } }
    ' "$WORK/$name/sas.txt"
}

# sa_state NAME / child_state NAME  - the first IKE / CHILD_SA's current state (fresh), empty
# if there is none.
sa_state() { sa_get "$1" 'state' fresh; }
child_state() { sa_get "$1" 'child-sas\.[^.]+\.state' fresh; }

ike_established() { [ "$(sa_state "$1")" = ESTABLISHED ]; }
child_installed() { [ "$(child_state "$1")" = INSTALLED ]; }

# expect_sa NAME PATH_REGEX EXPECTED  - asserts one value of the last snapshot (exact match).
expect_sa() {
    local name=$1 re=$2 want=$3 got
    got=$(sa_get "$name" "$re")
    [ "$got" = "$want" ] || fail "charon $name: SA $re is '$got', expected '$want'"
    pi_log "ok: charon $name reports $re = ${got:-(none)}"
}

# expect_sa_match NAME PATH_REGEX ERE  - asserts one value of the last snapshot matches ^ERE$.
expect_sa_match() {
    local name=$1 re=$2 want=$3 got
    got=$(sa_get "$name" "$re")
    [[ "$got" =~ ^($want)$ ]] || fail "charon $name: SA $re is '$got', expected /$want/"
    pi_log "ok: charon $name reports $re = ${got:-(none)}"
}

# show_sas NAME  - swanctl's human-readable view into the test's output (for the record).
show_sas() { sw "$1" --list-sas 2>&1 | sed "s/^/  [$1] /" >&2 || true; }

# expect_log NAME ERE  - asserts charon NAME logged a line matching ERE.
expect_log() {
    grep -Eq -- "$2" "$WORK/$1/charon.log" || fail "charon $1 never logged /$2/"
    pi_log "ok: charon $1 logged /$2/"
}

# updown_script NAME  - path of an updown script that appends its environment (PLUTO_*) to
# WORK/NAME/updown.env; use it as a child's `updown =` to see the DNS servers charon received.
updown_script() {
    local f=$WORK/$1/updown.sh
    cat >"$f" <<EOF
#!/bin/sh
env | grep '^PLUTO_' | sort >>"$WORK/$1/updown.env"
echo ---- >>"$WORK/$1/updown.env"
EOF
    chmod 755 "$f"
    PI_LOGS+=("$WORK/$1/updown.env")
    echo "$f"
}

# ---------------------------------------------------------------------------------------------
# posternd
# ---------------------------------------------------------------------------------------------

# posternd_start NS CONF [NAME]  - starts $POSTERND --config CONF in NS (no own mount namespace:
# the config points every path into WORK). Log: WORK/NAME.log. Returns when UDP 500 is bound in
# NS; fails if posternd exits first.
posternd_start() {
    local ns=$1 conf=$2 name=${3:-posternd} log
    pi_need_posternd
    log=$WORK/$name.log
    PI_LOGS+=("$conf" "$log")
    "$POSTERND" --config "$conf" --check >"$WORK/$name.check" 2>&1 \
        || { cat "$WORK/$name.check" >&2; fail "posternd --check refused $conf"; }
    ip netns exec "$ns" "$POSTERND" --config "$conf" >"$log" 2>&1 &
    local pid=$!
    PI_PIDS+=("$pid")
    echo "$pid" >"$WORK/$name.pid"
    local i
    for i in $(seq 1 100); do
        if ! kill -0 "$pid" 2>/dev/null; then
            wait "$pid"; local rc=$?
            fail "posternd exited (status $rc) instead of serving; its log: $(tail -n 5 "$log" | tr '\n' ' ')"
        fi
        if ip netns exec "$ns" ss -Hnlu 'sport = :500' | grep -q .; then
            pi_log "posternd running in $ns (pid $pid), UDP 500 bound"
            return 0
        fi
        sleep 0.1
    done
    fail "posternd did not bind UDP 500 within 10 s"
}

# posternd_conf FILE [EXTRA_SERVER_LINES]  - starts a postern.toml in FILE with a [server]
# section (every path inside WORK, debug logs, quick retransmits) and a [log] section; the test
# appends [pki], [pools.*] and [[connections]]. Keys as in daemon/config.cpp and
# docs/configuration.md.
# The database and control socket are named after FILE (WORK/gw-a.toml: WORK/gw-a.db,
# WORK/gw-a.ctl.sock), so two posternds of one test do not share them.
posternd_conf() {
    local f=$1 extra=${2:-} base
    base=$(basename "${1%.toml}")
    cat >"$f" <<EOF2
# written by $PI_NAME (tests/interop)
[server]
listen = ["0.0.0.0", "::"]
log_level = "debug"
user_db = "$WORK/$base.db"
control_socket = "$WORK/$base.ctl.sock"
retransmit_timeout = "1s"
retransmit_tries = 4
$extra

[log]
ike = "debug"
net = "debug"
cfg = "debug"
dp = "debug"

EOF2
}

# posternd_alive [NAME]  - fails the test if posternd died (call after the exchanges).
posternd_alive() {
    local name=${1:-posternd} pid
    pid=$(cat "$WORK/$name.pid")
    kill -0 "$pid" 2>/dev/null || fail "posternd ($name) is no longer running"
}

# posternd_stop [NAME]  - the end of every posternd test: posternd must still be running, stop
# on SIGTERM within 5 s with status 0, and its log must hold no sanitizer report (the ASan/UBSan
# build of `scripts/test` reports there).
posternd_stop() {
    local name=${1:-posternd} pid rc i
    posternd_alive "$name"
    pid=$(cat "$WORK/$name.pid")
    kill -TERM "$pid"
    for i in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && fail "posternd ($name) did not stop within 5 s of SIGTERM"
    rc=0; wait "$pid" || rc=$?
    if grep -Eq 'ERROR: (Address|Leak|Undefined|Thread)Sanitizer|runtime error:' "$WORK/$name.log"; then
        fail "posternd ($name) logged a sanitizer report"
    fi
    [ "$rc" = 0 ] || fail "posternd ($name) exited with status $rc on SIGTERM"
    pi_log "ok: posternd stopped cleanly on SIGTERM"
}

# ---------------------------------------------------------------------------------------------
# Credentials
# ---------------------------------------------------------------------------------------------

PI_PSK='postern-interop-psk-NOT-A-SECRET-0123456789'

# gen_rsa_key FILE BITS / gen_ec_key FILE  - PEM private keys (openssl).
gen_rsa_key() { openssl genpkey -algorithm RSA -pkeyopt "rsa_keygen_bits:$2" -out "$1" 2>/dev/null; }
gen_ec_key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }

# gen_ca CERT KEY SUBJECT [ISSUER_CERT ISSUER_KEY]  - a CA certificate (self-signed without issuer).
gen_ca() {
    local cert=$1 key=$2 subj=$3 icert=${4:-} ikey=${5:-} ext=$WORK/ca.ext
    [ -s "$key" ] || fail "gen_ca: no key $key"
    printf 'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n' >"$ext"
    if [ -z "$icert" ]; then
        openssl req -new -x509 -key "$key" -subj "$subj" -days 3650 -sha256 \
            -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign \
            -out "$cert" 2>/dev/null
    else
        openssl req -new -key "$key" -subj "$subj" 2>/dev/null \
            | openssl x509 -req -CA "$icert" -CAkey "$ikey" -set_serial "0x$(openssl rand -hex 8)" -days 3650 -sha256 \
                -extfile "$ext" -out "$cert" 2>/dev/null
    fi
    [ -s "$cert" ] || fail "gen_ca: openssl made no $cert"
}

# gen_ee CERT KEY SUBJECT SAN ISSUER_CERT ISSUER_KEY  - an end-entity certificate
# (SAN like "DNS:vpn.postern.test" or "email:alice@postern.test").
gen_ee() {
    local cert=$1 key=$2 subj=$3 san=$4 icert=$5 ikey=$6 ext=$WORK/ee.ext
    [ -s "$key" ] || fail "gen_ee: no key $key"
    printf 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nsubjectAltName=%s\nextendedKeyUsage=serverAuth,clientAuth,1.3.6.1.5.5.8.2.2\nauthorityKeyIdentifier=keyid\n' "$san" >"$ext"
    openssl req -new -key "$key" -subj "$subj" 2>/dev/null \
        | openssl x509 -req -CA "$icert" -CAkey "$ikey" -set_serial "0x$(openssl rand -hex 8)" -days 3650 -sha256 \
            -extfile "$ext" -out "$cert" 2>/dev/null
    [ -s "$cert" ] || fail "gen_ee: openssl made no $cert"
}

# ---------------------------------------------------------------------------------------------
# Networks behind the gateways, and traffic through the tunnels
# ---------------------------------------------------------------------------------------------
#
# pi_add_lan a|b adds a LAN behind namespace a or b (a third/fourth namespace, "l" behind a,
# "m" behind b), so traffic crosses a gateway instead of ending on it:
#
#   netns pi-PID-a (gateway)                     netns pi-PID-l (LAN host)
#   +-------------------------------+             +-------------------------------------+
#   |  lan0  10.97.0.1/24           | <---------> |  veth0  10.97.0.2/24  fd00:97::2/64 |
#   |        fd00:97::1/64          |  veth pair  |  default via 10.97.0.1, fd00:97::1  |
#   +-------------------------------+             +-------------------------------------+
#   and behind b: netns pi-PID-m, 10.96.0.0/24 and fd00:96::/64 the same way.
#
# The gateway namespace gets no forwarding switch from here: posternd turns IPv4 forwarding on
# when a connection has local_ts (pi_need_forwarding checks what it did).
NS_L=pi-$PI_ID-l
NS_M=pi-$PI_ID-m
LAN_A4=10.97.0.0/24  LAN_A_GW4=10.97.0.1  LAN_A_HOST4=10.97.0.2
LAN_A6=fd00:97::/64  LAN_A_GW6=fd00:97::1 LAN_A_HOST6=fd00:97::2
LAN_B4=10.96.0.0/24  LAN_B_GW4=10.96.0.1  LAN_B_HOST4=10.96.0.2
LAN_B6=fd00:96::/64  LAN_B_GW6=fd00:96::1 LAN_B_HOST6=fd00:96::2

# pi_add_lan a|b  - the LAN behind namespace a (netns l) or b (netns m), see above.
pi_add_lan() {
    local gw lan p4 p6
    case $1 in
        a) gw=$NS_A lan=$NS_L p4=10.97.0 p6=fd00:97: ;;
        b) gw=$NS_B lan=$NS_M p4=10.96.0 p6=fd00:96: ;;
        *) fail "pi_add_lan: side '$1' is neither a nor b" ;;
    esac
    pi_ns_add "$lan"
    ip link add lan0 netns "$gw" type veth peer name veth0 netns "$lan"
    ip -n "$gw" addr add "$p4.1/24" dev lan0
    ip -n "$gw" addr add "$p6:1/64" dev lan0 nodad
    ip -n "$lan" addr add "$p4.2/24" dev veth0
    ip -n "$lan" addr add "$p6:2/64" dev veth0 nodad
    ip -n "$gw" link set lan0 up
    ip -n "$lan" link set veth0 up
    ip -n "$lan" route add default via "$p4.1"
    ip -n "$lan" -6 route add default via "$p6:1"
    pi_log "LAN $lan ($p4.2, $p6:2) behind $gw ($p4.1, $p6:1)"
}

# pi_setup_site2site [nat]  - gateways a and b (pi_setup_pair, or with "nat" pi_setup_nat: b
# behind the masquerading router r) with a LAN behind each (pi_add_lan a, pi_add_lan b).
pi_setup_site2site() {
    if [ "${1:-}" = nat ]; then pi_setup_nat; else pi_setup_pair; fi
    pi_add_lan a
    pi_add_lan b
}

# pi_need_forwarding NS 4|6  - asserts IP forwarding is on in NS (posternd turns it on for
# connections with local_ts).
pi_need_forwarding() {
    local ns=$1 v=$2 key val
    if [ "$v" = 4 ]; then key=net.ipv4.ip_forward; else key=net.ipv6.conf.all.forwarding; fi
    val=$(ip netns exec "$ns" sysctl -n "$key")
    [ "$val" = 1 ] || fail "$key is '$val' in $ns, expected 1 (posternd should have turned it on)"
    pi_log "ok: $key = 1 in $ns"
}

# pi_ping NS SRC DST [COUNT]  - ping (IPv4 or IPv6 by DST) from NS with source SRC; fails the
# test unless all COUNT (3) echo requests were answered.
pi_ping() {
    local ns=$1 src=$2 dst=$3 count=${4:-3} log
    log=$WORK/ping-$ns-$dst.log
    PI_LOGS+=("$log")
    if ! ip netns exec "$ns" ping -n -c "$count" -i 0.2 -W 3 -I "$src" "$dst" >"$log" 2>&1; then
        fail "ping $src -> $dst from $ns failed: $(tail -n 2 "$log" | tr '\n' ' ')"
    fi
    grep -q " $count received" "$log" || fail "ping $src -> $dst: not all $count replies: $(tail -n 2 "$log" | tr '\n' ' ')"
    pi_log "ok: ping $src -> $dst ($ns): $count replies"
}

# iperf3_run CLIENT_NS SRC SERVER_NS DST tcp|udp [SECONDS] [UDP_BITRATE]
#   One iperf3 run from SRC (in CLIENT_NS) to an `iperf3 -s -1` on DST (in SERVER_NS), JSON
#   output kept as WORK/iperf-N.json. Sets IPERF_BYTES (bytes the receiver got), and for udp
#   IPERF_PACKETS, IPERF_LOST, IPERF_LOSS (lost percent, as iperf3 reports it). Fails the test
#   if iperf3 fails or reports an error; the caller asserts on the figures.
PI_IPERF_N=0
iperf3_run() {
    local cns=$1 src=$2 sns=$3 dst=$4 proto=$5 secs=${6:-2} rate=${7:-20M}
    local n port json slog spid args figures
    command -v iperf3 >/dev/null || skip "missing iperf3 (Debian package iperf3)"
    PI_IPERF_N=$((PI_IPERF_N + 1)); n=$PI_IPERF_N
    port=$((5200 + n))
    json=$WORK/iperf-$n.json slog=$WORK/iperf-$n-server.log
    PI_LOGS+=("$slog" "$json")
    ip netns exec "$sns" iperf3 -s -1 -B "$dst" -p "$port" >"$slog" 2>&1 &
    spid=$!
    PI_PIDS+=("$spid")
    wait_for 10 "iperf3 server on [$dst]:$port in $sns" \
        sh -c "ip netns exec '$sns' ss -Hntl 'sport = :$port' | grep -q ."
    args=(-c "$dst" -p "$port" -B "$src" -t "$secs" -J --connect-timeout 5000)
    [ "$proto" = udp ] && args+=(-u -b "$rate")
    pi_log "iperf3 $proto $src -> $dst, ${secs} s$([ "$proto" = udp ] && echo " at $rate bit/s")"
    if ! timeout $((secs + 25)) ip netns exec "$cns" iperf3 "${args[@]}" >"$json" 2>&1; then
        fail "iperf3 $proto $src -> $dst failed: $(grep -m1 '"error"' "$json" || tail -n 3 "$json")"
    fi
    # the server exits after its one test (-1); give it a moment, never wait for ever
    local i
    for i in $(seq 1 100); do kill -0 "$spid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$spid" 2>/dev/null && fail "iperf3 server on [$dst]:$port did not exit after its test"
    wait "$spid" 2>/dev/null || true
    figures=$(python3 - "$json" "$proto" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
if "error" in d:
    print("ERROR", d["error"].replace(" ", "_")); sys.exit(0)
end = d["end"]
if sys.argv[2] == "tcp":
    print(int(end["sum_received"]["bytes"]))
else:
    # UDP: the receiver's (server's) view, which iperf3 3.12 reports as sum_received when it
    # has it, else in "sum" (bytes sent, packets/lost as the server counted them)
    s = end.get("sum_received") or end["sum"]
    print(int(s["bytes"]), int(s.get("packets", end["sum"]["packets"])),
          int(s.get("lost_packets", end["sum"]["lost_packets"])),
          float(s.get("lost_percent", end["sum"]["lost_percent"])))
PY
) || fail "cannot read iperf3's JSON output $json"
    [[ "$figures" != ERROR* ]] || fail "iperf3 $proto $src -> $dst reported an error: ${figures#ERROR }"
    read -r IPERF_BYTES IPERF_PACKETS IPERF_LOST IPERF_LOSS <<<"$figures"
    if [ "$proto" = udp ]; then
        pi_log "iperf3 udp $src -> $dst: $IPERF_BYTES bytes, $IPERF_PACKETS packets, $IPERF_LOST lost ($IPERF_LOSS %)"
    else
        pi_log "iperf3 tcp $src -> $dst: $IPERF_BYTES bytes received"
    fi
}

# expect_iperf3 CLIENT_NS SRC SERVER_NS DST tcp|udp  - iperf3_run (2 s) and its assertions:
# the receiver got bytes; for UDP also packets, and a loss under PI_MAX_UDP_LOSS percent (10:
# a shared 2-core machine running two data planes in userspace loses some at 20 Mbit/s).
PI_MAX_UDP_LOSS=${PI_MAX_UDP_LOSS:-10}
expect_iperf3() {
    iperf3_run "$1" "$2" "$3" "$4" "$5" 2
    [ "$IPERF_BYTES" -gt 0 ] || fail "iperf3 $5 $2 -> $4: the receiver got no bytes"
    if [ "$5" = udp ]; then
        [ "$IPERF_PACKETS" -gt "$IPERF_LOST" ] || fail "iperf3 udp $2 -> $4: every packet lost"
        awk -v l="$IPERF_LOSS" -v m="$PI_MAX_UDP_LOSS" 'BEGIN { exit !(l < m) }' \
            || fail "iperf3 udp $2 -> $4: $IPERF_LOSS % lost, expected < $PI_MAX_UDP_LOSS %"
    fi
    pi_log "ok: iperf3 $5 $2 -> $4 crossed the tunnel"
}

# posternd_counters [NAME]  - reads the data plane counters posternd NAME logged at exit
# ("data plane counters: ESP out N packets (...), ESP in N packets (...); ... N ESP datagrams
# received ...; drops: reason=N ...[; ...]"; see daemon/io_server.cpp) into DP_OUT, DP_IN (ESP
# packets encrypted / decrypted and delivered), DP_UDP_RX (ESP datagrams received; empty if
# not logged) and DP_DROPS (the " reason=N" list, or " none"). Call after posternd_stop.
posternd_counters() {
    local name=${1:-posternd} line
    line=$(grep -E 'data plane counters:' "$WORK/$name.log" | tail -n 1)
    [ -n "$line" ] || fail "posternd ($name) logged no data plane counters at exit"
    line=${line#*data plane counters: }
    pi_log "posternd ($name): $line"
    [[ "$line" =~ ESP\ out\ ([0-9]+)\ packets ]] || fail "no 'ESP out N packets' in posternd's ($name) counters: $line"
    DP_OUT=${BASH_REMATCH[1]}
    [[ "$line" =~ ESP\ in\ ([0-9]+)\ packets ]] || fail "no 'ESP in N packets' in posternd's ($name) counters: $line"
    DP_IN=${BASH_REMATCH[1]}
    DP_UDP_RX=
    [[ "$line" =~ ([0-9]+)\ ESP\ datagrams\ received ]] && DP_UDP_RX=${BASH_REMATCH[1]}
    [[ "$line" =~ drops:([^\;]*) ]] || fail "no 'drops:' in posternd's ($name) counters: $line"
    DP_DROPS=${BASH_REMATCH[1]}
}

# posternd_drop_count REASON  - after posternd_counters: how many packets were dropped for
# REASON (replay, bad_icv, ...; 0 when not listed).
posternd_drop_count() {
    local w
    for w in $DP_DROPS; do
        [ "${w%%=*}" = "$1" ] && { echo "${w#*=}"; return; }
    done
    echo 0
}

# ---------------------------------------------------------------------------------------------
# Configuration blocks shared by the traffic tests
# ---------------------------------------------------------------------------------------------

# charon_rw_conf NAME ESP_PROPOSALS VIPS REMOTE_TS  - WORK/NAME/swanctl/swanctl.conf for a road
# warrior: connection "home" from b (192.0.2.2) to posternd at 192.0.2.1, PSK, identities
# b.postern.test -> vpn.postern.test, IKE aes256gcm16-prfsha256-x25519, encap = yes, virtual
# IPs VIPS ("0.0.0.0,::"), child "net" with REMOTE_TS and ESP_PROPOSALS (strongSwan syntax).
charon_rw_conf() {
    local name=$1 esp=$2 vips=$3 rts=$4
    cat >"$WORK/$name/swanctl/swanctl.conf" <<EOF
connections {
    home {
        version = 2
        local_addrs = $IP_B
        remote_addrs = $IP_A
        proposals = aes256gcm16-prfsha256-x25519
        encap = yes
        vips = $vips
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
                remote_ts = $rts
                esp_proposals = $esp
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
}

# posternd_psk_conn FILE NAME LOCAL_ID REMOTE_ID ESP_PROPOSALS [KEY = VALUE LINES]  - appends a
# PSK [[connections]] block (IKE aes256gcm16-prfsha256-x25519) to posternd's FILE. ESP_PROPOSALS
# is TOML array content ('"aes256gcm16"'); the extra lines (pools, local_ts, remote_ts, start,
# remote_addrs, ...) go in verbatim.
posternd_psk_conn() {
    local f=$1 name=$2 lid=$3 rid=$4 esp=$5 extra=${6:-}
    cat >>"$f" <<EOF

[[connections]]
name = "$name"
local_id = "$lid"
remote_id = "$rid"
local_auth = "psk"
remote_auth = "psk"
psk = "$PI_PSK"
ike_proposals = ["aes256gcm16-prfsha256-x25519"]
esp_proposals = [$esp]
$extra
EOF
}

# ---------------------------------------------------------------------------------------------
# Packet captures
# ---------------------------------------------------------------------------------------------

# tcpdump_start NAME NS IFACE FILTER  - captures FILTER on IFACE in NS into WORK/NAME.pcap
# (--immediate-mode -U: each packet written as it arrives, not in 1 s blocks; still, poll with
# pcap_count before reading the file); returns once tcpdump is listening.
tcpdump_start() {
    local name=$1 ns=$2 dev=$3 filter=$4 log=$WORK/$1.tcpdump.log
    command -v tcpdump >/dev/null || skip "missing tcpdump"
    PI_LOGS+=("$log")
    ip netns exec "$ns" tcpdump -n -U --immediate-mode -s 0 -i "$dev" -w "$WORK/$name.pcap" "$filter" >"$log" 2>&1 &
    PI_PIDS+=($!)
    echo "$!" >"$WORK/$name.tcpdump.pid"
    wait_for 10 "tcpdump $name to listen on $dev in $ns" grep -q 'listening on' "$log"
}

# tcpdump_stop NAME  - stops tcpdump NAME (SIGINT: it flushes WORK/NAME.pcap) and waits for it.
tcpdump_stop() {
    local pid i
    pid=$(cat "$WORK/$1.tcpdump.pid")
    kill -INT "$pid" 2>/dev/null || true
    for i in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    wait "$pid" 2>/dev/null || true
}

# pcap_count NAME FILTER  - how many packets of WORK/NAME.pcap match the tcpdump FILTER.
pcap_count() {
    tcpdump -n -r "$WORK/$1.pcap" "$2" 2>/dev/null | wc -l
}

# posternd_site2site_conf [INITIATOR_LINES] [ESP_PROPOSALS]  - the two gateway configurations
# of a site-to-site test (pi_setup_site2site), userspace data plane, PSK:
#   WORK/gw-a.toml: connection "site-a", responder, gw-a.postern.test, local_ts LAN a (v4+v6),
#                   remote_ts LAN b
#   WORK/gw-b.toml: connection "site-b", initiator (start = true, remote_addrs = [a's address]),
#                   gw-b.postern.test, local_ts LAN b, remote_ts LAN a, plus INITIATOR_LINES
#                   (e.g. 'encap = true')
# ESP_PROPOSALS: TOML array content, default '"aes256gcm16"'. Start them with
# posternd_start "$NS_A" "$WORK/gw-a.toml" gw-a (log WORK/gw-a.log), the same for b.
posternd_site2site_conf() {
    local extra=${1:-} esp=${2:-'"aes256gcm16"'}
    posternd_conf "$WORK/gw-a.toml" 'dataplane = "userspace"'
    posternd_psk_conn "$WORK/gw-a.toml" site-a gw-a.postern.test gw-b.postern.test "$esp" \
        "local_ts = [\"$LAN_A4\", \"$LAN_A6\"]
remote_ts = [\"$LAN_B4\", \"$LAN_B6\"]"
    posternd_conf "$WORK/gw-b.toml" 'dataplane = "userspace"'
    posternd_psk_conn "$WORK/gw-b.toml" site-b gw-b.postern.test gw-a.postern.test "$esp" \
        "local_ts = [\"$LAN_B4\", \"$LAN_B6\"]
remote_ts = [\"$LAN_A4\", \"$LAN_A6\"]
remote_addrs = [\"$IP_A\"]
start = true
$extra"
}

# initiator_uplink_setup [EXTRA_POSTERND_LINES]
#   posternd as initiator to a strongSwan responder (site to site): charon "b" in NS_B answers
#   connection "branches" (PSK, ids b.postern.test / branch.postern.test, virtual IPs from
#   10.98.0.0/28, local_ts NET_B/32), and WORK/postern.toml gets posternd's connection "uplink"
#   (start = true, request_virtual_ip, remote_ts NET_B/32) plus EXTRA_POSTERND_LINES. charon is
#   started and loaded first, so posternd's first IKE_SA_INIT finds it; posternd is not.
initiator_uplink_setup() {
    local extra=${1:-}
    charon_start b "$NS_B"
    cat >"$WORK/b/swanctl/swanctl.conf" <<EOF
connections {
    branches {
        version = 2
        local_addrs = $IP_B
        proposals = aes256gcm16-prfsha256-x25519
        pools = pool4
        local {
            auth = psk
            id = b.postern.test
        }
        remote {
            auth = psk
            id = branch.postern.test
        }
        children {
            net {
                local_ts = $NET_B/32
                esp_proposals = aes256gcm16
            }
        }
    }
}
pools {
    pool4 {
        addrs = 10.98.0.0/28
    }
}
secrets {
    ike-branch {
        id-1 = b.postern.test
        id-2 = branch.postern.test
        secret = "$PI_PSK"
    }
}
EOF
    charon_load b
    posternd_conf "$WORK/postern.toml"
    cat >>"$WORK/postern.toml" <<EOF
[[connections]]
name = "uplink"
local_id = "branch.postern.test"
remote_id = "b.postern.test"
local_auth = "psk"
remote_auth = "psk"
psk = "$PI_PSK"
remote_addrs = ["$IP_B"]
start = true
request_virtual_ip = true
ike_proposals = ["aes256gcm16-prfsha256-x25519"]
esp_proposals = ["aes256gcm16"]
remote_ts = ["$NET_B/32"]
$extra
EOF
}
