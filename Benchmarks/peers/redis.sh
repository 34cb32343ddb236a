#!/usr/bin/env bash
# Redis Streams baseline (Debian redis-server/redis-tools) on 127.0.0.1: XADD with a 100-byte field
# value, driven by redis-benchmark on the same machine, not pipelined (-P 1) and pipelined (-P 64),
# with 1 and 2 clients, first without persistence (--save "" --appendonly no), then with
# AOF (--appendonly yes --appendfsync everysec). Plus PING as the loopback round-trip reference.
# Counts: REDIS_N1 requests unpipelined, REDIS_N64 pipelined; each call is bounded by `timeout`.
source "$(dirname "${BASH_SOURCE[0]}")/_lib.sh"
ensure_apt redis-server redis-tools

N1="${REDIS_N1:-40000}"
N64="${REDIS_N64:-1000000}"
VALUE="$(printf 'v%.0s' $(seq 100))" # 100 bytes

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

rps() { # redis-benchmark args... -> requests per second
    timeout 90 redis-benchmark -h 127.0.0.1 -p "$PORT" -q "$@" 2>/dev/null | tr '\r' '\n' |
        sed -nE 's/.*: ([0-9.]+) requests per second.*/\1/p' | tail -1 | cut -d. -f1
}

xadd() { # name clients pipeline n
    redis-cli -h 127.0.0.1 -p "$PORT" DEL s >/dev/null
    key "$1" "$(rps -c "$2" -P "$3" -n "$4" XADD s '*' field "$VALUE")" ops/s
}

start_redis nopersist --appendonly no
key redis_ping_p1_c1 "$(rps -c 1 -P 1 -n "$N1" PING)" ops/s
xadd redis_xadd_nopersist_p1_c1 1 1 "$N1"
xadd redis_xadd_nopersist_p1_c2 2 1 "$N1"
xadd redis_xadd_nopersist_p64_c1 1 64 "$N64"
xadd redis_xadd_nopersist_p64_c2 2 64 "$N64"
stop "$REDIS_PID"

start_redis aof --appendonly yes --appendfsync everysec --auto-aof-rewrite-percentage 0
xadd redis_xadd_aof_everysec_p1_c1 1 1 "$N1"
xadd redis_xadd_aof_everysec_p1_c2 2 1 "$N1"
xadd redis_xadd_aof_everysec_p64_c1 1 64 "$N64"
xadd redis_xadd_aof_everysec_p64_c2 2 64 "$N64"
stop "$REDIS_PID"
