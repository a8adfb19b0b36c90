#!/usr/bin/env bash
# Builds pelt's libFuzzer targets (fuzz/*_fuzz.cc) with clang and runs each on its corpus.
#
#   fuzz/run.sh                  build and run every target for $FUZZ_SECONDS (default 60) each
#   fuzz/run.sh units http1      only these targets
#   FUZZ_SECONDS=600 fuzz/run.sh config
#   FUZZ_BUILD_ONLY=1 fuzz/run.sh   build, do not run
#
# Binaries and logs go to build-fuzz/ (FUZZ_BUILD_DIR). Each run starts from a temporary copy
# of fuzz/corpus/<name>/ (plus extra read-only seed directories for some targets), so the repo
# corpus changes only when someone copies inputs into it on purpose. Crashing inputs (crash-,
# leak-, timeout-, oom- files) are copied to fuzz/crashes/<name>-<file> and printed in hex.
# Exit status: 0 when every target built and ran clean, 1 when any crashed, 2 on a build error.
# Needs Debian's clang and libclang-rt-14-dev (libFuzzer and the sanitizer runtimes).
set -u -o pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT" || exit 2
SECONDS_EACH="${FUZZ_SECONDS:-60}"
BUILD="${FUZZ_BUILD_DIR:-$ROOT/build-fuzz}"
CRASHES="$ROOT/fuzz/crashes"
CXX="${CXX_FUZZ:-clang++}"
# shellcheck disable=SC2054  # the commas belong to -fsanitize's value
CXXFLAGS=(-std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
          -fno-omit-frame-pointer -I "$ROOT/src")
export ASAN_OPTIONS="${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"

# Prints the pelt sources and libraries target $1 links (the list in the comment at the top of
# fuzz/$1_fuzz.cc), one word a line; fails for a target this script does not know yet.
sources_for() {
  case "$1" in
    units) echo src/util/units.cc ;;
    http1) echo src/wire/http1.cc src/wire/http1_scan.cc -lhttp_parser ;;
    h2_request) echo src/wire/h2_request.cc src/wire/http1_scan.cc -lhttp_parser ;;
    thresholds) echo src/results/thresholds.cc src/results/catalogue.cc src/results/stats.cc src/results/histogram.cc src/results/observe_results.cc src/util/units.cc -lfmt ;;
    config)
      echo src/config/*.cc src/wire/url.cc src/util/units.cc src/results/thresholds.cc src/results/catalogue.cc src/results/stats.cc src/results/histogram.cc src/results/observe_results.cc src/results/probe_window.cc src/results/series.cc src/observe/observe_config.cc src/outputs/output_config.cc -lfmt -lcrypto
      pkg-config --cflags --libs tomlplusplus ;;
    *) return 1 ;;
  esac
}

# Extra seed directories read (never written) by target $1's runs.
seeds_for() {
  case "$1" in
    config) echo "$ROOT/scenarios" "$ROOT/test/data/config" ;;
  esac
}

if ! command -v "$CXX" >/dev/null; then
  echo "fuzz: $CXX not found (install clang and libclang-rt-14-dev)" >&2
  exit 2
fi

names=("$@")
if [ ${#names[@]} -eq 0 ]; then
  for f in fuzz/*_fuzz.cc; do
    n="$(basename "$f" _fuzz.cc)"
    names+=("$n")
  done
fi

mkdir -p "$BUILD"
status=0
declare -A result=()

for name in "${names[@]}"; do
  src="fuzz/${name}_fuzz.cc"
  if [ ! -f "$src" ]; then
    echo "fuzz: no such target $src" >&2
    result[$name]="missing"
    status=2
    continue
  fi
  if ! deps="$(sources_for "$name")"; then
    echo "fuzz: $src: add its sources to sources_for() in fuzz/run.sh" >&2
    result[$name]="unknown sources"
    status=2
    continue
  fi
  bin="$BUILD/${name}_fuzz"
  echo "== building $bin"
  # shellcheck disable=SC2086  # deps is a word list on purpose (globs and flags)
  if ! "$CXX" "${CXXFLAGS[@]}" "$src" $deps -o "$bin" 2>"$BUILD/${name}_build.log"; then
    cat "$BUILD/${name}_build.log" >&2
    result[$name]="build failed"
    status=2
    continue
  fi
  if [ -n "${FUZZ_BUILD_ONLY:-}" ]; then
    result[$name]="built"
    continue
  fi

  work="$(mktemp -d "${TMPDIR:-/tmp}/pelt-fuzz-$name.XXXXXX")"
  mkdir -p "$work/corpus" "$work/artifacts"
  if [ -d "fuzz/corpus/$name" ]; then cp -R "fuzz/corpus/$name/." "$work/corpus/"; fi
  read -r -a extra <<<"$(seeds_for "$name")"  # seed directories, one word each
  log="$BUILD/${name}.log"
  echo "== running $name for ${SECONDS_EACH}s (log: $log)"
  "$bin" -max_total_time="$SECONDS_EACH" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$work/artifacts/" "$work/corpus" "${extra[@]}" >"$log" 2>&1
  rc=$?
  found=0
  for a in "$work"/artifacts/*; do
    [ -f "$a" ] || continue
    found=1
    mkdir -p "$CRASHES"
    dest="$CRASHES/${name}-$(basename "$a")"
    cp "$a" "$dest"
    echo "fuzz: $name: crashing input saved as $dest:"
    od -An -tx1 -v "$a" | head -20
  done
  if [ $rc -ne 0 ] || [ $found -ne 0 ]; then
    echo "fuzz: $name FAILED (exit $rc); the report is the end of $log:"
    grep -E "ERROR|SUMMARY|runtime error|#[0-9]+ 0x" "$log" | head -40
    result[$name]="CRASH"
    [ $status -eq 0 ] && status=1
  else
    result[$name]="ok ($(grep -Eo 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -Eo '[0-9]+$' || echo '?') runs)"
  fi
  rm -rf "$work"
done

echo "== summary"
for name in "${names[@]}"; do echo "  $name: ${result[$name]:-?}"; done
exit $status
