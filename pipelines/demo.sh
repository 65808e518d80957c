#!/usr/bin/env bash
# The main job on the shipped default model: instance segmentation of the
# shipped sample clip (data/shapes-640x360.webm) through
#
#   filesrc ! decodebin ! videoconvert ! maskrcnn ! maskrcnnoverlay ! vp8enc ! webmmux
#
# writing the annotated video and one PNG snapshot per second, and printing the
# detections of the clip's first frame. Installs and builds what is missing
# first (Debian 12, as root). Output goes to the directory given as the first
# argument (default: demo-output/ at the top of the source tree).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=$(mkdir -p "${1:-$ROOT/demo-output}" && cd "${1:-$ROOT/demo-output}" && pwd)
CLIP=$ROOT/data/shapes-640x360.webm

echo "== setting up (packages, build) ..."
# Only what the demo needs (Debian packages; no torch, nothing from PyPI).
MRCNN_SETUP_FOR=demo bash "$ROOT/tools/setup.sh" > "$OUT/setup.log" 2>&1 || {
  echo "setup failed; see $OUT/setup.log" >&2
  tail -20 "$OUT/setup.log" >&2
  exit 1
}
BUILD=${MRCNN_BUILD_DIR:-$ROOT/build}
source "$ROOT/pipelines/env.sh"

echo "== detections in the first frame of $(basename "$CLIP"):"
gst-launch-1.0 -q filesrc location="$CLIP" ! decodebin ! videoconvert \
  ! video/x-raw,format=RGB ! pngenc snapshot=true \
  ! filesink location="$OUT/first-frame.png"
"$BUILD/engine/tools/mrcnn-infer" --json "$OUT/first-frame.json" \
  --overlay "$OUT/first-frame-overlay.png" "$OUT/first-frame.png"

echo "== running the pipeline on the whole clip ..."
rm -f "$OUT"/snapshot-*.png
start=$(date +%s%N)
gst-launch-1.0 -q filesrc location="$CLIP" ! decodebin ! videoconvert \
  ! maskrcnn ! maskrcnnoverlay ! tee name=t \
  t. ! queue ! videoconvert ! vp8enc deadline=1 cpu-used=8 ! webmmux \
     ! filesink location="$OUT/demo.webm" \
  t. ! queue ! videorate drop-only=true ! video/x-raw,framerate=1/1 \
     ! videoconvert ! pngenc ! multifilesink location="$OUT/snapshot-%02d.png"
end=$(date +%s%N)

ms=$(( (end - start) / 1000000 ))
echo "== done in $((ms / 1000)).$(( (ms % 1000) / 100 )) s"
echo "annotated video:  $OUT/demo.webm"
echo "snapshots:        $(ls "$OUT"/snapshot-*.png | head -1) (one per second)"
echo "first frame:      $OUT/first-frame-overlay.png, detections in $OUT/first-frame.json"
