#!/usr/bin/env bash
# posternd-eap.sh POSTERND POSTERN IKE_CLIENT: EAP-MSCHAPv2 end to end without root.
# posternd on 127.0.0.1 (high ports) authenticates with tests/data/pki's server certificate
# and checks passwords against a SQLite user DB that `postern user add` filled. Checks:
#   - alice logs in (IKE SA, CHILD_SA, virtual IP) and the audit log has login_ok with her
#     name and address, and her last_login is set;
#   - a wrong password, an unknown user and a disabled user are refused (ike_client exit 3:
#     AUTHENTICATION_FAILED) with audit rows bad_password / unknown_user / disabled;
#   - alice gets the same virtual IP after posternd restarts (leases in SQLite);
#   - at exit the disconnect is audited.
set -u
posternd="$1"; postern="$2"; client="$3"
pki="$(cd "$(dirname "$0")/../data/pki" && pwd)"
dir="$(mktemp -d)"; pid=""
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$dir"' EXIT
fail() { echo "FAIL: $*"; echo "--- posternd log"; cat "$dir/posternd.log" 2>/dev/null; exit 1; }
source "$(dirname "$0")/posternd-lib.sh"
db="$dir/users.db"

printf 'alice password 1\n' | "$postern" --db "$db" user add alice --password-stdin >/dev/null ||
    fail "postern user add alice"
printf 'bob password 2\n' | "$postern" --db "$db" user add bob --password-stdin >/dev/null ||
    fail "postern user add bob"
"$postern" --db "$db" user disable bob >/dev/null || fail "postern user disable bob"
printf 'alice password 1\n' > "$dir/alice.pw"
printf 'not her password\n' > "$dir/wrong.pw"
printf 'bob password 2\n' > "$dir/bob.pw"

write_config() {
    cat > "$dir/postern.toml" <<TOML
[server]
listen = ["127.0.0.1"]
port = $port
natt_port = $natt
user_db = "$db"
control_socket = "$dir/control.sock"
[log]
ike = "debug"
[pki]
cacerts = ["$pki/root-ca.pem"]
[pools.clients]
ipv4 = "10.99.0.0/24"
dns = ["10.99.0.1"]
[[connections]]
name = "users"
local_id = "vpn.postern.test"
local_auth = "pubkey"
remote_auth = "eap-mschapv2"
cert = "$pki/server-rsa-chain.pem"
key = "$pki/server-rsa.key"
pools = ["clients"]
TOML
}
start_retry() {
    posternd_start_free "$posternd" "$dir/postern.toml" "$dir/posternd.log" write_config \
        || fail "posternd did not start"
}
login() {  # login USER PWFILE -> prints ike_client's stdout, returns its exit code
    "$client" --port "$port" --eap-id "$1" --eap-password-file "$2" --ca "$pki/root-ca.pem" \
        --remote-id vpn.postern.test --local-id 127.0.0.1 --timeout-ms 8000 2>> "$dir/client.log"
}
audit() { "$postern" --db "$db" --json audit --limit 50; }

start_retry
out="$(login alice "$dir/alice.pw")"; rc=$?
[ $rc -eq 0 ] || fail "alice: ike_client exit $rc: $out $(tail -5 "$dir/client.log")"
vip1="$(sed -n 's/.*virtual IP \([0-9.]*\).*/\1/p' <<< "$out")"
[ -n "$vip1" ] || fail "alice got no virtual IP: $out"
echo "alice: $out"

out="$(login alice "$dir/wrong.pw")"; rc=$?
[ $rc -eq 3 ] || fail "wrong password: ike_client exit $rc (expected 3): $out"
out="$(login mallory "$dir/alice.pw")"; rc=$?
[ $rc -eq 3 ] || fail "unknown user: ike_client exit $rc (expected 3): $out"
out="$(login bob "$dir/bob.pw")"; rc=$?
[ $rc -eq 3 ] || fail "disabled user: ike_client exit $rc (expected 3): $out"
grep -q "AUTHENTICATION_FAILED" "$dir/client.log" || fail "client never saw AUTHENTICATION_FAILED"

# Restart: the lease of alice survives in SQLite.
kill -TERM "$pid"; wait "$pid"; pid=""
start_retry
out="$(login alice "$dir/alice.pw")"; rc=$?
[ $rc -eq 0 ] || fail "alice after restart: exit $rc: $out"
vip2="$(sed -n 's/.*virtual IP \([0-9.]*\).*/\1/p' <<< "$out")"
[ "$vip1" = "$vip2" ] || fail "alice had $vip1, after the restart $vip2"
echo "alice after restart: $vip2 (same address)"
kill -TERM "$pid"; wait "$pid"; pid=""

a="$(audit)" || fail "postern audit"
python3 - "$a" <<'PY' || fail "audit rows: $a"
import json, sys
rows = json.loads(sys.argv[1])
rows = rows if isinstance(rows, list) else rows.get("entries", rows.get("audit", []))
def has(event, **kw):
    return any(r.get("event") == event and all(r.get(k) == v for k, v in kw.items()) for r in rows)
checks = [
    ("login_ok alice", has("login_ok", identity="alice", user="alice")),
    ("login_failed bad_password", has("login_failed", identity="alice", reason="bad_password")),
    ("login_failed unknown_user", has("login_failed", identity="mallory", reason="unknown_user")),
    ("login_failed disabled", has("login_failed", identity="bob", user="bob", reason="disabled")),
    ("disconnect alice", has("disconnect", user="alice")),
    ("peer address", all(r.get("peer", "").startswith("127.0.0.1:") for r in rows)),
]
bad = [n for n, ok in checks if not ok]
if bad:
    print("missing:", bad); sys.exit(1)
print("audit: %d rows, all expected events present" % len(rows))
PY
"$postern" --db "$db" --json user show alice | grep -q '"last_login": *"20' ||
    fail "alice has no last_login: $("$postern" --db "$db" --json user show alice)"
echo "PASS"
