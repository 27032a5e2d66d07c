#!/usr/bin/env bash
# interop_posternd_vip_dns.sh - strongSwan initiator asks posternd for virtual IPs and DNS.
#
#   netns a: posternd, responder, PSK, pool "clients": 10.99.0.0/24 and fd00:99::/112 with DNS
#            servers 10.99.0.53 and fd00:99::53; local_ts 10.0.1.0/24 and fd00:1::/64
#   netns b: charon "b", initiator, PSK, vips = 0.0.0.0, :: (one IPv4 and one IPv6 address),
#            remote_ts 10.0.1.0/24, fd00:1::/64, an updown script recording PLUTO_* variables;
#            the updown plugin's DNS handler (no resolve plugin: nothing writes resolv.conf)
#
# Asserted, from what strongSwan reports (swanctl --list-sas, charon's log, updown):
#   - the IKE SA is ESTABLISHED; charon installed an IPv4 virtual IP from 10.99.0.0/24 and an
#     IPv6 one from fd00:99::/112 (local-vips), and logged "installing new virtual IP" for both
#   - the CHILD_SA is INSTALLED with traffic selectors narrowed to the virtual IPs:
#     <vip4>/32 <vip6>/128 === 10.0.1.0/24 fd00:1::/64
#   - charon received the DNS servers: its updown script saw PLUTO_DNS4_1=10.99.0.53 and
#     PLUTO_DNS6_1=fd00:99::53
#   - after strongSwan deletes the SA and connects again it gets a virtual IP again (the
#     address was released or the same one handed back: both are in the pool)
#   - posternd stops cleanly on SIGTERM (status 0, no sanitizer report in its log)
# Not asserted here: packets through the CHILD_SA (interop_posternd_ping checks those).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
pi_init "$@"
pi_need_posternd
pi_setup_pair

posternd_conf "$WORK/postern.toml"
cat >>"$WORK/postern.toml" <<EOF
[pools.clients]
ipv4 = "10.99.0.0/24"
ipv6 = "fd00:99::/112"
dns = ["10.99.0.53", "fd00:99::53"]

[[connections]]
name = "vip"
local_id = "vpn.postern.test"
remote_id = "b.postern.test"
local_auth = "psk"
remote_auth = "psk"
psk = "$PI_PSK"
ike_proposals = ["aes256gcm16-prfsha256-x25519"]
esp_proposals = ["aes256gcm16"]
pools = ["clients"]
local_ts = ["10.0.1.0/24", "fd00:1::/64"]
EOF
posternd_start "$NS_A" "$WORK/postern.toml"

charon_start b "$NS_B"
cat >"$WORK/b/swanctl/swanctl.conf" <<EOF
connections {
    home {
        version = 2
        local_addrs = $IP_B
        remote_addrs = $IP_A
        proposals = aes256gcm16-prfsha256-x25519
        vips = 0.0.0.0, ::
        local {
            auth = psk
            id = b.postern.test
        }
        remote {
            auth = psk
            id = vpn.postern.test
        }
        children {
            net {
                remote_ts = 10.0.1.0/24, fd00:1::/64
                esp_proposals = aes256gcm16
                updown = $(updown_script b)
            }
        }
    }
}
secrets {
    ike-home {
        id-1 = b.postern.test
        id-2 = vpn.postern.test
        secret = "$PI_PSK"
    }
}
EOF
charon_load b
charon_initiate b net
show_sas b
sa_snapshot b

expect_sa b 'state' ESTABLISHED
expect_sa b 'remote-id' vpn.postern.test
expect_sa_match b 'local-vips' '10\.99\.0\.[0-9]+ fd00:99::[0-9a-f]+'
VIPS=$(sa_get b 'local-vips')
VIP4=${VIPS% *}
VIP6=${VIPS#* }
[ "$VIP4" != 10.99.0.0 ] && [ "$VIP4" != 10.99.0.255 ] || fail "virtual IP $VIP4 is the pool's network or broadcast address"
expect_log b "installing new virtual IP $VIP4"
expect_log b "installing new virtual IP $VIP6"
expect_sa b 'child-sas\.[^.]+\.state' INSTALLED
expect_sa b 'child-sas\.[^.]+\.local-ts' "$VIP4/32 $VIP6/128"
expect_sa b 'child-sas\.[^.]+\.remote-ts' "10.0.1.0/24 fd00:1::/64"

wait_for 5 "b's updown script" test -s "$WORK/b/updown.env"
grep -qx 'PLUTO_DNS4_1=10.99.0.53' "$WORK/b/updown.env" || fail "updown did not get PLUTO_DNS4_1=10.99.0.53"
grep -qx 'PLUTO_DNS6_1=fd00:99::53' "$WORK/b/updown.env" || fail "updown did not get PLUTO_DNS6_1=fd00:99::53"
pi_log "ok: charon b received DNS servers 10.99.0.53 and fd00:99::53 (updown PLUTO_DNS4_1/PLUTO_DNS6_1)"

# delete and reconnect: posternd must hand out an address again
sw b --terminate --ike home --timeout 10 >"$WORK/b/terminate.log" 2>&1 \
    || fail "swanctl --terminate: posternd did not answer the delete"
charon_initiate b net
sa_snapshot b
expect_sa b 'state' ESTABLISHED
expect_sa_match b 'local-vips' '10\.99\.0\.[0-9]+ fd00:99::[0-9a-f]+'
posternd_stop
pass "strongSwan -> posternd: virtual IPv4 and IPv6, DNS servers, narrowed traffic selectors"
