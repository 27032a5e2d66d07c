#!/usr/bin/env bash
# cli-users.sh POSTERN: the real `postern` binary as an administrator's script uses it: exit
# codes from main() (CLI11 errors are 2), a password from a pipe, a generated password when
# stdin is not a terminal, --json before or after the subcommand, `postern init` then
# `check-config` on what it wrote. Runs in a temporary folder; needs no root and no daemon.
set -u
postern="$1"
tmp="$(mktemp -d /tmp/postern-cli-XXXXXX)"
trap 'rm -rf "$tmp"' EXIT
db=(--db "$tmp/p.db" --socket "$tmp/none.sock")
fails=0
check() {  # check DESCRIPTION WANT_RC GOT_RC [OUTPUT REGEX]
  if [ "$2" -ne "$3" ]; then echo "FAIL: $1: exit $3, expected $2"; fails=$((fails + 1)); return; fi
  if [ $# -ge 5 ] && ! grep -Eq -- "$5" <<<"$4"; then
    echo "FAIL: $1: output does not match /$5/:"; printf '%s\n' "$4"; fails=$((fails + 1)); return
  fi
  echo "ok: $1"
}

out="$(printf 'clientPass\n' | "$postern" "${db[@]}" user add alice --password-stdin 2>&1)"
check "add from a pipe" 0 $? "$out" "^Added user alice$"
grep -q clientPass <<<"$out" && { echo "FAIL: password echoed"; fails=$((fails + 1)); }

# On a terminal: asked twice without echo; two different answers are refused.
if command -v python3 >/dev/null; then
  prompt() {  # prompt NAME ANSWER1 ANSWER2: runs user add NAME on a pty, prints what it showed
    python3 - "$postern" "$tmp/p.db" "$1" "$2" "$3" <<'PY'
import os, pty, sys, time
postern, db, name, a1, a2 = sys.argv[1:]
pid, fd = pty.fork()
if pid == 0:
    os.execv(postern, [postern, "--db", db, "user", "add", name])
shown = b""
def read():
    global shown
    time.sleep(0.3)
    try:
        shown += os.read(fd, 4096)
    except OSError:
        pass
read(); os.write(fd, a1.encode() + b"\n"); read(); os.write(fd, a2.encode() + b"\n"); read()
_, st = os.waitpid(pid, 0)
sys.stdout.write(shown.decode(errors="replace"))
sys.exit(os.WEXITSTATUS(st))
PY
  }
  out="$(prompt carol s3cret-Pass s3cret-Pass)"
  rc=$?
  check "prompt on a terminal" 0 $rc "$(tr '\r\n' '  ' <<<"$out")" \
    "Password for carol: +Again: +Added user carol"
  grep -q s3cret <<<"$out" && { echo "FAIL: prompt echoed the password"; fails=$((fails + 1)); }
  out="$(prompt dave one two)"
  check "prompt: answers differ" 2 $? "$out" "the passwords differ"
fi

out="$("$postern" "${db[@]}" user add bob </dev/null 2>&1)"
check "stdin not a terminal: generated" 0 $? "$out" "not stored\): [a-zA-Z2-9]{5}-"

out="$("$postern" "${db[@]}" user list --json 2>&1)"
check "--json after the subcommand" 0 $? "$out" '"name": "alice"'

out="$("$postern" "${db[@]}" --json user show alice 2>&1)"
check "--json before the subcommand" 0 $? "$out" '"has_password": true'

out="$("$postern" "${db[@]}" user add alice --generate 2>&1)"
check "duplicate" 4 $? "$out" '^postern: user "alice" already exists$'

out="$("$postern" "${db[@]}" user del nobody 2>&1)"
check "unknown user" 3 $? "$out" '^postern: no user "nobody"$'

out="$("$postern" "${db[@]}" user set alice --ipv4 999.1.1.1 2>&1)"
check "bad address" 2 $? "$out" 'is not an IP address'

out="$("$postern" "${db[@]}" user add 2>&1)"
check "CLI11: missing argument" 2 $? "$out" 'name is required'

out="$("$postern" --no-such-flag 2>&1)"
check "CLI11: unknown flag" 2 $? "$out"

out="$("$postern" --version 2>&1)"
check "--version" 0 $? "$out" '^postern [0-9]'

out="$("$postern" "${db[@]}" init --etc "$tmp/etc" --name vpn.test.example --address 192.0.2.7 2>&1)"
check "init" 0 $? "$out" "Get a client profile: postern profile vpnuser --for"
out="$("$postern" check-config -c "$tmp/etc/postern.toml" 2>&1)"
rc=$?
# posternd refuses eap-mschapv2 until the EAP server lands (issue 5); the file itself must parse.
if grep -q "eap-mschapv2 is not supported yet" <<<"$out"; then
  echo "ok: init's postern.toml parses (EAP not supported by this build yet)"
else
  check "check-config on init's postern.toml" 0 $rc "$out" "OK \(1 connection, 1 pool\)"
fi
out="$("$postern" "${db[@]}" init --etc "$tmp/etc" --name vpn.test.example 2>&1)"
check "init again" 0 $? "$out" "^Nothing to do"

[ "$fails" -eq 0 ] && echo PASS || { echo "FAILED: $fails"; exit 1; }
