# Shared helpers for the peer baseline scripts; each script sources this file and runs on its own.
# Every script prints its results as machine-readable lines `KEY: name value unit` on stdout.
# Env: SCRATCH (scratch directory; default a new temporary one, removed at exit),
#      PEERS_VENV (Python venv for PyPI-only clients; default ~/.cache/shardlog-peers/venv).
set -euo pipefail

PEERS_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$PEERS_DIR/../.." && pwd)"
SUDO="$([[ "$(id -u)" = 0 ]] || echo sudo)"
PEERS_PIDS=()
PEERS_OWN_SCRATCH=0

if [[ -z "${SCRATCH:-}" ]]; then
    SCRATCH="$(mktemp -d "${TMPDIR:-/tmp}/shardlog-peers.XXXXXX")"
    PEERS_OWN_SCRATCH=1
fi
mkdir -p "$SCRATCH"

peers_cleanup() {
    local pid
    for pid in "${PEERS_PIDS[@]:-}"; do
        [[ -n "$pid" ]] || continue
        if kill -0 "$pid" 2>/dev/null; then
            kill "$pid" 2>/dev/null || true
            for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
            kill -9 "$pid" 2>/dev/null || true
        fi
        wait "$pid" 2>/dev/null || true
    done
    if (( PEERS_OWN_SCRATCH )); then rm -rf "$SCRATCH"; fi
}
trap peers_cleanup EXIT

# track PID: kill it (by PID) when the script exits.
track() { PEERS_PIDS+=("$1"); }

# stop PID: kill one tracked process now.
stop() {
    local pid="$1"
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

log() { printf '%s: %s\n' "$(basename "$0" .sh)" "$*" >&2; }

# key NAME VALUE UNIT
key() { printf 'KEY: %s %s %s\n' "$1" "$2" "$3"; }

# ensure_apt PKG...: install the Debian packages that are missing (apt-get update only then).
ensure_apt() {
    local missing=() p
    for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
    (( ${#missing[@]} )) || return 0
    log "apt-get install ${missing[*]}"
    $SUDO apt-get update -qq
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# free_port: an unused TCP port on 127.0.0.1.
free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# wait_port PORT [SECONDS]: wait until 127.0.0.1:PORT accepts connections.
wait_port() {
    local port="$1" deadline=$((SECONDS + ${2:-10}))
    until python3 -c "import socket,sys; socket.create_connection(('127.0.0.1',$port),0.2).close()" 2>/dev/null; do
        (( SECONDS < deadline )) || { log "port $port did not open"; return 1; }
        sleep 0.1
    done
}

# peers_venv: create (once) and print the path of a venv for PyPI-only benchmark clients.
peers_venv() {
    local venv="${PEERS_VENV:-$HOME/.cache/shardlog-peers/venv}"
    if [[ ! -x "$venv/bin/python" ]]; then
        python3 -m venv "$venv" >&2
    fi
    printf '%s\n' "$venv"
}

# measure_point NAME UNIT [--server-pid PID] [--pattern REGEX] COMMAND...: one point with the CPU other work used
# during it, re-measured (at most twice) while that exceeds 20% of a core (see measure.py).
measure_point() {
    local name="$1" unit="$2"; shift 2
    python3 "$PEERS_DIR/measure.py" "$name" "$unit" "$@"
}
