#!/usr/bin/env bash
# NATS JetStream baseline: Debian's nats-server with JetStream file storage on 127.0.0.1, and a
# Python publisher (nats-py from PyPI, in a venv: Debian has no NATS bench client) sending 100-byte
# messages to a file-backed stream, each acked by the server:
#   - async: publish_async with at most NATS_WINDOW (256) acks outstanding, NATS_N_ASYNC messages;
#   - sync: await each ack before the next publish, NATS_N_SYNC messages.
# Every run recreates the stream and checks it holds exactly N messages. Note: nats-py is
# client-bound (one Python core), so this is a floor for JetStream, not its ceiling.
source "$(dirname "${BASH_SOURCE[0]}")/_lib.sh"

if ! dpkg -s nats-server >/dev/null 2>&1; then
    if ! apt-cache policy nats-server 2>/dev/null | grep -q 'Candidate: [0-9]'; then
        $SUDO apt-get update -qq || true
    fi
    if apt-cache policy nats-server 2>/dev/null | grep -q 'Candidate: [0-9]'; then
        ensure_apt nats-server
    else
        log "nats-server is not available from this machine's Debian sources"
        key nats_unavailable 1 flag
        exit 0
    fi
fi

VENV="$(peers_venv)"
"$VENV/bin/python" -c 'import nats' 2>/dev/null ||
    PIP_ROOT_USER_ACTION=ignore "$VENV/bin/pip" install -q --disable-pip-version-check nats-py >&2

PORT="$(free_port)"
mkdir -p "$SCRATCH/nats"
nats-server -a 127.0.0.1 -p "$PORT" -js -sd "$SCRATCH/nats" -l "$SCRATCH/nats/server.log" &
NATS_PID=$!
track "$NATS_PID"
wait_port "$PORT"
log "nats-server $(nats-server --version | awk '{print $2}') pid $NATS_PID on 127.0.0.1:$PORT, store $SCRATCH/nats"

cat >"$SCRATCH/nats_pub.py" <<'PY'
import asyncio, sys, time
import nats

PORT, N_ASYNC, N_SYNC, WINDOW = (int(a) for a in sys.argv[1:5])
PAYLOAD = b"x" * 100


async def main():
    nc = await nats.connect(f"nats://127.0.0.1:{PORT}")
    js = nc.jetstream(publish_async_max_pending=WINDOW)

    async def fresh_stream():
        try:
            await js.delete_stream("BENCH")
        except Exception:
            pass
        await js.add_stream(name="BENCH", subjects=["bench.>"], storage="file")

    async def check(n):
        got = (await js.stream_info("BENCH")).state.messages
        if got != n:
            sys.exit(f"nats: stream holds {got} messages, expected {n}")

    await fresh_stream()
    t0 = time.perf_counter()
    futures = [await js.publish_async("bench.a", PAYLOAD) for _ in range(N_ASYNC)]
    await asyncio.wait_for(js.publish_async_completed(), 60)
    dt = time.perf_counter() - t0
    errors = sum(1 for f in futures if f.exception() is not None)
    await check(N_ASYNC)
    print(f"KEY: nats_js_file_async_w{WINDOW} {N_ASYNC / dt:.0f} msg/s")
    if errors:
        sys.exit(f"nats: {errors} async publishes failed")

    await fresh_stream()
    t0 = time.perf_counter()
    for _ in range(N_SYNC):
        await js.publish("bench.s", PAYLOAD)
    dt = time.perf_counter() - t0
    await check(N_SYNC)
    print(f"KEY: nats_js_file_sync {N_SYNC / dt:.0f} msg/s")
    await nc.close()


asyncio.run(main())
PY
timeout 120 "$VENV/bin/python" "$SCRATCH/nats_pub.py" "$PORT" "${NATS_N_ASYNC:-100000}" "${NATS_N_SYNC:-10000}" "${NATS_WINDOW:-256}"
stop "$NATS_PID"
