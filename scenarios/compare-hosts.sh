#!/usr/bin/env bash
# Runs one scenario against several hosts, one after the other, then compares the runs with
# `pelt compare` (the first host is the baseline). See docs/CAPACITY.md.
#
#   scenarios/compare-hosts.sh SCENARIO.toml URL [URL ...] [-- COMPARE OPTIONS]
#
#   scenarios/compare-hosts.sh scenarios/baseline.toml http://x86:8080 http://arm:8080
#   scenarios/compare-hosts.sh scenarios/baseline.toml http://old:8080 http://new:8080 \
#       -- --fail-if "p(95) > +10%" --fail-if "req/s < -5%" --html out/compare.html
#
# Environment: PELT (the pelt binary, default "pelt"), OUT (where the summaries go, default
# out/compare-YYYYmmdd-HHMMSS), PELT_RUN_ARGS (more `pelt run` options, e.g. "--threads 4").
# Exit code: pelt compare's (0, 99 when a --fail-if rule fired, 2 for bad input), or 2 when a
# run could not start (its message is printed); a run whose thresholds were crossed (99) is
# still compared.
set -euo pipefail

PELT="${PELT:-pelt}"
if [ $# -lt 2 ]; then
  sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
fi
scenario="$1"
shift
urls=()
while [ $# -gt 0 ] && [ "$1" != "--" ]; do
  urls+=("$1")
  shift
done
[ "${1:-}" = "--" ] && shift
if [ "${#urls[@]}" -lt 2 ]; then
  echo "compare-hosts.sh: give at least two URLs to compare" >&2
  exit 2
fi
out="${OUT:-out/compare-$(date +%Y%m%d-%H%M%S)}"
mkdir -p "$out"

summaries=()
i=0
for url in "${urls[@]}"; do
  i=$((i + 1))
  # out/compare-.../01-x86_8080.json: numbered so the files keep the hosts' order.
  host="$(printf '%s' "$url" | sed -E 's#^[a-z]+://##; s#/.*$##; s#[^A-Za-z0-9._-]+#_#g')"
  summary="$out/$(printf '%02d' "$i")-$host.json"
  echo "== $url" >&2
  rc=0
  # shellcheck disable=SC2086
  "$PELT" run "$scenario" --target "$url" --summary-json "$summary" --quiet ${PELT_RUN_ARGS:-} >"$summary.txt" || rc=$?
  if [ "$rc" -ne 0 ] && [ "$rc" -ne 99 ]; then
    cat "$summary.txt" >&2
    echo "compare-hosts.sh: the run against $url failed (exit $rc)" >&2
    exit 2
  fi
  summaries+=("$summary")
done
exec "$PELT" compare "${summaries[@]}" "$@"
