# Shared by tests/bench/ike-rate and tests/bench/ike-scale (source it): builds what is missing,
# sets up the interop harness (tests/interop/lib.sh: namespaces a and b joined by a veth pair),
# a PKI, and starts/stops the responder under test in namespace a while tests/bench/ike_load
# runs in namespace b.
#
#   netns a: the responder, 192.0.2.1   <-- veth -->   netns b: ike_load, 192.0.2.2
#
# Both responders: a virtual IP each client from 10.64.0.0/14, local_ts 10.97.0.0/24, the
# proposals IKE aes256gcm16-prfsha256-x25519 and ESP aes256gcm16, no cookies and no
# per-address caps (the generator is one address). shellcheck shell=bash

POSTERND=${POSTERND:-}
IKE_LOAD=${IKE_LOAD:-}
NICE=${NICE:--10}
PROFILE=${PROFILE:-}
IKE_PROPOSAL=aes256gcm16-prfsha256-x25519
ESP_PROPOSAL=aes256gcm16
POOL=10.64.0.0/14

# ike_bench_setup NAME  - packages, builds, harness, PKI. Sets WORK, RESULTS.
ike_bench_setup() {
    [ "$(id -u)" = 0 ] || { echo "SKIP: $1 needs root (network namespaces)" >&2; exit 77; }
    # shellcheck source=../../scripts/lib/common.sh
    source "$BENCH_REPO/scripts/lib/common.sh"
    ensure_packages "${POSTERN_BUILD_PACKAGES[@]}" strongswan-swanctl strongswan-charon \
        libcharon-extra-plugins libstrongswan-extra-plugins libstrongswan-standard-plugins \
        iproute2 openssl python3 ${PROFILE:+linux-perf}
    if [ -z "$POSTERND" ]; then
        POSTERND=$POSTERN_ROOT/build/release/daemon/posternd
        [ -x "$POSTERND" ] || build_release -DPOSTERN_TESTS=OFF
    fi
    if [ -z "$IKE_LOAD" ]; then
        IKE_LOAD=$POSTERN_ROOT/build/bench/tests/bench/ike_load
        build_bench ike_load esp_sa_memory
    fi
    ESP_SA_MEMORY=${ESP_SA_MEMORY:-$(dirname "$IKE_LOAD")/esp_sa_memory}
    POSTERND=$(realpath "$POSTERND")
    IKE_LOAD=$(realpath "$IKE_LOAD")
    export POSTERND
    [ "$NICE" = 0 ] || renice -n "$NICE" -p $$ >/dev/null

    KEEP=${KEEP:-1}
    # shellcheck source=../interop/lib.sh
    source "$BENCH_REPO/tests/interop/lib.sh"
    pi_init --posternd "$POSTERND"
    pi_need_posternd
    [ -z "$PROFILE" ] || command -v perf >/dev/null || skip "--profile needs perf (Debian package linux-perf)"
    # charon's crypto from OpenSSL first (the first plugin to register an algorithm wins), as
    # posternd's; the rest is what a responder with certificates and pools needs.
    PI_CHARON_PLUGINS="openssl random nonce curve25519 kdf pem pkcs1 pkcs8 x509 pubkey revocation constraints kernel-libipsec kernel-netlink socket-default vici attr"
    RESULTS=$WORK/results.txt
    pi_setup_pair
    # Socket receive buffers: posternd asks for 4 MiB itself (SO_RCVBUFFORCE), so does the
    # generator; charon takes the system's default, which is not per namespace on this kernel.
    # For the run, the default is 4 MiB too (restored on exit), so a burst of requests finds
    # the same room at both responders.
    RMEM_DEFAULT_WAS=$(sysctl -n net.core.rmem_default)
    RMEM_MAX_WAS=$(sysctl -n net.core.rmem_max)
    trap 'rc=$?; ike_bench_restore; pi_exit $rc' EXIT
    sysctl -qw net.core.rmem_max=$((4 << 20)) net.core.rmem_default=$((4 << 20))
    ip -n "$NS_A" addr add 10.97.0.1/32 dev lo

    # ECDSA P-256: a CA, the server's certificate (DNS:vpn.postern.test), the client's
    # (email:load@postern.test), shared by every SA of the generator.
    PKI=$WORK/pki
    mkdir -p "$PKI"
    gen_ec_key "$PKI/ca.key"
    gen_ca "$PKI/ca.pem" "$PKI/ca.key" "/CN=Postern bench CA"
    gen_ec_key "$PKI/server.key"
    gen_ee "$PKI/server.pem" "$PKI/server.key" "/CN=vpn.postern.test" DNS:vpn.postern.test \
        "$PKI/ca.pem" "$PKI/ca.key"
    gen_ec_key "$PKI/client.key"
    gen_ee "$PKI/client.pem" "$PKI/client.key" "/CN=load@postern.test" email:load@postern.test \
        "$PKI/ca.pem" "$PKI/ca.key"
}

ike_bench_restore() {
    sysctl -qw net.core.rmem_default="$RMEM_DEFAULT_WAS" net.core.rmem_max="$RMEM_MAX_WAS" || true
}

out() { printf '%s\n' "$*" | tee -a "$RESULTS"; }

machine() {
    out "machine:     $(lscpu | sed -n 's/^Model name: *//p' | head -n 1), $(nproc) cores, $(free -g | awk '/^Mem:/ {print $2}') GiB"
    out "kernel:      $(uname -sr)"
    out "strongSwan:  $("$CHARON" --version 2>&1 | head -n 1 | sed 's/^Linux strongSwan //') (kernel-libipsec)"
    out "OpenSSL:     $(openssl version)"
    out "posternd:    $POSTERND ($(git -C "$BENCH_REPO" describe --always --dirty 2>/dev/null || echo 'not a git checkout'))"
    out "load avg:    $(cut -d' ' -f1-3 /proc/loadavg) (before the run); benchmark at nice $NICE"
    out "proposals:   IKE $IKE_PROPOSAL, ESP $ESP_PROPOSAL"
}

# crypto_bound  - BOUND[psk], BOUND[ecdsa]: handshakes/s this machine's cores could do if they
# did nothing but the public-key operations of both ends (openssl speed, 3 s each).
declare -A BOUND
crypto_bound() {
    local speed x25519 sign verify
    speed=$(openssl speed -seconds 3 -mr ecdhx25519 ecdsap256 2>/dev/null)
    x25519=$(printf '%s\n' "$speed" | awk -F: '/^\+F5:/ && $3 == 253 {print $4}')
    sign=$(printf '%s\n' "$speed" | awk -F: '/^\+F4:/ && $3 == 256 {print $4}')
    verify=$(printf '%s\n' "$speed" | awk -F: '/^\+F4:/ && $3 == 256 {print $5}')
    [ -n "$x25519" ] && [ -n "$sign" ] && [ -n "$verify" ] || fail "could not read openssl speed's output"
    local cores
    cores=$(nproc)
    BOUND[psk]=$(awk -v x="$x25519" -v c="$cores" 'BEGIN { printf "%d", c / (4 / x) }')
    BOUND[ecdsa]=$(awk -v x="$x25519" -v s="$sign" -v v="$verify" -v c="$cores" \
        'BEGIN { printf "%d", c / (4 / x + 2 / s + 4 / v) }')
    out "openssl:     X25519 $(printf '%.0f' "$x25519") ops/s, ECDSA P-256 sign $(printf '%.0f' "$sign")/s verify $(printf '%.0f' "$verify")/s (one core, openssl speed -seconds 3)"
    out "crypto bound: PSK+X25519 ${BOUND[psk]} handshakes/s (4 X25519 per handshake, both ends, $cores cores);"
    out "              ECDSA+X25519 ${BOUND[ecdsa]} handshakes/s (4 X25519, 2 signs, 4 verifications)"
}

# cpu_ticks PID  - utime + stime of a process (all its threads), in clock ticks.
# Prints nothing once the process is gone.
cpu_ticks() { awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$1/stat" 2>/dev/null || true; }

# posternd_bench_conf FILE AUTH [IKE_THREADS]  - postern.toml of the responder (IKE_THREADS:
# server.ike_threads, 0 = one per core).
posternd_bench_conf() {
    local f=$1 auth=$2 threads=${3:-0}
    posternd_conf "$f" "dataplane = \"userspace\"
ike_threads = $threads
${BENCH_DPD:+dpd_delay = \"${BENCH_DPD}s\"}
cookie_threshold = 1000000
init_rate_per_address = 0
half_open_per_address = 0
half_open_limit = 0"
    sed -i 's/"debug"/"info"/' "$f"
    cat >>"$f" <<EOF
[pools.clients]
ipv4 = "$POOL"

EOF
    local extra='pools = ["clients"]
local_ts = ["10.97.0.0/24"]'
    if [ "$auth" = psk ]; then
        # lib.sh's PSK connection (its key PI_PSK, IKE aes256gcm16-prfsha256-x25519)
        posternd_psk_conn "$f" load vpn.postern.test %any "\"$ESP_PROPOSAL\"" "$extra"
        return
    fi
    cat >>"$f" <<EOF
[pki]
cacerts = ["$PKI/ca.pem"]

[[connections]]
name = "load"
local_id = "vpn.postern.test"
remote_id = "%any"
local_auth = "pubkey"
remote_auth = "pubkey"
cert = "$PKI/server.pem"
key = "$PKI/server.key"
ike_proposals = ["$IKE_PROPOSAL"]
esp_proposals = ["$ESP_PROPOSAL"]
$extra
EOF
}

# charon_bench_conf AUTH  - charon a's swanctl.conf (charon_start wrote strongswan.conf).
charon_bench_conf() {
    local auth=$1 dir=$WORK/a/swanctl local_auth remote_auth secrets=
    if [ "$auth" = ecdsa ]; then
        cp "$PKI/ca.pem" "$dir/x509ca/"
        cp "$PKI/server.pem" "$dir/x509/"
        cp "$PKI/server.key" "$dir/private/"
        local_auth="auth = pubkey
            certs = server.pem"
        remote_auth="auth = pubkey"
    else
        local_auth="auth = psk"
        remote_auth="auth = psk"
        secrets="ike-load {
        secret = \"$PI_PSK\"
    }"
    fi
    cat >"$dir/swanctl.conf" <<EOF
connections {
    load {
        version = 2
        local_addrs = $IP_A
        proposals = $IKE_PROPOSAL
        pools = clients
        dpd_delay = ${BENCH_DPD:-0}s
        local {
            $local_auth
            id = vpn.postern.test
        }
        remote {
            $remote_auth
        }
        children {
            net {
                local_ts = 10.97.0.0/24
                esp_proposals = $ESP_PROPOSAL
            }
        }
    }
}
pools {
    clients {
        addrs = $POOL
    }
}
secrets {
    $secrets
}
EOF
}

# start_target posternd|strongswan AUTH COUNT  - the responder in namespace a; sets TPID.
start_target() {
    local target=$1 auth=$2 count=$3 size
    case $target in
        posternd|posternd1)
            # posternd1: the same with its IKE work on one thread (server.ike_threads = 1)
            local threads=${BENCH_IKE_THREADS:-0}
            [ "$target" = posternd1 ] && threads=1
            posternd_bench_conf "$WORK/postern-$auth.toml" "$auth" "$threads"
            rm -f "$WORK/postern-$auth.db"
            posternd_start "$NS_A" "$WORK/postern-$auth.toml" "posternd-$auth"
            TPID=$(cat "$WORK/posternd-$auth.pid")
            ;;
        strongswan)
            # strongSwan's advice for many SAs: a hash table of IKE SAs sized to them (a power
            # of two) and split into segments locked separately; worker threads (16 is the
            # default, kept: 2 cores). Logging at 0 (less than posternd's info).
            size=1024
            while [ "$size" -lt "$count" ] && [ "$size" -lt 1048576 ]; do size=$((size * 2)); done
            rm -rf "$WORK/a"
            charon_start a "$NS_A" "    threads = 16
    ikesa_table_size = $size
    ikesa_table_segments = 64
    cookie_threshold = 1000000
    cookie_threshold_ip = 1000000
    block_threshold = 1000000
    init_limit_half_open = 0
    ikesa_limit = 0"
            sed -i 's/^\( *\)\(default\|cfg\|ike\|chd\|knl\|net\|enc\|lib\|tls\) = [0-9]*/\1\2 = 0/' \
                "$WORK/a/strongswan.conf"
            sw a --reload-settings >/dev/null || fail "swanctl --reload-settings failed"
            charon_bench_conf "$auth"
            charon_load a
            # charon_start's pid is the unshare/sh wrapper's; the charon in namespace a is ours
            TPID=$(ip netns pids "$NS_A" | while read -r p; do
                [ "$(readlink "/proc/$p/exe" 2>/dev/null)" = "$(readlink -f "$CHARON")" ] && echo "$p"; done | head -n 1)
            [ -n "$TPID" ] || fail "charon a's process not found in $NS_A"
            ;;
        *) fail "unknown target $target" ;;
    esac
    T_TICKS0=$(cpu_ticks "$TPID")
    PERF_PID=
    if [ -n "$PROFILE" ] && [[ "$target" == posternd* ]]; then
        perf record ${PERF_CALLGRAPH:--g} -o "$WORK/perf-$target-$auth.data" -p "$TPID" >"$WORK/perf-$target-$auth.log" 2>&1 &
        PERF_PID=$!
        sleep 1
    fi
}

# stop_target posternd|strongswan AUTH  - stops the responder start_target started.
stop_target() {
    local auth=$2
    if [ -n "$PERF_PID" ]; then
        kill -INT "$PERF_PID" 2>/dev/null || true
        wait "$PERF_PID" 2>/dev/null || true
        perf report --stdio --no-children -i "$WORK/perf-$1-$auth.data" 2>/dev/null \
            | grep -v '^#' | grep -v '^$' | head -n 200 >"$WORK/perf-$1-$auth.txt" || true
        # Thread by thread (IKE shards, I/O thread, key-share filler): docs/benchmarks.md.
        "$(dirname "${BASH_SOURCE[0]}")/perf-threads" "$WORK/perf-$1-$auth.data" \
            >"$WORK/perf-$1-$auth-threads.txt" 2>&1 || true
        PERF_PID=
    fi
    case $1 in
        posternd|posternd1)
            pid=$(cat "$WORK/posternd-$auth.pid")
            kill -TERM "$pid" 2>/dev/null || true
            for _ in $(seq 1 600); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
            kill -0 "$pid" 2>/dev/null && { kill -9 "$pid"; out "posternd did not stop within 60 s of SIGTERM"; }
            wait "$pid" 2>/dev/null || true
            ;;
        strongswan)
            pid=$(cat "$WORK/a/pid")
            kill -TERM "$TPID" 2>/dev/null || true
            for _ in $(seq 1 300); do kill -0 "$TPID" 2>/dev/null || break; sleep 0.1; done
            kill -9 "$TPID" 2>/dev/null || true
            wait "$pid" 2>/dev/null || true
            ;;
    esac
}

# run_load NAME AUTH ARGS...  - ike_load in namespace b against a; output in WORK/NAME.out.
run_load() {
    local name=$1 auth=$2; shift 2
    local creds=(--auth psk --psk "$PI_PSK")
    [ "$auth" = ecdsa ] && creds=(--auth cert --cert "$PKI/client.pem" --key "$PKI/client.key" --ca "$PKI/ca.pem")
    PI_LOGS+=("$WORK/$name.err")
    local rc=0
    ip netns exec "$NS_B" "$IKE_LOAD" --target "$IP_A" --local "$IP_B" --vip \
        --id load@postern.test --remote-id vpn.postern.test "${creds[@]}" \
        --ike-proposal "$IKE_PROPOSAL" --esp-proposal "$ESP_PROPOSAL" --target-pid "$TPID" \
        "$@" >"$WORK/$name.out" 2>"$WORK/$name.err" || rc=$?
    T_TICKS1=$(cpu_ticks "$TPID")
    # Datagrams the kernel dropped for a full socket buffer, each side (what retransmits cost).
    local side ns
    for side in a b; do
        ns=$NS_A
        [ "$side" = b ] && ns=$NS_B
        echo "udp_rcvbuf_errors_$side $(ip netns exec "$ns" nstat -az UdpRcvbufErrors 2>/dev/null | awk '$1 == "UdpRcvbufErrors" {print $2}')" >>"$WORK/$name.out"
    done
    # (Not known when the responder is gone by the end: ike-scale --sigterm.)
    [ -z "$T_TICKS1" ] || echo "target_cpu_seconds $(awk -v a="$T_TICKS0" -v b="$T_TICKS1" -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.2f", (b - a) / hz }')" >>"$WORK/$name.out"
    return "$rc"
}

# field NAME KEY  - a value from WORK/NAME.out.
field() { awk -v k="$2" '$1 == k { print $2; exit }' "$WORK/$1.out"; }

# report_case NAME  - the run's figures, one line each, into results.
report_case() {
    local n=$1 est rate cpu
    est=$(field "$n" established)
    rate=$(field "$n" rate)
    cpu=$(field "$n" target_cpu_seconds)
    cpu=${cpu:--}
    out "established $est of $(( est + $(field "$n" failed) )) in $(field "$n" seconds) s: $rate SAs/s (CHILD_SAs: $(field "$n" child_sas))"
    out "latency ms:  p50 $(field "$n" latency_ms_p50)  p90 $(field "$n" latency_ms_p90)  p99 $(field "$n" latency_ms_p99)  max $(field "$n" latency_ms_max)"
    out "responder:   RSS $(field "$n" target_rss_kib_before) -> $(field "$n" target_rss_kib_after) KiB (peak $(field "$n" target_hwm_kib)), CPU $cpu s ($(awk -v e="$est" -v c="$cpu" 'BEGIN { if (c > 0) printf "%.0f", e / c; else print "-" }') SAs per CPU-second)"
    out "generator:   retransmits $(field "$n" retransmits), cookies $(field "$n" cookies), INVALID_KE $(field "$n" invalid_ke), RSS $(field "$n" generator_rss_kib) KiB; datagrams dropped for a full socket buffer: responder $(field "$n" udp_rcvbuf_errors_a), generator $(field "$n" udp_rcvbuf_errors_b)"
    if grep -q '^failure ' "$WORK/$n.out"; then
        grep '^failure ' "$WORK/$n.out" | sed 's/^/  /' | tee -a "$RESULTS"
    fi
}
