#!/usr/bin/env bash
# The engine's frame rate with busy neighbours: N processes that each keep a
# core busy (a shell loop at normal priority) run beside mrcnn-bench, for
# several thread and OpenMP wait-policy settings, in interleaved rounds.
#
# usage: tools/bench/threads-under-load.sh [MODEL] [IMAGE] [NEIGHBOURS] [ROUNDS]
#        (defaults: models/shapes.safetensors, a synthetic 640x360 frame, 2, 3)
# Prints one line per run and a table of the best frames/s per setting.
set -euo pipefail
cd "$(dirname "$0")/../.."
model=${1:-models/shapes.safetensors}
image=${2:-}
neighbours=${3:-2}
rounds=${4:-3}
bench=${MRCNN_BENCH:-build/engine/tools/mrcnn-bench}
input=(--width 640 --height 360)
[ -n "$image" ] && input=(--image "$image")

settings=("threads=0" "threads=1" "threads=0 OMP_WAIT_POLICY=passive" "threads=0 GOMP_SPINCOUNT=10000")
pids=()
stop_neighbours() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; pids=(); }
trap stop_neighbours EXIT
declare -A best
for load in idle loaded; do
  if [ "$load" = loaded ]; then
    for _ in $(seq "$neighbours"); do ( while :; do :; done ) & pids+=($!); done
  fi
  for r in $(seq "$rounds"); do
    for s in "${settings[@]}"; do
      threads=${s%% *}; threads=${threads#threads=}
      envs=(); [[ "$s" == *" "* ]] && envs=("${s#* }")
      fps=$(env "${envs[@]}" "$bench" --model "$model" "${input[@]}" --frames 30 --warmup 3 \
            --threads "$threads" | awk '/^mean/ {print $(NF-1)}')
      echo "$load round $r  $s: $fps frames/s"
      key="$load|$s"
      if [ -z "${best[$key]:-}" ] || awk -v a="$fps" -v b="${best[$key]}" 'BEGIN {exit !(a > b)}'; then
        best[$key]=$fps
      fi
    done
  done
  stop_neighbours
done
echo
printf '%-40s %12s %12s\n' setting idle "loaded($neighbours)"
for s in "${settings[@]}"; do
  printf '%-40s %12s %12s\n' "$s" "${best[idle|$s]}" "${best[loaded|$s]}"
done
