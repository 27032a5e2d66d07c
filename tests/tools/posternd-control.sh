#!/usr/bin/env bash
# posternd-control.sh POSTERND POSTERN IKE_CLIENT [CASE]: the control socket end to end.
#
#   ike_client bob   ---\                          /--- postern sa list / kill / reload / status
#   ike_client carol ----> posternd 127.0.0.1:PORT  <--- $dir/run/control.sock (JSON lines)
#
# posternd listens on 127.0.0.1 (random high ports, no root needed) with its control socket in
# a temporary folder. CASE (default: all) picks one part:
#   socket  the folder (0750) and socket (0660) it creates; a second posternd on the same socket
#           refuses to start; postern without a daemon says so (exit 5); the file goes at exit
#   list    two PSK clients; `sa list --json` shows user, peer, virtual IP, algorithms, uptime;
#           the table and `status` too
#   kill    `sa kill --user` and `sa kill ID` end SAs (the client sees the Delete); unknown -> 3
#   reload  a connection removed and one added: the SA of the unchanged connection stays, the
#           removed connection's SA is deleted; a broken config changes nothing (exit 1)
set -u
posternd="$1"; postern="$2"; client="$3"; case="${4:-all}"
dir="$(mktemp -d)"
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
    wait 2>/dev/null
    rm -rf "$dir"
}
trap cleanup EXIT
echo "control-test-pre-shared-key-0123456789" > "$dir/psk.txt"
sock="$dir/run/control.sock"

fail() {
    echo "--- posternd log"; cat "$dir/posternd.log" 2>/dev/null
    for f in "$dir"/client-*.out; do [ -f "$f" ] && { echo "--- $f"; cat "$f"; }; done
    echo "FAIL: $*"; exit 1
}
source "$(dirname "$0")/posternd-lib.sh"

# config CONNECTIONS...: postern.toml with the named connections (smoke: anyone; staff: carol;
# guests: dave), all PSK with the same secret.
config() {
    cat > "$dir/postern.toml" <<TOML
[server]
listen = ["127.0.0.1"]
port = $port
natt_port = $natt
log_level = "info"
control_socket = "run/control.sock"
[log]
ike = "debug"
[pools.clients]
ipv4 = "10.213.0.0/24"
TOML
    for c in "$@"; do
        case "$c" in
            smoke) remote='%any' ;;
            staff) remote='carol@postern.test' ;;
            guests) remote='dave@postern.test' ;;
        esac
        cat >> "$dir/postern.toml" <<TOML
[[connections]]
name = "$c"
local_id = "vpn.postern.test"
remote_id = "$remote"
local_auth = "psk"
remote_auth = "psk"
psk_file = "psk.txt"
pools = ["clients"]
TOML
    done
}

start() {
    write_config() { config smoke staff; }
    posternd_start_free "$posternd" "$dir/postern.toml" "$dir/posternd.log" write_config \
        || fail "posternd did not start"
    pids+=("$pid")
}

# connect NAME ID: an ike_client that stays until the server deletes its SA.
connect() {
    "$client" --server 127.0.0.1 --port "$port" --psk-file "$dir/psk.txt" --local-id "$2" \
        --timeout-ms 30000 --wait-delete 1 > "$dir/client-$1.out" 2>&1 &
    eval "client_$1=$!"
    pids+=("$!")
    for _ in $(seq 100); do
        grep -q ESTABLISHED "$dir/client-$1.out" && return 0
        sleep 0.1
    done
    fail "client $1 did not establish"
}

# deleted NAME: the client exits 0 after the server's Delete.
deleted() {
    local p; eval "p=\$client_$1"
    for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$p" 2>/dev/null && fail "client $1 still has its SA"
    wait "$p" || fail "client $1 exited $?"
    grep -q "DELETED by the server" "$dir/client-$1.out" || fail "client $1 saw no Delete"
}

ctl() { "$postern" --socket "$sock" "$@"; }

# py EXPR: evaluates a Python expression over the JSON on stdin as `j`; fails when false.
py() { python3 -c "import json,sys; j=json.load(sys.stdin); sys.exit(0 if ($1) else 1)"; }

case_socket() {
    [ "$(stat -c %a "$sock")" = 660 ] || fail "socket mode $(stat -c %a "$sock"), not 660"
    [ "$(stat -c %a "$dir/run")" = 750 ] || fail "folder mode $(stat -c %a "$dir/run"), not 750"
    [ -S "$sock" ] || fail "$sock is not a socket"
    # Resolved from the config file's control_socket (relative to its folder).
    "$postern" -c "$dir/postern.toml" status | grep -q "^posternd 0.1.0" || fail "status via -c"
    # A second posternd (other ports) on the same socket refuses to start; the first goes on.
    sed -e "s/^port = .*/port = $((port + 2))/" -e "s/^natt_port = .*/natt_port = $((port + 3))/" \
        "$dir/postern.toml" > "$dir/second.toml"
    out="$("$posternd" --config "$dir/second.toml" 2>&1)"; rc=$?
    [ $rc -eq 1 ] || fail "second posternd exited $rc: $out"
    grep -q "control socket $sock: another posternd is serving it" <<<"$out" ||
        fail "second posternd said: $out"
    ctl status > /dev/null || fail "the first posternd stopped answering"
    [ -S "$sock" ] || fail "the second posternd removed the socket"
    # No daemon at a path: exit 5 and why.
    out="$("$postern" --socket "$dir/none.sock" status 2>&1)"; rc=$?
    [ $rc -eq 5 ] || fail "postern without posternd exited $rc"
    grep -q "postern: cannot reach posternd at $dir/none.sock: No such file or directory (is it running?)" <<<"$out" ||
        fail "postern without posternd said: $out"
    echo "ok: socket"
}

case_list() {
    connect bob bob@postern.test
    connect carol carol@postern.test
    ctl sa list --json > "$dir/list.json" || fail "sa list --json"
    py 'len(j["sas"]) == 2' < "$dir/list.json" || fail "not two SAs: $(cat "$dir/list.json")"
    py '[s for s in j["sas"] if s["user"] == "bob@postern.test" and s["connection"] == "smoke"
         and s["peer"].startswith("127.0.0.1:") and s["virtual_ips"][0].startswith("10.213.0.")
         and "AES_GCM_16" in s["ike_algorithms"] and s["state"] == "ESTABLISHED"
         and s["uptime_s"] >= 0 and s["established"]
         and "AES_GCM_16" in s["child_sas"][0]["algorithms"] and s["child_sas"][0]["installed"]]' \
        < "$dir/list.json" || fail "bob's SA lacks details: $(cat "$dir/list.json")"
    py '[s for s in j["sas"] if s["user"] == "carol@postern.test" and s["connection"] == "staff"]' \
        < "$dir/list.json" || fail "carol's SA not on staff"
    ctl sa list --user carol@postern.test --json | py 'len(j["sas"]) == 1' || fail "--user filter"
    table="$(ctl sa list)" || fail "sa list"
    echo "$table"
    grep -q "^ID .*USER .*CONNECTION .*PEER .*VIRTUAL IP .*IKE .*CHILD .*BYTES IN/OUT .*UPTIME" \
        <<<"$table" || fail "no table header"
    grep -Eq "bob@postern.test +smoke +127.0.0.1:[0-9]+ +10.213.0.[0-9]+ +(IKE:)?AES_GCM_16" \
        <<<"$table" || fail "no row for bob"
    status="$(ctl status)" || fail "status"
    echo "$status"
    grep -q "IKE SAs     2: 2 ESTABLISHED" <<<"$status" || fail "status SA counts"
    ctl status --json | py 'j["ike_sas"]["total"] == 2 and j["engine"]["established"] >= 2' ||
        fail "status --json"
    echo "ok: list"
}

case_kill() {
    [ -n "${client_bob:-}" ] || { connect bob bob@postern.test; connect carol carol@postern.test; }
    out="$(ctl sa kill --user bob@postern.test)" || fail "sa kill --user exited $?"
    grep -q "^bob@postern.test: deleting IKE SA [0-9]" <<<"$out" || fail "sa kill said: $out"
    deleted bob
    grep -q "sa.kill user bob@postern.test: deleting IKE SA" "$dir/posternd.log" ||
        fail "posternd did not log the kill"
    ctl sa list --json | py '[s["user"] for s in j["sas"]] == ["carol@postern.test"]' ||
        fail "bob's SA still listed"
    ctl sa kill --user bob@postern.test 2>/dev/null; rc=$?
    [ $rc -eq 3 ] || fail "killing a user without SAs exited $rc, not 3"
    ctl sa kill 999999 2>/dev/null; rc=$?
    [ $rc -eq 3 ] || fail "killing an unknown id exited $rc, not 3"
    id="$(ctl sa list --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["sas"][0]["id"])')"
    ctl sa kill "$id" | grep -q "deleting IKE SA $id" || fail "sa kill $id"
    deleted carol
    ctl sa list --json | py 'j["sas"] == []' || fail "SAs left after the kills"
    echo "ok: kill"
}

case_reload() {
    connect bob bob@postern.test
    connect carol carol@postern.test
    # staff goes, guests comes, smoke stays as it was.
    config smoke guests
    out="$(ctl reload)" || fail "reload exited $?: $out"
    echo "$out"
    grep -q "1 IKE SA kept, 1 deleted" <<<"$out" || fail "reload said: $out"
    grep -q "connections added: guests" <<<"$out" || fail "reload did not add guests"
    grep -q "connections removed: staff" <<<"$out" || fail "reload did not remove staff"
    deleted carol
    ctl sa list --json | py '[s["user"] for s in j["sas"]] == ["bob@postern.test"]' ||
        fail "after the reload, not just bob"
    connect dave dave@postern.test
    ctl sa list --json --user dave@postern.test | py 'j["sas"][0]["connection"] == "guests"' ||
        fail "dave is not on the added connection"
    # A broken config: an error with file:line, and nothing changes.
    echo "bogus = 1" >> "$dir/postern.toml"
    out="$(ctl reload 2>&1)"; rc=$?
    [ $rc -eq 1 ] || fail "reload of a broken config exited $rc"
    grep -q "postern: posternd refused reload: .*postern.toml:[0-9]*: .*bogus: unknown key" \
        <<<"$out" || fail "reload error: $out"
    ctl sa list --json | py 'len(j["sas"]) == 2' || fail "SAs lost by a failed reload"
    grep -q "reload of .* refused, nothing changed" "$dir/posternd.log" || fail "not logged"
    echo "ok: reload"
}

start
case "$case" in
    socket) case_socket ;;
    list) case_list ;;
    kill) case_kill ;;
    reload) case_reload ;;
    all) case_socket; case_list; case_kill; case_reload ;;
    *) fail "unknown case $case" ;;
esac

# SIGTERM: clients get their Delete, posternd exits 0 and removes its socket.
kill -TERM "$pid"
for _ in $(seq 30); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
kill -0 "$pid" 2>/dev/null && fail "posternd still running after SIGTERM"
wait "$pid"; prc=$?
[ $prc -eq 0 ] || fail "posternd exited $prc"
[ -e "$sock" ] && fail "posternd left $sock behind"
cat "$dir/posternd.log"
echo PASS
