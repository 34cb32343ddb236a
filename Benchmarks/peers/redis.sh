#!/usr/bin/env bash
# Redis Streams baseline (Debian redis-server/redis-tools) on 127.0.0.1: XADD with a 100-byte field value, driven by
# redis-benchmark on the same machine, with 1, 2 and 4 clients, not pipelined (-P 1) and pipelined (-P 64), in three
# persistence modes: none (--appendonly no), AOF with `appendfsync no` (the OS flushes) and AOF with
# `appendfsync always` (fsync before each reply batch). Plus PING as the loopback round-trip reference.
# Each point goes through measure_point (others' CPU recorded, re-measured while over 20% of a core).
# Counts: REDIS_N1 requests unpipelined, REDIS_N64 pipelined (REDIS_N1_ALWAYS and REDIS_N64_ALWAYS with appendfsync
# always, which is far slower: the counts keep each point to a few seconds).
source "$(dirname "${BASH_SOURCE[0]}")/_lib.sh"
ensure_apt redis-server redis-tools

N1="${REDIS_N1:-20000}"
N1_ALWAYS="${REDIS_N1_ALWAYS:-5000}"
N64="${REDIS_N64:-400000}"
N64_ALWAYS="${REDIS_N64_ALWAYS:-100000}"
VALUE_BYTES=100
VALUE="$(printf "%${VALUE_BYTES}s" "" | tr " " v)"
key redis_value_bytes "$VALUE_BYTES" bytes

start_redis() { # mode extra-args...
    local mode="$1"; shift
    PORT="$(free_port)"
    mkdir -p "$SCRATCH/redis-$mode"
    redis-server --bind 127.0.0.1 --port "$PORT" --dir "$SCRATCH/redis-$mode" --daemonize no \
        --save "" --logfile "$SCRATCH/redis-$mode/redis.log" "$@" &
    REDIS_PID=$!
    track "$REDIS_PID"
    wait_port "$PORT"
    log "redis-server ($mode) pid $REDIS_PID on 127.0.0.1:$PORT"
}

point() { # name n redis-benchmark-args...
    local name="$1" n="$2"; shift 2
    redis-cli -h 127.0.0.1 -p "$PORT" DEL s >/dev/null
    measure_point "$name" ops/s --server-pid "$REDIS_PID" --pattern '([0-9.]+) requests per second' -- \
        timeout 90 redis-benchmark -h 127.0.0.1 -p "$PORT" -q -n "$n" "$@"
}

xadd_grid() { # mode n-unpipelined n-pipelined
    local mode="$1" n1="$2" n64="$3" c
    for c in 1 2 4; do
        point "redis_xadd_${mode}_p1_c$c" "$n1" -c "$c" -P 1 XADD s '*' field "$VALUE"
        point "redis_xadd_${mode}_p64_c$c" "$n64" -c "$c" -P 64 XADD s '*' field "$VALUE"
    done
}

start_redis nopersist --appendonly no
point redis_ping_p1_c1 "$N1" -c 1 -P 1 PING
xadd_grid nopersist "$N1" "$N64"
stop "$REDIS_PID"

start_redis aof_no --appendonly yes --appendfsync no --auto-aof-rewrite-percentage 0
xadd_grid aof_no "$N1" "$N64"
stop "$REDIS_PID"

start_redis aof_always --appendonly yes --appendfsync always --auto-aof-rewrite-percentage 0
xadd_grid aof_always "$N1_ALWAYS" "$N64_ALWAYS"
stop "$REDIS_PID"
