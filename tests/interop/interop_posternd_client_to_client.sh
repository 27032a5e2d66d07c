#!/usr/bin/env bash
# interop_posternd_client_to_client.sh MODE POSTERND - two strongSwan road warriors behind one
# posternd try to reach each other's virtual IPs. MODE: isolated (client_to_client = false, the
# default) | open (client_to_client = true).
#
#   netns b: charon "b" (192.0.2.2 on veth0), id b.postern.test, vips 0.0.0.0
#   netns c: charon "c" (192.0.3.2 on veth0, a's veth1 is 192.0.3.1), id c.postern.test
#   netns a: posternd, responder, PSK, pool 10.99.0.0/24, local_ts 10.99.0.0/24 (so each
#            client routes the whole pool, the other client included, into its tunnel)
#
# Asserted:
#   - both clients ESTABLISHED with distinct virtual IPs from the pool, CHILD_SA INSTALLED
#   - both reach the gateway's own address in the pool (10.99.0.254) in either mode
#   - isolated: b -> c's virtual IP gets no reply, and posternd counted the echo requests as
#     selector_mismatch drops (decrypted, then refused: the inner destination is a client);
#     open: b -> c and c -> b are answered and no selector_mismatch was counted
#   - posternd stops cleanly on SIGTERM
set -euo pipefail
MODE=${1:-}
[ $# -gt 0 ] && shift
case $MODE in
    isolated) C2C=false ;;
    open) C2C=true ;;
    *) echo "usage: $0 isolated|open POSTERND" >&2; exit 1 ;;
esac
source "$(dirname "$0")/lib.sh"
PI_NAME=$PI_NAME-$MODE
pi_init "$@"
pi_need_posternd
pi_setup_pair

NS_C=pi-$PI_ID-c
IP_C=192.0.3.2
IP_A2=192.0.3.1
GW=10.99.0.254
pi_ns_add "$NS_C"
ip link add veth1 netns "$NS_A" type veth peer name veth0 netns "$NS_C"
ip -n "$NS_A" addr add "$IP_A2/24" dev veth1
ip -n "$NS_C" addr add "$IP_C/24" dev veth0
ip -n "$NS_A" link set veth1 up
ip -n "$NS_C" link set veth0 up

posternd_conf "$WORK/postern.toml" 'dataplane = "userspace"'
cat >>"$WORK/postern.toml" <<EOF
[pools.clients]
ipv4 = "10.99.0.0/24"
EOF
posternd_psk_conn "$WORK/postern.toml" rw vpn.postern.test '*.postern.test' '"aes256gcm16"' \
    "pools = [\"clients\"]
local_ts = [\"10.99.0.0/24\"]
client_to_client = $C2C"
posternd_start "$NS_A" "$WORK/postern.toml"
wait_for 5 "postern0 in $NS_A" ip -n "$NS_A" link show postern0

# b: the shared road-warrior block; c: the same from its own address and identity.
charon_start b "$NS_B"
charon_rw_conf b aes256gcm16 0.0.0.0 10.99.0.0/24
charon_start c "$NS_C"
sed -e "s/local_addrs = $IP_B/local_addrs = $IP_C/" -e "s/remote_addrs = $IP_A/remote_addrs = $IP_A2/" \
    -e "s/b\.postern\.test/c.postern.test/g" \
    "$WORK/b/swanctl/swanctl.conf" >"$WORK/c/swanctl/swanctl.conf"
for n in b c; do
    charon_load "$n"
    charon_initiate "$n" net
    sa_snapshot "$n"
    expect_sa "$n" 'state' ESTABLISHED
    expect_sa "$n" 'child-sas\.[^.]+\.state' INSTALLED
    expect_sa_match "$n" 'local-vips' '10\.99\.0\.[0-9]+'
done
sa_snapshot b
VIP_B=$(sa_get b 'local-vips')
sa_snapshot c
VIP_C=$(sa_get c 'local-vips')
[ "$VIP_B" != "$VIP_C" ] || fail "both clients got $VIP_B"
pi_log "b has $VIP_B, c has $VIP_C"

# The gateway's own pool address stays reachable either way.
pi_ping "$NS_B" "$VIP_B" "$GW"
pi_ping "$NS_C" "$VIP_C" "$GW"

if [ "$MODE" = open ]; then
    pi_ping "$NS_B" "$VIP_B" "$VIP_C"
    pi_ping "$NS_C" "$VIP_C" "$VIP_B"
else
    if ip netns exec "$NS_B" ping -n -c 3 -i 0.2 -W 1 -I "$VIP_B" "$VIP_C" >"$WORK/ping-isolated.log" 2>&1; then
        fail "b reached c's virtual IP $VIP_C although client_to_client = false"
    fi
    pi_log "ok: b -> $VIP_C unanswered (isolated)"
fi

posternd_stop
posternd_counters
mismatch=$(posternd_drop_count selector_mismatch)
if [ "$MODE" = open ]; then
    [ "$mismatch" = 0 ] || fail "posternd dropped $mismatch packets as selector_mismatch with client_to_client = true"
    pass "client_to_client = true: two clients ping each other through posternd"
else
    [ "$mismatch" -ge 3 ] || fail "posternd counted $mismatch selector_mismatch drops, expected >= 3 (the isolated echo requests)"
    pass "client_to_client = false: the other client is unreachable ($mismatch packets dropped as selector_mismatch), the gateway is reachable"
fi
