# shellcheck shell=bash
# posternd-lib.sh - sourced by the tests/tools scripts that run posternd on loopback without
# root (random high ports).

# posternd_start_free POSTERND CONFIG LOG WRITER
#   Up to three random high port pairs: sets `port` (and `natt` = port + 1), calls WRITER to
#   write CONFIG for them, starts POSTERND --config CONFIG with its stderr appended to LOG, and
#   waits up to 5 s for its "serving" line. A port another process holds means another pair.
#   Sets `pid`; returns 1 when posternd did not start (LOG says why).
posternd_start_free() {
    local posternd=$1 config=$2 log=$3 writer=$4 before
    touch "$log"
    for _ in 1 2 3; do
        port=$((20000 + RANDOM % 40000)); natt=$((port + 1))
        "$writer"
        before=$(wc -l <"$log")
        "$posternd" --config "$config" 2>>"$log" &
        pid=$!
        for _ in $(seq 50); do
            tail -n +"$((before + 1))" "$log" | grep -q "serving" && return 0
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; pid=
        tail -n +"$((before + 1))" "$log" | grep -q "Address already in use" || return 1
    done
    return 1
}
