#!/usr/bin/env bash
# interop_posternd_lua.sh POSTERND - plugins and Lua scripts deciding real logins (issue 6).
#
#   netns b: charon "b" (kernel-libipsec), logging in with EAP-MSCHAPv2 as bob, then as alice
#   netns a: posternd with [plugins] load = the built-ins, lua and jsonlog: two scripts
#            (allow_staff.lua lets members of group "staff" in with addresses from pool "staff";
#            refuse_rest.lua refuses everyone else), and the out-of-tree example plugin
#            (docs/examples/jsonlog, compiled here against include/ alone) writing events
#   netns l: the LAN host
#
# Asserted: bob (no group) is refused by the second script: charon gets AUTHENTICATION_FAILED,
# the audit has login_failed with reason "denied: not in group staff"; alice (group staff) is let
# in by the first: ESTABLISHED, a virtual IP from pool staff (10.98.0.0/24), ping to the LAN, the
# audit row login_ok; `postern reload` with allow_staff.lua broken keeps alice's SA and reports
# the script's file:line (its previous version keeps running); the jsonlog plugin's file holds
# bob's auth_failure and alice's connect and disconnect.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/native_lib.sh"
pi_init "$@"
pi_need_posternd
pi_setup_pair
pi_add_lan a

# The out-of-tree plugin, built like a third party would (no Postern library, headers only).
mkdir -p "$WORK/plugins"
CXX=${CXX:-c++}
"$CXX" -std=c++20 -O1 -shared -fPIC -fvisibility=hidden -I"$PI_REPO/include" \
    -o "$WORK/plugins/postern-jsonlog.so" "$PI_REPO/docs/examples/jsonlog/jsonlog.cpp" \
    2>"$WORK/jsonlog-build.log" || { cat "$WORK/jsonlog-build.log" >&2; fail "cannot build the jsonlog example"; }

mkdir -p "$WORK/lua"
cat >"$WORK/lua/allow_staff.lua" <<'LUA'
-- Members of "staff" get in, with an address from pool "staff".
function authorize(ctx)
  for _, g in ipairs(ctx.groups) do
    if g == "staff" then return {pool = "staff", group = "staff"} end
  end
  return nil  -- no opinion
end
LUA
cat >"$WORK/lua/refuse_rest.lua" <<'LUA'
function authorize(ctx)
  return "not in group staff"
end
LUA

nc_pki
nc_server_conf 0 "
[pools.staff]
ipv4 = \"10.98.0.0/24\"
dns = [\"$NC_DNS4\"]

[plugins]
path = [\"$WORK/plugins\"]
load = [\"x509\", \"psk\", \"eap-mschapv2\", \"eap-tls\", \"sqlite-users\", \"lua\", \"jsonlog\"]

[plugins.lua]
scripts = [\"$WORK/lua/allow_staff.lua\", \"$WORK/lua/refuse_rest.lua\"]

[plugins.jsonlog]
path = \"$WORK/events.jsonl\""
PI_LOGS+=("$WORK/postern.toml" "$WORK/events.jsonl")

# alice in group staff, bob in no group
nc_user_add
printf '%s\n' 'bob native password 2' | nc_postern --db "$WORK/postern.db" user add bob --password-stdin >/dev/null
nc_postern --db "$WORK/postern.db" group add staff >/dev/null
nc_postern --db "$WORK/postern.db" group member add staff alice >/dev/null

posternd_start "$NS_A" "$WORK/postern.toml"
wait_for 5 "postern0 in $NS_A" ip -n "$NS_A" link show postern0
nc_posternd_log 'loaded plugin lua .*: authentication policy in Lua'
nc_posternd_log "loaded plugin jsonlog \($WORK/plugins/postern-jsonlog.so\)"

charon_start b "$NS_B"
cp "$WORK/pki/ca.pem" "$WORK/b/swanctl/x509ca/postern-ca.pem"
NC_IKE=default NC_ESP=default NC_VIPS="0.0.0.0, ::" NC_FRAG=yes NC_CERTREQ=yes NC_MOBIKE=yes
NC_REMOTE_ID=$NC_SERVER_NAME

# --- bob: authenticated, then refused by refuse_rest.lua ---
NC_USER=bob NC_LOCAL_ID=bob NC_SECRET='bob native password 2'
nc_client_conf
charon_load b
if charon_try_initiate b net 15; then fail "bob got in"; fi
expect_log b 'EAP method EAP_MSCHAPV2 succeeded, MSK established'
expect_log b 'received AUTHENTICATION_FAILED'
nc_posternd_log "authentication failed: denied by an authorizer: not in group staff"
nc_audit_has login_failed identity=bob user=bob "reason=denied: not in group staff"
sw b --terminate --ike native --timeout 5 >/dev/null 2>&1 || true

# --- alice: let in by allow_staff.lua with an address from pool staff ---
NC_USER=alice NC_LOCAL_ID=alice NC_SECRET=$NC_PASSWORD
nc_client_conf
charon_load b
charon_initiate b net
show_sas b
sa_snapshot b
expect_sa b 'state' ESTABLISHED
expect_sa_match b 'local-vips' '10\.98\.0\.[0-9]+.*'
VIP4=$(sa_get b 'local-vips' | awk '{print $1}')
nc_posternd_log 'authorized alice as group staff, pool staff'
pi_ping "$NS_B" "$VIP4" "$LAN_A_HOST4"
nc_audit_has login_ok user=alice

# --- postern reload: a script that no longer loads keeps its previous version; SAs stay ---
printf 'function authorize(ctx)\n  return {pool = "staff"\n' >"$WORK/lua/allow_staff.lua"  # line 2: no '}'
nc_postern --socket "$WORK/postern.ctl.sock" reload >"$WORK/reload.out" 2>&1 \
    || { cat "$WORK/reload.out" >&2; fail "postern reload failed"; }
PI_LOGS+=("$WORK/reload.out")
grep -q "reloaded $WORK/postern.toml: 1 IKE SA kept, 0 deleted" "$WORK/reload.out" \
    || fail "postern reload did not keep alice's SA: $(cat "$WORK/reload.out")"
grep -q "plugin lua: reload: $WORK/lua/allow_staff.lua:3: .*(the previous version keeps running)" \
    "$WORK/reload.out" || fail "postern reload did not report the broken script: $(cat "$WORK/reload.out")"
pi_ping "$NS_B" "$VIP4" "$LAN_A_HOST4"
pi_log "ok: postern reload kept the SA and reported the broken script with file:line"

# --- the out-of-tree plugin's output ---
grep -Eq '^\{"event":"auth_failure",.*"identity":"bob",.*"reason":"denied: not in group staff"\}$' \
    "$WORK/events.jsonl" || fail "jsonlog has no auth_failure line for bob"
grep -Eq "^\\{\"event\":\"connect\",.*\"user\":\"alice\",.*\"method\":\"eap-mschapv2\",.*\"virtual_ips\":\\[\"$VIP4\"" \
    "$WORK/events.jsonl" || fail "jsonlog has no connect line for alice"
pi_log "ok: jsonlog wrote $(wc -l <"$WORK/events.jsonl") event lines"

posternd_stop
grep -Eq '^\{"event":"disconnect",.*"user":"alice"' "$WORK/events.jsonl" \
    || fail "jsonlog has no disconnect line for alice"
pass "Lua scripts decided bob (refused, audited) and alice (pool staff, ping); jsonlog wrote the events"
