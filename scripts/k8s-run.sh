#!/bin/sh
# Runs one pelt plan as a fleet on Kubernetes and judges it as one run:
#   1. renders deploy/kubernetes (or -k DIR) with N instances, a shared run id and a start time
#      LEAD seconds ahead (--start-at: the pods start together when their clocks agree);
#   2. applies it (an Indexed Job of N pods, pod I running --segment I/N) and waits for the end;
#   3. collects every pod's summary JSON from its log;
#   4. runs `pelt merge` on them and exits with its code: 0 every threshold held on the whole
#      fleet, 99 one was crossed, 2 the summaries could not be merged (a missing pod: "missing
#      segment 2/4"), 1 an output could not be written; 1 also when the Job itself failed.
# Needs kubectl (with -k), a cluster that can pull IMAGE, and pelt on this machine for the merge.
# docs/DISTRIBUTED.md describes the recipe.
set -eu

usage() {
  cat <<USAGE
Usage: scripts/k8s-run.sh [options]
  -n N             instances (default 4)
  -t THREADS       worker threads per instance (default 2; match the CPU request)
  -T URL           the target (default: the kustomization's, http://pelt-target:8080)
  -i IMAGE         the pelt image (default pelt:local, built from the repository's Dockerfile)
  -k DIR           the kustomization to run (default deploy/kubernetes)
  -s SECONDS       start this long after applying (default 60: time to schedule and pull)
  -o DIR           where the summaries and the merged report go (default out/fleet-RUNID)
  -N NAMESPACE     kubectl namespace (default: the context's)
  -w SECONDS       give up waiting for the Job after this long (default 3600)
  --allow-partial  merge what came back even if pods are missing (says which)
  --dry-run        print the manifests that would be applied, and stop
USAGE
}

here=$(cd "$(dirname "$0")/.." && pwd)
n=4 threads=2 target="" image="" base="$here/deploy/kubernetes" lead=60 out="" ns="" wait_s=3600
partial="" dry_run=""
while [ $# -gt 0 ]; do
  case "$1" in
    -n) n=$2; shift 2 ;;
    -t) threads=$2; shift 2 ;;
    -T) target=$2; shift 2 ;;
    -i) image=$2; shift 2 ;;
    -k) base=$2; shift 2 ;;
    -s) lead=$2; shift 2 ;;
    -o) out=$2; shift 2 ;;
    -N) ns=$2; shift 2 ;;
    -w) wait_s=$2; shift 2 ;;
    --allow-partial) partial=--allow-partial; shift ;;
    --dry-run) dry_run=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "k8s-run: unknown option $1" >&2; usage >&2; exit 2 ;;
  esac
done
case "$n$threads$lead$wait_s" in *[!0-9]*|"") echo "k8s-run: -n, -t, -s and -w take whole numbers" >&2; exit 2 ;; esac
[ "$n" -ge 1 ] || { echo "k8s-run: -n must be at least 1" >&2; exit 2; }

kubectl_ns() { if [ -n "$ns" ]; then kubectl -n "$ns" "$@"; else kubectl "$@"; fi; }

run_id="pelt-$(date -u +%Y%m%dT%H%M%SZ)"
start_at=$(date -u -d "@$(( $(date +%s) + lead ))" +%Y-%m-%dT%H:%M:%SZ)
[ -n "$out" ] || out="out/fleet-$run_id"

# An overlay of the base: N, threads, the run id, the start and the target in the pelt-fleet
# ConfigMap; parallelism and completions of the Job; the image.
overlay=$(mktemp -d)
trap 'rm -rf "$overlay"' EXIT
rel=$(realpath --relative-to="$overlay" "$base")
{
  echo "apiVersion: kustomize.config.k8s.io/v1beta1"
  echo "kind: Kustomization"
  echo "bases:"
  echo "  - $rel"
  echo "configMapGenerator:"
  echo "  - name: pelt-fleet"
  echo "    behavior: merge"
  echo "    literals:"
  echo "      - instances=$n"
  echo "      - threads=$threads"
  echo "      - run_id=$run_id"
  echo "      - start_at=$start_at"
  [ -z "$target" ] || echo "      - target=$target"
  echo "generatorOptions:"
  echo "  disableNameSuffixHash: true"
  echo "patchesStrategicMerge:"
  echo "  - job-patch.yaml"
  if [ -n "$image" ]; then
    echo "images:"
    echo "  - name: pelt:local"
    echo "    newName: ${image%:*}"
    case "$image" in *:*) echo "    newTag: \"${image##*:}\"" ;; esac
  fi
} > "$overlay/kustomization.yaml"
cat > "$overlay/job-patch.yaml" <<PATCH
apiVersion: batch/v1
kind: Job
metadata:
  name: pelt-fleet
spec:
  completions: $n
  parallelism: $n
PATCH

if [ -n "$dry_run" ]; then
  kubectl kustomize "$overlay" 2>/dev/null
  exit 0
fi

echo "k8s-run: run $run_id: $n instances x $threads threads, starting at $start_at" >&2
kubectl_ns delete job pelt-fleet --ignore-not-found --wait=true >/dev/null
kubectl_ns apply -k "$overlay" >&2

# Wait for every pod to end (succeeded or failed).
deadline=$(( $(date +%s) + lead + wait_s ))
while :; do
  done_pods=$(kubectl_ns get job pelt-fleet -o jsonpath='{.status.succeeded} {.status.failed}')
  set -- $done_pods
  ended=$(( ${1:-0} + ${2:-0} ))
  [ "$ended" -ge "$n" ] && break
  if [ "$(date +%s)" -ge "$deadline" ]; then
    echo "k8s-run: the Job did not end within the wait; merging what there is" >&2
    break
  fi
  # A Job that failed (backoffLimit 0: one pod failed) ends the others' chances too.
  if kubectl_ns get job pelt-fleet -o jsonpath='{.status.conditions[?(@.type=="Failed")].status}' | grep -q True; then
    echo "k8s-run: the Job failed; merging what there is" >&2
    break
  fi
  sleep 5
done

# Every pod's summary, from between the marker lines of its log.
mkdir -p "$out"
for pod in $(kubectl_ns get pods -l job-name=pelt-fleet -o name); do
  name=${pod#pod/}
  kubectl_ns logs "$pod" > "$out/$name.log" 2>/dev/null || true
  sed -n '/^----- pelt summary json -----$/,/^----- end pelt summary json -----$/p' "$out/$name.log" |
    sed '1d;$d' > "$out/$name.json"
  [ -s "$out/$name.json" ] || { echo "k8s-run: $name left no summary (see $out/$name.log)" >&2; rm -f "$out/$name.json"; }
done

set -- "$out"/*.json
[ -e "$1" ] || { echo "k8s-run: no pod left a summary" >&2; exit 1; }
code=0
"${PELT:-pelt}" merge "$@" --summary-json "$out/fleet.json" --report "$out/fleet.html" $partial || code=$?
echo "k8s-run: merged summary $out/fleet.json, report $out/fleet.html (exit $code)" >&2
exit "$code"
