#!/usr/bin/env bash
# interop_readme_example.sh - what a newcomer does: posternd runs the shipped example
# configuration (conf/postern.toml, unchanged), and strongSwan connects with the client
# configuration the README shows.
#
#   netns a: posternd --config conf/postern.toml (PSK, pool 10.99.0.0/24 + fd00:99::/112)
#   netns b: charon "b" with the README's swanctl.conf (remote_addrs = a's address)
#
# Asserted, from what strongSwan reports: the IKE SA is ESTABLISHED with vpn.example.com, charon
# got a virtual IP from 10.99.0.0/24 and the CHILD_SA "net" is INSTALLED with remote_ts 0.0.0.0/0
# narrowed by posternd to what the example exports (0.0.0.0/0); posternd stops cleanly.
# The README's snippet is read from README.md itself, so the two cannot drift apart.
# Not asserted here: packets through the tunnel (interop_posternd_ping checks those).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
pi_init "$@"
pi_need_posternd
pi_setup_pair

root=$(cd "$(dirname "$0")/../.." && pwd)
posternd_start "$NS_A" "$root/conf/postern.toml"

charon_start b "$NS_B"
# The swanctl.conf block of README.md ("Connecting a strongSwan client"), with the server
# address filled in.
awk '/^### Connecting a strongSwan client/{f=1} f&&/^```$/{if(inside){exit}else{inside=1;next}} inside{print}' \
    "$root/README.md" | sed "s/<server address>/$IP_A/" >"$WORK/b/swanctl/swanctl.conf"
grep -q "remote_addrs = $IP_A" "$WORK/b/swanctl/swanctl.conf" \
    || fail "could not extract the client configuration from README.md"
charon_load b
charon_initiate b net
show_sas b
sa_snapshot b

expect_sa b 'state' ESTABLISHED
expect_sa b 'remote-id' vpn.example.com
expect_sa b 'child-sas\.[^.]+\.state' INSTALLED
expect_sa b 'child-sas\.[^.]+\.remote-ts' '0.0.0.0/0'
expect_sa_match b 'local-vips' '10\.99\.0\.[0-9]+'
expect_log b "authentication of 'vpn.example.com' with pre-shared key successful"
posternd_stop
pass "README example: strongSwan connects to posternd's shipped configuration"
