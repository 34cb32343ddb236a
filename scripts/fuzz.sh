#!/usr/bin/env bash
# Runs ShardLog's libFuzzer targets one after another (Linux, Swift 6.3): `make fuzz` or `scripts/fuzz.sh [target...]`.
#
# Build: the separate package in Fuzz/ (so `swift build` and CI never build it) is built once with
#   swift build --package-path Fuzz -c debug -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library
# into Fuzz/.build; every Swift module (ShardLog, NIO, Hummingbird…) gets coverage and ASan; libFuzzer supplies main.
# One executable, `shardlog-fuzz`, holds every target; SHARDLOG_FUZZ_TARGET picks one (one instrumented link instead
# of thirteen). The harness functions live in Sources/ShardLogFuzzing and are replayed by `swift test`
# (Tests/ShardLogFuzzingTests) over Fixtures/fuzz/<target>/ (seeds + regressions/).
#
# Per target: fuzz for FUZZ_SECONDS (default 60) with the committed seeds, writing new inputs to a per-run folder,
# then `-merge=1` them into the scratch corpus FUZZ_CORPUS/<target> (default .build-fuzz/corpus, not committed), and
# print executions/s and the corpus size. A crash leaves its input in FUZZ_CORPUS/artifacts/<target>/ and makes the
# script exit 1 after the remaining targets. Turn a fixed crash into a regression test by copying its input to
# Fixtures/fuzz/<target>/regressions/. Fixtures/fuzz/<target>/corpus/ holds a merged corpus from an earlier run
# (refresh it by copying FUZZ_CORPUS/<target>/ there; keep Fixtures/fuzz under ~2 MB).
#
# Environment: FUZZ_SECONDS (60), FUZZ_RSS_MB (2048, whole-process limit), FUZZ_MALLOC_MB (512, one allocation),
# FUZZ_TIMEOUT (20 s per input), FUZZ_CORPUS, SWIFT, FUZZ_FLAGS (extra libFuzzer flags; `-fork=1 -ignore_crashes=1`
# keeps fuzzing past a known crash that is not fixed yet, see Fixtures/fuzz-pending/).
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
SWIFT="${SWIFT:-swift}"
seconds="${FUZZ_SECONDS:-60}"
rss_mb="${FUZZ_RSS_MB:-2048}"
malloc_mb="${FUZZ_MALLOC_MB:-512}"
timeout_s="${FUZZ_TIMEOUT:-20}"
scratch="${FUZZ_CORPUS:-$root/.build-fuzz/corpus}"
build=(--package-path "$root/Fuzz" -c debug -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library)

if [[ "$(uname -s)" != Linux ]]; then
  echo "fuzz: libFuzzer with -sanitize=fuzzer needs the Linux Swift toolchain" >&2
  exit 2
fi

echo "fuzz: building the instrumented harness (first build: several minutes)" >&2
"$SWIFT" build "${build[@]}" --product shardlog-fuzz 2>&1 | grep -vE 'ld.gold: warning: Cannot export local symbol' >&2
bin="$("$SWIFT" build "${build[@]}" --show-bin-path)/shardlog-fuzz"

if (($#)); then
  targets=("$@")
else
  targets=()
  for dir in "$root"/Fixtures/fuzz/*/; do targets+=("$(basename "$dir")"); done
fi

# The Swift runtime's backtracer would hold a crashing process for many seconds; ASan and libFuzzer report instead.
export SWIFT_BACKTRACE=enable=no
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=0:allocator_may_return_null=0:handle_abort=1}"

failed=()
summary=()
for target in "${targets[@]}"; do
  seeds="$root/Fixtures/fuzz/$target"
  [[ -d "$seeds" ]] || { echo "fuzz: no seed folder $seeds" >&2; exit 2; }
  corpus="$scratch/$target"
  run="$scratch/run/$target"
  artifacts="$scratch/artifacts/$target"
  log="$scratch/logs/$target.log"
  rm -rf "$run"
  mkdir -p "$corpus" "$run" "$artifacts" "$(dirname "$log")"
  echo "fuzz: $target for ${seconds}s" >&2
  status=0
  # Seeds (with regressions/) and the scratch corpus are read; new inputs go to $run only.
  # shellcheck disable=SC2086
  SHARDLOG_FUZZ_TARGET="$target" "$bin" -max_total_time="$seconds" -rss_limit_mb="$rss_mb" \
    -malloc_limit_mb="$malloc_mb" -timeout="$timeout_s" -print_final_stats=1 \
    -artifact_prefix="$artifacts/" ${FUZZ_FLAGS:-} "$run" "$corpus" "$seeds" >"$log" 2>&1 || status=$?
  runs="$(grep -oE 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -oE '[0-9]+$' | tail -1 || true)"
  took="$(grep -oE 'Done [0-9]+ runs in [0-9]+ second' "$log" | grep -oE 'in [0-9]+' | grep -oE '[0-9]+' | tail -1 || true)"
  [[ -n "$took" && "$took" -gt 0 ]] || took="$seconds"
  # Keep only what adds coverage: merge this run's new inputs into the scratch corpus.
  SHARDLOG_FUZZ_TARGET="$target" "$bin" -merge=1 -rss_limit_mb="$rss_mb" -malloc_limit_mb="$malloc_mb" \
    -timeout="$timeout_s" "$corpus" "$run" >>"$log" 2>&1 || true
  files="$(find "$corpus" -type f | wc -l)"
  bytes="$(du -sb "$corpus" | cut -f1)"
  if ((status != 0)); then
    failed+=("$target")
    echo "fuzz: $target FAILED (exit $status); input and report: $artifacts/, $log" >&2
    grep -E '^(==[0-9]+==ERROR|SUMMARY|.*Fatal error|.*precondition)' "$log" | head -5 >&2 || true
  fi
  line="$(printf '%-16s %10s execs %6s execs/s  corpus %5s files %9s bytes  %s' "$target" "${runs:-?}" \
    "$(( ${runs:-0} / took ))" "$files" "$bytes" "$( ((status == 0)) && echo ok || echo CRASH)")"
  summary+=("$line")
  echo "fuzz: $line" >&2
done

echo
printf '%s\n' "${summary[@]}"
if ((${#failed[@]})); then
  echo "fuzz: crashes in: ${failed[*]} (inputs in $scratch/artifacts/)" >&2
  exit 1
fi
