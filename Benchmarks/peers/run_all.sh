#!/usr/bin/env bash
# Runs every peer baseline script once, in sequence, and collects their `KEY: name value unit`
# lines into Benchmarks/peers/latest.txt (or $PEERS_OUT), after a header saying when, where, and
# how busy the machine was. For each script it also records its wall time and how much CPU *other*
# work used meanwhile (all busy CPU time minus this run's own), since the machine may be shared
# (a Swift build on the same 2 cores changes every figure here). Takes ~2 minutes; each script is
# bounded by `timeout`. Exits non-zero if any script failed (its KEY lines are kept).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
OUT="${PEERS_OUT:-$PWD/latest.txt}"
SCRIPTS=(${PEERS_SCRIPTS:-sysinfo fio memcpy lz4 redis nats})
TIMEOUT="${PEERS_TIMEOUT:-180}"

busy_jiffies() { awk '/^cpu / {print $2 + $3 + $4 + $7 + $8 + $9}' /proc/stat; }
own_seconds() { # user+sys seconds of this shell's waited-for children (`times` must run in this shell, not a subshell)
    times >"$tmp.times"
    tail -1 "$tmp.times" | awk '{ s = 0; for (i = 1; i <= 2; i++) { split($i, a, /[ms]/); s += a[1] * 60 + a[2] } printf "%.2f", s }'
}
builds() { # Swift build processes (compilers included) running now
    ps -eo comm= | grep -cE '^(swift-build|swift-frontend|swift-driver|swift-test|swift-autolink|clang|clang-[0-9]+|ld|ld.lld|ld.gold)$' || true
}

tmp="$(mktemp)"
trap 'rm -f "$tmp" "$tmp".*' EXIT
hz="$(getconf CLK_TCK)"
started="$(date -u +%FT%TZ)"
builds_at_start="$(builds)"
{
    echo "# ShardLog peer baselines: Benchmarks/peers/run_all.sh, started $started"
    echo "# host $(hostname), $(nproc) cores, $(lscpu | awk -F': *' '/^Model name/ {print $2; exit}'), kernel $(uname -r)"
    echo "# repo $(git -C ../.. rev-parse --short HEAD 2>/dev/null || echo 'no commit yet')"
    echo "# load at start: $(cut -d' ' -f1-3 /proc/loadavg); Swift build/compiler processes running at start: $builds_at_start"
    echo "# per script: KEY: <script>_others_cpu = CPU% used by other work during it (100% = one core, 200% = all)"
    echo "# units: MB/s and GB/s are 10^6 / 10^9 bytes per second"
} >"$tmp"

failed=0
any_build=$(( builds_at_start > 0 ))
for s in "${SCRIPTS[@]}"; do
    echo "==> $s.sh" >&2
    b0="$(busy_jiffies)"; own_seconds >"$tmp.o"; o0="$(<"$tmp.o")"; t0="$(date +%s.%N)"; n0="$(builds)"
    rc=0
    timeout "$TIMEOUT" bash "./$s.sh" >"$tmp.$s" || rc=$?
    b1="$(busy_jiffies)"; own_seconds >"$tmp.o"; o1="$(<"$tmp.o")"; t1="$(date +%s.%N)"; n1="$(builds)"
    grep '^KEY: ' "$tmp.$s" >>"$tmp" || true
    rm -f "$tmp.$s"
    awk -v s="$s" -v b0="$b0" -v b1="$b1" -v o0="$o0" -v o1="$o1" -v t0="$t0" -v t1="$t1" -v hz="$hz" 'BEGIN {
        wall = t1 - t0; others = ((b1 - b0) / hz - (o1 - o0)) / wall * 100; if (others < 0) others = 0
        printf "KEY: %s_seconds %.1f s\nKEY: %s_others_cpu %.0f %%\n", s, wall, s, others }' >>"$tmp"
    if (( n0 > 0 || n1 > 0 )); then echo "KEY: ${s}_during_swift_build 1 flag" >>"$tmp"; any_build=1; fi
    if (( rc != 0 )); then
        echo "KEY: ${s}_failed $rc exit" >>"$tmp"
        echo "run_all: $s.sh failed (exit $rc)" >&2
        failed=1
    fi
done
echo "# finished $(date -u +%FT%TZ); load at end: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$tmp"
if (( any_build )); then
    sed -i '1a # NOTE: taken while a Swift build was running on this machine (see *_during_swift_build and *_others_cpu): every figure is contended' "$tmp"
fi
chmod 644 "$tmp"
mv "$tmp" "$OUT"
rm -f "$tmp".*
cat "$OUT"
echo "run_all: results in $OUT" >&2
exit "$failed"
