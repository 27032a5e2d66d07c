#!/usr/bin/env bash
# capture.sh - record golden IKEv2 exchanges between two strongSwan (charon) instances.
#
# Topology (everything lives in two throw-away network namespaces, nothing touches the host's
# own interfaces):
#
#   netns postern-cap-moon                      netns postern-cap-sun
#   +----------------------------+              +----------------------------+
#   | charon "moon" (initiator)  |              | charon "sun" (responder)   |
#   |  own mount ns, /run=tmpfs  |              |  own mount ns, /run=tmpfs  |
#   |  vici: WORK/S/moon/vici    |              |  vici: WORK/S/sun/vici     |
#   |  lo: 10.97.0.1/32          |   veth pair  |  lo: 10.98.0.1/32          |
#   |  pcm0: 192.0.2.1/24  <-----+--------------+----> pcs0: 192.0.2.2/24    |
#   +----------------------------+              |  tcpdump -i pcs0 udp 500/4500
#                                               +----------------------------+
#
# Both charons use kernel-libipsec (userspace ESP, the host kernel has no ESP) and log key
# material (filelog ike/enc/chd = 4).  swanctl drives them over private vici sockets.
# kernel-libipsec can only do UDP-encapsulated ESP, so the initiator fakes its NAT-D hash
# (sun logs "remote host is behind NAT") and from IKE_AUTH on all IKE traffic uses port 4500
# with the non-ESP marker, in every scenario.
#
# Scenarios (all moon -> sun, the initiator finally runs `swanctl --terminate` so an
# INFORMATIONAL exchange with a Delete payload is captured as well):
#   psk-gcm          PSK, IKE aes256gcm16-prfsha256-x25519, ESP aes256gcm16,
#                    virtual IP for moon from a pool on sun (vips = 0.0.0.0)
#   cert-cbc         RSA certificates (CA + moon + sun, made with `pki`), IKE aes256-sha256-ecp256,
#                    ESP aes128-sha256, IKE fragmentation forced (fragment_size = 576) so
#                    IKE_AUTH travels as SKF (53) fragments
#   modp-invalid-ke  PSK, moon proposes aes128-sha256-ecp256-modp2048 (KE guess ecp256), sun only
#                    accepts aes128-sha256-modp2048 -> INVALID_KE_PAYLOAD round trip, then
#                    IKE_SA_INIT again with a modp2048 KE; ESP aes128-sha256
#
# Produces, per scenario, tests/data/strongswan/<scenario>/:
#   NN-<EXCHANGE>-<req|resp>-<sender>.hex  one file per UDP payload, in capture order; the IKE
#                                          message itself (non-ESP marker of port 4500 stripped)
#   messages.txt   per message: ports, direction, message ID, length, payload chain
#   keys.txt       `name = value` lines: SPIs, nonces, DH secret, SKEYSEED, SK_*, CHILD_SA keys,
#                  negotiated algorithms, credentials used (extracted from charon's debug log)
#   *.pem          certificates and private keys used (test-only!), psk.txt for PSK scenarios
#   charon-excerpt.log  key-derivation and message lines of the initiator's log (trimmed)
#   esp-NN-<sender>.hex  the UDP-encapsulated ESP packets of two pings through the CHILD_SA
#   capture.pcap   the raw capture (small)
# and runs tests/interop/capture/check.py over the result (structural checks; with
# python3-cryptography also SK/SKF + ESP decryption and AUTH verification).
# See tests/data/strongswan/README.md for the file formats and caveats.
#
# Usage (root): tests/interop/capture/capture.sh [scenario ...]     (default: all three)
#   KEEP=1 keeps the work directory (full charon logs) for inspection.
# Idempotent: namespaces and the scenario folders are recreated on every run; certificates and
# keys already present in tests/data/strongswan/cert-cbc/ are reused.

set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../../.." && pwd)
OUT=$REPO/tests/data/strongswan
PY=${PYTHON:-python3}
CHARON=${CHARON:-/usr/lib/ipsec/charon}

NS_MOON=postern-cap-moon
NS_SUN=postern-cap-sun
IF_MOON=pcm0
IF_SUN=pcs0
IP_MOON=192.0.2.1
IP_SUN=192.0.2.2
NET_MOON=10.97.0.1
NET_SUN=10.98.0.1
POOL=10.99.0.0/28
PSK='postern-interop-test-psk-NOT-A-SECRET'
ID_MOON=moon.postern.test
ID_SUN=sun.postern.test

[ "$(id -u)" = 0 ] || { echo "capture.sh: must run as root" >&2; exit 1; }
for t in ip unshare tcpdump swanctl "$CHARON"; do
    command -v "$t" >/dev/null || { echo "capture.sh: missing $t" >&2; exit 1; }
done

WORK=$(mktemp -d /tmp/postern-capture.XXXXXX)
PIDS=()

cleanup() {
    local p ns i
    for p in "${PIDS[@]}"; do
        kill "$p" 2>/dev/null || true
    done
    for p in "${PIDS[@]}"; do
        for i in $(seq 1 30); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$p" 2>/dev/null || true
        wait "$p" 2>/dev/null || true
    done
    for ns in "$NS_MOON" "$NS_SUN"; do
        if ip netns list | grep -qw "$ns"; then
            for p in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$p" 2>/dev/null || true; done
            ip netns del "$ns" 2>/dev/null || true
        fi
    done
    PIDS=()
    if [ -z "${KEEP:-}" ] && [ -n "${WORK:-}" ] && [ "${1:-}" = final ]; then
        rm -rf "$WORK"
    fi
}
trap 'cleanup final' EXIT
trap 'exit 130' INT TERM

log() { echo "[capture] $*" >&2; }

setup_net() {
    cleanup
    ip netns add "$NS_MOON"
    ip netns add "$NS_SUN"
    ip link add "$IF_MOON" netns "$NS_MOON" type veth peer name "$IF_SUN" netns "$NS_SUN"
    ip -n "$NS_MOON" addr add "$IP_MOON/24" dev "$IF_MOON"
    ip -n "$NS_SUN" addr add "$IP_SUN/24" dev "$IF_SUN"
    ip -n "$NS_MOON" addr add "$NET_MOON/32" dev lo
    ip -n "$NS_SUN" addr add "$NET_SUN/32" dev lo
    for ns in "$NS_MOON" "$NS_SUN"; do ip -n "$ns" link set lo up; done
    ip -n "$NS_MOON" link set "$IF_MOON" up
    ip -n "$NS_SUN" link set "$IF_SUN" up
}

# write_strongswan_conf DIR NAME EXTRA
write_strongswan_conf() {
    local dir=$1 name=$2 extra=$3
    cat >"$dir/strongswan.conf" <<EOF
charon {
    load = random nonce aes sha1 sha2 hmac gcm curve25519 openssl pem pkcs1 pkcs8 x509 pubkey revocation constraints kdf kernel-libipsec kernel-netlink socket-default vici updown attr
    port = 500
    port_nat_t = 4500
    retransmit_tries = 3
    install_routes = yes
$extra
    plugins {
        vici {
            socket = unix://$dir/vici
        }
        revocation {
            enable_ocsp = no
            enable_crl = no
        }
    }
    syslog {
        daemon {
            default = -1
        }
    }
    filelog {
        $name {
            path = $dir/charon.log
            append = no
            flush_line = yes
            ike_name = yes
            time_format = %H:%M:%S
            default = 1
            cfg = 2
            knl = 1
            net = 4
            ike = 4
            enc = 4
            chd = 4
            lib = 1
        }
    }
}
EOF
}

# start_charon NS DIR
start_charon() {
    local ns=$1 dir=$2 i
    ip netns exec "$ns" unshare -m --propagation private \
        sh -c "mount -t tmpfs tmpfs /run && STRONGSWAN_CONF=$dir/strongswan.conf exec $CHARON" \
        >"$dir/charon.stdout" 2>&1 &
    PIDS+=($!)
    for i in $(seq 1 100); do
        [ -S "$dir/vici" ] && return 0
        sleep 0.1
    done
    log "charon in $ns did not open its vici socket"; cat "$dir/charon.stdout" >&2; return 1
}

sw() { # sw DIR swanctl-args...
    local dir=$1; shift
    SWANCTL_DIR=$dir/swanctl swanctl "$@" --uri "unix://$dir/vici"
}

make_certs() { # into $1 (reused if complete)
    local d=$1
    if [ -s "$d/caCert.pem" ] && [ -s "$d/moonCert.pem" ] && [ -s "$d/sunCert.pem" ] \
        && [ -s "$d/moonKey.pem" ] && [ -s "$d/sunKey.pem" ]; then
        log "reusing certificates in $d"; return 0
    fi
    command -v pki >/dev/null || apt-get install -y strongswan-pki >/dev/null
    log "generating CA and certificates"
    printf 'pki {\n    load = random nonce sha1 sha2 openssl pem pkcs1 pkcs8 x509 pubkey\n}\n' >"$WORK/pki.conf"
    export STRONGSWAN_CONF=$WORK/pki.conf
    pki --gen --type rsa --size 2048 --outform pem >"$d/caKey.pem"
    pki --self --ca --lifetime 7300 --in "$d/caKey.pem" --type rsa \
        --dn "C=XX, O=Postern Test, CN=Postern Test CA" --outform pem >"$d/caCert.pem"
    local h id
    for h in moon sun; do
        id=$h.postern.test
        pki --gen --type rsa --size 2048 --outform pem >"$d/${h}Key.pem"
        pki --pub --in "$d/${h}Key.pem" --type rsa \
            | pki --issue --lifetime 7300 --cacert "$d/caCert.pem" --cakey "$d/caKey.pem" \
                --dn "C=XX, O=Postern Test, CN=$id" --san "$id" --outform pem >"$d/${h}Cert.pem"
    done
    unset STRONGSWAN_CONF
}

# write_swanctl DIR ROLE SCENARIO
write_swanctl() {
    local dir=$1 role=$2 sc=$3
    local ike esp auth frag="" vips="" pools="" lts rts secrets="" dest=$OUT/$sc local_ip remote_ip lid rid
    mkdir -p "$dir/swanctl/x509" "$dir/swanctl/x509ca" "$dir/swanctl/private"
    case $sc in
        psk-gcm)
            ike=aes256gcm16-prfsha256-x25519; esp=aes256gcm16; auth=psk ;;
        cert-cbc)
            ike=aes256-sha256-ecp256; esp=aes128-sha256; auth=pubkey ;;
        modp-invalid-ke)
            if [ "$role" = moon ]; then ike=aes128-sha256-ecp256-modp2048; else ike=aes128-sha256-modp2048; fi
            esp=aes128-sha256; auth=psk ;;
    esac
    if [ "$role" = moon ]; then
        local_ip=$IP_MOON; remote_ip=$IP_SUN; lid=$ID_MOON; rid=$ID_SUN
        lts=$NET_MOON/32; rts=$NET_SUN/32
        [ "$sc" = cert-cbc ] && frag="        fragmentation = force"
        if [ "$sc" = psk-gcm ]; then vips="        vips = 0.0.0.0"; lts=dynamic; fi
    else
        local_ip=$IP_SUN; remote_ip=$IP_MOON; lid=$ID_SUN; rid=$ID_MOON
        lts=$NET_SUN/32; rts=$NET_MOON/32
        [ "$sc" = cert-cbc ] && frag="        fragmentation = yes"
        if [ "$sc" = psk-gcm ]; then
            pools="        pools = pool4"; rts=dynamic
        fi
    fi
    local lauth="            auth = $auth" rauth="            auth = $auth" lcert="" rcacert=""
    if [ "$auth" = pubkey ]; then
        cp "$dest/caCert.pem" "$dir/swanctl/x509ca/"
        cp "$dest/${role}Cert.pem" "$dir/swanctl/x509/"
        cp "$dest/${role}Key.pem" "$dir/swanctl/private/"
        lcert="            certs = ${role}Cert.pem"
    else
        secrets="secrets {
    ike-psk {
        id-1 = $ID_MOON
        id-2 = $ID_SUN
        secret = \"$PSK\"
    }
}"
    fi
    {
        echo "connections {"
        echo "    $sc {"
        echo "        version = 2"
        echo "        local_addrs = $local_ip"
        echo "        remote_addrs = $remote_ip"
        echo "        proposals = $ike"
        [ -n "$frag" ] && echo "$frag"
        # no MOBIKE here, so IKE_AUTH carries no MOBIKE_SUPPORTED notify (variety for the goldens)
        [ "$sc" = modp-invalid-ke ] && echo "        mobike = no"
        [ -n "$vips" ] && echo "$vips"
        [ -n "$pools" ] && echo "$pools"
        echo "        local {"
        echo "$lauth"
        echo "            id = $lid"
        [ -n "$lcert" ] && echo "$lcert"
        echo "        }"
        echo "        remote {"
        echo "$rauth"
        echo "            id = $rid"
        echo "        }"
        echo "        children {"
        echo "            net {"
        echo "                local_ts = $lts"
        echo "                remote_ts = $rts"
        echo "                esp_proposals = $esp"
        echo "                mode = tunnel"
        echo "            }"
        echo "        }"
        echo "    }"
        echo "}"
        if [ -n "$pools" ]; then
            echo "pools {"
            echo "    pool4 {"
            echo "        addrs = $POOL"
            echo "    }"
            echo "}"
        fi
        if [ -n "$secrets" ]; then echo "$secrets"; fi
    } >"$dir/swanctl/swanctl.conf"
}

run_scenario() {
    local sc=$1
    local w=$WORK/$sc dest=$OUT/$sc extra=""
    log "=== scenario $sc ==="
    mkdir -p "$w/moon" "$w/sun" "$dest"
    # fresh output folder, but keep the certificates of cert-cbc (reused for stable data)
    find "$dest" -maxdepth 1 -type f ! -name '*.pem' -delete
    if [ "$sc" = cert-cbc ]; then
        make_certs "$dest"
        extra="    fragment_size = 576"
    else
        rm -f "$dest"/*.pem
    fi
    setup_net
    write_strongswan_conf "$w/moon" moon "$extra"
    write_strongswan_conf "$w/sun" sun "$extra"
    write_swanctl "$w/moon" moon "$sc"
    write_swanctl "$w/sun" sun "$sc"

    ip netns exec "$NS_SUN" tcpdump -i "$IF_SUN" -U -s 0 -n -w "$w/capture.pcap" \
        'udp port 500 or udp port 4500 or (ip[6:2] & 0x1fff != 0)' >"$w/tcpdump.log" 2>&1 &
    PIDS+=($!)
    local tcpdump_pid=$! i
    for i in $(seq 1 50); do grep -q listening "$w/tcpdump.log" && break; sleep 0.1; done

    start_charon "$NS_SUN" "$w/sun"
    start_charon "$NS_MOON" "$w/moon"
    sw "$w/sun" --load-all --file "$w/sun/swanctl/swanctl.conf" >"$w/sun/load.log" 2>&1
    sw "$w/moon" --load-all --file "$w/moon/swanctl/swanctl.conf" >"$w/moon/load.log" 2>&1

    local ok=yes
    if ! sw "$w/moon" --initiate --child net --timeout 30 >"$w/moon/initiate.log" 2>&1; then
        log "initiate failed (see $w/moon/initiate.log)"; ok=no
    fi
    sw "$w/moon" --list-sas >"$w/moon/sas.txt" 2>&1 || true
    sw "$w/sun" --list-sas >"$w/sun/sas.txt" 2>&1 || true
    cat "$w/moon/sas.txt" >&2
    if [ $ok = yes ]; then
        # two pings through the tunnel: proves the CHILD_SA works and leaves ESP goldens
        # (esp-*.hex) that check.py decrypts with the logged CHILD_SA keys
        local src=$NET_MOON
        [ "$sc" = psk-gcm ] && src=$(sed -n 's/^    local  \([0-9.]*\)\/32$/\1/p' "$w/moon/sas.txt" | head -1)
        ip netns exec "$NS_MOON" ping -c 2 -i 0.3 -W 2 -I "$src" "$NET_SUN" >"$w/ping.log" 2>&1 \
            && log "ping $src -> $NET_SUN through the tunnel ok" \
            || log "ping through the tunnel failed (ignored)"
    fi
    sw "$w/moon" --terminate --ike "$sc" --timeout 15 >"$w/moon/terminate.log" 2>&1 \
        || log "terminate failed (see $w/moon/terminate.log)"
    sleep 1
    kill -INT "$tcpdump_pid" 2>/dev/null || true
    wait "$tcpdump_pid" 2>/dev/null || true
    cleanup
    sleep 0.5

    # --- extract -------------------------------------------------------------------------
    "$PY" "$HERE/pcap2hex.py" "$w/capture.pcap" "$dest" --name "moon=$IP_MOON" --name "sun=$IP_SUN"
    local cred
    case $sc in
        cert-cbc) cred="--cred ca=caCert.pem --cred ca_key=caKey.pem --cred moon_cert=moonCert.pem --cred moon_key=moonKey.pem --cred sun_cert=sunCert.pem --cred sun_key=sunKey.pem" ;;
        *) printf '%s' "$PSK" >"$dest/psk.txt"; cred="--psk $PSK --cred psk_file=psk.txt" ;;
    esac
    # shellcheck disable=SC2086
    "$PY" "$HERE/ikekeys.py" --initiator-log "$w/moon/charon.log" --responder-log "$w/sun/charon.log" \
        --messages "$dest" --out "$dest/keys.txt" --excerpt "$dest/charon-excerpt.log" \
        --meta "scenario=$sc" --meta "strongswan=$(dpkg-query -W -f '${Version}' strongswan-charon 2>/dev/null || echo unknown) (Debian package strongswan-charon)" \
        --meta "initiator=moon $IP_MOON id=$ID_MOON" --meta "responder=sun $IP_SUN id=$ID_SUN" \
        --meta "captured=$(date -u +%Y-%m-%dT%H:%M:%SZ)" $cred
    cp "$w/capture.pcap" "$dest/capture.pcap"
    if [ "$(stat -c %s "$dest/capture.pcap")" -gt 100000 ]; then rm -f "$dest/capture.pcap"; fi
    "$PY" "$HERE/check.py" "$dest"
    log "scenario $sc done: $dest"
}

SCENARIOS=("$@")
[ ${#SCENARIOS[@]} -gt 0 ] || SCENARIOS=(psk-gcm cert-cbc modp-invalid-ke)
for s in "${SCENARIOS[@]}"; do
    case $s in
        psk-gcm|cert-cbc|modp-invalid-ke) run_scenario "$s" ;;
        *) echo "unknown scenario $s" >&2; exit 2 ;;
    esac
done
[ -n "${KEEP:-}" ] && log "work directory kept: $WORK"
log "all done"
