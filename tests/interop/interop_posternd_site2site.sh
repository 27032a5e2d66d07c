#!/usr/bin/env bash
# interop_posternd_site2site.sh MODE POSTERND - posternd to posternd, site to site: two gateways
# with a LAN behind each, traffic both ways between the LANs, IPv4 and IPv6.
# MODE picks how ESP travels between the gateways (ctest: interop_posternd_site2site_<mode>):
#   nat    gateway b sits behind lib.sh's masquerading router r: NAT detected, ESP in UDP 4500
#   encap  no NAT, b's connection has `encap = true`: ESP in UDP 4500 forced (RFC 7296 §2.23)
#   esp    no NAT, plain ESP (IP protocol 50)
#
#   netns l (LAN a)            netns a (gateway)                  netns b (gateway)          netns m (LAN b)
#   10.97.0.2, fd00:97::2  <-> posternd "gw-a", responder   <-> posternd "gw-b", initiator <-> 10.96.0.2, fd00:96::2
#                              local_ts LAN a, remote_ts LAN b    start = true, remote_addrs
#                                                                 [192.0.2.1], the reverse TS
#
# Asserted:
#   - both posternds logged the IKE SA established with the other's identity and the CHILD_SA
#     with both LANs' selectors, and installed both ESP SAs in the userspace data plane, with
#     UDP ports for nat/encap and without for esp
#   - both posternds turned IPv4 and IPv6 forwarding on (local_ts of both families)
#   - ping LAN a -> LAN b and LAN b -> LAN a, IPv4 and IPv6: every echo answered
#   - iperf3 TCP (2 s) LAN a -> LAN b and LAN b -> LAN a over IPv4, and LAN a -> LAN b over IPv6:
#     the receiver got bytes
#   - which encapsulation carried it: tcpdump on a's uplink (veth0) during the pings counts ESP
#     packets in UDP 4500 (SPI non-zero) and IP protocol 50; nat/encap: >= 12 in UDP and none of
#     protocol 50; esp: >= 12 of protocol 50 and no ESP in UDP
#   - both posternds' exit counters: ESP packets out and in, no bad_icv / replay /
#     selector_mismatch drops; both stop cleanly on SIGTERM (status 0, no sanitizer report)
set -euo pipefail
MODE=${1:-}
[ $# -gt 0 ] && shift
case $MODE in
    nat | encap | esp) ;;
    *) echo "usage: $0 nat|encap|esp POSTERND" >&2; exit 1 ;;
esac
source "$(dirname "$0")/lib.sh"
PI_NAME=$PI_NAME-$MODE
pi_init "$@"
pi_need_posternd
command -v tcpdump >/dev/null || skip "missing tcpdump"
if [ "$MODE" = nat ]; then
    pi_setup_site2site nat
    B_ADDR=$IP_R_OUT   # b as a sees it
    B_OWN=$IP_B_NAT    # b's own address
else
    pi_setup_site2site
    B_ADDR=$IP_B B_OWN=$IP_B
fi

extra=
[ "$MODE" = encap ] && extra='encap = true'
posternd_site2site_conf "$extra"
posternd_start "$NS_A" "$WORK/gw-a.toml" gw-a
# the uplink capture runs from before the first IKE message to after the pings
CAP_FILTER="udp port 4500 or ip proto 50"
tcpdump_start uplink "$NS_A" veth0 "$CAP_FILTER"
posternd_start "$NS_B" "$WORK/gw-b.toml" gw-b

for gw in a b; do
    wait_for 30 "posternd gw-$gw to install its inbound ESP SA" \
        grep -q 'install inbound ESP SA .*(userspace)' "$WORK/gw-$gw.log"
    wait_for 10 "posternd gw-$gw to install its outbound ESP SA" \
        grep -q 'install outbound ESP SA .*(userspace)' "$WORK/gw-$gw.log"
done
# what each gateway logged: IKE SA, CHILD_SA selectors, ESP SAs and their encapsulation
expect_posternd_log() {
    grep -Eq -- "$2" "$WORK/gw-$1.log" || fail "posternd gw-$1 never logged /$2/"
    pi_log "ok: posternd gw-$1 logged /$2/"
}
expect_posternd_log a 'IKE SA established with gw-b\.postern\.test '
expect_posternd_log b 'IKE SA established with gw-a\.postern\.test '
expect_posternd_log a "CHILD_SA 1 SPIs in [0-9a-f]{8} out [0-9a-f]{8}, 10\.97\.0\.0/24, fd00:97::/64 === 10\.96\.0\.0/24, fd00:96::/64"
expect_posternd_log b "CHILD_SA 1 SPIs in [0-9a-f]{8} out [0-9a-f]{8}, 10\.96\.0\.0/24, fd00:96::/64 === 10\.97\.0\.0/24, fd00:97::/64"
if [ "$MODE" = esp ]; then
    expect_posternd_log a "install inbound ESP SA [0-9a-f]{8} ${B_ADDR//./\\.} -> 192\.0\.2\.1, ENCR_AES_GCM_16/256"
    expect_posternd_log b "install inbound ESP SA [0-9a-f]{8} 192\.0\.2\.1 -> ${B_OWN//./\\.}, ENCR_AES_GCM_16/256"
else
    expect_posternd_log a "install inbound ESP SA [0-9a-f]{8} ${B_ADDR//./\\.} -> 192\.0\.2\.1 \(UDP [0-9]+ -> 4500\)"
    expect_posternd_log b "install inbound ESP SA [0-9a-f]{8} 192\.0\.2\.1 -> ${B_OWN//./\\.} \(UDP 4500 -> 4500\)"
fi
[ "$MODE" = nat ] && expect_posternd_log a 'NAT detected: the peer is behind one'
pi_need_forwarding "$NS_A" 4
pi_need_forwarding "$NS_B" 4
pi_need_forwarding "$NS_A" 6
pi_need_forwarding "$NS_B" 6

# --- traffic both ways ---
pi_ping "$NS_L" "$LAN_A_HOST4" "$LAN_B_HOST4"
pi_ping "$NS_M" "$LAN_B_HOST4" "$LAN_A_HOST4"
pi_ping "$NS_L" "$LAN_A_HOST6" "$LAN_B_HOST6"
pi_ping "$NS_M" "$LAN_B_HOST6" "$LAN_A_HOST6"
# every request and reply crossed a's uplink once: 4 pings x 3 x 2 = 24 ESP packets
ESP_UDP="udp port 4500 and udp[8:4] != 0"
ESP_RAW="ip proto 50"
wait_for 10 "the pings' 24 ESP packets in the capture on $NS_A's uplink" \
    test "$(( $(pcap_count uplink "$ESP_UDP") + $(pcap_count uplink "$ESP_RAW") ))" -ge 24
tcpdump_stop uplink
n_udp=$(pcap_count uplink "$ESP_UDP")
n_raw=$(pcap_count uplink "$ESP_RAW")
pi_log "a's uplink during the pings: $n_udp ESP-in-UDP packets, $n_raw plain ESP (protocol 50)"
if [ "$MODE" = esp ]; then
    [ "$n_raw" -ge 24 ] || fail "only $n_raw plain ESP packets on a's uplink, expected >= 24"
    [ "$n_udp" = 0 ] || fail "$n_udp ESP-in-UDP packets on a's uplink, expected none (plain ESP)"
    pi_log "ok: the traffic crossed as plain ESP (IP protocol 50), none in UDP"
else
    [ "$n_udp" -ge 24 ] || fail "only $n_udp ESP-in-UDP packets on a's uplink, expected >= 24"
    [ "$n_raw" = 0 ] || fail "$n_raw plain ESP packets on a's uplink, expected none (UDP encapsulation)"
    pi_log "ok: the traffic crossed as ESP in UDP 4500, no plain ESP"
fi

expect_iperf3 "$NS_L" "$LAN_A_HOST4" "$NS_M" "$LAN_B_HOST4" tcp
expect_iperf3 "$NS_M" "$LAN_B_HOST4" "$NS_L" "$LAN_A_HOST4" tcp
expect_iperf3 "$NS_L" "$LAN_A_HOST6" "$NS_M" "$LAN_B_HOST6" tcp

for gw in a b; do
    posternd_stop "gw-$gw"
    posternd_counters "gw-$gw"
    [ "$DP_OUT" -ge 12 ] || fail "posternd gw-$gw sent $DP_OUT ESP packets, expected >= 12"
    [ "$DP_IN" -ge 12 ] || fail "posternd gw-$gw decrypted $DP_IN ESP packets, expected >= 12"
    for r in bad_icv bad_padding bad_next_header selector_mismatch replay; do
        n=$(posternd_drop_count "$r")
        [ "$n" = 0 ] || fail "posternd gw-$gw dropped $n packets as $r (drops:$DP_DROPS)"
    done
    pi_log "ok: posternd gw-$gw counted $DP_OUT ESP packets out, $DP_IN in"
done
pass "posternd <-> posternd site to site ($MODE): ping both ways (IPv4, IPv6), iperf3 TCP both ways"
