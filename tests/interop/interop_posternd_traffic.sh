#!/usr/bin/env bash
# interop_posternd_traffic.sh CIPHER POSTERND - the traffic matrix: a strongSwan road warrior
# reaches a LAN behind posternd, IPv4 and IPv6 inside the tunnel, with one ESP cipher.
# CIPHER: aes256gcm | aes128gcm | chacha20poly1305 | aes256cbc-sha256 (ctest registers one test
# per cipher: interop_posternd_traffic_<cipher>).
#
#   netns b: charon "b" (kernel-libipsec: ESP in userspace, always UDP-encapsulated),
#            initiator, PSK, vips = 0.0.0.0,::, remote_ts 10.97.0.0/24,fd00:97::/64, ESP CIPHER only
#   netns a: posternd, responder, server.dataplane = "userspace" (TUN postern0), pool
#            10.99.0.0/24 + fd00:99::/112, local_ts 10.97.0.0/24 + fd00:97::/64, ESP CIPHER only
#   netns l: the LAN behind a (10.97.0.2, fd00:97::2; default routes via a's lan0)
#
# Asserted:
#   - strongSwan: IKE SA ESTABLISHED, a virtual IPv4 from 10.99.0.0/24 and IPv6 from
#     fd00:99::/112, CHILD_SA INSTALLED, UDP-encapsulated, with CIPHER's algorithm, key size
#     and integrity algorithm as strongSwan names them, remote-ts both LAN subnets; posternd
#     logged both ESP SAs installed in its userspace data plane with the same algorithms
#   - posternd turned IPv4 and IPv6 forwarding on in a (local_ts has both families)
#   - ping client -> LAN host and LAN host -> client, IPv4 and IPv6: every echo answered
#   - iperf3 TCP and UDP (2 s each) client -> LAN host, IPv4 and IPv6: the receiver got bytes;
#     UDP loss under 10 %
#   - strongSwan's CHILD_SA counted packets both ways; posternd's exit counters: ESP packets out
#     and in, none dropped as bad_icv / bad_padding / bad_next_header / selector_mismatch /
#     replay (a cipher or sequence disagreement between the two ESP implementations)
#   - posternd stops cleanly on SIGTERM (status 0, no sanitizer report in its log)
set -euo pipefail
CIPHER=${1:-}
[ $# -gt 0 ] && shift
case $CIPHER in
    aes256gcm) P_ESP=aes256gcm16 S_ESP=aes256gcm16 ALG=AES_GCM_16 KEYSIZE=256 INTEG= P_DESC="ENCR_AES_GCM_16/256" ;;
    aes128gcm) P_ESP=aes128gcm16 S_ESP=aes128gcm16 ALG=AES_GCM_16 KEYSIZE=128 INTEG= P_DESC="ENCR_AES_GCM_16/128" ;;
    chacha20poly1305) P_ESP=chacha20poly1305 S_ESP=chacha20poly1305 ALG=CHACHA20_POLY1305 KEYSIZE= INTEG= P_DESC="ENCR_CHACHA20_POLY1305" ;;
    aes256cbc-sha256) P_ESP=aes256-sha256 S_ESP=aes256-sha256 ALG=AES_CBC KEYSIZE=256 INTEG=HMAC_SHA2_256_128 P_DESC="ENCR_AES_CBC/256 AUTH_HMAC_SHA2_256_128" ;;
    *) echo "usage: $0 aes256gcm|aes128gcm|chacha20poly1305|aes256cbc-sha256 POSTERND" >&2; exit 1 ;;
esac
source "$(dirname "$0")/lib.sh"
PI_NAME=$PI_NAME-$CIPHER
pi_init "$@"
pi_need_posternd
pi_setup_pair
pi_add_lan a

posternd_conf "$WORK/postern.toml" 'dataplane = "userspace"'
cat >>"$WORK/postern.toml" <<EOF
[pools.clients]
ipv4 = "10.99.0.0/24"
ipv6 = "fd00:99::/112"
EOF
posternd_psk_conn "$WORK/postern.toml" traffic vpn.postern.test b.postern.test "\"$P_ESP\"" \
    "pools = [\"clients\"]
local_ts = [\"$LAN_A4\", \"$LAN_A6\"]"
posternd_start "$NS_A" "$WORK/postern.toml"
wait_for 5 "postern0 in $NS_A" ip -n "$NS_A" link show postern0

pi_need_forwarding "$NS_A" 4
pi_need_forwarding "$NS_A" 6

charon_start b "$NS_B"
charon_rw_conf b "$S_ESP" "0.0.0.0,::" "$LAN_A4,$LAN_A6"
charon_load b
charon_initiate b net
show_sas b
sa_snapshot b
expect_sa b 'state' ESTABLISHED
expect_sa_match b 'local-vips' '10\.99\.0\.[0-9]+ fd00:99::[0-9a-f]+'
VIPS=$(sa_get b 'local-vips')
VIP4=${VIPS% *} VIP6=${VIPS#* }
expect_sa b 'child-sas\.[^.]+\.state' INSTALLED
expect_sa b 'child-sas\.[^.]+\.protocol' ESP
expect_sa b 'child-sas\.[^.]+\.encap' yes
expect_sa b 'child-sas\.[^.]+\.encr-alg' "$ALG"
expect_sa b 'child-sas\.[^.]+\.encr-keysize' "$KEYSIZE"
expect_sa b 'child-sas\.[^.]+\.integ-alg' "$INTEG"
expect_sa b 'child-sas\.[^.]+\.local-ts' "$VIP4/32 $VIP6/128"
expect_sa b 'child-sas\.[^.]+\.remote-ts' "$LAN_A4 $LAN_A6"
# posternd's view of the same SAs (the dp log of each install)
for dir in inbound outbound; do
    grep -Eq "install $dir ESP SA [0-9a-f]{8} .*\(UDP [0-9]+ -> [0-9]+\), $P_DESC, .*\(userspace\)" "$WORK/posternd.log" \
        || fail "posternd did not log its $dir ESP SA with $P_DESC, UDP-encapsulated, in the userspace data plane"
    pi_log "ok: posternd installed its $dir ESP SA: $P_DESC, in UDP, userspace"
done

# --- traffic: client <-> LAN host, both families ---
pi_ping "$NS_B" "$VIP4" "$LAN_A_HOST4"
pi_ping "$NS_B" "$VIP6" "$LAN_A_HOST6"
pi_ping "$NS_L" "$LAN_A_HOST4" "$VIP4"
pi_ping "$NS_L" "$LAN_A_HOST6" "$VIP6"
expect_iperf3 "$NS_B" "$VIP4" "$NS_L" "$LAN_A_HOST4" tcp
expect_iperf3 "$NS_B" "$VIP4" "$NS_L" "$LAN_A_HOST4" udp
expect_iperf3 "$NS_B" "$VIP6" "$NS_L" "$LAN_A_HOST6" tcp
expect_iperf3 "$NS_B" "$VIP6" "$NS_L" "$LAN_A_HOST6" udp

show_sas b
sa_snapshot b
for dir in in out; do
    p=$(sa_get b "child-sas\.[^.]+\.packets-$dir")
    [ -n "$p" ] && [ "$p" -ge 12 ] || fail "charon b: CHILD_SA packets-$dir is '$p', expected >= 12"
    pi_log "ok: charon b reports CHILD_SA packets-$dir = $p"
done

posternd_stop
posternd_counters
[ "$DP_OUT" -ge 12 ] || fail "posternd sent $DP_OUT ESP packets, expected >= 12"
[ "$DP_IN" -ge 12 ] || fail "posternd decrypted $DP_IN ESP packets, expected >= 12"
for r in bad_icv bad_padding bad_next_header selector_mismatch replay; do
    n=$(posternd_drop_count "$r")
    [ "$n" = 0 ] || fail "posternd dropped $n packets as $r (drops:$DP_DROPS)"
done
pi_log "ok: posternd counted $DP_OUT ESP packets out, $DP_IN in, drops:$DP_DROPS"
pass "strongSwan -> posternd -> LAN, $CIPHER: ping and iperf3 TCP/UDP over IPv4 and IPv6"
