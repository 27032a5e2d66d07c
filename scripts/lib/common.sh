# Shared by scripts/run, scripts/test and the benchmark scripts. Source it; do not run it.
# Installs missing Debian packages and builds Postern in a build directory inside the clone.

POSTERN_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"

# What building needs (DESIGN.md, Dependencies).
POSTERN_BUILD_PACKAGES=(
  build-essential cmake ninja-build pkg-config
  libssl-dev libnl-3-dev libnl-xfrm-3-dev libnl-route-3-dev libsqlite3-dev liblua5.4-dev
  libboost-dev libboost-test-dev libexpected-dev libtomlplusplus-dev libcli11-dev
  nlohmann-json3-dev libspdlog-dev libfmt-dev libjemalloc-dev
)
# What the test tiers add: clang + its sanitizer/libFuzzer runtime, strongSwan, netns tools,
# and for the kernel tier a VM: qemu, Debian's kernel image, busybox for its initramfs.
POSTERN_TEST_PACKAGES=(
  clang libclang-rt-14-dev
  strongswan-swanctl strongswan-charon libcharon-extra-plugins libstrongswan-extra-plugins
  libstrongswan-standard-plugins libcharon-extauth-plugins
  iproute2 iputils-ping iperf3 tcpdump python3 nftables openssl
  qemu-system-x86 linux-image-amd64 busybox-static cpio kmod
)

log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# ensure_packages PKG... : installs only what is missing; apt-get update once, first.
ensure_packages() {
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
      missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  [ "$(id -u)" -eq 0 ] || die "missing packages (${missing[*]}); run as root or install them"
  log "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# build_tree DIR [cmake args...] : configure once (or again if args changed) and build.
build_tree() {
  local dir="$1"; shift
  local stamp="$dir/.postern-configure-args"
  local args="$*"
  if [ ! -f "$dir/build.ninja" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$args" ]; then
    log "configuring $dir ($args)"
    cmake -S "$POSTERN_ROOT" -B "$dir" -G Ninja "$@" >/dev/null
    printf '%s' "$args" > "$stamp"
  fi
  log "building $dir"
  cmake --build "$dir" -j "$(nproc)"
}

# The optimised build that scripts/run starts (g++).
build_release() {
  build_tree "$POSTERN_ROOT/build/release" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_CXX_COMPILER=g++ -DCMAKE_C_COMPILER=gcc "$@"
}

# build_bench TARGET... : the benchmark tools (tests/bench) in build/bench, g++ RelWithDebInfo,
# configured the first time; only the named targets are built.
build_bench() {
  local dir="$POSTERN_ROOT/build/bench"
  if [ ! -f "$dir/CMakeCache.txt" ]; then
    log "configuring build/bench (g++, RelWithDebInfo)"
    cmake -S "$POSTERN_ROOT" -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
      -DCMAKE_CXX_COMPILER=g++ -DCMAKE_C_COMPILER=gcc -DPOSTERN_TESTS=ON >/dev/null
  fi
  log "building $*"
  cmake --build "$dir" -j "$(nproc)" --target "$@"
}
