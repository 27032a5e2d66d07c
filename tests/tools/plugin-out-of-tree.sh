#!/usr/bin/env bash
# plugin-out-of-tree.sh BUILD_DIR SOURCE_DIR IKE_CLIENT CXX: what a third party does with
# Postern's plugin API. Installs the build to a staging prefix (`cmake --install`), builds
# docs/examples/jsonlog against the installed headers alone (pkg-config postern-plugin, the
# example's own CMakeLists.txt, compiler CXX), then runs the staged posternd with the psk and
# jsonlog plugins on 127.0.0.1 (high ports, no root): ike_client logs in with a PSK, posternd is
# stopped, and the example's file must hold the connect and the disconnect of that login.
set -u
build="$1"; src="$2"; client="$3"; cxx="$4"
dir="$(mktemp -d)"; pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$dir"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
source "$(dirname "$0")/posternd-lib.sh"

cmake --install "$build" --prefix "$dir/stage" > "$dir/install.log" 2>&1 \
    || { cat "$dir/install.log"; fail "cmake --install"; }
[ -f "$dir/stage/include/postern/plugin/plugin.hpp" ] || fail "no plugin headers installed"
[ -f "$dir/stage/lib/pkgconfig/postern-plugin.pc" ] || fail "no postern-plugin.pc installed"
[ -f "$dir/stage/lib/postern/plugins/postern-psk.so" ] || fail "no plugins installed"

# The example sees the staged prefix only: a copy of its folder, pkg-config pointed there.
cp -r "$src/docs/examples/jsonlog" "$dir/jsonlog"
PKG_CONFIG_PATH="$dir/stage/lib/pkgconfig" cmake -S "$dir/jsonlog" -B "$dir/jsonlog/build" \
    -DCMAKE_CXX_COMPILER="$cxx" -DCMAKE_INSTALL_PREFIX="$dir/stage" > "$dir/configure.log" 2>&1 \
    || { cat "$dir/configure.log"; fail "configuring the example"; }
grep -Eq "^POSTERN_INCLUDE_DIRS:INTERNAL=$dir/stage/lib/pkgconfig/\.\./\.\./include$" \
    "$dir/jsonlog/build/CMakeCache.txt" || fail "the example did not take the staged headers"
cmake --build "$dir/jsonlog/build" > "$dir/build.log" 2>&1 || { cat "$dir/build.log"; fail "building the example"; }
cmake --install "$dir/jsonlog/build" > "$dir/install-example.log" 2>&1 \
    || { cat "$dir/install-example.log"; fail "installing the example"; }
[ -f "$dir/stage/lib/postern/plugins/postern-jsonlog.so" ] || fail "the example did not install"

echo "out-of-tree-plugin-psk-0123456789" > "$dir/psk.txt"
write_config() {
    cat > "$dir/postern.toml" <<TOML
[server]
listen = ["127.0.0.1"]
port = $port
natt_port = $natt
control_socket = "$dir/control.sock"
[plugins]
load = ["psk", "jsonlog"]
[plugins.jsonlog]
path = "events.jsonl"
[pools.clients]
ipv4 = "10.99.0.0/24"
[[connections]]
name = "oot"
local_id = "vpn.postern.test"
local_auth = "psk"
remote_auth = "psk"
psk_file = "psk.txt"
pools = ["clients"]
TOML
}
posternd_start_free "$dir/stage/sbin/posternd" "$dir/postern.toml" "$dir/posternd.log" write_config \
    || { cat "$dir/posternd.log"; fail "posternd did not start"; }
grep -q "loaded plugin jsonlog ($dir/stage/sbin/../lib/postern/plugins/postern-jsonlog.so)" "$dir/posternd.log" \
    || { cat "$dir/posternd.log"; fail "posternd did not log loading jsonlog"; }

"$client" --server 127.0.0.1 --port "$port" --psk-file "$dir/psk.txt" --term-pid "$pid" \
    --timeout-ms 5000 > "$dir/client.out" 2>&1
crc=$?
for _ in $(seq 20); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
kill -0 "$pid" 2>/dev/null && { kill -9 "$pid"; fail "posternd still running after SIGTERM"; }
wait "$pid"; prc=$?
cat "$dir/posternd.log"
[ $crc -eq 0 ] || { cat "$dir/client.out"; fail "ike_client exited $crc"; }
[ $prc -eq 0 ] || fail "posternd exited $prc"
echo "--- events.jsonl:"; cat "$dir/events.jsonl" 2>/dev/null
grep -Eq '^\{"event":"connect",.*"connection":"oot",.*"method":"psk",.*"virtual_ips":\["10\.99\.0\.[0-9]+"\]\}$' \
    "$dir/events.jsonl" || fail "no connect line from the example plugin"
grep -Eq '^\{"event":"disconnect",.*"reason":' "$dir/events.jsonl" \
    || fail "no disconnect line from the example plugin"
echo PASS
