#!/bin/bash
# guest.sh OUT REPO STEP... - runs inside the kernel tier's VM (run-vm.sh), as root in a chroot
# of the host's root, on Debian's kernel. Loads the modules the steps need, then runs each step
# and appends "PASS|FAIL|SKIP <step> (<seconds> s)" to OUT/results; each step's output goes to
# OUT/<n>-<name>.log.
#   unit BINARY         a Boost.Test binary (unit_esp_xfrm: its SA cases need this kernel)
#   script FILE ARG...  a test script (0 pass, 77 skip, anything else fail)
# Steps are separated by "--".
OUT=$1 REPO=$2
shift 2
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
cd "$OUT"
echo "guest: $(uname -r), $(nproc) CPUs, repo $REPO"
# ESP, XFRM and what the namespaces and tunnels need; the crypto modules load on demand.
modprobe -a -q xfrm_user esp4 esp6 xfrm4_tunnel xfrm6_tunnel tunnel4 tunnel6 veth tun \
    aesni_intel gcm ghash_generic chacha20poly1305 seqiv echainiv authenc authencesn cbc hmac \
    sha256_generic sha512_generic || echo "guest: some modules did not load (built in?)"
echo "guest: modules loaded after $SECONDS s"
ip link set lo up
n=0
while [ $# -gt 0 ]; do
    step=()
    while [ $# -gt 0 ] && [ "$1" != -- ]; do step+=("$1"); shift; done
    [ $# -gt 0 ] && shift
    [ ${#step[@]} -gt 0 ] || continue
    n=$((n + 1))
    name=$(basename "${step[1]:-${step[0]}}")
    name=${name%.sh}
    for a in "${step[@]:2}"; do [[ "$a" == */* || "$a" == -* ]] || name="$name-$a"; done
    logf=$OUT/$n-$name.log
    t0=$(date +%s)
    case ${step[0]} in
        unit) "${step[1]}" --log_level=test_suite --report_level=short >"$logf" 2>&1 ;;
        script) bash "${step[@]:1}" >"$logf" 2>&1 ;;
        *) echo "unknown step ${step[0]}" >"$logf"; false ;;
    esac
    rc=$?
    t=$(( $(date +%s) - t0 ))
    case $rc in
        0) verdict=PASS ;;
        77) verdict=SKIP ;;
        *) verdict=FAIL ;;
    esac
    echo "$verdict $name ($t s, log $logf)" | tee -a "$OUT/results"
    if [ "$verdict" = FAIL ]; then
        echo "---------- $logf (last 120 lines) ----------"
        tail -n 120 "$logf"
    fi
done
echo "guest: done"
