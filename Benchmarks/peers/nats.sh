#!/usr/bin/env bash
# NATS JetStream baseline: Debian's nats-server with JetStream file storage on 127.0.0.1, driven by the Go client
# (nats.go from Debian's golang-github-nats-io-go-nats-dev, built in GOPATH mode with Debian's golang-go: no
# downloads) publishing 100-byte messages to a file-backed stream, each acked by the server:
#   - async: PublishAsync with at most 256 acks outstanding, NATS_N_ASYNC messages;
#   - sync: wait for each ack before the next publish, NATS_N_SYNC messages.
# Every run recreates the stream and checks it holds exactly N messages (natsbench/main.go).
source "$(dirname "${BASH_SOURCE[0]}")/_lib.sh"
ensure_apt nats-server golang-go golang-github-nats-io-go-nats-dev

# GOPATH mode over Debian's packaged sources; the build cache stays in SCRATCH.
export GO111MODULE=off GOPATH="$SCRATCH/gopath:/usr/share/gocode" GOCACHE="$SCRATCH/gocache" GOFLAGS= GOPROXY=off
go build -o "$SCRATCH/natsbench" "$PEERS_DIR/natsbench/main.go"

PORT="$(free_port)"
mkdir -p "$SCRATCH/nats"
nats-server -a 127.0.0.1 -p "$PORT" -js -sd "$SCRATCH/nats" -l "$SCRATCH/nats/server.log" &
NATS_PID=$!
track "$NATS_PID"
wait_port "$PORT"
log "nats-server $(nats-server --version | awk '{print $2}') pid $NATS_PID on 127.0.0.1:$PORT, store $SCRATCH/nats"

URL="nats://127.0.0.1:$PORT"
SIZE="${NATS_MESSAGE_BYTES:-100}"
key nats_message_bytes "$SIZE" bytes
measure_point nats_js_file_async_w256 msg/s --server-pid "$NATS_PID" -- \
    timeout 90 "$SCRATCH/natsbench" "$URL" "${NATS_N_ASYNC:-200000}" async "$SIZE"
measure_point nats_js_file_sync msg/s --server-pid "$NATS_PID" -- \
    timeout 90 "$SCRATCH/natsbench" "$URL" "${NATS_N_SYNC:-20000}" sync "$SIZE"
stop "$NATS_PID"
