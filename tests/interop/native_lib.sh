# shellcheck shell=bash
# native_lib.sh - helpers of the native-client emulation tests (interop_native.sh), sourced after
# lib.sh. Server side: the PKI from `postern pki init`, posternd with an EAP-MSCHAPv2 connection
# whose proposals follow docs/native-clients.md §2 items 6-7, users from `postern user add`.
# Client side: a swanctl.conf for charon "b" configured like one native client (proposals,
# identities, IDr/CERTREQ/MOBIKE/fragmentation, RFC 7427 on or off).
#
# Topology: pi_setup_pair + pi_add_lan a (lib.sh): posternd in a (192.0.2.1), the LAN host in l
# (10.97.0.2, fd00:97::2), the emulated client in b (192.0.2.2).

NC_USER=alice
NC_PASSWORD='alice native password 1'
NC_SERVER_NAME=vpn.postern.test
NC_DNS4=10.99.0.53
NC_DNS6=fd00:99::53

# postern (the admin CLI) sits next to posternd.
nc_postern() { "$(dirname "$POSTERND")/postern" "$@"; }

# nc_pki  - `postern pki init` for vpn.postern.test and a's address into WORK/pki (ca.pem,
# server.pem, server.key).
nc_pki() {
    [ -x "$(dirname "$POSTERND")/postern" ] || fail "no postern CLI next to $POSTERND"
    nc_postern pki init --name "$NC_SERVER_NAME" --address "$IP_A" --out "$WORK/pki" \
        >"$WORK/pki-init.log" 2>&1 || { cat "$WORK/pki-init.log" >&2; fail "postern pki init failed"; }
    PI_LOGS+=("$WORK/pki-init.log")
    pi_log "postern pki init: CA and server certificate for $NC_SERVER_NAME / $IP_A"
}

# nc_server_conf LEGACY(0|1) [EXTRA_CONNECTION_LINES]  - WORK/postern.toml: userspace data plane,
# the pki's CA, pool "clients" (10.99.0.0/24, fd00:99::/112, DNS NC_DNS4/NC_DNS6), connection
# "users" (pubkey -> NC_REMOTE_AUTH, default eap-mschapv2; local_ts = the LAN behind a).
# LEGACY=1 adds allow_legacy_crypto and Windows' MODP-1024 / SHA-1 proposals (§2 item 6
# "compatibility switch"). NC_SERVER_EXTRA: more [server] lines.
nc_server_conf() {
    local legacy=$1 extra=${2:-} server_extra='dataplane = "userspace"'
    local ike='"aes256gcm16-prfsha256-ecp256", "aes256-sha256-ecp256", "aes256-sha256-modp2048", "aes256gcm16-prfsha256-x25519-modp2048", "aes256-sha256-x25519-modp3072-modp4096"'
    local esp='"aes256gcm16", "aes128gcm16", "chacha20poly1305", "aes256-sha256"'
    if [ "$legacy" = 1 ]; then
        server_extra+=$'\nallow_legacy_crypto = true'
        ike+=', "aes256-sha256-modp1024", "aes256-sha1-modp1024", "aes256gcm16-prfsha256-modp1024"'
        esp+=', "aes256-sha1", "aes128-sha1"'
    fi
    [ -n "${NC_SERVER_EXTRA:-}" ] && server_extra+=$'\n'"$NC_SERVER_EXTRA"
    posternd_conf "$WORK/postern.toml" "$server_extra"
    cat >>"$WORK/postern.toml" <<EOF
[pki]
cacerts = ["$WORK/pki/ca.pem"]

[pools.clients]
ipv4 = "10.99.0.0/24"
ipv6 = "fd00:99::/112"
dns = ["$NC_DNS4", "$NC_DNS6"]

[[connections]]
name = "users"
local_id = "$NC_SERVER_NAME"
local_auth = "pubkey"
remote_auth = "${NC_REMOTE_AUTH:-eap-mschapv2}"
cert = "$WORK/pki/server.pem"
key = "$WORK/pki/server.key"
ike_proposals = [$ike]
esp_proposals = [$esp]
pools = ["clients"]
local_ts = ["$LAN_A4", "$LAN_A6"]
$extra
EOF
}

# nc_user_add  - `postern user add NC_USER --password-stdin` into posternd's database.
nc_user_add() {
    printf '%s\n' "$NC_PASSWORD" | nc_postern --db "$WORK/postern.db" user add "$NC_USER" --password-stdin \
        >"$WORK/user-add.log" 2>&1 || { cat "$WORK/user-add.log" >&2; fail "postern user add $NC_USER failed"; }
    pi_log "postern user add $NC_USER (password from stdin)"
}

# nc_profile TARGET  - `postern profile NC_USER --for TARGET` to stdout.
nc_profile() {
    nc_postern profile "$NC_USER" --for "$1" -c "$WORK/postern.toml" --db "$WORK/postern.db" \
        2>"$WORK/profile-$1.err" || { cat "$WORK/profile-$1.err" >&2; fail "postern profile --for $1 failed"; }
}

# nc_win_ike ENCRYPTION INTEGRITY DHGROUP / nc_win_esp CIPHER AUTH PFS  - the strongSwan proposal
# one Set-VpnConnectionIPsecConfiguration line stands for (Windows then offers exactly that one).
nc_win_ike() {
    local e i g
    case $1 in
        AES128) e=aes128 ;; AES192) e=aes192 ;; AES256) e=aes256 ;; DES3) e=3des ;;
        GCMAES128) e=aes128gcm16 ;; GCMAES256) e=aes256gcm16 ;;
        *) fail "Windows EncryptionMethod '$1' not mapped" ;;
    esac
    case $2 in SHA1) i=sha1 ;; SHA256) i=sha256 ;; SHA384) i=sha384 ;; *) fail "Windows IntegrityCheckMethod '$2' not mapped" ;; esac
    case $3 in
        Group2) g=modp1024 ;; Group14) g=modp2048 ;; ECP256) g=ecp256 ;; ECP384) g=ecp384 ;;
        *) fail "Windows DHGroup '$3' not mapped" ;;
    esac
    # AEAD: the integrity setting only names the PRF
    if [[ $e == *gcm* ]]; then echo "$e-prf$i-$g"; else echo "$e-$i-$g"; fi
}
nc_win_esp() {
    local e a g=
    case $1 in
        AES128) e=aes128 ;; AES192) e=aes192 ;; AES256) e=aes256 ;; DES3) e=3des ;;
        GCMAES128) e=aes128gcm16 ;; GCMAES192) e=aes192gcm16 ;; GCMAES256) e=aes256gcm16 ;;
        *) fail "Windows CipherTransformConstants '$1' not mapped" ;;
    esac
    case $2 in
        GCMAES128|GCMAES192|GCMAES256) a= ;;
        SHA196) a=sha1 ;; SHA256128) a=sha256 ;;
        *) fail "Windows AuthenticationTransformConstants '$2' not mapped" ;;
    esac
    case $3 in
        None) g= ;; PFS2048) g=modp2048 ;; ECP256) g=ecp256 ;; ECP384) g=ecp384 ;;
        *) fail "Windows PfsGroup '$3' not mapped" ;;
    esac
    local p=$e
    [ -n "$a" ] && p+=-$a
    [ -n "$g" ] && p+=-$g
    echo "$p"
}

# nc_many_cas N  - N throw-away self-signed CA certificates in b's x509ca folder, so charon's
# CERTREQ names N+1 CAs (Windows sends one hash per trusted root: 38 in one log).
nc_many_cas() {
    local n=$1 i
    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$WORK/junk-ca.key" 2>/dev/null
    for i in $(seq 1 "$n"); do
        openssl req -new -x509 -key "$WORK/junk-ca.key" -subj "/O=Windows Root Store/CN=Junk Root $i" \
            -days 30 -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign \
            -addext "subjectKeyIdentifier=$(openssl rand -hex 20 | sed 's/../&:/g; s/:$//')" \
            -out "$WORK/b/swanctl/x509ca/junk-$i.pem" 2>/dev/null || fail "cannot make junk CA $i"
    done
}

# nc_client_conf  - WORK/b/swanctl/swanctl.conf for connection "native", child "net", from the
# NC_* variables the test set:
#   NC_IKE, NC_ESP       proposals (strongSwan syntax, comma-separated = separate proposals)
#   NC_LOCAL_ID          IDi;  NC_REMOTE_ID: IDr sent when not %any
#   NC_CERTREQ, NC_MOBIKE, NC_FRAG   yes/no
#   NC_VIPS              "0.0.0.0, ::"
#   NC_SECRET            the password charon uses for NC_USER
nc_client_conf() {
    cat >"$WORK/b/swanctl/swanctl.conf" <<EOF
connections {
    native {
        version = 2
        local_addrs = $IP_B
        remote_addrs = $IP_A
        proposals = $NC_IKE
        vips = $NC_VIPS
        send_certreq = $NC_CERTREQ
        mobike = $NC_MOBIKE
        fragmentation = $NC_FRAG
        local {
            auth = eap-mschapv2
            id = $NC_LOCAL_ID
            eap_id = $NC_USER
        }
        remote {
            auth = pubkey
            id = $NC_REMOTE_ID
        }
        children {
            net {
                remote_ts = 0.0.0.0/0, ::/0
                esp_proposals = $NC_ESP
                updown = $(updown_script b)
            }
        }
    }
}
secrets {
    eap-user {
        id = $NC_USER
        secret = "$NC_SECRET"
    }
}
EOF
}

# nc_audit_has EVENT KEY=VALUE...  - `postern --json audit` has a row with EVENT and these fields.
# posternd writes audit rows once per turn of its event loop, after the answer that told the
# client went out: the row may land a moment after the client gave up, so this looks for up
# to 3 s.
nc_audit_has() {
    local event=$1; shift
    local try
    for try in $(seq 30); do
        nc_postern --db "$WORK/postern.db" --json audit --limit 50 >"$WORK/audit.json" 2>&1 \
            || { cat "$WORK/audit.json" >&2; fail "postern audit failed"; }
        python3 - "$WORK/audit.json" "$event" "$@" <<'PY' && break
import json, sys
rows = json.load(open(sys.argv[1]))
rows = rows if isinstance(rows, list) else rows.get("entries", rows.get("audit", []))
want = dict(a.split("=", 1) for a in sys.argv[3:])
ok = any(r.get("event") == sys.argv[2] and all(str(r.get(k)) == v for k, v in want.items()) for r in rows)
sys.exit(0 if ok else 1)
PY
        [ "$try" = 30 ] && fail "no audit row '$event' with $* (rows: $(cat "$WORK/audit.json"))"
        sleep 0.1
    done
    pi_log "ok: postern audit has $event $*"
}

# nc_posternd_log ERE  - asserts posternd logged a line matching ERE.
nc_posternd_log() {
    grep -Eq -- "$1" "$WORK/posternd.log" || fail "posternd never logged /$1/"
    pi_log "ok: posternd logged /$1/"
}
