#!/usr/bin/env bash
# Cost of one admitted peer sending undecodable payloads (issue 10, item 3): runs the same 3-process experiment
# (6 agents on a ring, 2 per process) with and without `--fault Garbage` on process 2, and prints the wall time
# of the honest processes 0 and 1 and the mean round time of the honest agents 0..3 (from their reports).
# Usage: benchmarks/garbage-peer.sh [ROUNDS] [REPEATS]   (uses ./parse, i.e. a Release build)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
rounds="${1:-30}"
repeats="${2:-1}"
work="$(mktemp -d /tmp/parse-garbage.XXXXXX)"
trap 'rm -rf "$work"' EXIT
cat > "$work/exp.yaml" <<YAML
name: garbage-peer
strategy: parse
rounds: $rounds
seed: 3
data: { name: synthetic-pid, modalities: [a, b], samples_per_agent: 64, test_samples: 256, noise: 0.5 }
agents: { count: 6, mix: "2:2:2" }
model: { latent_dim: 24, split: [8, 8, 8], encoders: { default: { kind: mlp, hidden: 32, layers: 1 } }, synergy_hidden: 32 }
train: { batch_size: 16, local_steps: 2 }
eval: { every: $rounds }
sim: { parallelism: 1 }
timing: { deadline_ms: 5000 }
cluster: { discovery_quiet_ms: 800, discovery_timeout_ms: 60000, linger_ms: 5000, failure_detection_ms: 4000 }
YAML
"$root/parse" validate "$work/exp.yaml" > /dev/null   # builds once, before the clock starts
dll="$root/src/Parse.Cli/bin/Release/net10.0/Parse.Cli.dll"
export PARSE_SECRET=garbage-bench
run() {   # $1 = label, $2 = fault of process 2
  local out="$work/$1" base=$((20000 + RANDOM % 20000))
  local seeds="127.0.0.1:$base,127.0.0.1:$((base + 1)),127.0.0.1:$((base + 2))"
  local start; start=$(date +%s.%N)
  local pids=()
  mkdir -p "$out"
  for k in 0 1 2; do
    local fault=None; [[ $k == 2 ]] && fault="$2"
    ( dotnet "$dll" node --config "$work/exp.yaml" --agent "$((2 * k)),$((2 * k + 1))" --port $((base + k)) --seed-nodes "$seeds" \
        --out "$out/node$k" --fault "$fault" > "$out.node$k.log" 2>&1; echo "$(date +%s.%N)" > "$out.node$k.end" ) &
    pids+=($!)
  done
  wait "${pids[@]}"
  python3 - "$1" "$out" "$start" <<'PY'
import json, sys, glob
label, out, start = sys.argv[1], sys.argv[2], float(sys.argv[3])
walls = [float(open(f"{out}.node{k}.end").read()) - start for k in (0, 1)]
reps = [json.load(open(f)) for f in sorted(glob.glob(f"{out}/node[01]/agent-*.json"))]
mean_round = sum(r["mean_round_seconds"] for r in reps) / len(reps)
deadline = sum(r["deadline_rounds"] for r in reps)
quarantined = sorted({q for r in reps for q in r.get("quarantined", [])})
print(f"{label:8s} honest wall {max(walls):6.1f} s  mean round (agents 0-3) {mean_round:.3f} s  deadline rounds {deadline}  quarantined {quarantined}")
PY
}
for i in $(seq 1 "$repeats"); do
  run "clean-$i" None
  run "garbage-$i" Garbage
done
