#!/usr/bin/env bash
# profile-structure.sh POSTERN SOURCE_DIR: runs the built `postern profile` for every target
# against a temporary postern.toml (an EAP-MSCHAPv2 connection with the test PKI's server
# certificate and CA) and a temporary user database with one user made by `postern user add`,
# then checks every file with check-profiles.py (plistlib, json, required keys, the embedded CA
# is the CA file's certificate). Also: stdout equals the written file, re-issued profiles are
# byte-identical, files are 0644, an unknown user exits 3 and writes nothing, a server with no
# proposal for Apple exits 1 naming the client.
set -u
postern="$1"; src="$2"
pki="$src/tests/data/pki"
dir="$(mktemp -d)"; trap 'rm -rf "$dir"' EXIT
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }

cat > "$dir/postern.toml" <<TOML
[server]
user_db = "users.db"
[pki]
cacerts = ["$pki/root-ca.pem"]
[pools.clients]
ipv4 = "10.99.0.0/24"
ipv6 = "fd00:99::/112"
[[connections]]
name = "roadwarriors"
local_auth = "pubkey"
remote_auth = "eap-mschapv2"
cert = "$pki/server-rsa-chain.pem"
key = "$pki/server-rsa.key"
ike_proposals = ["aes256gcm16-prfsha256-ecp256", "aes256-sha256-ecp256", "aes256-sha256-modp2048"]
esp_proposals = ["aes256gcm16", "aes256-sha256"]
pools = ["clients"]
TOML
sed -e 's/^ike_proposals = .*/ike_proposals = ["aes256-sha256-modp3072"]/' \
    "$dir/postern.toml" > "$dir/no-apple.toml"

P=("$postern" -c "$dir/postern.toml")
echo "correct horse battery staple" | "${P[@]}" user add alice --password-stdin \
    || fail "postern user add alice"

"${P[@]}" profile alice --for ios --out "$dir/alice.mobileconfig" || fail "ios"
"${P[@]}" profile alice --for macos --out "$dir/alice-mac.mobileconfig" || fail "macos"
"${P[@]}" profile alice --for windows --out "$dir/alice.ps1" || fail "windows"
"${P[@]}" profile alice --for android --out "$dir/alice" || fail "android"
"${P[@]}" profile alice --for strongswan --out "$dir/alice.conf" || fail "strongswan"
ls -l "$dir"

for f in alice.mobileconfig alice-mac.mobileconfig alice.ps1 alice.sswan alice-android.txt \
         alice-ca.crt alice.conf alice-ca.pem; do
    [ -f "$dir/$f" ] || { fail "$f not written"; continue; }
    mode="$(stat -c %a "$dir/$f")"
    [ "$mode" = 644 ] || fail "$f has mode $mode, want 644"
done
cmp -s "$dir/alice-ca.crt" "$pki/root-ca.pem" \
    || openssl x509 -in "$dir/alice-ca.crt" -noout >/dev/null 2>&1 || fail "alice-ca.crt"

# stdout is the same file; a re-issued profile is byte-identical (name-based UUIDs).
"${P[@]}" profile alice --for ios > "$dir/stdout.mobileconfig" || fail "ios to stdout"
cmp "$dir/alice.mobileconfig" "$dir/stdout.mobileconfig" || fail "stdout differs from --out"
"${P[@]}" profile alice --for ios --out "$dir/again.mobileconfig"
cmp "$dir/alice.mobileconfig" "$dir/again.mobileconfig" || fail "re-issued profile differs"

# --json names the files.
"${P[@]}" --json profile alice --for android --out "$dir/j" > "$dir/j.json" || fail "--json"
python3 - "$dir/j.json" "$dir" <<'PY' || fail "--json output"
import json, sys
j = json.load(open(sys.argv[1]))
assert j["target"] == "android", j
paths = [f["path"] for f in j["files"]]
assert paths == [sys.argv[2] + "/j.sswan", sys.argv[2] + "/j-android.txt",
                 sys.argv[2] + "/j-ca.crt"], paths
PY

# Unknown user: exit 3, nothing written.
out="$("${P[@]}" profile mallory --for ios --out "$dir/mallory.mobileconfig" 2>&1)"; rc=$?
[ "$rc" = 3 ] || fail "unknown user exits $rc, want 3"
grep -q 'no user "mallory"' <<<"$out" || fail "unknown user message: $out"
[ ! -e "$dir/mallory.mobileconfig" ] || fail "a profile was written for an unknown user"

# Nothing Apple can use: exit 1, the message names the client and what it supports.
out="$("$postern" -c "$dir/no-apple.toml" profile alice --for ios 2>&1)"; rc=$?
[ "$rc" = 1 ] || fail "no suitable proposal exits $rc, want 1"
grep -q 'Apple (iOS/macOS) supports' <<<"$out" || fail "no suitable proposal message: $out"
"$postern" -c "$dir/no-apple.toml" profile alice --for strongswan >/dev/null \
    || fail "strongswan takes any proposal"

python3 "$src/tests/tools/check-profiles.py" --ca "$pki/root-ca.pem" \
    --identity vpn.postern.test --address vpn.postern.test --user alice \
    --ios "$dir/alice.mobileconfig" --macos "$dir/alice-mac.mobileconfig" \
    --windows "$dir/alice.ps1" --sswan "$dir/alice.sswan" --android-txt "$dir/alice-android.txt" \
    --strongswan "$dir/alice.conf" || fail "check-profiles.py"

if [ "$fails" -ne 0 ]; then echo "$fails failure(s)"; exit 1; fi
echo "PASS"
