#!/usr/bin/env bash
# Objects over time on the shipped default model: the shipped sample clip
# (data/shapes-640x360.webm) through
#
#   maskrcnn ! maskrcnntrack ! maskrcnncount ! maskrcnnoverlay ! vp8enc ! webmmux
#
# with one counting line ("door", down the middle of the frame) and one zone
# ("bay", the lower left quarter). Writes the annotated video (track ids in
# the captions, trails, the line and zone with their counters), one PNG
# snapshot per second, every frame's detections with track ids and counts
# as JSON lines (maskrcnnpublish), and prints the final counts. Output goes
# to the directory given as the first argument (default: track-output/ at
# the top of the source tree). Set INTERVAL=2 to run the detector on every
# other frame (the tracker moves the carried instances in between).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=$(mkdir -p "${1:-$ROOT/track-output}" && cd "${1:-$ROOT/track-output}" && pwd)
CLIP=${CLIP:-$ROOT/data/shapes-640x360.webm}
INTERVAL=${INTERVAL:-1}

echo "== setting up (packages, build) ..."
MRCNN_SETUP_FOR=demo bash "$ROOT/tools/setup.sh" > "$OUT/setup.log" 2>&1 || {
  echo "setup failed; see $OUT/setup.log" >&2
  tail -20 "$OUT/setup.log" >&2
  exit 1
}
source "$ROOT/pipelines/env.sh"

LINES="door:0.5,0.05,0.5,0.95"
ZONES="bay:0.03,0.55,0.45,0.55,0.45,0.97,0.03,0.97"

echo "== tracking and counting $(basename "$CLIP") (interval $INTERVAL) ..."
rm -f "$OUT"/snapshot-*.png "$OUT/tracks.jsonl"
start=$(date +%s%N)
# score-threshold 0.1: the tracker's low-score stage sees the uncertain
# detections (it continues tracks with them; they never start one).
gst-launch-1.0 -q filesrc location="$CLIP" ! decodebin ! videoconvert \
  ! maskrcnn score-threshold=0.1 interval="$INTERVAL" \
  ! maskrcnntrack \
  ! maskrcnncount lines="$LINES" zones="$ZONES" \
  ! maskrcnnpublish location="$OUT/tracks.jsonl" include-masks=false \
  ! maskrcnnoverlay trail-length=30 ! tee name=t \
  t. ! queue ! videoconvert ! vp8enc deadline=1 cpu-used=8 ! webmmux \
     ! filesink location="$OUT/track.webm" \
  t. ! queue ! videorate drop-only=true ! video/x-raw,framerate=1/1 \
     ! videoconvert ! pngenc ! multifilesink location="$OUT/snapshot-%02d.png"
end=$(date +%s%N)
ms=$(( (end - start) / 1000000 ))
echo "== done in $((ms / 1000)).$(( (ms % 1000) / 100 )) s"

# The last frame's counts are the totals.
/usr/bin/python3 - "$OUT/tracks.jsonl" <<'PY'
import json, sys
ids, last = set(), None
with open(sys.argv[1]) as f:
    for line in f:
        doc = json.loads(line)
        ids.update(d["track_id"] for d in doc["detections"] if d["track_id"])
        last = doc
print("tracks seen:      %d" % len(ids))
counts = last.get("counts", {}) if last else {}
for line in counts.get("lines", []):
    def per_class(side):
        return ", ".join("%s %d" % (c["label"], c["count"]) for c in line[side]) or "none"
    print("line %-10s to the left: %s; to the right: %s"
          % (line["name"] + ":", per_class("to_left"), per_class("to_right")))
for zone in counts.get("zones", []):
    occ = ", ".join("%s %d" % (c["label"], c["count"]) for c in zone["occupancy"]) or "empty"
    print("zone %-10s now: %s" % (zone["name"] + ":", occ))
PY
echo "annotated video:  $OUT/track.webm"
echo "snapshots:        $(ls "$OUT"/snapshot-*.png | head -1) (one per second)"
echo "detections, ids and counts per frame: $OUT/tracks.jsonl"
