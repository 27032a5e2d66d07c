#!/usr/bin/env bash
# expect-exit.sh RC REGEX CMD...: runs CMD, passes when it exits with RC and its combined
# output matches the extended regex REGEX. Prints the output either way.
rc_want="$1"; regex="$2"; shift 2
out="$("$@" 2>&1)"; rc=$?
printf '%s\n' "$out"
if [ "$rc" -ne "$rc_want" ]; then echo "FAIL: exit $rc, expected $rc_want"; exit 1; fi
if ! grep -Eq -- "$regex" <<<"$out"; then echo "FAIL: output does not match /$regex/"; exit 1; fi
echo "PASS"
