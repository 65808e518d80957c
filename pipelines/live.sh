#!/bin/bash
# Live instance segmentation: a camera (or a live test pattern where there
# is none) through maskrcnn and maskrcnnoverlay to a window.
#
#   pipelines/live.sh [--device /dev/video0] [--model PATH] [--interval N]
#                     [--frames N] [--headless]
#
# The network takes longer than a frame period on most CPUs: the leaky queue
# in front of maskrcnn drops the frames it cannot take instead of letting
# the camera fall behind, and --interval N runs the network on every N-th
# frame only (the frames between show the last result). --headless renders
# to a fakesink (printing the frame rate where fpsdisplaysink is installed),
# for machines without a display.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)

device=/dev/video0 model= interval=1 frames=-1 headless=0
while [ $# -gt 0 ]; do
  case "$1" in
    --device) device=$2; shift 2 ;;
    --model) model=$2; shift 2 ;;
    --interval) interval=$2; shift 2 ;;
    --frames) frames=$2; shift 2 ;;
    --headless) headless=1; shift ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    *) echo "live.sh: unknown option $1 (try --help)" >&2; exit 2 ;;
  esac
done

source "$here/env.sh"

if [ -c "$device" ]; then
  src="v4l2src device=$device num-buffers=$frames"
  echo "Camera: $device" >&2
else
  src="videotestsrc is-live=true pattern=ball num-buffers=$frames ! video/x-raw,width=640,height=480,framerate=15/1"
  echo "No camera at $device: using a live test pattern." >&2
fi

if [ "$headless" -eq 1 ] || { [ -z "${DISPLAY:-}" ] && [ -z "${WAYLAND_DISPLAY:-}" ]; }; then
  if gst-inspect-1.0 fpsdisplaysink >/dev/null 2>&1; then
    sink="fpsdisplaysink text-overlay=false video-sink=fakesink sync=false"
    verbose=-v
    echo "No display: rendering to fakesink, frame rate below." >&2
  else
    sink="fakesink sync=false"
    verbose=
    echo "No display: rendering to fakesink." >&2
  fi
else
  sink="autovideosink sync=false"
  verbose=
fi

set -x
gst-launch-1.0 -e $verbose \
  $src ! videoconvert ! \
  queue leaky=downstream max-size-buffers=1 max-size-time=0 max-size-bytes=0 ! \
  maskrcnn ${model:+model="$model"} interval="$interval" ! \
  maskrcnnoverlay ! videoconvert ! \
  $sink
