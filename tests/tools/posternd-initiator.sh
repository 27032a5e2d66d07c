#!/usr/bin/env bash
# posternd-initiator.sh POSTERND: posternd as initiator. Two posternd processes on 127.0.0.1
# (random high ports, no root): "hq" responds, "branch" has a connection with start = true and
# request_virtual_ip. Both must log the established IKE SA (branch with a virtual IP); SIGTERM
# to branch deletes the SA on both sides, and both exit 0.
set -u
posternd="$1"
dir="$(mktemp -d)"
pids=()
cleanup() { for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done; rm -rf "$dir"; }
trap cleanup EXIT
echo "initiator-test-pre-shared-key-42" > "$dir/psk"

# launch NAME PORT EXTRA: writes NAME.toml, starts posternd, sets $pid; 1 if it did not start.
launch() {
    local name="$1" port="$2"
    cat > "$dir/$name.toml" <<TOML
[server]
listen = ["127.0.0.1"]
port = $port
natt_port = $((port + 1))
control_socket = "$dir/$name.sock"
[log]
ike = "debug"
[pools.clients]
ipv4 = "10.77.0.0/24"
$3
TOML
    "$posternd" --config "$dir/$name.toml" 2> "$dir/$name.log" &
    pid=$!
    for _ in $(seq 50); do
        grep -q "serving" "$dir/$name.log" && return 0
        kill -0 "$pid" 2>/dev/null || return 1
        sleep 0.1
    done
    return 1
}

wait_log() {  # wait_log FILE REGEX
    for _ in $(seq 50); do grep -Eq "$2" "$1" && return 0; sleep 0.1; done
    return 1
}

fail() { echo "--- hq"; cat "$dir/hq.log"; echo "--- branch"; cat "$dir/branch.log"; echo "FAIL: $1"; exit 1; }

for _ in 1 2 3; do
    hq_port=$((20000 + RANDOM % 40000))
    launch hq $hq_port '[[connections]]
name = "branches"
local_id = "hq.postern.test"
remote_id = "*.postern.test"
local_auth = "psk"
remote_auth = "psk"
psk_file = "psk"
pools = ["clients"]' && break
done
hq=$pid; pids+=("$hq")
for _ in 1 2 3; do
    br_port=$((20000 + RANDOM % 40000))
    launch branch $br_port "[[connections]]
name = \"to-hq\"
remote_addrs = [\"127.0.0.1\"]
remote_port = $hq_port
start = true
request_virtual_ip = true
local_id = \"branch.postern.test\"
remote_id = \"hq.postern.test\"
local_auth = \"psk\"
remote_auth = \"psk\"
psk_file = \"psk\"" && break
done
branch=$pid; pids+=("$branch")

wait_log "$dir/branch.log" "IKE SA established with hq.postern.test" || fail "branch did not establish"
wait_log "$dir/hq.log" "IKE SA established with branch.postern.test" || fail "hq did not establish"
grep -q "assigned virtual IP 10.77.0.1" "$dir/hq.log" || fail "no virtual IP assigned"
grep -q "initiating to 127.0.0.1:$hq_port" "$dir/branch.log" || fail "branch did not say it initiates"

kill -TERM "$branch"
for _ in $(seq 10); do kill -0 "$branch" 2>/dev/null || break; sleep 0.1; done
kill -0 "$branch" 2>/dev/null && fail "branch still running 1 s after SIGTERM"
wait "$branch"; brc=$?
wait_log "$dir/hq.log" "IKE SA deleted \\(deleted by the peer\\)" || fail "hq did not see the delete"
kill -TERM "$hq"
for _ in $(seq 10); do kill -0 "$hq" 2>/dev/null || break; sleep 0.1; done
kill -0 "$hq" 2>/dev/null && fail "hq still running 1 s after SIGTERM"
wait "$hq"; hrc=$?
[ $brc -eq 0 ] || fail "branch exited $brc"
[ $hrc -eq 0 ] || fail "hq exited $hrc"
echo "--- branch"; cat "$dir/branch.log"
echo PASS
