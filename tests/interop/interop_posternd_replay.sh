#!/usr/bin/env bash
# interop_posternd_replay.sh - a captured ESP packet sent again is dropped by posternd's
# anti-replay window and never delivered.
#
#   netns a: posternd, responder, PSK, userspace data plane (postern0), pool 10.99.0.0/24,
#            local_ts 10.97.0.1/32 (on a's lo)
#   netns b: charon "b" (kernel-libipsec, ESP in UDP), vips = 0.0.0.0, remote_ts 10.97.0.1/32
#
# Steps and assertions:
#   1. tcpdump in a captures the ESP-in-UDP packets arriving from b (192.0.2.2:4500 -> :4500,
#      SPI non-zero) on veth0, and the ICMP echo requests posternd writes to postern0
#   2. ping -c 3 from b's virtual IP to 10.97.0.1: 3 replies
#   3. tests/tools/esp_replay.py, run in b, sends the first captured ESP packet again through a
#      raw socket: same addresses, ports, SPI, sequence number and ciphertext
#   4. ping -c 1: its reply proves posternd has read the replayed datagram (same SPI, so the
#      same steered socket and worker, queued before it)
#   5. the capture on veth0 holds 5 ESP packets (4 pings + the replay: it reached a), the one on
#      postern0 exactly 4 echo requests (the replay was not delivered), and strongSwan sent 4
#   6. posternd's exit counters: 1 packet dropped as replay, every ESP datagram received is
#      either decrypted or that drop, 4 decrypted
#   - posternd stops cleanly on SIGTERM (status 0, no sanitizer report in its log)
set -euo pipefail
source "$(dirname "$0")/lib.sh"
pi_init "$@"
pi_need_posternd
pi_setup_pair

BEHIND=10.97.0.1
ip -n "$NS_A" addr add "$BEHIND/32" dev lo

posternd_conf "$WORK/postern.toml" 'dataplane = "userspace"'
cat >>"$WORK/postern.toml" <<EOF
[pools.clients]
ipv4 = "10.99.0.0/24"
EOF
posternd_psk_conn "$WORK/postern.toml" replay vpn.postern.test b.postern.test '"aes256gcm16"' \
    "pools = [\"clients\"]
local_ts = [\"$BEHIND/32\"]"
posternd_start "$NS_A" "$WORK/postern.toml"
wait_for 5 "postern0 in $NS_A" ip -n "$NS_A" link show postern0

charon_start b "$NS_B"
charon_rw_conf b aes256gcm16 0.0.0.0 "$BEHIND/32"
charon_load b
charon_initiate b net
sa_snapshot b
expect_sa b 'state' ESTABLISHED
expect_sa b 'child-sas\.[^.]+\.state' INSTALLED
expect_sa b 'child-sas\.[^.]+\.encap' yes
VIP=$(sa_get b 'local-vips')

ESP_FILTER="src host $IP_B and udp src port 4500 and udp dst port 4500 and udp[8:4] != 0"
tcpdump_start esp "$NS_A" veth0 "$ESP_FILTER"
tcpdump_start tun "$NS_A" postern0 "icmp[icmptype] == icmp-echo"

pi_ping "$NS_B" "$VIP" "$BEHIND" 3
wait_for 10 "3 ESP packets from b in the capture on $NS_A's veth0" \
    test "$(pcap_count esp "$ESP_FILTER")" -ge 3
PI_LOGS+=("$WORK/replay.log")
ip netns exec "$NS_B" python3 "$PI_REPO/tests/tools/esp_replay.py" "$WORK/esp.pcap" 0 \
    >"$WORK/replay.log" 2>&1 || fail "esp_replay.py failed: $(cat "$WORK/replay.log")"
sed "s/^/  [replay] /" "$WORK/replay.log" >&2
grep -Eq '^replayed SPI 0x[0-9a-f]{8} seq 1 ' "$WORK/replay.log" \
    || fail "esp_replay.py did not resend the packet with sequence number 1"
pi_ping "$NS_B" "$VIP" "$BEHIND" 1
tcpdump_stop esp
tcpdump_stop tun

n_esp=$(pcap_count esp "$ESP_FILTER")
n_tun=$(pcap_count tun "icmp[icmptype] == icmp-echo")
[ "$n_esp" = 5 ] || fail "$n_esp ESP packets from b reached a's veth0, expected 5 (4 pings + the replay)"
pi_log "ok: 5 ESP packets from b reached posternd's veth0 (4 pings + the replayed one)"
[ "$n_tun" = 4 ] || fail "posternd wrote $n_tun echo requests to postern0, expected 4 (the replay must not be delivered)"
pi_log "ok: posternd delivered 4 echo requests to postern0, not the replayed one"
sa_snapshot b
expect_sa b 'child-sas\.[^.]+\.packets-out' 4

posternd_stop
posternd_counters
replays=$(posternd_drop_count replay)
[ "$replays" = 1 ] || fail "posternd counted $replays replay drops, expected 1 (drops:$DP_DROPS)"
[ "$DP_IN" = 4 ] || fail "posternd decrypted $DP_IN ESP packets, expected 4"
[ -n "$DP_UDP_RX" ] || fail "posternd's counters do not say how many ESP datagrams it received"
[ "$DP_UDP_RX" = 5 ] || fail "posternd received $DP_UDP_RX ESP datagrams, expected 5"
pi_log "ok: posternd received 5 ESP datagrams, decrypted 4, dropped 1 as replay"
pass "a replayed ESP packet is dropped by posternd's replay window and not delivered"
