#!/usr/bin/env bash
# The RTSP stall experiment of docs/reliability.md ("RTSP streams under
# load"): the multi-stream RTSP test (8 streams from a gst-rtsp-server on
# 127.0.0.1, RTP over TCP) under CPU pressure, alternately with our elements
# (maskrcnn sharing one engine, batch-size 3) and without them (identity in
# maskrcnn's place: rtspsrc ! rtpvp8depay ! vp8dec ! videoconvert ! queue !
# identity ! fakesink; kind "none" sleeps RTSP_STALL_SLEEP_US, default 1.5
# s, per frame in identity, as long as the engine takes per frame of a
# stream under this load, so that the streams live as long; kind "fast"
# does not sleep). Each run writes the RTSP receiver's GST_DEBUG log to
# a file; a run that has a stream without EOS, or runs past STALL_S seconds,
# gets every thread's stack from gdb (once, while it waits).
#
# usage: tools/bench/rtsp-stall.sh [RUNS] [BUSY_LOOPS] [OUT_DIR]
#        (defaults: 10 runs of each kind, 4 busy loops, build/rtsp-stall)
# Environment: MRCNN_BUILD_DIR (build), STALL_S (150), RTSP_STALL_DEBUG (the
# GST_DEBUG of each run), RTSP_STALL_KINDS ("elements none"; also "fast"),
# RTSP_STALL_NICE and RTSP_STALL_BUSY_NICE (the runs' and the busy loops'
# nice value, 19 and 19), MRCNN_MULTISTREAM_TIMEOUT (120).
# Prints one line per run and a count per kind. Needs gdb for the stacks.
set -euo pipefail
cd "$(dirname "$0")/../.."
runs=${1:-10}
busy=${2:-4}
out=${3:-build/rtsp-stall}
build=${MRCNN_BUILD_DIR:-build}
stall_s=${STALL_S:-150}
debug=${RTSP_STALL_DEBUG:-rtspsrc:6,rtpbin:5,rtpjitterbuffer:6,rtpsession:5,rtpssrcdemux:5,rtpvp8depay:5}
kinds=${RTSP_STALL_KINDS:-elements none}
run_nice=${RTSP_STALL_NICE:-19}
busy_nice=${RTSP_STALL_BUSY_NICE:-19}
bin=$build/tests/gst/test-gst-multistream
[ -x "$bin" ] || { echo "rtsp-stall: build $bin first" >&2; exit 2; }
mkdir -p "$out"

export GST_PLUGIN_PATH=$PWD/$build/gst
export GST_REGISTRY=$PWD/$build/tests/gst/gst-registry.bin
export MRCNN_MULTISTREAM_STREAMS=8 MRCNN_MULTISTREAM_BATCH=3
export MRCNN_MULTISTREAM_TIMEOUT=${MRCNN_MULTISTREAM_TIMEOUT:-120}

pids=()
stop_busy() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; pids=(); }
trap stop_busy EXIT
for _ in $(seq "$busy"); do
  nice -n "$busy_nice" bash -c 'while :; do :; done' &
  pids+=($!)
done

declare -A ok eos stalled
echo "== $(date -u +%FT%TZ) $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores," \
  "load $(cut -d' ' -f1-3 /proc/loadavg), $busy busy loops at nice $busy_nice, runs at nice $run_nice"
for r in $(seq "$runs"); do
  for kind in $kinds; do
    name=$kind-$r
    elements=1 sleep_us=0
    [ "$kind" != elements ] && elements=0
    [ "$kind" = none ] && sleep_us=${RTSP_STALL_SLEEP_US:-1500000}
    start=$(date +%s)
    MRCNN_MULTISTREAM_ELEMENTS=$elements MRCNN_MULTISTREAM_SLEEP_US=$sleep_us GST_DEBUG=$debug GST_DEBUG_NO_COLOR=1 \
      GST_DEBUG_FILE=$out/$name.gst.log nice -n "$run_nice" "$bin" \
      data/shapes-640x360.webm models/shapes.safetensors > "$out/$name.log" 2>&1 &
    pid=$!
    stacked=0
    while kill -0 "$pid" 2>/dev/null; do
      sleep 1
      elapsed=$(( $(date +%s) - start ))
      if [ $stacked = 0 ] && { grep -q "streams have no EOS" "$out/$name.log" \
          || [ "$elapsed" -ge "$stall_s" ]; }; then
        # Let the test reach its stop (it waits for EOS 30 s first).
        sleep 5
        gdb -p "$pid" -batch -ex "thread apply all bt" > "$out/$name.stacks" 2>&1 || true
        stacked=1
      fi
    done
    set +e
    wait "$pid"
    rc=$?
    set -e
    elapsed=$(( $(date +%s) - start ))
    what=passed
    if grep -q "pipeline is stuck" "$out/$name.log"; then
      what="STALLED ($(grep -o 'stuck while [a-z]*' "$out/$name.log"))"
      stalled[$kind]=$(( ${stalled[$kind]:-0} + 1 ))
    elif grep -q "streams have no EOS" "$out/$name.log"; then
      what="no EOS on $(grep -o '[0-9]* of [0-9]* streams have no EOS' "$out/$name.log")"
      eos[$kind]=$(( ${eos[$kind]:-0} + 1 ))
    elif [ $rc = 0 ]; then
      ok[$kind]=$(( ${ok[$kind]:-0} + 1 ))
    else
      what="failed (exit $rc)"
    fi
    [ $stacked = 1 ] && what="$what, stacks in $out/$name.stacks"
    echo "$name: exit $rc after ${elapsed}s: $what"
    # Keep the debug log of a run that went wrong only: a passing one is
    # tens of MB.
    if [ "$what" = passed ]; then rm -f "$out/$name.gst.log"; fi
  done
done
stop_busy
for kind in $kinds; do
  echo "$kind: ${ok[$kind]:-0} passed, ${eos[$kind]:-0} without an EOS but ended," \
    "${stalled[$kind]:-0} stalled, of $runs"
done
