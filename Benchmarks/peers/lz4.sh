#!/usr/bin/env bash
# LZ4 level 1 (Debian's lz4 CLI, `lz4 -b1`) on 64 MiB of JSON lines shaped like Fixtures/events
# (seeded, so every run compresses the same bytes). Reports compress/decompress MB/s and the ratio,
# with lz4's default 4 MiB blocks and with 64 KiB blocks (-B4, record-batch sized).
source "$(dirname "${BASH_SOURCE[0]}")/_lib.sh"
ensure_apt lz4

data="$SCRATCH/events-64mib.jsonl"
python3 - "$data" <<'PY'
import json, random, sys
rng = random.Random(42)
target = 64 << 20
countries = ["US", "GB", "DE", "FR", "JP", "BR", "IN", "CA", "AU", "NL"]
events = ["order_placed", "order_filled", "order_cancelled", "order_amended", "order_rejected"]
buf, size, seq, ts = [], 0, 0, 1793523600000
while size < target:
    seq += 1
    ts += rng.randint(1, 50)
    u = rng.randint(0, 49999)
    line = json.dumps({"user": f"u{u:04d}", "event": rng.choice(events), "ts": ts,
                       "amount": round(rng.lognormvariate(4.0, 1.0), 2),
                       "order": {"id": f"ord-{seq:09d}", "type": rng.choice(["buy", "sell"])},
                       "country": rng.choice(countries), "session": f"{rng.getrandbits(64):016x}"},
                      separators=(",", ":")) + "\n"
    buf.append(line)
    size += len(line)
with open(sys.argv[1], "w") as f:
    f.write("".join(buf)[:target])
print(f"lz4: {len(buf)} records, mean {size / len(buf):.1f} B", file=sys.stderr)
PY

bench() { # prefix lz4-args...
    local prefix="$1" out; shift
    out="$(timeout 60 lz4 -b1 "$@" "$data" 2>&1 | tr '\r' '\n' | grep -E 'MB/s.*,.*MB/s' | tail -1)"
    log "$out"
    # e.g. " 1#events-64mib.jsonl :  67108864 ->  26868392 (2.498),  749.2 MB/s , 4455.1 MB/s"
    python3 - "$prefix" "$out" <<'PY'
import re, sys
prefix, line = sys.argv[1], sys.argv[2]
m = re.search(r"\(\s*([0-9.]+)\)\s*,\s*([0-9.]+)\s*MB/s\s*,\s*([0-9.]+)\s*MB/s", line)
if not m:
    sys.exit(f"lz4: could not parse: {line!r}")
ratio, comp, dec = m.groups()
print(f"KEY: {prefix}_compress {comp} MB/s")
print(f"KEY: {prefix}_decompress {dec} MB/s")
print(f"KEY: {prefix}_ratio {ratio} x")
PY
}

bench lz4_json_l1
bench lz4_json_l1_64k -B4
