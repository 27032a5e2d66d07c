#!/usr/bin/env bash
# posternd-smoke.sh POSTERND IKE_CLIENT: starts posternd on the wildcard addresses 0.0.0.0 and
# :: (random high ports, no root needed; the replies must then leave from the address each
# request came to, via IP_PKTINFO/IPV6_PKTINFO) with a PSK connection whose secret is in a file
# next to the config (a relative psk_file). ike_client connects over IPv4 (and IPv6 when the
# host has ::1), checks the IKE SA, CHILD_SA and virtual IP; the last client sends SIGTERM and
# posternd must delete its SAs and exit 0 within a second.
set -u
posternd="$1"; client="$2"
dir="$(mktemp -d)"; pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$dir"' EXIT
source "$(dirname "$0")/posternd-lib.sh"
echo "smoke-test-pre-shared-key-0123456789" > "$dir/psk.txt"

write_config() {
    cat > "$dir/postern.toml" <<TOML
[server]
listen = [$listen]
port = $port
natt_port = $natt
control_socket = "$dir/control.sock"
log_level = "info"
[log]
ike = "debug"
[pools.clients]
ipv4 = "10.99.0.0/24"
ipv6 = "fd00:99::/112"
dns = ["10.99.0.1"]
[[connections]]
name = "smoke"
local_id = "vpn.postern.test"
local_auth = "psk"
remote_auth = "psk"
psk_file = "psk.txt"
pools = ["clients"]
TOML
}

listen='"0.0.0.0", "::"'; have_v6=1
if ! grep -q "^00000000000000000000000000000001 " /proc/net/if_inet6 2>/dev/null; then
    listen='"0.0.0.0"'; have_v6=0
fi
posternd_start_free "$posternd" "$dir/postern.toml" "$dir/posternd.log" write_config \
    || { cat "$dir/posternd.log"; echo "FAIL: posternd did not start"; exit 1; }

last=127.0.0.1
if [ $have_v6 -eq 1 ]; then
    # An IPv4 client on the NAT-T port (non-ESP marker) that stays until posternd deletes its
    # SA at shutdown, then IPv6 on the IKE port.
    "$client" --server 127.0.0.1 --port "$natt" --natt 1 --psk-file "$dir/psk.txt" \
        --timeout-ms 5000 --local-id bob@postern.test --wait-delete 1 > "$dir/client4.out" &
    c4=$!
    for _ in $(seq 50); do grep -q ESTABLISHED "$dir/client4.out" && break; sleep 0.1; done
    last=::1
fi
"$client" --server $last --port "$port" --psk-file "$dir/psk.txt" --term-pid "$pid" \
    --timeout-ms 5000
crc=$?
# posternd must be gone within a second of the SIGTERM (the client waited for its Delete).
for _ in $(seq 10); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$pid" 2>/dev/null; then
    kill -9 "$pid"; cat "$dir/posternd.log"; echo "FAIL: posternd still running 1 s after SIGTERM"
    exit 1
fi
wait "$pid"; prc=$?
cat "$dir/posternd.log"
[ $crc -eq 0 ] || { echo "FAIL: ike_client exited $crc"; exit 1; }
if [ $have_v6 -eq 1 ]; then
    wait "$c4"; c4rc=$?; cat "$dir/client4.out"
    [ $c4rc -eq 0 ] || { echo "FAIL: the IPv4 client exited $c4rc"; exit 1; }
fi
[ $prc -eq 0 ] || { echo "FAIL: posternd exited $prc"; exit 1; }
for want in "IKE SA .*established" "install inbound ESP SA" "remove inbound ESP SA" \
            "posternd stopped"; do
    grep -Eq "$want" "$dir/posternd.log" || { echo "FAIL: log lacks /$want/"; exit 1; }
done
echo PASS
