#!/usr/bin/env bash
# Disk baselines with fio (Debian package), in SCRATCH:
#   - sequential write, 1 MiB blocks, buffered, 1 GiB, one fsync at the end (end_fsync);
#   - append with an fdatasync after every write, at 4 KiB, 64 KiB and 1 MiB, ~5 s each
#     (a new, unallocated file: every write extends it, as a log segment without preallocation would).
# Reports MB/s (10^6 B/s), IOPS and fdatasync latency p50/p99 from fio's JSON output.
source "$(dirname "${BASH_SOURCE[0]}")/_lib.sh"
ensure_apt fio

SEQ_SIZE="${FIO_SEQ_SIZE:-1g}"
APPEND_SECONDS="${FIO_APPEND_SECONDS:-5}"
dir="$SCRATCH/fio"
mkdir -p "$dir"
log "scratch $dir on $(findmnt -n -o FSTYPE,SOURCE -T "$dir")"

run_fio() { # name json-out fio-args...
    local name="$1" out="$2"; shift 2
    rm -f "$dir"/*.0.0
    timeout 120 fio --name="$name" --directory="$dir" --ioengine=psync --output-format=json --output="$out" "$@" >/dev/null
    rm -f "$dir"/*.0.0
}

report() { # json prefix
    python3 - "$1" "$2" <<'PY'
import json, sys
path, prefix = sys.argv[1], sys.argv[2]
job = json.load(open(path))["jobs"][0]
w = job["write"]
print(f"KEY: {prefix}_mbps {w['bw_bytes'] / 1e6:.1f} MB/s")
print(f"KEY: {prefix}_iops {w['iops']:.0f} IOPS")
pct = (job.get("sync") or {}).get("lat_ns", {}).get("percentile") or {}
if pct:
    print(f"KEY: {prefix}_p50 {pct['50.000000'] / 1000:.0f} us")
    print(f"KEY: {prefix}_p99 {pct['99.000000'] / 1000:.0f} us")
PY
}

log "sequential write 1 MiB x $SEQ_SIZE, buffered, end_fsync"
run_fio seqwrite "$SCRATCH/fio-seq.json" --rw=write --bs=1m --size="$SEQ_SIZE" --end_fsync=1 --runtime=90
report "$SCRATCH/fio-seq.json" fio_seqwrite_1m_endfsync

for bs in 4k 64k 1m; do
    log "append $bs + fdatasync each, ${APPEND_SECONDS}s"
    run_fio "append$bs" "$SCRATCH/fio-append-$bs.json" --rw=write --bs="$bs" --size=8g --fallocate=none \
        --fdatasync=1 --runtime="$APPEND_SECONDS"
    report "$SCRATCH/fio-append-$bs.json" "fio_append_${bs}_fdatasync"
done
